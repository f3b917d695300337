"""Records the planner's table-test fixtures: each scenario is built in a fresh moto server,
and the raw XML of every Describe call the planner reads is saved, with the case's policy, in
tests/fixtures/plan/<case>/. The expected plans (expected.txt) are written by the unit test
with DS_UPDATE_GOLDEN=1 and then reviewed by hand; this script never writes them.

  python3 tests/py/record_plan_fixtures.py [CASE...]
  python3 tests/py/record_plan_fixtures.py --revert [CASE...]
      records the undo planner's cases (tests/fixtures/revert), a real `dualstackd apply`
      included (build it first)
  python3 tests/py/record_plan_fixtures.py --augment [CASE...]
      adds step 4's reads (DescribeImages, DescribeInstanceTypeOfferings, and one
      DescribeInstanceAttribute disableApiStop per instance) to cases recorded before they
      existed, without re-recording (and renumbering) the rest"""
import json
import os
import re
import shutil
import sys

import boto3

sys.path.insert(0, os.path.dirname(__file__))
from fleet import guide_example  # noqa: E402
from services import ROOT, Moto  # noqa: E402

OUT = os.path.join(ROOT, "tests", "fixtures", "plan")
CANONICAL = {
    "mode": "enforce",
    "scope": {"accounts": ["123456789012"], "regions": ["us-east-1"], "vpcs": [],
              "exclude_tags": {"dualstack:opt-out": "true"}},
    "subnets": {"index": "lowest-free", "assign_ipv6_on_create": True},
    "routes": {"enabled": True},
    "security_groups": {"enabled": True, "cidr_map": {"198.51.100.0/24": "2001:db8:1234::/48"}},
    "network_acls": {"enabled": True, "offset": 1},
    "instances": {"resize": "always", "type_map": {"m3.large": "m4.large"},
                  "maintenance_window": None, "max_concurrent_stops": 2,
                  "allow_instance_store_loss": False, "assign_ipv6": True},
    "guest_config": "off", "api_budget": 0.5,
    "assume_role": "arn:aws:iam::{account}:role/dualstackd",
}
NOW = 1795694400  # 2026-11-26 12:00 UTC, a Thursday
# States moto cannot make (a blackhole route, an instance-store root) are written into the
# recorded XML: {file: [(regex, replacement)]}, set by a scenario.
REWRITES = {}


def policy(**changes):
    p = json.loads(json.dumps(CANONICAL))
    for path, value in changes.items():
        node = p
        keys = path.split("__")
        for k in keys[:-1]:
            node = node[k]
        node[keys[-1]] = value
    return p


# ---- scenarios: each returns (vpc id, policy, now) ----

def guide(ec2):
    return guide_example(ec2)["vpc"], policy(), NOW


def guide_resize_never(ec2):
    return guide_example(ec2)["vpc"], policy(instances__resize="never"), NOW


def guide_outside_window(ec2):
    # Thursday noon is outside a Sunday-night window
    return guide_example(ec2)["vpc"], policy(
        instances__maintenance_window="sun:02:00-sun:05:00"), NOW


def guide_converged(ec2):
    """The guide's example with every step already applied: the plan is empty."""
    ids = guide_example(ec2, with_ipv6=True)
    vpc = ids["vpc"]
    block = ec2.describe_vpcs(VpcIds=[vpc])["Vpcs"][0]["Ipv6CidrBlockAssociationSet"][0]["Ipv6CidrBlock"]
    ec2.associate_subnet_cidr_block(SubnetId=ids["private"],
                                    Ipv6CidrBlock=block.replace("00::/56", "01::/64"))
    for s in (ids["public"], ids["private"]):
        ec2.modify_subnet_attribute(SubnetId=s, AssignIpv6AddressOnCreation={"Value": True})
    ec2.authorize_security_group_ingress(GroupId=ids["web_sg"], IpPermissions=[
        {"IpProtocol": "tcp", "FromPort": 443, "ToPort": 443, "Ipv6Ranges": [{"CidrIpv6": "::/0"}]}])
    for sg in ec2.describe_security_groups(Filters=[{"Name": "vpc-id", "Values": [vpc]}])["SecurityGroups"]:
        try:  # moto adds -1 ::/0 egress by itself to groups made in an IPv6 VPC
            ec2.authorize_security_group_egress(GroupId=sg["GroupId"], IpPermissions=[
                {"IpProtocol": "-1", "Ipv6Ranges": [{"CidrIpv6": "::/0"}]}])
        except ec2.exceptions.ClientError as e:
            if "Duplicate" not in str(e):
                raise
    for acl in ec2.describe_network_acls(Filters=[{"Name": "vpc-id", "Values": [vpc]}])["NetworkAcls"]:
        if acl["IsDefault"]:
            for egress in (False, True):
                ec2.create_network_acl_entry(NetworkAclId=acl["NetworkAclId"], RuleNumber=101,
                                             Protocol="-1", RuleAction="allow", Egress=egress,
                                             Ipv6CidrBlock="::/0")
        else:
            ec2.create_network_acl_entry(NetworkAclId=acl["NetworkAclId"], RuleNumber=121,
                                         Protocol="-1", RuleAction="deny", Egress=True,
                                         Ipv6CidrBlock="2001:db8:1234::/48")
    # the database on m4.large (as the resize leaves it) with an address
    ec2.stop_instances(InstanceIds=[ids["db"]])
    ec2.modify_instance_attribute(InstanceId=ids["db"], InstanceType={"Value": "m4.large"})
    ec2.start_instances(InstanceIds=[ids["db"]])
    eni = ec2.describe_instances(InstanceIds=[ids["db"]])["Reservations"][0]["Instances"][0][
        "NetworkInterfaces"][0]["NetworkInterfaceId"]
    ec2.assign_ipv6_addresses(NetworkInterfaceId=eni, Ipv6AddressCount=1)
    # the custom NACL's 203.0.113.0/24 deny maps through cidr_map in this case
    return vpc, policy(security_groups__cidr_map={"203.0.113.0/24": "2001:db8:1234::/48"}), NOW


