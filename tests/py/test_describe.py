"""`dualstackd describe` against moto with signature checking on, compared field by field with
what boto3 reads from the same state."""
import json

import pytest
from compare import count_leaves, subset_diff
from conftest import run_dualstackd
from fleet import guide_example

KINDS = [
    # (kind, boto3 call, answer key, filter name) - the same filters dualstackd sends
    ("vpcs", "describe_vpcs", "Vpcs", "vpc-id"),
    ("subnets", "describe_subnets", "Subnets", "vpc-id"),
    ("route-tables", "describe_route_tables", "RouteTables", "vpc-id"),
    ("internet-gateways", "describe_internet_gateways", "InternetGateways", "attachment.vpc-id"),
    ("security-groups", "describe_security_groups", "SecurityGroups", "vpc-id"),
    ("network-acls", "describe_network_acls", "NetworkAcls", "vpc-id"),
    ("instances", "describe_instances", "Instances", "vpc-id"),
    ("network-interfaces", "describe_network_interfaces", "NetworkInterfaces", "vpc-id"),
]


def boto_view(ec2, call, key, filter_name, vpc):
    ans = getattr(ec2, call)(Filters=[{"Name": filter_name, "Values": [vpc]}])
    if key == "Instances":
        return [i for r in ans["Reservations"] for i in r["Instances"]]
    return ans[key]


@pytest.mark.parametrize("kind,call,key,filter_name", KINDS)
def test_describe_matches_boto3(moto, kind, call, key, filter_name):
    ec2 = moto.client()
    ids = guide_example(ec2, with_ipv6=True)
    guide_example(ec2)  # a second VPC that the filter must leave out
    out = run_dualstackd(["describe", kind, "--vpc", ids["vpc"]], moto.env())
    ours = json.loads(out.stdout)[key]
    theirs = boto_view(ec2, call, key, filter_name, ids["vpc"])
    assert len(ours) == len(theirs) and len(ours) >= 1
    ours.sort(key=lambda x: json.dumps(x, sort_keys=True))
    # pair items by their id, whatever order each side lists them in
    id_key = next(k for k in ours[0] if k.endswith("Id") and k != "OwnerId" and k != "VpcId") \
        if key != "Vpcs" else "VpcId"
    by_id = {t[id_key]: t for t in theirs}
    diffs = []
    for item in ours:
        diffs += subset_diff(item, by_id.get(item[id_key]), f"{key}[{item[id_key]}]")
    assert not diffs, "\n".join(diffs[:20])
    assert count_leaves(ours) >= 3 * len(ours)  # a real comparison, not of empty objects


def test_describe_sees_ipv6_state(moto):
    """The fields the migration depends on are there, with the values moto holds."""
    ec2 = moto.client()
    ids = guide_example(ec2, with_ipv6=True)
    env = moto.env()
    vpc = json.loads(run_dualstackd(["describe", "vpcs", "--vpc", ids["vpc"]], env).stdout)["Vpcs"][0]
    assert vpc["Ipv6CidrBlockAssociationSet"][0]["Ipv6CidrBlock"].endswith("/56")
    assert vpc["Ipv6CidrBlockAssociationSet"][0]["Ipv6CidrBlockState"]["State"] == "associated"
    subnets = json.loads(run_dualstackd(["describe", "subnets", "--vpc", ids["vpc"]], env).stdout)["Subnets"]
    states = [a["Ipv6CidrBlockState"]["State"] for s in subnets for a in s["Ipv6CidrBlockAssociationSet"]]
    assert states == ["associated"]  # moto's dict repr is normalised
    rts = json.loads(run_dualstackd(["describe", "route-tables", "--vpc", ids["vpc"]], env).stdout)["RouteTables"]
    v6 = {r.get("EgressOnlyInternetGatewayId") or r.get("GatewayId")
          for t in rts for r in t["Routes"] if r.get("DestinationIpv6CidrBlock") == "::/0"}
    assert v6 == {ids["igw"], ids["eigw"]}
    eigws = json.loads(run_dualstackd(["describe", "egress-only-internet-gateways", "--vpc",
                                       ids["vpc"]], env).stdout)["EgressOnlyInternetGateways"]
    assert [g["EgressOnlyInternetGatewayId"] for g in eigws] == [ids["eigw"]]
    inst = json.loads(run_dualstackd(["describe", "instances", "--vpc", ids["vpc"]], env).stdout)["Instances"]
    web = next(i for i in inst if i["InstanceId"] == ids["web"])
    assert web["NetworkInterfaces"][0]["Ipv6Addresses"][0]["Ipv6Address"]
    nacl = json.loads(run_dualstackd(["describe", "network-acls", "--vpc", ids["vpc"]], env).stdout)["NetworkAcls"]
    entries = {(e["RuleNumber"], e["Egress"]) for n in nacl for e in n["Entries"]}
    assert {(100, False), (101, False), (120, True)} <= entries


def test_wrong_secret_is_a_fatal_auth_error(moto):
    env = moto.env()
    env["AWS_SECRET_ACCESS_KEY"] = "not-the-secret"
    r = run_dualstackd(["describe", "vpcs"], env, check=False)
    assert r.returncode == 1
    assert "AuthFailure" in r.stderr and "class fatal" in r.stderr
    assert "http 401" in r.stderr


def test_assume_role_against_moto(moto):
    """AssumeRole through moto's STS, then a signed EC2 call with the session credentials."""
    ids = guide_example(moto.client())
    out = run_dualstackd(["describe", "vpcs", "--vpc", ids["vpc"], "--role-arn", moto.role_arn],
                         moto.env())
    assert [v["VpcId"] for v in json.loads(out.stdout)["Vpcs"]] == [ids["vpc"]]
    # An STS that cannot be reached is a clear credentials error, not a hang or a crash.
    # (moto's STS grants any role ARN, so a missing role cannot be the negative case here.)
    env = moto.env()
    env["AWS_ENDPOINT_URL_STS"] = "http://127.0.0.1:9"
    bad = run_dualstackd(["describe", "vpcs", "--role-arn", moto.role_arn], env, check=False)
    assert bad.returncode == 1
    assert "CredentialsError" in bad.stderr and "sts http://127.0.0.1:9" in bad.stderr
