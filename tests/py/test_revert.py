"""dualstackd revert against moto (signature checking on) through the fault proxy: apply the
guide's example, let the owner change something, revert --resize-back - the VPC is back to its
before-state except the owner's change; revert again makes no call; apply again converges.
Without --resize-back the resize stays, and its record with it."""
import contextlib
import json
import os
import subprocess

from conftest import BINARY, ROOT
from fault_proxy import FaultProxy
from fleet import guide_example
from test_reconcile import apply, check_guide_converged

POLICY = os.path.join(ROOT, "tests", "policies", "canonical.json")


@contextlib.contextmanager
def through_proxy(moto):
    """The environment of a dualstackd talking to moto through a fault proxy (EC2's buckets
    scaled x10: moto answers at once), and the proxy, stopped afterwards."""
    proxy = FaultProxy(moto.endpoint, ec2=moto.client()).start()  # with EC2's CIDR rules
    env = moto.env(proxy.endpoint)
    env["DUALSTACKD_BUCKET_SCALE"] = "10"
    try:
        yield proxy, env
    finally:
        proxy.stop()


def revert(env, vpc, *extra, check=True):
    r = subprocess.run([BINARY, "revert", "--policy", POLICY, "--vpc", vpc, *extra], env=env,
                       capture_output=True, text=True, timeout=300)
    if check:
        assert r.returncode == 0, f"revert exited {r.returncode}\n{r.stdout}\n{r.stderr}"
    return r


def live(assocs, state_key):
    return sorted(a.get("Ipv6CidrBlock") for a in assocs
                  if a[state_key]["State"] not in ("disassociated", "disassociating", "failed"))


def tags(resource, drop=()):
    return sorted((t["Key"], t["Value"]) for t in resource.get("Tags", []) if t["Key"] not in drop)


def snapshot(ec2, vpc_id):
    """Everything revert may touch, normalised: IPv6 blocks, attributes, routes, rules, entries,
    addresses and tags (IPv4 included: it must never change)."""
    f = [{"Name": "vpc-id", "Values": [vpc_id]}]
    vpc = ec2.describe_vpcs(VpcIds=[vpc_id])["Vpcs"][0]
    out = {"vpc": (vpc["CidrBlock"], live(vpc.get("Ipv6CidrBlockAssociationSet", []),
                                          "Ipv6CidrBlockState"), tags(vpc))}
    out["subnets"] = {s["SubnetId"]: (s["CidrBlock"], s["AssignIpv6AddressOnCreation"],
                                      live(s.get("Ipv6CidrBlockAssociationSet", []),
                                           "Ipv6CidrBlockState"), tags(s))
                      for s in ec2.describe_subnets(Filters=f)["Subnets"]}
    out["routes"] = {t["RouteTableId"]: (sorted(
        (r.get("DestinationCidrBlock") or r.get("DestinationIpv6CidrBlock") or "",
         r.get("GatewayId") or r.get("EgressOnlyInternetGatewayId") or r.get("NatGatewayId")
         or "") for r in t["Routes"]), tags(t))
        for t in ec2.describe_route_tables(Filters=f)["RouteTables"]}
    out["eigws"] = sorted(g["EgressOnlyInternetGatewayId"] for g in
                          ec2.describe_egress_only_internet_gateways()["EgressOnlyInternetGateways"]
                          if any(a["VpcId"] == vpc_id for a in g.get("Attachments", [])))

    def perms(ps):
        return sorted((p["IpProtocol"], p.get("FromPort"), p.get("ToPort"),
                       tuple(sorted((r["CidrIp"], r.get("Description", "")) for r in p.get("IpRanges", []))),
                       tuple(sorted((r["CidrIpv6"], r.get("Description", ""))
                                    for r in p.get("Ipv6Ranges", [])))) for p in ps)
    out["groups"] = {g["GroupId"]: (perms(g["IpPermissions"]), perms(g["IpPermissionsEgress"]))
                     for g in ec2.describe_security_groups(Filters=f)["SecurityGroups"]}
    out["acls"] = {a["NetworkAclId"]: (sorted(
        (e["RuleNumber"], e["Egress"], e["Protocol"], e["RuleAction"],
         e.get("CidrBlock") or e.get("Ipv6CidrBlock"),
         str(e.get("PortRange")), str(e.get("IcmpTypeCode"))) for e in a["Entries"]), tags(a))
        for a in ec2.describe_network_acls(Filters=f)["NetworkAcls"]}
    out["instances"] = {
        i["InstanceId"]: (i["InstanceType"], i["State"]["Name"], i["PrivateIpAddress"],
                          sorted(a["Ipv6Address"] for n in i["NetworkInterfaces"]
                                 for a in n.get("Ipv6Addresses", [])), tags(i))
        for r in ec2.describe_instances(Filters=f)["Reservations"] for i in r["Instances"]}
    return out


