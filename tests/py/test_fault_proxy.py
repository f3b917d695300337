"""Pacing and fault handling of the EC2 client, measured at the fault proxy (EC2's buckets in
front of moto, signature checking on)."""
from conftest import run_tool
from fault_proxy import FaultProxy
from fleet import guide_example


def test_burst_of_mutating_calls_is_paced_at_the_refill_rate(moto):
    """500 mutating calls, budget 1.0, EC2's mutating bucket (50, 5/s): at most 1% throttled
    answers, and at least 90% of the refill rate sustained after the initial burst."""
    vpc = guide_example(moto.client())["vpc"]
    proxy = FaultProxy(moto.endpoint).start()
    try:
        res = run_tool("ec2_load", ["--action", "CreateTags", "--param", f"ResourceId.1={vpc}",
                                    "--param", "Tag.1.Key=burst", "--tag-index", "--count",
                                    "500", "--budget", "1.0", "--idempotent"],
                       moto.env(proxy.endpoint), timeout=300)
        assert res["ok"] == 500 and res["lost"] == 0 and res["doubled"] == 0
        throttled = proxy.calls("CreateTags", "throttled")
        assert throttled <= 5, proxy.actions()
        times = [t for t, a, o in proxy.events if a == "CreateTags" and o == "ok"]
        assert len(times) == 500
        sustained = (500 - 50) / (times[-1] - times[0])
        assert sustained >= 0.9 * 5, f"{sustained:.2f} calls/s"
        print(f"burst: {sustained:.3f} calls/s sustained, {throttled} throttled, "
              f"{res['elapsed_s']:.1f} s")
    finally:
        proxy.stop()


def test_every_call_ends_under_5xx_and_resets(moto):
    """10% injected 5xx and 2% connection resets: each call completes or reports one final
    classified error; none hangs, none is lost or answered twice. EC2's buckets are off here:
    the client runs at the non-mutating refill rate, so a loaded machine's jitter adds throttled
    answers, and a call that met a 5xx and then two throttles ends throttled - correct, but not
    what this test is about (the pacing test above is)."""
    vpc = guide_example(moto.client())["vpc"]
    proxy = FaultProxy(moto.endpoint, buckets=False, p5xx=0.10, preset=0.02, seed=7).start()
    try:
        res = run_tool("ec2_load", ["--action", "DescribeVpcs", "--param", "Filter.1.Name=vpc-id",
                                    "--param", f"Filter.1.Value.1={vpc}", "--filtered",
                                    "--idempotent", "--count", "300"],
                       moto.env(proxy.endpoint), timeout=240)
        finals = sum(res["final"].values())
        assert res["lost"] == 0 and res["doubled"] == 0
        assert res["ok"] + finals == 300
        # every failure is classified transient
        assert finals == res["final"]["transient"], (res["final"], proxy.actions())
        assert proxy.calls("DescribeVpcs", "injected-5xx") >= 10
        assert proxy.calls("DescribeVpcs", "reset") >= 1
        assert res["retries"] >= proxy.calls("DescribeVpcs", "injected-5xx") - finals
        assert res["ok"] >= 290  # three attempts make a final failure rare (~0.2%)
    finally:
        proxy.stop()


def test_non_idempotent_calls_are_not_resent_after_ambiguous_failures(moto):
    """A 5xx or a reset may hide a call that happened: without EC2_F_IDEMPOTENT the client
    reports it (ambiguous) instead of resending, so AssociateVpcCidrBlock or
    AssignIpv6Addresses can never be applied twice by a retry."""
    vpc = guide_example(moto.client())["vpc"]
    proxy = FaultProxy(moto.endpoint, p5xx=0.15, preset=0.15, seed=3).start()
    try:
        res = run_tool("ec2_load", ["--action", "CreateTags", "--param", f"ResourceId.1={vpc}",
                                    "--param", "Tag.1.Key=once", "--tag-index", "--count", "60"],
                       moto.env(proxy.endpoint), timeout=240)
        faults = proxy.calls("CreateTags", "injected-5xx") + proxy.calls("CreateTags", "reset")
        assert faults >= 5
        assert res["ambiguous"] == faults == res["final"]["transient"], (res, proxy.actions())
        assert res["attempts"] == 60 + proxy.calls("CreateTags", "throttled")
        assert res["ok"] == 60 - faults
    finally:
        proxy.stop()


def test_expired_credentials_and_a_skewed_clock_are_fixed_once_and_the_call_goes_again(moto):
    """RequestExpired: the credentials are refreshed and the call is sent again (once);
    RequestTimeTooSkewed: the clock is corrected from the answer's Date and the call goes again
    signed with the server's time."""
    import email.utils
    import time
    from conftest import run_dualstackd
    ids = guide_example(moto.client())
    proxy = FaultProxy(moto.endpoint).start()
    try:
        env = moto.env(proxy.endpoint)
        proxy.fail_next = {"DescribeVpcs": [("RequestExpired", 400, {})]}
        out = run_dualstackd(["describe", "vpcs", "--vpc", ids["vpc"]], env)
        assert ids["vpc"] in out.stdout
        assert proxy.calls("DescribeVpcs", "RequestExpired") == 1
        assert proxy.calls("DescribeVpcs", "ok") == 1
        ahead = time.time() + 3600  # the server is an hour ahead of us
        proxy.fail_next = {"DescribeVpcs": [("RequestTimeTooSkewed", 403, {
            "Date": email.utils.formatdate(ahead, usegmt=True)})]}
        proxy.amz_dates.clear()
        out = run_dualstackd(["describe", "vpcs", "--vpc", ids["vpc"]], env, check=False)
        dates = [d for a, d in proxy.amz_dates if a == "DescribeVpcs"]
        assert len(dates) == 2, dates
        first, second = (time.mktime(time.strptime(d, "%Y%m%dT%H%M%SZ")) for d in dates)
        assert 3500 < second - first < 3700, dates  # signed with the server's clock
    finally:
        proxy.stop()