def third_octet(ec2):
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16", AmazonProvidedIpv6CidrBlock=True)["Vpc"]["VpcId"]
    for cidr in ("10.0.7.0/24", "10.0.3.0/24", "10.0.5.0/25", "10.0.5.128/25", "10.0.0.0/24"):
        ec2.create_subnet(VpcId=vpc, CidrBlock=cidr)
    return vpc, policy(subnets__index="ipv4-third-octet", routes__enabled=False,
                       security_groups__enabled=False, network_acls__enabled=False), NOW


def partly_dual_stack(ec2):
    """A /56 and one subnet numbered at index 0; another subnet waits; one route exists."""
    vpc = ec2.create_vpc(CidrBlock="10.2.0.0/16", AmazonProvidedIpv6CidrBlock=True)["Vpc"]["VpcId"]
    block = ec2.describe_vpcs(VpcIds=[vpc])["Vpcs"][0]["Ipv6CidrBlockAssociationSet"][0]["Ipv6CidrBlock"]
    a = ec2.create_subnet(VpcId=vpc, CidrBlock="10.2.1.0/24")["Subnet"]["SubnetId"]
    ec2.create_subnet(VpcId=vpc, CidrBlock="10.2.2.0/24")
    ec2.associate_subnet_cidr_block(SubnetId=a, Ipv6CidrBlock=block.replace("00::/56", "00::/64"))
    igw = ec2.create_internet_gateway()["InternetGateway"]["InternetGatewayId"]
    ec2.attach_internet_gateway(InternetGatewayId=igw, VpcId=vpc)
    main = ec2.describe_route_tables(Filters=[{"Name": "vpc-id", "Values": [vpc]}])["RouteTables"][0]["RouteTableId"]
    ec2.create_route(RouteTableId=main, DestinationCidrBlock="0.0.0.0/0", GatewayId=igw)
    ec2.create_route(RouteTableId=main, DestinationIpv6CidrBlock="::/0", GatewayId=igw)
    return vpc, policy(security_groups__enabled=False, network_acls__enabled=False), NOW


def routes(ec2):
    """NAT instance, transit gateway, VGW, peering, isolated, and ::/0 to another target."""
    vpc = ec2.create_vpc(CidrBlock="10.3.0.0/16")["Vpc"]["VpcId"]
    peer = ec2.create_vpc(CidrBlock="10.4.0.0/16")["Vpc"]["VpcId"]
    igw = ec2.create_internet_gateway()["InternetGateway"]["InternetGatewayId"]
    ec2.attach_internet_gateway(InternetGatewayId=igw, VpcId=vpc)
    tgw = ec2.create_transit_gateway()["TransitGateway"]["TransitGatewayId"]
    vgw = ec2.create_vpn_gateway(Type="ipsec.1")["VpnGateway"]["VpnGatewayId"]
    ec2.attach_vpn_gateway(VpnGatewayId=vgw, VpcId=vpc)
    pcx = ec2.create_vpc_peering_connection(VpcId=vpc, PeerVpcId=peer)["VpcPeeringConnection"]["VpcPeeringConnectionId"]
    subnets = {}
    for i, name in enumerate(("natinst", "tgw", "vgw", "peer", "isolated", "other", "blackhole")):
        subnets[name] = ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.3.{i}.0/24")["Subnet"]["SubnetId"]
    inst = ec2.run_instances(ImageId="ami-760aaa0f", InstanceType="t3.micro", MinCount=1,
                             MaxCount=1, SubnetId=subnets["isolated"])["Instances"][0]
    eni = inst["NetworkInterfaces"][0]["NetworkInterfaceId"]

    def table(name, **route):
        rt = ec2.create_route_table(VpcId=vpc)["RouteTable"]["RouteTableId"]
        ec2.associate_route_table(RouteTableId=rt, SubnetId=subnets[name])
        if route:
            ec2.create_route(RouteTableId=rt, DestinationCidrBlock="0.0.0.0/0", **route)
        return rt
    table("natinst", NetworkInterfaceId=eni)
    table("tgw", TransitGatewayId=tgw)
    table("vgw", GatewayId=vgw)
    table("peer", VpcPeeringConnectionId=pcx)
    table("isolated")
    rt = table("other", NetworkInterfaceId=eni)
    ec2.create_route(RouteTableId=rt, DestinationIpv6CidrBlock="::/0", GatewayId=igw)
    rt = table("blackhole", GatewayId=igw)
    # moto cannot make a blackhole route: the recorded one is rewritten
    REWRITES["DescribeRouteTables.xml"] = [(
        r"(<routeTableId>%s</routeTableId><routeSet>.*?<destinationCidrBlock>0\.0\.0\.0/0"
        r"</destinationCidrBlock>.*?<state>)active(</state>)" % rt, r"\1blackhole\2")]
    return vpc, policy(security_groups__enabled=False, network_acls__enabled=False,
                       instances__assign_ipv6=False), NOW