def test_apply_revert_apply(moto):
    ec2 = moto.client()
    ids = guide_example(ec2, zone="us-east-1b")  # where moto offers m3.large (resize-back)
    before = snapshot(ec2, ids["vpc"])
    with through_proxy(moto) as (proxy, env):
        apply(env, ids["vpc"])
        check_guide_converged(ec2, ids)

        # the owner's own IPv6 rule, added meanwhile: revert must leave it
        owner_rule = {"IpProtocol": "tcp", "FromPort": 8080, "ToPort": 8080,
                      "Ipv6Ranges": [{"CidrIpv6": "::/0", "Description": "owner v6"}]}
        ec2.authorize_security_group_ingress(GroupId=ids["web_sg"], IpPermissions=[owner_rule])

        proxy.reset_counts()
        dry = revert(env, ids["vpc"], "--resize-back", "--dry-run", check=False)
        assert proxy.mutating(outcome=None) == {}, "a dry-run makes no call"
        assert "dry-run: no call was made" in dry.stdout
        for api in ("RevokeSecurityGroupIngress", "DeleteRoute", "DeleteNetworkAclEntry",
                    "UnassignIpv6Addresses", "DeleteEgressOnlyInternetGateway",
                    "DisassociateSubnetCidrBlock", "DisassociateVpcCidrBlock", "DeleteTags",
                    "ResizeInstance InstanceId=%s m4.large -> m3.large" % ids["db"]):
            assert api in dry.stdout, (api, dry.stdout)

        plans = json.loads(revert(env, ids["vpc"], "--resize-back", "--dry-run", "--json",
                                  check=False).stdout)
        phases = {a["api"]: a.get("phase", 0) for a in plans[0]["actions"]}
        assert phases["DisassociateVpcCidrBlock"] > phases["DisassociateSubnetCidrBlock"] > \
            phases["UnassignIpv6Addresses"] == 0 and phases["DeleteTags"] == 3, phases
        assert proxy.mutating(outcome=None) == {}
        stopped = proxy.instances_stopped
        out = revert(env, ids["vpc"], "--resize-back")
        assert f"{ids['vpc']}: reverted" in out.stdout, out.stdout
        assert proxy.instances_stopped - stopped == 1  # the db, once, for its resize-back
        after = snapshot(ec2, ids["vpc"])

        # what is expected: the before-state, plus the owner's rule, plus the record that a
        # gateway was deleted (the next apply's ClientToken)
        want = snapshot_expected(before, after, ids)
        assert after == want

        proxy.reset_counts()
        again = revert(env, ids["vpc"], "--resize-back")
        assert "mutating calls: 0" in again.stdout, again.stdout
        assert proxy.mutating(outcome=None) == {}

        out = apply(env, ids["vpc"])
        assert f"{ids['vpc']}: converged" in out.stdout
        ec2.revoke_security_group_ingress(GroupId=ids["web_sg"], IpPermissions=[owner_rule])
        check_guide_converged(ec2, ids)


