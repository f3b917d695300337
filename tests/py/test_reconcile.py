"""The reconcile engine end to end: dualstackd apply against moto (signature checking on)
through the fault proxy, which counts every call. Acceptance of the reconcile issue."""
import ipaddress
import json
import os
import subprocess
import time

import pytest
from conftest import BINARY, ROOT
from fault_proxy import FaultProxy
from fleet import guide_example

POLICY = os.path.join(ROOT, "tests", "policies", "canonical.json")
RESIZE_CALLS = ["CreateTags", "StopInstances", "ModifyInstanceAttribute", "StartInstances",
                "DeleteTags"]


def apply(env, vpc, policy=POLICY, check=True, timeout=300):
    r = subprocess.run([BINARY, "apply", "--policy", policy, "--vpc", vpc], env=env,
                       capture_output=True, text=True, timeout=timeout)
    if check:
        assert r.returncode == 0, f"apply exited {r.returncode}\n{r.stdout}\n{r.stderr}"
    return r


def plan_json(env, vpc, policy=POLICY):
    r = subprocess.run([BINARY, "plan", "--policy", policy, "--vpc", vpc, "--json"], env=env,
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)[0]


def expected_calls(plan):
    """{EC2 action: n} that executing the plan makes: an action whose item rides in another's
    request (a group's permissions, one tag on many subnets) makes none of its own."""
    out = {}
    for a in plan["actions"]:
        if a.get("in_request_of"):
            continue
        apis = RESIZE_CALLS if a["api"] == "ResizeInstance" else [a["api"]]
        for api in apis:
            out[api] = out.get(api, 0) + 1
    return out


def check_guide_converged(ec2, ids):
    """Acceptance 1, read back with boto3."""
    vpc = ec2.describe_vpcs(VpcIds=[ids["vpc"]])["Vpcs"][0]
    blocks = [a for a in vpc.get("Ipv6CidrBlockAssociationSet", [])
              if a["Ipv6CidrBlockState"]["State"] not in ("disassociated", "failed")]
    assert len(blocks) == 1 and blocks[0]["Ipv6CidrBlock"].endswith("/56")
    block = ipaddress.ip_network(blocks[0]["Ipv6CidrBlock"])
    for s in ec2.describe_subnets(Filters=[{"Name": "vpc-id", "Values": [ids["vpc"]]}])["Subnets"]:
        v6 = s["Ipv6CidrBlockAssociationSet"]
        assert len(v6) == 1, s
        sub = ipaddress.ip_network(v6[0]["Ipv6CidrBlock"])
        assert sub.prefixlen == 64 and sub.subnet_of(block), s
        assert s["AssignIpv6AddressOnCreation"] is True
    eigws = [g for g in ec2.describe_egress_only_internet_gateways()["EgressOnlyInternetGateways"]
             if any(a["VpcId"] == ids["vpc"] for a in g.get("Attachments", []))]
    assert len(eigws) == 1
    assert {"Key": "dualstack:created-by", "Value": "dualstackd"} in eigws[0].get("Tags", [])
    routes = {t["RouteTableId"]: t["Routes"] for t in ec2.describe_route_tables(
        Filters=[{"Name": "vpc-id", "Values": [ids["vpc"]]}])["RouteTables"]}
    v6 = lambda rt: [r for r in routes[rt] if r.get("DestinationIpv6CidrBlock") == "::/0"]  # noqa
    assert [r.get("GatewayId") for r in v6(ids["rt_public"])] == [ids["igw"]]
    assert [r.get("EgressOnlyInternetGatewayId") for r in v6(ids["rt_private"])] == \
        [eigws[0]["EgressOnlyInternetGatewayId"]]
    groups = {g["GroupId"]: g for g in ec2.describe_security_groups(
        Filters=[{"Name": "vpc-id", "Values": [ids["vpc"]]}])["SecurityGroups"]}
    web_v6 = {(p.get("FromPort"), r["CidrIpv6"]) for p in groups[ids["web_sg"]]["IpPermissions"]
              for r in p.get("Ipv6Ranges", [])}
    assert web_v6 == {(80, "::/0"), (443, "::/0")}  # and no SSH from ::/0
    db = groups[ids["db_sg"]]["IpPermissions"]
    assert len(db) == 1 and db[0]["FromPort"] == 3306 and not db[0].get("Ipv6Ranges")
    instances = {i["InstanceId"]: i for r in ec2.describe_instances(InstanceIds=[
        ids["web"], ids["db"]])["Reservations"] for i in r["Instances"]}
    assert instances[ids["db"]]["InstanceType"] == "m4.large"
    for i in instances.values():
        assert i["State"]["Name"] == "running"
        eth0 = next(n for n in i["NetworkInterfaces"] if n["Attachment"]["DeviceIndex"] == 0)
        assert len(eth0["Ipv6Addresses"]) == 1, i["InstanceId"]
        assert not any(t["Key"].startswith("dualstack:resize-") for t in i.get("Tags", []))