def security_groups(ec2):
    vpc = ec2.create_vpc(CidrBlock="10.5.0.0/16", AmazonProvidedIpv6CidrBlock=True)["Vpc"]["VpcId"]
    sub = ec2.create_subnet(VpcId=vpc, CidrBlock="10.5.1.0/24")["Subnet"]["SubnetId"]
    block = ec2.describe_vpcs(VpcIds=[vpc])["Vpcs"][0]["Ipv6CidrBlockAssociationSet"][0]["Ipv6CidrBlock"]
    ec2.associate_subnet_cidr_block(SubnetId=sub, Ipv6CidrBlock=block.replace("00::/56", "01::/64"))
    other = ec2.create_security_group(VpcId=vpc, GroupName="other", Description="o")["GroupId"]
    sg = ec2.create_security_group(VpcId=vpc, GroupName="rules", Description="every rule kind")["GroupId"]
    pl = ec2.create_managed_prefix_list(PrefixListName="office", MaxEntries=5,
                                        AddressFamily="IPv4")["PrefixList"]["PrefixListId"]
    ec2.authorize_security_group_ingress(GroupId=sg, IpPermissions=[
        {"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22,
         "IpRanges": [{"CidrIp": "203.0.113.123/32", "Description": "admin"}]},
        {"IpProtocol": "tcp", "FromPort": 5432, "ToPort": 5432, "IpRanges": [{"CidrIp": "10.5.0.0/16"}]},
        {"IpProtocol": "tcp", "FromPort": 8080, "ToPort": 8080, "IpRanges": [{"CidrIp": "10.5.1.0/24"}]},
        {"IpProtocol": "tcp", "FromPort": 443, "ToPort": 443,
         "IpRanges": [{"CidrIp": "198.51.100.0/24"}, {"CidrIp": "0.0.0.0/0"}],
         "Ipv6Ranges": [{"CidrIpv6": "::/0"}]},
        {"IpProtocol": "udp", "FromPort": 53, "ToPort": 53, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]},
        {"IpProtocol": "icmp", "FromPort": 8, "ToPort": 0, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]},
        {"IpProtocol": "icmp", "FromPort": 0, "ToPort": -1, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]},
        {"IpProtocol": "icmp", "FromPort": 11, "ToPort": 1, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]},
        {"IpProtocol": "icmp", "FromPort": 3, "ToPort": -1, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]},
        {"IpProtocol": "icmp", "FromPort": 3, "ToPort": 4, "IpRanges": [{"CidrIp": "10.5.0.0/16"}]},
        {"IpProtocol": "icmp", "FromPort": 13, "ToPort": -1, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]},
        {"IpProtocol": "icmp", "FromPort": -1, "ToPort": -1, "IpRanges": [{"CidrIp": "198.51.100.0/24"}]},
        {"IpProtocol": "-1", "UserIdGroupPairs": [{"GroupId": other}]},
        {"IpProtocol": "tcp", "FromPort": 9000, "ToPort": 9100, "PrefixListIds": [{"PrefixListId": pl}]},
    ])
    ec2.authorize_security_group_egress(GroupId=sg, IpPermissions=[
        {"IpProtocol": "tcp", "FromPort": 25, "ToPort": 25, "IpRanges": [{"CidrIp": "192.0.2.0/24"}]}])
    return vpc, policy(routes__enabled=False, network_acls__enabled=False), NOW


def network_acls(ec2):
    vpc = ec2.create_vpc(CidrBlock="10.6.0.0/16", AmazonProvidedIpv6CidrBlock=True)["Vpc"]["VpcId"]
    acl = ec2.create_network_acl(VpcId=vpc)["NetworkAcl"]["NetworkAclId"]
    e = lambda n, proto, action, egress, cidr, **kw: ec2.create_network_acl_entry(  # noqa: E731
        NetworkAclId=acl, RuleNumber=n, Protocol=proto, RuleAction=action, Egress=egress,
        CidrBlock=cidr, **kw)
    e(100, "6", "allow", False, "0.0.0.0/0", PortRange={"From": 80, "To": 80})
    e(101, "6", "allow", False, "0.0.0.0/0", PortRange={"From": 443, "To": 443})  # 101 taken
    e(105, "-1", "deny", False, "203.0.113.0/24")  # unmapped
    e(110, "1", "allow", False, "0.0.0.0/0", IcmpTypeCode={"Type": -1, "Code": -1})
    e(120, "-1", "allow", False, "10.6.0.0/16")  # the VPC's CIDR -> its /56
    e(100, "-1", "deny", True, "198.51.100.0/24")  # cidr_map
    e(200, "-1", "allow", True, "0.0.0.0/0")
    # a second ACL whose existing IPv6 twin sits before the twin the plan would add
    acl2 = ec2.create_network_acl(VpcId=vpc)["NetworkAcl"]["NetworkAclId"]
    ec2.create_network_acl_entry(NetworkAclId=acl2, RuleNumber=100, Protocol="6", RuleAction="allow",
                                 Egress=False, CidrBlock="0.0.0.0/0", PortRange={"From": 80, "To": 80})
    ec2.create_network_acl_entry(NetworkAclId=acl2, RuleNumber=200, Protocol="-1", RuleAction="deny",
                                 Egress=False, CidrBlock="0.0.0.0/0")
    ec2.create_network_acl_entry(NetworkAclId=acl2, RuleNumber=50, Protocol="-1", RuleAction="deny",
                                 Egress=False, Ipv6CidrBlock="::/0")
    return vpc, policy(routes__enabled=False, security_groups__enabled=False,
                       instances__assign_ipv6=False), NOW