def snapshot_expected(before, after, ids):
    import copy
    want = copy.deepcopy(before)
    web = list(want["groups"][ids["web_sg"]])
    web[0] = sorted(web[0] + [("tcp", 8080, 8080, (), (("::/0", "owner v6"),))])
    want["groups"][ids["web_sg"]] = tuple(web)
    cidr, blocks, vpc_tags = want["vpc"]
    reverted = [t for t in after["vpc"][2] if t[0] == "dualstack:reverted-at"]
    assert len(reverted) == 1, after["vpc"]
    want["vpc"] = (cidr, blocks, sorted(vpc_tags + reverted))
    return want


def test_revert_by_step_and_of_an_opted_out_vpc(moto):
    """--step 3 removes the rule twins only; then the owner opts the VPC out (so the daemon
    leaves it) and the rest goes - opt-out does not stop a revert, it is how one starts."""
    ec2 = moto.client()
    ids = guide_example(ec2)
    with through_proxy(moto) as (proxy, env):
        apply(env, ids["vpc"])
        proxy.reset_counts()
        out = revert(env, ids["vpc"], "--step", "3")
        assert f"{ids['vpc']}: reverted" in out.stdout, out.stdout
        assert set(proxy.mutating()) == {"RevokeSecurityGroupIngress", "RevokeSecurityGroupEgress",
                                         "DeleteNetworkAclEntry", "DeleteTags"}, proxy.mutating()
        groups = ec2.describe_security_groups(
            Filters=[{"Name": "vpc-id", "Values": [ids["vpc"]]}])["SecurityGroups"]
        assert not [r for g in groups for p in g["IpPermissions"] + g["IpPermissionsEgress"]
                    for r in p.get("Ipv6Ranges", [])]
        vpc = ec2.describe_vpcs(VpcIds=[ids["vpc"]])["Vpcs"][0]
        assert live(vpc.get("Ipv6CidrBlockAssociationSet", []), "Ipv6CidrBlockState")

        bad = subprocess.run([BINARY, "revert", "--policy", POLICY, "--step", "4"], env=env,
                             capture_output=True, text=True, timeout=60)
        assert bad.returncode == 2 and "step 4" in bad.stderr

        ec2.create_tags(Resources=[ids["vpc"]], Tags=[{"Key": "dualstack:opt-out", "Value": "true"}])
        # the whole scope this time (no --vpc): an opted-out VPC is still revert's to undo
        out = subprocess.run([BINARY, "revert", "--policy", POLICY], env=env,
                             capture_output=True, text=True, timeout=300)
        assert out.returncode == 0, out.stdout + out.stderr
        assert f"{ids['vpc']}: reverted" in out.stdout, out.stdout
        vpc = ec2.describe_vpcs(VpcIds=[ids["vpc"]])["Vpcs"][0]
        assert not live(vpc.get("Ipv6CidrBlockAssociationSet", []), "Ipv6CidrBlockState")
        assert ("dualstack:opt-out", "true") in tags(vpc)
        assert not [t for t in tags(vpc) if t[0] == "dualstack:ipv6-by"]
        db = ec2.describe_instances(InstanceIds=[ids["db"]])["Reservations"][0]["Instances"][0]
        assert db["InstanceType"] == "m4.large" and db["State"]["Name"] == "running"
        assert ("dualstack:resized-from", "m3.large") in tags(db)  # for a later --resize-back


