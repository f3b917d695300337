"""Step 4 and the planner edges of a real account, end to end: dualstackd apply against moto
(signature checking on) through the fault proxy, which models what moto cannot (no capacity
for a type) and watches every stop."""
import json
import time

from fault_proxy import FaultProxy  # noqa: F401  (the proxied fixture comes from test_reconcile)
from fleet import guide_example
from test_reconcile import POLICY, apply, plan_json, proxied  # noqa: F401


def instance(ec2, iid):
    return ec2.describe_instances(InstanceIds=[iid])["Reservations"][0]["Instances"][0]


def tags(inst):
    return {t["Key"]: t["Value"] for t in inst.get("Tags", [])}


def test_no_capacity_for_the_new_type_rolls_back_to_a_running_original(proxied):
    """EC2 has no capacity for m4.large: the guide's m3.large database comes back as a running
    m3.large, with a finding, and later runs leave it alone until the tag is removed."""
    moto, proxy, env = proxied
    ec2 = moto.client()
    ids = guide_example(ec2)
    proxy.no_capacity = {"m4.large"}
    t0 = time.time()
    out = apply(env, ids["vpc"], check=False)
    took = time.time() - t0
    assert out.returncode == 1, out.stdout
    db = instance(ec2, ids["db"])
    assert db["State"]["Name"] == "running" and db["InstanceType"] == "m3.large"
    assert "InsufficientInstanceCapacity" in tags(db).get("dualstack:resize-failed", "")
    assert not any(k.startswith("dualstack:resize-") and k != "dualstack:resize-failed"
                   for k in tags(db))
    assert "resize-failed" in out.stdout and "rolled back" in out.stdout
    assert proxy.calls("StartInstances", "InsufficientInstanceCapacity") >= 1
    assert not proxy.stopped, "an instance was left stopped"
    assert took < 180, f"rollback took {took:.0f} s"
    # everything else converged; the next run makes no call and does not touch the database
    proxy.reset_counts()
    out = apply(env, ids["vpc"], check=False)
    assert "mutating calls: 0" in out.stdout and proxy.mutating(outcome=None) == {}
    # an operator removes the tag once capacity is back: the resize goes ahead
    proxy.no_capacity = set()
    ec2.delete_tags(Resources=[ids["db"]], Tags=[{"Key": "dualstack:resize-failed"}])
    apply(env, ids["vpc"])
    db = instance(ec2, ids["db"])
    assert db["State"]["Name"] == "running" and db["InstanceType"] == "m4.large"


def test_instances_that_must_not_be_stopped_are_untouched(proxied):
    """Auto Scaling members, Spot and stop-protected instances: never stopped, each with a
    finding that names why; the rest of the VPC converges around them."""
    moto, proxy, env = proxied
    ec2 = moto.client()
    ids = guide_example(ec2)

    def run(**kw):
        return ec2.run_instances(ImageId="ami-760aaa0f", InstanceType="m3.large", MinCount=1,
                                 MaxCount=1, SubnetId=ids["private"], **kw)[
            "Instances"][0]["InstanceId"]
    asg = run(TagSpecifications=[{"ResourceType": "instance", "Tags": [
        {"Key": "aws:autoscaling:groupName", "Value": "db-asg"}]}])
    spot = run(InstanceMarketOptions={"MarketType": "spot"})
    protected = run(DisableApiStop=True)
    plan = plan_json(env, ids["vpc"])
    findings = {(f["resource"], f["code"]) for f in plan["findings"]}
    assert (asg, "managed-instance") in findings
    assert (spot, "spot-instance") in findings
    assert (protected, "stop-protected") in findings
    resized = [a["resource"] for a in plan["actions"] if a["api"] == "ResizeInstance"]
    assert resized == [ids["db"]]
    apply(env, ids["vpc"], check=False)
    stopped = {v for (a, o), n in proxy.counts.items() if a == "StopInstances"
               for v in [a]}
    assert stopped  # the database was resized...
    for iid in (asg, spot, protected):  # ...and none of these was stopped or retyped
        inst = instance(ec2, iid)
        assert inst["State"]["Name"] == "running" and inst["InstanceType"] == "m3.large"
        assert not any(k.startswith("dualstack:resize") for k in tags(inst))
    assert proxy.calls("StopInstances") == 1