def instances(ec2):
    """PV, no successor, opt-in tag, opt-out tags, stopped, and an interrupted resize."""
    vpc = ec2.create_vpc(CidrBlock="10.7.0.0/16")["Vpc"]["VpcId"]
    sub = ec2.create_subnet(VpcId=vpc, CidrBlock="10.7.1.0/24")["Subnet"]["SubnetId"]
    out = ec2.create_subnet(VpcId=vpc, CidrBlock="10.7.2.0/24")["Subnet"]["SubnetId"]
    ec2.create_tags(Resources=[out], Tags=[{"Key": "dualstack:opt-out", "Value": "true"}])

    def run(itype, ami="ami-760aaa0f", subnet=sub, tags=None):
        spec = [{"ResourceType": "instance", "Tags": tags}] if tags else []
        return ec2.run_instances(ImageId=ami, InstanceType=itype, MinCount=1, MaxCount=1,
                                 SubnetId=subnet, TagSpecifications=spec)["Instances"][0]["InstanceId"]
    run("m3.large", tags=[{"Key": "Name", "Value": "optin"}, {"Key": "dualstack:resize", "Value": "true"}])
    run("m3.xlarge", tags=[{"Key": "Name", "Value": "no-tag"}])
    run("m1.small", tags=[{"Key": "Name", "Value": "no-successor-size"}])
    run("m1.large", ami="ami-8104a4f8", tags=[{"Key": "Name", "Value": "paravirtual"},
                                              {"Key": "dualstack:resize", "Value": "true"}])
    run("t2.micro", tags=[{"Key": "Name", "Value": "opted-out"}, {"Key": "dualstack:opt-out", "Value": "true"}])
    run("t2.micro", subnet=out, tags=[{"Key": "Name", "Value": "in-opted-out-subnet"}])
    stopped = run("t1.micro", tags=[{"Key": "Name", "Value": "stopped"}, {"Key": "dualstack:resize", "Value": "true"}])
    ec2.stop_instances(InstanceIds=[stopped])
    half = run("m3.medium", tags=[{"Key": "Name", "Value": "interrupted"},
                                  {"Key": "dualstack:resize-from", "Value": "m3.medium"},
                                  {"Key": "dualstack:resize-to", "Value": "m4.large"},
                                  {"Key": "dualstack:resize-was", "Value": "running"}])
    ec2.stop_instances(InstanceIds=[half])
    return vpc, policy(instances__resize="opt-in-tag", instances__type_map={},
                       routes__enabled=False, security_groups__enabled=False,
                       network_acls__enabled=False), NOW


def instance_store(ec2):
    """An instance-store root (written into the XML: moto always reports EBS) and a type whose
    size no successor family has."""
    vpc = ec2.create_vpc(CidrBlock="10.9.0.0/16")["Vpc"]["VpcId"]
    sub = ec2.create_subnet(VpcId=vpc, CidrBlock="10.9.1.0/24")["Subnet"]["SubnetId"]
    store = ec2.run_instances(ImageId="ami-760aaa0f", InstanceType="m3.large", MinCount=1,
                              MaxCount=1, SubnetId=sub)["Instances"][0]["InstanceId"]
    ec2.run_instances(ImageId="ami-760aaa0f", InstanceType="m1.small", MinCount=1, MaxCount=1,
                      SubnetId=sub)
    REWRITES["DescribeInstances.xml"] = [
        # moto prints rootDeviceType before instanceId: no other instance's may lie between
        (r"<rootDeviceType>ebs</rootDeviceType>((?:(?!<rootDeviceType>).)*?<instanceId>%s<)"
         % store, r"<rootDeviceType>instance-store</rootDeviceType>\1")]
    return vpc, policy(routes__enabled=False, security_groups__enabled=False,
                       network_acls__enabled=False), NOW


def resize_safety(ec2):
    """Instances a stop would harm, or whose facts are unknown; and the types a target must
    match (ENA, the zone's offerings)."""
    vpc = ec2.create_vpc(CidrBlock="10.10.0.0/16")["Vpc"]["VpcId"]
    sub = ec2.create_subnet(VpcId=vpc, CidrBlock="10.10.1.0/24")["Subnet"]["SubnetId"]
    zone_d = ec2.create_subnet(VpcId=vpc, CidrBlock="10.10.2.0/24",
                               AvailabilityZone="us-east-1d")["Subnet"]["SubnetId"]

    def run(name, itype="m3.large", ami="ami-760aaa0f", subnet=sub, tags=(), **kw):
        spec = [{"ResourceType": "instance", "Tags": [{"Key": "Name", "Value": name}] + list(tags)}]
        return ec2.run_instances(ImageId=ami, InstanceType=itype, MinCount=1, MaxCount=1,
                                 SubnetId=subnet, TagSpecifications=spec, **kw)[
            "Instances"][0]["InstanceId"]
    run("asg", tags=[{"Key": "aws:autoscaling:groupName", "Value": "web-asg"}])
    run("eks", tags=[{"Key": "eks:nodegroup-name", "Value": "ng-1"}])
    run("spot", InstanceMarketOptions={"MarketType": "spot"})
    run("hibernate", HibernationOptions={"Configured": True})
    run("stop-protected", DisableApiStop=True)
    run("store-present", tags=[{"Key": "dualstack:instance-store", "Value": "present"}])
    run("store-none", tags=[{"Key": "dualstack:instance-store", "Value": "none"}])
    base = run("ami-source")
    eph = ec2.create_image(InstanceId=base, Name="with-ephemeral")["ImageId"]
    gone = ec2.create_image(InstanceId=base, Name="deregistered")["ImageId"]
    run("ami-ephemeral", ami=eph)
    run("ami-gone", ami=gone)
    ec2.deregister_image(ImageId=gone)
    run("ena-required", itype="m3.xlarge")  # type_map: m5.xlarge, which needs ENA
    run("not-offered", itype="m1.medium", subnet=zone_d)  # type_map: c3.large, not in 1d
    # moto keeps no ephemeral mappings: the AMI's is written into the recorded answer
    REWRITES["DescribeImages.xml"] = [(
        r"(<blockDeviceMapping>)((?:(?!<imageId>).)*?<imageId>%s</imageId>)" % eph,
        r"\1<item><deviceName>/dev/sdb</deviceName><virtualName>ephemeral0</virtualName></item>\2")]
    return vpc, policy(routes__enabled=False, security_groups__enabled=False,
                       network_acls__enabled=False, instances__assign_ipv6=False,
                       instances__type_map={"m3.large": "m4.large", "m3.xlarge": "m5.xlarge",
                                            "m1.medium": "c3.large"}), NOW