@pytest.fixture
def proxied(moto):
    proxy = FaultProxy(moto.endpoint).start()
    env = moto.env(proxy.endpoint)
    env["DUALSTACKD_BUCKET_SCALE"] = "10"  # moto needs no pacing
    try:
        yield moto, proxy, env
    finally:
        proxy.stop()


def test_guide_example_apply_converges_and_is_idempotent(proxied):
    moto, proxy, env = proxied
    ec2 = moto.client()
    ids = guide_example(ec2)
    plan = plan_json(env, ids["vpc"])
    assert proxy.mutating() == {}, "plan must be read-only"
    proxy.reset_counts()
    out = apply(env, ids["vpc"])
    assert f"{ids['vpc']}: converged" in out.stdout
    check_guide_converged(ec2, ids)
    # exactly the calls the plan listed, no more (efficiency: no redundant writes)
    assert proxy.mutating() == expected_calls(plan)
    # a second apply makes no mutating call
    proxy.reset_counts()
    out = apply(env, ids["vpc"])
    assert "mutating calls: 0" in out.stdout and proxy.mutating(outcome=None) == {}


def test_reads_are_batched(proxied):
    moto, proxy, env = proxied
    ids = guide_example(moto.client())
    guide_example(moto.client())
    proxy.reset_counts()
    plan_json(env, ids["vpc"])
    describes = {a: n["ok"] for a, n in proxy.actions().items() if a.startswith("Describe")}
    # one call per kind for the VPC (the fixture fits one page), never one per resource;
    # step 4's facts only for what a resize would stop: the AMIs and zones of those instances,
    # and their stop protection (the one per-instance read: the database here)
    assert describes == {k: 1 for k in (
        "DescribeVpcs", "DescribeSubnets", "DescribeRouteTables", "DescribeInternetGateways",
        "DescribeEgressOnlyInternetGateways", "DescribeSecurityGroups", "DescribeNetworkAcls",
        "DescribeInstances", "DescribeInstanceTypes", "DescribeImages",
        "DescribeInstanceTypeOfferings", "DescribeInstanceAttribute")}, describes


def test_dry_run_changes_nothing_and_lists_exactly_the_calls(proxied, tmp_path):
    moto, proxy, env = proxied
    ec2 = moto.client()
    ids = guide_example(ec2)
    dry = json.load(open(POLICY))
    dry["mode"] = "dry-run"
    dry_path = tmp_path / "dry.json"
    dry_path.write_text(json.dumps(dry))
    out = apply(env, ids["vpc"], policy=str(dry_path), check=False)
    assert "dry-run: no call was made" in out.stdout and out.returncode == 1
    assert proxy.mutating(outcome=None) == {}
    listed = expected_calls(plan_json(env, ids["vpc"], policy=str(dry_path)))
    proxy.reset_counts()
    apply(env, ids["vpc"])
    assert proxy.mutating() == listed