def test_a_subnet_whose_64_another_interface_uses_keeps_it(moto):
    """An interface that is no instance's - here an endpoint's - holds an address in the public
    subnet's /64: revert plans no disassociation EC2 would refuse (moto would not), says which
    interface keeps that /64 and the VPC's /56, and undoes everything else."""
    ec2 = moto.client()
    ids = guide_example(ec2)
    with through_proxy(moto) as (proxy, env):
        apply(env, ids["vpc"])
        eni = ec2.create_network_interface(
            SubnetId=ids["public"], Ipv6AddressCount=1,
            Description="VPC Endpoint Interface vpce-0a1b2c3d4e5f60718")["NetworkInterface"]
        proxy.reset_counts()
        out = revert(env, ids["vpc"], check=False)
        assert out.returncode != 0, out.stdout
        assert "ipv6-block-in-use: the /64" in out.stdout, out.stdout
        assert f"it is on {eni['NetworkInterfaceId']} (interface: VPC Endpoint Interface" \
            in out.stdout, out.stdout
        failed = {a: o for a, o in proxy.actions().items() if set(o) - {"ok"}}
        assert not failed, failed
        assert "DescribeNetworkInterfaces" in proxy.actions()
        assert "DisassociateSubnetCidrBlock" in proxy.mutating(), out.stdout  # the private one
        subnets = {s["SubnetId"]: live(s.get("Ipv6CidrBlockAssociationSet", []),
                                       "Ipv6CidrBlockState")
                   for s in ec2.describe_subnets(SubnetIds=[ids["public"], ids["private"]])[
                       "Subnets"]}
        assert subnets[ids["public"]] and not subnets[ids["private"]], subnets
        vpc = ec2.describe_vpcs(VpcIds=[ids["vpc"]])["Vpcs"][0]
        assert live(vpc.get("Ipv6CidrBlockAssociationSet", []), "Ipv6CidrBlockState")
        held = ec2.describe_network_interfaces(
            NetworkInterfaceIds=[eni["NetworkInterfaceId"]])["NetworkInterfaces"][0]
        assert held["Ipv6Addresses"], held
        instances = ec2.describe_instances(InstanceIds=[ids["web"], ids["db"]])["Reservations"]
        assert not [a for r in instances for i in r["Instances"] for n in i["NetworkInterfaces"]
                    for a in n.get("Ipv6Addresses", [])]


def test_assign_on_creation_goes_before_its_64_as_ec2_requires(moto, tmp_path):
    """EC2 will not take a /64 off a subnet that assigns IPv6 on creation (InvalidCidrBlock.InUse:
    the proxy enforces it, moto does not). The owner turned the setting on for a subnet
    dualstackd marked: the mark covers the subnet's IPv6, so revert turns it off first, then the
    /64 goes - no call is refused. (A /64 recognised from the audit topic alone, with the
    owner's setting on, stays BLOCKED instead: test_revert.c.)"""
    ec2 = moto.client()
    ids = guide_example(ec2)
    pol = json.load(open(POLICY))
    pol["subnets"]["assign_ipv6_on_create"] = False
    policy = tmp_path / "policy.json"
    policy.write_text(json.dumps(pol))
    with through_proxy(moto) as (proxy, env):
        apply(env, ids["vpc"], policy=str(policy))
        ec2.modify_subnet_attribute(SubnetId=ids["public"],
                                    AssignIpv6AddressOnCreation={"Value": True})
        proxy.reset_counts()
        out = subprocess.run([BINARY, "revert", "--policy", str(policy), "--vpc", ids["vpc"]],
                             env=env, capture_output=True, text=True, timeout=300)
        assert out.returncode == 0 and f"{ids['vpc']}: reverted" in out.stdout, out.stdout
        failed = {a: o for a, o in proxy.actions().items() if set(o) - {"ok"}}
        assert not failed, (failed, out.stdout)
        order = [a for _, a, o in proxy.events
                 if a in ("ModifySubnetAttribute", "DisassociateSubnetCidrBlock")]
        assert order.index("ModifySubnetAttribute") < order.index("DisassociateSubnetCidrBlock")
        for s in ec2.describe_subnets(SubnetIds=[ids["public"], ids["private"]])["Subnets"]:
            assert not live(s.get("Ipv6CidrBlockAssociationSet", []), "Ipv6CidrBlockState")
            assert not s["AssignIpv6AddressOnCreation"]