def resize_resume(ec2):
    """Interrupted resizes: one the policy backs (finished), one it does not (restored, no
    retype), an interrupted rollback (finished back to the original type), and one rolled back
    earlier (left until an operator removes the tag)."""
    vpc = ec2.create_vpc(CidrBlock="10.11.0.0/16")["Vpc"]["VpcId"]
    sub = ec2.create_subnet(VpcId=vpc, CidrBlock="10.11.1.0/24")["Subnet"]["SubnetId"]

    def run(name, tags, itype="m3.large", stop=True):
        spec = [{"ResourceType": "instance", "Tags": [{"Key": "Name", "Value": name}] + tags}]
        i = ec2.run_instances(ImageId="ami-760aaa0f", InstanceType=itype, MinCount=1, MaxCount=1,
                              SubnetId=sub, TagSpecifications=spec)["Instances"][0]["InstanceId"]
        if stop:
            ec2.stop_instances(InstanceIds=[i])
        return i

    def resize_tags(to, extra=()):
        return [{"Key": "dualstack:resize-from", "Value": "m3.large"},
                {"Key": "dualstack:resize-to", "Value": to},
                {"Key": "dualstack:resize-was", "Value": "running"}] + list(extra)
    run("backed", resize_tags("m4.large"))
    run("not-backed", resize_tags("m5.large"))
    run("tagged-then-crashed", resize_tags("m4.large"), stop=False)
    run("rollback", resize_tags("m4.large", [
        {"Key": "dualstack:resize-rollback", "Value": "StartInstances: InsufficientInstanceCapacity"}]),
        itype="m4.large")
    run("failed-before", [{"Key": "dualstack:resize-failed",
                           "Value": "m3.large -> m4.large: StartInstances: "
                                    "InsufficientInstanceCapacity"}], stop=False)
    return vpc, policy(routes__enabled=False, security_groups__enabled=False,
                       network_acls__enabled=False, instances__assign_ipv6=False), NOW


def nacl_acl_with_shared_twins(ec2, vpc):
    acl = ec2.create_network_acl(VpcId=vpc)["NetworkAcl"]["NetworkAclId"]
    e = lambda n, action, cidr: ec2.create_network_acl_entry(  # noqa: E731
        NetworkAclId=acl, RuleNumber=n, Protocol="-1", RuleAction=action, Egress=False,
        CidrBlock=cidr)
    e(100, "allow", "10.20.0.0/16")    # primary CIDR -> the /56
    e(110, "allow", "10.21.0.0/16")    # secondary CIDR -> the same /56: one twin
    e(120, "deny", "198.51.100.0/24")  # cidr_map -> 2001:db8:1234::/48
    e(130, "deny", "192.0.2.0/24")     # cidr_map, same value: one twin
    return acl


def shared_twin_policy():
    return policy(routes__enabled=False, security_groups__enabled=False,
                  instances__assign_ipv6=False, subnets__enabled=False,
                  security_groups__cidr_map={"198.51.100.0/24": "2001:db8:1234::/48",
                                             "192.0.2.0/24": "2001:db8:1234::/48"})


def nacl_shared_twin(ec2):
    """A secondary IPv4 CIDR and two cidr_map keys with one value: four IPv4 entries, two twins."""
    vpc = ec2.create_vpc(CidrBlock="10.20.0.0/16", AmazonProvidedIpv6CidrBlock=True)["Vpc"]["VpcId"]
    ec2.associate_vpc_cidr_block(VpcId=vpc, CidrBlock="10.21.0.0/16")
    nacl_acl_with_shared_twins(ec2, vpc)
    return vpc, shared_twin_policy(), NOW


def nacl_shared_twin_converged(ec2):
    """The same after the first apply wrote the two twins: the plan is empty, no conflict."""
    vpc = ec2.create_vpc(CidrBlock="10.20.0.0/16", AmazonProvidedIpv6CidrBlock=True)["Vpc"]["VpcId"]
    ec2.associate_vpc_cidr_block(VpcId=vpc, CidrBlock="10.21.0.0/16")
    acl = nacl_acl_with_shared_twins(ec2, vpc)
    block = ec2.describe_vpcs(VpcIds=[vpc])["Vpcs"][0]["Ipv6CidrBlockAssociationSet"][0]["Ipv6CidrBlock"]
    for n, action, cidr in ((101, "allow", block), (121, "deny", "2001:db8:1234::/48")):
        ec2.create_network_acl_entry(NetworkAclId=acl, RuleNumber=n, Protocol="-1",
                                     RuleAction=action, Egress=False, Ipv6CidrBlock=cidr)
    return vpc, shared_twin_policy(), NOW