def test_writes_ec2_takes_as_lists_go_as_one_call_and_a_failed_one_splits(moto):
    """120 CreateTags of one tag on 40 subnets, issued at once, reach EC2 as one request (the
    API takes up to 1,000 resources); every subnet carries the tag. 30 Authorize calls on one
    group, one of whose permissions already exists, go as one request that fails with
    InvalidPermission.Duplicate - then each goes again alone and gets its own answer: on EC2,
    where the failed request changed nothing, one Duplicate and 29 successes; moto applies the
    permissions before the duplicate one (7000-7006) and so answers Duplicate for those too."""
    ec2 = moto.client()
    vpc = ec2.create_vpc(CidrBlock="10.9.0.0/16")["Vpc"]["VpcId"]
    subnets = [ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.9.{i}.0/24")["Subnet"]["SubnetId"]
               for i in range(40)]
    sg = ec2.create_security_group(VpcId=vpc, GroupName="merge", Description="m")["GroupId"]
    ec2.authorize_security_group_ingress(GroupId=sg, IpPermissions=[
        {"IpProtocol": "tcp", "FromPort": 7007, "ToPort": 7007,
         "Ipv6Ranges": [{"CidrIpv6": "::/0"}]}])
    proxy = FaultProxy(moto.endpoint).start()
    try:
        env = moto.env(proxy.endpoint)
        res = run_tool("ec2_load", ["--action", "CreateTags", "--resources", ",".join(subnets),
                                    "--param", "Tag.1.Key=dualstack:ipv6-by", "--param",
                                    "Tag.1.Value=dualstackd", "--count", "120", "--idempotent"],
                       env, timeout=120)
        assert res["ok"] == 120 and res["lost"] == 0 and res["doubled"] == 0, res
        assert proxy.calls("CreateTags") == 1, proxy.actions()
        assert res["merged"] == 119
        tagged = ec2.describe_subnets(Filters=[{"Name": "tag:dualstack:ipv6-by",
                                                "Values": ["dualstackd"]}])["Subnets"]
        assert len(tagged) == 40

        proxy.reset_counts()
        res = run_tool("ec2_load", ["--action", "AuthorizeSecurityGroupIngress", "--param",
                                    f"GroupId={sg}", "--port-index", "7000", "--count", "30",
                                    "--idempotent"], env, timeout=120)
        assert res["lost"] == 0 and res["doubled"] == 0, res
        assert res["ok"] + res["final"]["duplicate"] == 30, (res, proxy.actions())
        assert 1 <= res["final"]["duplicate"] <= 8, res
        assert res["split"] == 1 and res["merged"] == 29
        # the merged request, then each call alone
        assert proxy.calls("AuthorizeSecurityGroupIngress") == 31, proxy.actions()
        ports = {p["FromPort"] for p in ec2.describe_security_groups(GroupIds=[sg])[
            "SecurityGroups"][0]["IpPermissions"] if p.get("Ipv6Ranges")}
        assert ports == set(range(7000, 7030))
    finally:
        proxy.stop()


def test_the_proxy_refuses_disassociations_ec2_refuses(moto):
    """moto takes a /64 off a subnet that assigns IPv6 on creation, and a /56 off a VPC whose
    subnets still hold /64s of it; EC2 answers InvalidCidrBlock.InUse. The proxy (given a
    client to moto) answers as EC2 does, so tests of revert meet EC2's rules."""
    import boto3
    import botocore.exceptions
    import pytest
    ec2 = moto.client()
    ids = guide_example(ec2, with_ipv6=True)
    proxy = FaultProxy(moto.endpoint, ec2=ec2, buckets=False).start()
    try:
        via = boto3.client("ec2", endpoint_url=proxy.endpoint, region_name="us-east-1",
                           aws_access_key_id=moto.access_key,
                           aws_secret_access_key=moto.secret_key)
        subnet = ec2.describe_subnets(SubnetIds=[ids["public"]])["Subnets"][0]
        assoc = subnet["Ipv6CidrBlockAssociationSet"][0]["AssociationId"]
        ec2.modify_subnet_attribute(SubnetId=ids["public"],
                                    AssignIpv6AddressOnCreation={"Value": True})
        with pytest.raises(botocore.exceptions.ClientError) as e:
            via.disassociate_subnet_cidr_block(AssociationId=assoc)
        assert e.value.response["Error"]["Code"] == "InvalidCidrBlock.InUse"
        assert "assign-ipv6-address-on-creation" in e.value.response["Error"]["Message"]
        vpc = ec2.describe_vpcs(VpcIds=[ids["vpc"]])["Vpcs"][0]
        with pytest.raises(botocore.exceptions.ClientError) as e:
            via.disassociate_vpc_cidr_block(
                AssociationId=vpc["Ipv6CidrBlockAssociationSet"][0]["AssociationId"])
        assert e.value.response["Error"]["Code"] == "InvalidCidrBlock.InUse"
        ec2.modify_subnet_attribute(SubnetId=ids["public"],
                                    AssignIpv6AddressOnCreation={"Value": False})
        via.disassociate_subnet_cidr_block(AssociationId=assoc)  # now EC2 takes it
    finally:
        proxy.stop()