def test_check_policy_reports_file_path_expected(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("mode: enforce\ninstances:\n  resize: sometimes\nsecurity_groups:\n"
                   "  cidr_map: {\"10.0.0.0/8\": \"::/0\"}\n")
    r = subprocess.run([BINARY, "check-policy", str(bad)], capture_output=True, text=True)
    assert r.returncode == 1
    assert f"{bad}: $.instances.resize: expected \"never\", \"opt-in-tag\" or \"always\", " \
           f"got \"sometimes\"" in r.stderr
    assert "never becomes ::/0" in r.stderr
    ok = subprocess.run([BINARY, "check-policy", POLICY], capture_output=True, text=True)
    assert ok.returncode == 0


KILL_POINTS = [1, 2, 4, 6, 9, 12, 15, 18, 21]  # mutating calls seen before SIGKILL


def wait_for(pred, timeout):
    end = time.time() + timeout
    while time.time() < end:
        if pred():
            return True
        time.sleep(0.005)
    return False


def check_crash_invariants(ec2, ids):
    vpc = ec2.describe_vpcs(VpcIds=[ids["vpc"]])["Vpcs"][0]
    assert len(vpc["Ipv6CidrBlockAssociationSet"]) == 1, "a second /56"
    eigws = [g for g in ec2.describe_egress_only_internet_gateways()["EgressOnlyInternetGateways"]
             if any(a["VpcId"] == ids["vpc"] for a in g.get("Attachments", []))]
    assert len(eigws) == 1, "a second egress-only gateway"
    check_guide_converged(ec2, ids)


@pytest.mark.parametrize("point", KILL_POINTS + ["between-stop-and-start"])
def test_sigkill_anywhere_then_apply_converges(proxied, point):
    moto, proxy, env = proxied
    ec2 = moto.client()
    ids = guide_example(ec2)
    if point == "between-stop-and-start":
        proxy.drop_action = "StartInstances"
    p = subprocess.Popen([BINARY, "apply", "--policy", POLICY, "--vpc", ids["vpc"]], env=env,
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        if point == "between-stop-and-start":
            assert proxy.drop_seen.wait(120)
            state = ec2.describe_instances(InstanceIds=[ids["db"]])["Reservations"][0][
                "Instances"][0]["State"]["Name"]
            assert state == "stopped"  # the crash leaves it stopped...
        else:
            assert wait_for(lambda: sum(proxy.mutating().values()) >= point, 120)
        p.kill()
        p.wait(10)
    finally:
        proxy.drop_release.set()
        if p.poll() is None:
            p.kill()
    proxy.drop_action = None
    apply(env, ids["vpc"])  # ...and the next run finishes the job
    check_crash_invariants(ec2, ids)


def test_step6_guest_config_through_ssm_once(proxied, tmp_path):
    """guest_config: ssm - the web server's Ubuntu 16.04 gets the guide's DHCPv6 commands
    through SSM Run Command, once; the database's Amazon Linux 2 needs nothing; dry-run sends
    nothing. (The proxy answers DescribeInstanceInformation, which moto lacks.)"""
    moto, proxy, env = proxied
    ec2 = moto.client()
    ids = guide_example(ec2)
    proxy.ssm_instances = {
        ids["web"]: {"PingStatus": "Online", "PlatformType": "Linux", "PlatformName": "Ubuntu",
                     "PlatformVersion": "16.04"},
        ids["db"]: {"PingStatus": "Online", "PlatformType": "Linux",
                    "PlatformName": "Amazon Linux", "PlatformVersion": "2"},
    }
    pol = json.load(open(POLICY))
    pol["guest_config"] = "ssm"
    path = tmp_path / "ssm.json"
    path.write_text(json.dumps(pol))
    pol["mode"] = "dry-run"
    dry = tmp_path / "dry.json"
    dry.write_text(json.dumps(pol))
    apply(env, ids["vpc"], policy=str(dry), check=False)
    assert proxy.mutating(outcome=None) == {}
    plan = plan_json(env, ids["vpc"], policy=str(path))
    guest = [a for a in plan["actions"] if a["api"] == "SendCommand"]
    assert [a["resource"] for a in guest] == [ids["web"]]
    assert "ubuntu-16" in guest[0]["params"]
    proxy.reset_counts()
    apply(env, ids["vpc"], policy=str(path))
    assert proxy.calls("SendCommand", "ok") == 1
    web = ec2.describe_instances(InstanceIds=[ids["web"]])["Reservations"][0]["Instances"][0]
    assert any(t["Key"] == "dualstack:guest-config" for t in web.get("Tags", []))
    proxy.reset_counts()
    out = apply(env, ids["vpc"], policy=str(path))  # recorded: never sent twice
    assert "mutating calls: 0" in out.stdout and proxy.calls("SendCommand") == 0


def test_step6_records_only_a_command_that_succeeded(proxied, tmp_path):
    """A command that fails in the guest is reported and not recorded, so a later reconcile
    sends it again; once it succeeds, the tag records it."""
    moto, proxy, env = proxied
    ec2 = moto.client()
    ids = guide_example(ec2)
    proxy.ssm_instances = {ids["web"]: {"PingStatus": "Online", "PlatformType": "Linux",
                                        "PlatformName": "Ubuntu", "PlatformVersion": "14.04"}}
    proxy.command_status = {ids["web"]: "Failed"}
    pol = json.load(open(POLICY))
    pol["guest_config"] = "ssm"
    path = tmp_path / "ssm.json"
    path.write_text(json.dumps(pol))
    out = apply(env, ids["vpc"], policy=str(path), check=False)
    assert out.returncode == 1
    assert "SendCommand" in out.stdout and "Failed: dhclient: no lease" in out.stdout
    web = ec2.describe_instances(InstanceIds=[ids["web"]])["Reservations"][0]["Instances"][0]
    assert not any(t["Key"] == "dualstack:guest-config" for t in web.get("Tags", []))
    proxy.command_status = {}
    proxy.reset_counts()
    apply(env, ids["vpc"], policy=str(path))
    assert proxy.calls("SendCommand", "ok") == 1
    web = ec2.describe_instances(InstanceIds=[ids["web"]])["Reservations"][0]["Instances"][0]
    tag = {t["Key"]: t["Value"] for t in web.get("Tags", [])}.get("dualstack:guest-config", "")
    assert tag.endswith(" Success"), tag


def test_step6_asks_ssm_about_every_instance_not_just_the_first_50(proxied, tmp_path):
    """The InstanceIds filter of DescribeInstanceInformation takes 50 ids: 60 instances need
    two requests, and every one of them gets its command planned."""
    moto, proxy, env = proxied
    ec2 = moto.client()
    ids = guide_example(ec2)
    ec2.run_instances(ImageId="ami-760aaa0f", InstanceType="t3.micro", MinCount=58, MaxCount=58,
                      SubnetId=ids["public"])
    every = [i["InstanceId"] for r in ec2.describe_instances(Filters=[
        {"Name": "vpc-id", "Values": [ids["vpc"]]}])["Reservations"] for i in r["Instances"]]
    assert len(every) == 60
    proxy.ssm_instances = {i: {"PingStatus": "Online", "PlatformType": "Linux",
                               "PlatformName": "Ubuntu", "PlatformVersion": "14.04"} for i in every}
    pol = json.load(open(POLICY))
    pol["guest_config"] = "ssm"
    path = tmp_path / "ssm.json"
    path.write_text(json.dumps(pol))
    proxy.reset_counts()
    plan = plan_json(env, ids["vpc"], policy=str(path))
    assert sorted(a["resource"] for a in plan["actions"] if a["api"] == "SendCommand") == sorted(every)
    assert proxy.calls("DescribeInstanceInformation") == 2