def blackhole_v6(ec2):
    """::/0 routes whose target is gone: replaced where the IPv4 default says where to, reported
    where nothing does."""
    vpc = ec2.create_vpc(CidrBlock="10.22.0.0/16", AmazonProvidedIpv6CidrBlock=True)["Vpc"]["VpcId"]
    igw = ec2.create_internet_gateway()["InternetGateway"]["InternetGatewayId"]
    ec2.attach_internet_gateway(InternetGatewayId=igw, VpcId=vpc)
    old = ec2.create_internet_gateway()["InternetGateway"]["InternetGatewayId"]
    rts = []
    for i in range(2):
        sub = ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.22.{i}.0/24")["Subnet"]["SubnetId"]
        rt = ec2.create_route_table(VpcId=vpc)["RouteTable"]["RouteTableId"]
        ec2.associate_route_table(RouteTableId=rt, SubnetId=sub)
        rts.append(rt)
    ec2.create_route(RouteTableId=rts[0], DestinationCidrBlock="0.0.0.0/0", GatewayId=igw)
    for rt in rts:  # ::/0 to a gateway that is then "deleted": written as a blackhole below
        ec2.create_route(RouteTableId=rt, DestinationIpv6CidrBlock="::/0", GatewayId=old)
    REWRITES["DescribeRouteTables.xml"] = [
        (r"(<routeTableId>%s</routeTableId>.*?<destinationIpv6CidrBlock>::/0"
         r"</destinationIpv6CidrBlock>.*?<state>)active(</state>)" % rt, r"\1blackhole\2")
        for rt in rts]
    return vpc, policy(security_groups__enabled=False, network_acls__enabled=False,
                       instances__assign_ipv6=False), NOW


def several_eigws(ec2):
    vpc = ec2.create_vpc(CidrBlock="10.23.0.0/16", AmazonProvidedIpv6CidrBlock=True)["Vpc"]["VpcId"]
    igw = ec2.create_internet_gateway()["InternetGateway"]["InternetGatewayId"]
    ec2.attach_internet_gateway(InternetGatewayId=igw, VpcId=vpc)
    pub = ec2.create_subnet(VpcId=vpc, CidrBlock="10.23.0.0/24")["Subnet"]["SubnetId"]
    priv = ec2.create_subnet(VpcId=vpc, CidrBlock="10.23.1.0/24")["Subnet"]["SubnetId"]
    eip = ec2.allocate_address(Domain="vpc")["AllocationId"]
    nat = ec2.create_nat_gateway(SubnetId=pub, AllocationId=eip)["NatGateway"]["NatGatewayId"]
    rt = ec2.create_route_table(VpcId=vpc)["RouteTable"]["RouteTableId"]
    ec2.create_route(RouteTableId=rt, DestinationCidrBlock="0.0.0.0/0", NatGatewayId=nat)
    ec2.associate_route_table(RouteTableId=rt, SubnetId=priv)
    ec2.create_egress_only_internet_gateway(VpcId=vpc)
    ec2.create_egress_only_internet_gateway(VpcId=vpc, TagSpecifications=[{
        "ResourceType": "egress-only-internet-gateway",
        "Tags": [{"Key": "dualstack:created-by", "Value": "dualstackd"}]}])
    return vpc, policy(security_groups__enabled=False, network_acls__enabled=False,
                       instances__assign_ipv6=False), NOW


def byoip_block(ec2):
    """A /60 from a BYOIP pool (written over moto's /56: 16 /64s), 18 subnets of which one
    holds the first /64 and one sits in a Local Zone without a block: 15 numbered, 2 left
    with a finding each, and the Local Zone subnet's own finding."""
    vpc = ec2.create_vpc(CidrBlock="10.24.0.0/16", AmazonProvidedIpv6CidrBlock=True)["Vpc"]["VpcId"]
    block = ec2.describe_vpcs(VpcIds=[vpc])["Vpcs"][0]["Ipv6CidrBlockAssociationSet"][0]["Ipv6CidrBlock"]
    subs = [ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.24.{i}.0/24")["Subnet"]["SubnetId"]
            for i in range(19)]
    ec2.associate_subnet_cidr_block(SubnetId=subs[0], Ipv6CidrBlock=block.replace("/56", "/64"))
    REWRITES["DescribeVpcs.xml"] = [(re.escape(block), block.replace("/56", "/60"))]
    REWRITES["DescribeSubnets.xml"] = [(
        r"(<subnetId>%s</subnetId>(?:(?!<subnetId>).)*?<availabilityZone>)us-east-1[a-f]"
        % subs[18], r"\1us-east-1-bos-1a")]
    return vpc, policy(routes__enabled=False, security_groups__enabled=False,
                       network_acls__enabled=False, instances__assign_ipv6=False), NOW


def opted_out_vpc(ec2):
    vpc = ec2.create_vpc(CidrBlock="10.8.0.0/16")["Vpc"]["VpcId"]
    ec2.create_tags(Resources=[vpc], Tags=[{"Key": "team", "Value": "legacy"}])
    return vpc, policy(scope__exclude_tags={"team": "legacy"}), NOW


# ---- revert scenarios (tests/fixtures/revert): the state a real `dualstackd apply` leaves ----

RECORDING = {}  # the moto a scenario runs dualstackd against


def dualstackd_apply(vpc, pol):
    import subprocess
    import tempfile
    moto = RECORDING["moto"]
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
        json.dump(pol, f)
    r = subprocess.run([os.path.join(ROOT, "dualstackd"), "apply", "--policy", f.name, "--vpc", vpc],
                       env=moto.env(), capture_output=True, text=True, timeout=300)
    os.unlink(f.name)
    assert r.returncode == 0, r.stdout + r.stderr