def test_secondary_cidr_nacl_converges_and_stays_converged(proxied, tmp_path):
    """A VPC with a secondary IPv4 CIDR whose NACL allows both ranges: both mirror to the one
    /56, so the first apply writes one twin and the second writes nothing (no conflict)."""
    moto, proxy, env = proxied
    ec2 = moto.client()
    vpc = ec2.create_vpc(CidrBlock="10.30.0.0/16")["Vpc"]["VpcId"]
    ec2.associate_vpc_cidr_block(VpcId=vpc, CidrBlock="10.31.0.0/16")
    ec2.create_subnet(VpcId=vpc, CidrBlock="10.30.0.0/24")
    acl = ec2.create_network_acl(VpcId=vpc)["NetworkAcl"]["NetworkAclId"]
    for n, cidr in ((100, "10.30.0.0/16"), (110, "10.31.0.0/16")):
        ec2.create_network_acl_entry(NetworkAclId=acl, RuleNumber=n, Protocol="-1",
                                     RuleAction="allow", Egress=False, CidrBlock=cidr)
    pol = json.load(open(POLICY))
    pol["instances"]["resize"] = "never"
    path = tmp_path / "p.json"
    path.write_text(json.dumps(pol))
    proxy.reset_counts()
    out = apply(env, vpc, policy=str(path))
    assert f"{vpc}: converged" in out.stdout
    entries = [e for a in ec2.describe_network_acls(NetworkAclIds=[acl])["NetworkAcls"]
               for e in a["Entries"] if e.get("Ipv6CidrBlock") and not e["Egress"]
               and e["RuleNumber"] < 32767]
    assert len(entries) == 1 and entries[0]["RuleNumber"] == 101, entries
    proxy.reset_counts()
    out = apply(env, vpc, policy=str(path))
    assert "mutating calls: 0" in out.stdout and proxy.mutating(outcome=None) == {}
    assert "nacl-order-conflict" not in out.stdout


def test_a_resize_waits_for_stops_and_starts_that_take_time(proxied):
    """As on EC2, a stop takes a while (the proxy says "stopping" for 3 s, then "pending" for
    2 s after the start) and the type can only change once the instance is stopped: the
    database is retyped without one IncorrectInstanceState, and ends running as m4.large."""
    moto, proxy, env = proxied
    ec2 = moto.client()
    ids = guide_example(ec2)
    proxy.stop_s, proxy.start_s = 3.0, 2.0
    t0 = time.time()
    out = apply(env, ids["vpc"])
    took = time.time() - t0
    assert f"{ids['vpc']}: converged" in out.stdout, out.stdout
    db = instance(ec2, ids["db"])
    assert db["State"]["Name"] == "running" and db["InstanceType"] == "m4.large"
    assert proxy.calls("ModifyInstanceAttribute", "IncorrectInstanceState") == 0
    assert proxy.calls("ModifyInstanceAttribute", "ok") == 1
    assert 5 <= took < 30, f"{took:.1f} s for a 3 s stop and a 2 s start"
    assert not proxy.stopped


def test_the_proxy_models_slow_stops(moto):
    """The model itself: "stopping" for stop_s, a retype refused until then, then "stopped"."""
    ids = guide_example(moto.client())
    proxy = FaultProxy(moto.endpoint, stop_s=2.0).start()
    try:
        import boto3
        ec2 = boto3.client("ec2", endpoint_url=proxy.endpoint, region_name="us-east-1",
                           aws_access_key_id=moto.access_key,
                           aws_secret_access_key=moto.secret_key)
        ec2.stop_instances(InstanceIds=[ids["db"]])
        assert instance(ec2, ids["db"])["State"]["Name"] == "stopping"
        try:
            ec2.modify_instance_attribute(InstanceId=ids["db"], InstanceType={"Value": "m4.large"})
            raise AssertionError("retyped while stopping")
        except ec2.exceptions.ClientError as e:
            assert e.response["Error"]["Code"] == "IncorrectInstanceState"
        time.sleep(2.1)
        assert instance(ec2, ids["db"])["State"]["Name"] == "stopped"
        ec2.modify_instance_attribute(InstanceId=ids["db"], InstanceType={"Value": "m4.large"})
    finally:
        proxy.stop()