def test_writes_from_before_marks_are_recognised_from_the_audit_topic(kafka, moto):
    """A VPC the daemon made dual-stack, then stripped of every mark (as an older dualstackd
    left it): revert alone leaves everything ("not provably ours"); revert --audit with the
    daemon's audit topic (as kafka-console-consumer prints it) removes it all."""
    import json
    import tempfile

    from daemon_harness import Daemon, guide_events
    from test_daemon import converge_within
    ec2 = moto.client()
    ids = guide_example(ec2)
    d = Daemon(kafka, moto).start()
    try:
        d.publish(guide_events(ids))
        converge_within(ec2, ids, 20)
        d.wait_log('"outcome":"converged"', 20)
    finally:
        assert d.stop() == 0
    records = kafka.consume(d.topics["audit"], 1000, timeout=20)
    assert records and all(json.loads(r)["outcome"] == "ok" for r in records)

    # an older dualstackd: no dualstack:ipv6-by anywhere, twins without the [dualstackd] suffix
    f = [{"Name": "vpc-id", "Values": [ids["vpc"]]}]
    marked = [ids["vpc"]] + [s["SubnetId"] for s in ec2.describe_subnets(Filters=f)["Subnets"]] + \
        [t["RouteTableId"] for t in ec2.describe_route_tables(Filters=f)["RouteTables"]] + \
        [a["NetworkAclId"] for a in ec2.describe_network_acls(Filters=f)["NetworkAcls"]] + \
        [ids["web"], ids["db"]]
    ec2.delete_tags(Resources=marked, Tags=[{"Key": "dualstack:ipv6-by"}])
    for g in ec2.describe_security_groups(Filters=f)["SecurityGroups"]:
        for perms, revoke, authorize in (
                (g["IpPermissions"], ec2.revoke_security_group_ingress,
                 ec2.authorize_security_group_ingress),
                (g["IpPermissionsEgress"], ec2.revoke_security_group_egress,
                 ec2.authorize_security_group_egress)):
            for p in perms:
                if not p.get("Ipv6Ranges"):
                    continue
                bare = {k: v for k, v in p.items() if k in ("IpProtocol", "FromPort", "ToPort")}
                revoke(GroupId=g["GroupId"], IpPermissions=[dict(bare, Ipv6Ranges=p["Ipv6Ranges"])])
                authorize(GroupId=g["GroupId"], IpPermissions=[dict(
                    bare, Ipv6Ranges=[{"CidrIpv6": r["CidrIpv6"]} for r in p["Ipv6Ranges"]])])

    with through_proxy(moto) as (proxy, env):
        blind = revert(env, ids["vpc"], "--dry-run", check=False)
        assert "not provably ours" in blind.stdout
        # only what the gateway's own tag proves: its routes and itself
        planned = [l for l in blind.stdout.splitlines() if l[:4].strip().rstrip(".").isdigit()]
        assert {l.split()[3] for l in planned} <= {"DeleteRoute", "DeleteEgressOnlyInternetGateway",
                                                   "CreateTags"}, blind.stdout
        with tempfile.NamedTemporaryFile("w", suffix=".jsonl", delete=False) as audit:
            audit.write("\n".join(records) + "\n")
        out = revert(env, ids["vpc"], "--audit", audit.name)
        os.unlink(audit.name)
        assert f"{ids['vpc']}: reverted" in out.stdout, out.stdout + out.stderr
        assert "writes dualstackd can undo" in out.stderr
        after = snapshot(ec2, ids["vpc"])
        assert after["vpc"][1] == [] and after["eigws"] == []
        assert all(not s[2] and not s[1] for s in after["subnets"].values())
        assert not [r for g in after["groups"].values() for ps in g for p in ps for r in p[4]]
        assert not [e for a in after["acls"].values() for e in a[0] if ":" in str(e[4])]
        assert all(not i[3] for i in after["instances"].values())
        assert not [r for rt in after["routes"].values() for r in rt[0] if ":" in r[0]]