def guide_applied(ec2):
    """The guide's example after dualstackd apply, with an IPv6 NACL entry the owner wrote
    before (the mark lists it: revert leaves it) next to an IPv4 entry dualstackd mirrored."""
    ids = guide_example(ec2, zone="us-east-1b")  # where moto offers m3.large (resize-back)
    ec2.create_network_acl_entry(NetworkAclId=ids["nacl"], RuleNumber=101, Protocol="6",
                                 RuleAction="allow", Egress=False, Ipv6CidrBlock="::/0",
                                 PortRange={"From": 80, "To": 80})
    ec2.create_network_acl_entry(NetworkAclId=ids["nacl"], RuleNumber=110, Protocol="6",
                                 RuleAction="allow", Egress=False, CidrBlock="0.0.0.0/0",
                                 PortRange={"From": 443, "To": 443})
    pol = policy()
    dualstackd_apply(ids["vpc"], pol)
    return ids, pol


def revert_applied(ec2):
    ids, pol = guide_applied(ec2)
    return ids["vpc"], pol, NOW


def revert_applied_step3(ec2):
    ids, pol = guide_applied(ec2)
    return ids["vpc"], pol, NOW, [3]


def revert_resize_back(ec2):
    """revert --resize-back: the database goes back to m3.large once its address is gone."""
    ids, pol = guide_applied(ec2)
    return ids["vpc"], pol, NOW, [1, 2, 3, 4, 5]


def revert_resize_back_held(ec2):
    """--resize-back without step 5: the database keeps its address, so it keeps its type."""
    ids, pol = guide_applied(ec2)
    return ids["vpc"], pol, NOW, [4]


def revert_owner_changes(ec2):
    """After apply the owner gave the web server a second IPv6 address and wrote an IPv6 twin
    of the db group's rule without the mark: the address, its /64 and the /56 stay."""
    ids, pol = guide_applied(ec2)
    eni = ec2.describe_instances(InstanceIds=[ids["web"]])["Reservations"][0]["Instances"][0][
        "NetworkInterfaces"][0]["NetworkInterfaceId"]
    ec2.assign_ipv6_addresses(NetworkInterfaceId=eni, Ipv6AddressCount=1)
    ec2.authorize_security_group_ingress(GroupId=ids["web_sg"], IpPermissions=[
        {"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22,
         "IpRanges": [{"CidrIp": "0.0.0.0/0", "Description": "bastion"}],
         "Ipv6Ranges": [{"CidrIpv6": "::/0", "Description": "bastion v6"}]}])
    return ids["vpc"], pol, NOW


def revert_interface_in_subnet(ec2):
    """An interface that is no instance's (an endpoint, a load balancer, Lambda) holds an IPv6
    address in the public subnet's /64: that /64 and the VPC's /56 stay, and the plan says which
    interface keeps them; everything else dualstackd added goes."""
    ids, pol = guide_applied(ec2)
    ec2.create_network_interface(SubnetId=ids["public"], Ipv6AddressCount=1,
                                 Description="VPC Endpoint Interface vpce-0a1b2c3d4e5f60718")
    return ids["vpc"], pol, NOW


def revert_unmarked(ec2):
    """IPv6 written before marks existed (or by hand): nothing is provably dualstackd's."""
    vpc, pol, now = guide_converged(ec2)
    return vpc, pol, now


REVERT_SCENARIOS = {f.__name__.replace("_", "-"): f for f in (
    revert_applied, revert_applied_step3, revert_resize_back, revert_resize_back_held,
    revert_owner_changes, revert_interface_in_subnet, revert_unmarked)}

SCENARIOS = {f.__name__.replace("_", "-"): f for f in (
    guide, guide_resize_never, guide_outside_window, guide_converged, third_octet,
    partly_dual_stack, routes, security_groups, network_acls, instances, instance_store,
    opted_out_vpc, resize_safety, resize_resume, nacl_shared_twin, nacl_shared_twin_converged,
    blackhole_v6, several_eigws, byoip_block)}

READS = [
    ("DescribeVpcs", "describe_vpcs", "vpc-id"),
    ("DescribeSubnets", "describe_subnets", "vpc-id"),
    ("DescribeRouteTables", "describe_route_tables", "vpc-id"),
    ("DescribeInternetGateways", "describe_internet_gateways", "attachment.vpc-id"),
    ("DescribeEgressOnlyInternetGateways", "describe_egress_only_internet_gateways", None),
    ("DescribeSecurityGroups", "describe_security_groups", "vpc-id"),
    ("DescribeNetworkAcls", "describe_network_acls", "vpc-id"),
    ("DescribeInstances", "describe_instances", "vpc-id"),
]


ATTRIBUTE_XML = ('<?xml version="1.0" encoding="utf-8"?>\n<DescribeInstanceAttributeResponse '
                 'xmlns="http://ec2.amazonaws.com/doc/2016-11-15"><instanceId>%s</instanceId>'
                 '<disableApiStop><value>%s</value></disableApiStop><requestId>request-id'
                 '</requestId></DescribeInstanceAttributeResponse>')


def record_resize_reads(ec2, last, d, instances, types, live=False):
    """Step 4's facts, as the reader asks for them: the AMIs and zones of the instances, the
    candidate types offered there, and each instance's DisableApiStop (asked of moto when the
    instances are live, else written in moto's shape)."""
    images = sorted({i["ImageId"] for i in instances})
    zones = sorted({i["Placement"]["AvailabilityZone"] for i in instances})
    ec2.describe_images(Filters=[{"Name": "image-id", "Values": images}], IncludeDeprecated=True)
    open(os.path.join(d, "DescribeImages.xml"), "wb").write(last["body"])
    ec2.describe_instance_type_offerings(LocationType="availability-zone", Filters=[
        {"Name": "instance-type", "Values": sorted(types)}, {"Name": "location", "Values": zones}])
    open(os.path.join(d, "DescribeInstanceTypeOfferings.xml"), "wb").write(last["body"])
    for i in instances:
        path = os.path.join(d, f"DescribeInstanceAttribute-{i['InstanceId']}.xml")
        if live:
            ec2.describe_instance_attribute(InstanceId=i["InstanceId"], Attribute="disableApiStop")
            open(path, "wb").write(last["body"])
        else:
            open(path, "w").write(ATTRIBUTE_XML % (i["InstanceId"], "false"))


def augment(name):
    """Adds step 4's reads to a case recorded before they existed (ids stay as recorded: the
    AMIs and types are moto's built-in ones, the attribute answers are written in moto's
    shape)."""
    d = os.path.join(OUT, name)
    xml = open(os.path.join(d, "DescribeInstances.xml")).read()
    instances = [{"InstanceId": m.group(1), "ImageId": m.group(2), "Placement": {
        "AvailabilityZone": m.group(3)}} for m in re.finditer(
        r"<instanceId>(i-[0-9a-f]+)</instanceId><imageId>(ami-[0-9a-f]+)</imageId>.*?"
        r"<availabilityZone>([a-z0-9-]+)</availabilityZone>", xml, re.S)]
    types = re.findall(r"<instanceType>([a-z0-9.]+)</instanceType>",
                       open(os.path.join(d, "DescribeInstanceTypes.xml")).read())
    moto = Moto()
    moto.FREE_ACTIONS = 10**6
    moto.start()
    try:
        ec2 = boto3.client("ec2", endpoint_url=moto.endpoint, region_name="us-east-1",
                           aws_access_key_id="x", aws_secret_access_key="y")
        last = {}
        ec2.meta.events.register("after-call.ec2",
                                 lambda **kw: last.__setitem__("body", kw["http_response"].content))
        if instances:
            record_resize_reads(ec2, last, d, instances, types)
        print("augmented", name, len(instances), "instances")
    finally:
        moto.stop()


def record(name, build, out=OUT):
    REWRITES.clear()
    moto = Moto()
    moto.FREE_ACTIONS = 10**6  # recording needs no signature checks
    moto.start()
    RECORDING["moto"] = moto
    try:
        ec2 = boto3.client("ec2", endpoint_url=moto.endpoint, region_name="us-east-1",
                           aws_access_key_id="x", aws_secret_access_key="y")
        vpc, pol, now, *steps = build(ec2)
        last = {}
        ec2.meta.events.register("after-call.ec2",
                                 lambda **kw: last.__setitem__("body", kw["http_response"].content))
        d = os.path.join(out, name)
        shutil.rmtree(d, ignore_errors=True)
        os.makedirs(d)
        reads = READS + ([("DescribeNetworkInterfaces", "describe_network_interfaces",
                            "vpc-id")] if out != OUT else [])  # revert reads them too
        for op, call, flt in reads:
            kw = {"Filters": [{"Name": flt, "Values": [vpc]}]} if flt else {}
            getattr(ec2, call)(**kw)
            open(os.path.join(d, op + ".xml"), "wb").write(last["body"])
        types = sorted({i["InstanceType"] for r in ec2.describe_instances(Filters=[
            {"Name": "vpc-id", "Values": [vpc]}])["Reservations"] for i in r["Instances"]})
        wanted = set(types)
        for t in types:
            fam, size = t.split(".")
            for s in {"m1": "m3 m4 m5", "m3": "m4 m5", "t1": "t2 t3", "m2": "r3 r4 r5"}.get(fam, "").split():
                wanted.add(f"{s}.{size}")
            wanted.add(f"c3.{size}")
        wanted |= set(pol["instances"]["type_map"].values()) | {"m4.large"}
        wanted |= {v for r in ec2.describe_instances(Filters=[{"Name": "vpc-id", "Values": [vpc]}])[
            "Reservations"] for i in r["Instances"] for t in i.get("Tags", [])
            if t["Key"].startswith("dualstack:resize") for v in [t["Value"]] if "." in v}
        known = [t["InstanceType"] for t in ec2.describe_instance_types()["InstanceTypes"]]
        ec2.describe_instance_types(InstanceTypes=sorted(w for w in wanted if w in known))
        open(os.path.join(d, "DescribeInstanceTypes.xml"), "wb").write(last["body"])
        instances = [i for r in ec2.describe_instances(Filters=[
            {"Name": "vpc-id", "Values": [vpc]}])["Reservations"] for i in r["Instances"]]
        if instances:
            record_resize_reads(ec2, last, d, instances, wanted & set(known), live=True)
        for fname, subs in REWRITES.items():
            path = os.path.join(d, fname)
            text = open(path).read()
            for pattern, repl in subs:
                text, n = re.subn(pattern, repl, text, count=1, flags=re.S)
                assert n == 1, (fname, pattern)
            open(path, "w").write(text)
        with open(os.path.join(d, "case.json"), "w") as f:
            case = {"vpc": vpc, "now": now, "policy": pol}
            if steps:
                case["steps"] = steps[0]
            json.dump(case, f, indent=1)
            f.write("\n")
        print("recorded", name, vpc)
    finally:
        moto.stop()


if __name__ == "__main__":
    args = sys.argv[1:]
    if args[:1] == ["--augment"]:
        for name in args[1:] or sorted(os.listdir(OUT)):
            augment(name)
    elif args[:1] == ["--revert"]:
        for name in args[1:] or REVERT_SCENARIOS:
            record(name, REVERT_SCENARIOS[name], os.path.join(ROOT, "tests", "fixtures", "revert"))
    else:
        for name in args or SCENARIOS:
            record(name, SCENARIOS[name])
