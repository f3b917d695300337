"""Builders of EC2 state in moto for the integration tests and the demo."""
import ipaddress


def guide_example(ec2, with_ipv6=False, zone=None):
    """The example of AWS's "Migrating to IPv6" guide: a VPC with an internet gateway, a public
    subnet with a web server, a private subnet behind a NAT gateway with a database server.
    with_ipv6 also gives the VPC a /56, the public subnet a /64 and the web server an address,
    plus an egress-only gateway, so every field of the model has something to show. zone puts
    both subnets in one Availability Zone (moto offers m3.large in us-east-1b only)."""
    ids = {}
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16", AmazonProvidedIpv6CidrBlock=with_ipv6)["Vpc"]
    ids["vpc"] = vpc["VpcId"]
    ec2.create_tags(Resources=[ids["vpc"]], Tags=[{"Key": "Name", "Value": "guide-example"}])
    ids["igw"] = ec2.create_internet_gateway()["InternetGateway"]["InternetGatewayId"]
    ec2.attach_internet_gateway(InternetGatewayId=ids["igw"], VpcId=ids["vpc"])
    az = {"AvailabilityZone": zone} if zone else {}
    ids["public"] = ec2.create_subnet(VpcId=ids["vpc"], CidrBlock="10.0.0.0/24", **az)["Subnet"]["SubnetId"]
    ids["private"] = ec2.create_subnet(VpcId=ids["vpc"], CidrBlock="10.0.1.0/24", **az)["Subnet"]["SubnetId"]
    ids["rt_public"] = ec2.create_route_table(VpcId=ids["vpc"])["RouteTable"]["RouteTableId"]
    ec2.create_route(RouteTableId=ids["rt_public"], DestinationCidrBlock="0.0.0.0/0",
                     GatewayId=ids["igw"])
    ec2.associate_route_table(RouteTableId=ids["rt_public"], SubnetId=ids["public"])
    eip = ec2.allocate_address(Domain="vpc")["AllocationId"]
    ids["nat"] = ec2.create_nat_gateway(SubnetId=ids["public"], AllocationId=eip)["NatGateway"]["NatGatewayId"]
    ids["rt_private"] = ec2.create_route_table(VpcId=ids["vpc"])["RouteTable"]["RouteTableId"]
    ec2.create_route(RouteTableId=ids["rt_private"], DestinationCidrBlock="0.0.0.0/0",
                     NatGatewayId=ids["nat"])
    ec2.associate_route_table(RouteTableId=ids["rt_private"], SubnetId=ids["private"])
    ids["db_sg"] = ec2.create_security_group(VpcId=ids["vpc"], GroupName="db",
                                             Description="database servers")["GroupId"]
    ids["web_sg"] = ec2.create_security_group(VpcId=ids["vpc"], GroupName="web",
                                              Description="web servers")["GroupId"]
    ec2.authorize_security_group_ingress(GroupId=ids["web_sg"], IpPermissions=[
        {"IpProtocol": "-1", "UserIdGroupPairs": [{"GroupId": ids["db_sg"]}]},
        {"IpProtocol": "tcp", "FromPort": 80, "ToPort": 80, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]},
        {"IpProtocol": "tcp", "FromPort": 443, "ToPort": 443, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]},
        {"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22,
         "IpRanges": [{"CidrIp": "203.0.113.123/32", "Description": "office"}]}])
    ec2.authorize_security_group_ingress(GroupId=ids["db_sg"], IpPermissions=[
        {"IpProtocol": "tcp", "FromPort": 3306, "ToPort": 3306,
         "UserIdGroupPairs": [{"GroupId": ids["web_sg"]}]}])
    ids["web"] = ec2.run_instances(ImageId="ami-760aaa0f", InstanceType="t2.medium", MinCount=1,
                                   MaxCount=1, SubnetId=ids["public"],
                                   SecurityGroupIds=[ids["web_sg"]])["Instances"][0]["InstanceId"]
    ids["db"] = ec2.run_instances(ImageId="ami-760aaa0f", InstanceType="m3.large", MinCount=1,
                                  MaxCount=1, SubnetId=ids["private"],
                                  SecurityGroupIds=[ids["db_sg"]])["Instances"][0]["InstanceId"]
    if with_ipv6:
        vpc = ec2.describe_vpcs(VpcIds=[ids["vpc"]])["Vpcs"][0]
        block = vpc["Ipv6CidrBlockAssociationSet"][0]["Ipv6CidrBlock"]
        ec2.associate_subnet_cidr_block(SubnetId=ids["public"],
                                        Ipv6CidrBlock=block.replace("00::/56", "00::/64"))
        ids["eigw"] = ec2.create_egress_only_internet_gateway(VpcId=ids["vpc"])[
            "EgressOnlyInternetGateway"]["EgressOnlyInternetGatewayId"]
        ec2.create_route(RouteTableId=ids["rt_public"], DestinationIpv6CidrBlock="::/0",
                         GatewayId=ids["igw"])
        ec2.create_route(RouteTableId=ids["rt_private"], DestinationIpv6CidrBlock="::/0",
                         EgressOnlyInternetGatewayId=ids["eigw"])
        ec2.authorize_security_group_ingress(GroupId=ids["web_sg"], IpPermissions=[
            {"IpProtocol": "tcp", "FromPort": 80, "ToPort": 80,
             "Ipv6Ranges": [{"CidrIpv6": "::/0", "Description": "http v6"}]},
            {"IpProtocol": "icmpv6", "FromPort": 128, "ToPort": -1,
             "Ipv6Ranges": [{"CidrIpv6": "::/0"}]}])
        eni = ec2.describe_instances(InstanceIds=[ids["web"]])["Reservations"][0]["Instances"][0][
            "NetworkInterfaces"][0]["NetworkInterfaceId"]
        ec2.assign_ipv6_addresses(NetworkInterfaceId=eni, Ipv6AddressCount=1)
    ids["nacl"] = ec2.create_network_acl(VpcId=ids["vpc"])["NetworkAcl"]["NetworkAclId"]
    ec2.create_network_acl_entry(NetworkAclId=ids["nacl"], RuleNumber=100, Protocol="6",
                                 RuleAction="allow", Egress=False, CidrBlock="0.0.0.0/0",
                                 PortRange={"From": 80, "To": 80})
    ec2.create_network_acl_entry(NetworkAclId=ids["nacl"], RuleNumber=120, Protocol="-1",
                                 RuleAction="deny", Egress=True, CidrBlock="203.0.113.0/24")
    if with_ipv6:
        ec2.create_network_acl_entry(NetworkAclId=ids["nacl"], RuleNumber=101, Protocol="6",
                                     RuleAction="allow", Egress=False, Ipv6CidrBlock="::/0",
                                     PortRange={"From": 80, "To": 80})
    return ids


def generate_fleet(ec2, n=50, seed=1):
    """n varied VPCs: public, NAT-private and isolated subnets; mixed rules; partly dual-stack
    VPCs; opt-out tags on VPCs, subnets and instances; instance types with and without IPv6.
    Returns the VPC ids."""
    import random
    rng = random.Random(seed)
    vpcs = []
    for i in range(n):
        partly = rng.random() < 0.25
        o = i % 256  # VPCs may overlap: a fleet of thousands reuses the second octet
        vpc = ec2.create_vpc(CidrBlock=f"10.{o}.0.0/16",
                             AmazonProvidedIpv6CidrBlock=partly)["Vpc"]["VpcId"]
        vpcs.append(vpc)
        if rng.random() < 0.1:
            ec2.create_tags(Resources=[vpc], Tags=[{"Key": "dualstack:opt-out", "Value": "true"}])
        igw = ec2.create_internet_gateway()["InternetGateway"]["InternetGatewayId"]
        ec2.attach_internet_gateway(InternetGatewayId=igw, VpcId=vpc)
        kinds = ["public"] + rng.sample(["private", "isolated", "public"], rng.randint(0, 2))
        subnets = []
        nat = None
        for k, kind in enumerate(kinds):
            sub = ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.{o}.{k * 16}.0/20")["Subnet"]["SubnetId"]
            subnets.append((sub, kind))
            rt = ec2.create_route_table(VpcId=vpc)["RouteTable"]["RouteTableId"]
            ec2.associate_route_table(RouteTableId=rt, SubnetId=sub)
            if kind == "public":
                ec2.create_route(RouteTableId=rt, DestinationCidrBlock="0.0.0.0/0", GatewayId=igw)
            elif kind == "private":
                if nat is None:
                    eip = ec2.allocate_address(Domain="vpc")["AllocationId"]
                    nat = ec2.create_nat_gateway(SubnetId=subnets[0][0], AllocationId=eip)[
                        "NatGateway"]["NatGatewayId"]
                ec2.create_route(RouteTableId=rt, DestinationCidrBlock="0.0.0.0/0", NatGatewayId=nat)
            if rng.random() < 0.1:
                ec2.create_tags(Resources=[sub], Tags=[{"Key": "dualstack:opt-out", "Value": "true"}])
        if partly:
            block = ec2.describe_vpcs(VpcIds=[vpc])["Vpcs"][0]["Ipv6CidrBlockAssociationSet"][0]["Ipv6CidrBlock"]
            net = ipaddress.ip_network(block)
            ec2.associate_subnet_cidr_block(SubnetId=subnets[0][0], Ipv6CidrBlock=str(
                list(net.subnets(new_prefix=64))[rng.randint(0, 3)]))
        web = ec2.create_security_group(VpcId=vpc, GroupName="web", Description="web")["GroupId"]
        db = ec2.create_security_group(VpcId=vpc, GroupName="db", Description="db")["GroupId"]
        rules = [{"IpProtocol": "tcp", "FromPort": 443, "ToPort": 443, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]},
                 {"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22, "IpRanges": [{"CidrIp": "203.0.113.7/32"}]}]
        if rng.random() < 0.5:
            rules.append({"IpProtocol": "tcp", "FromPort": 80, "ToPort": 80, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]})
        if rng.random() < 0.5:
            rules.append({"IpProtocol": "icmp", "FromPort": 8, "ToPort": -1, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]})
        if rng.random() < 0.5:
            rules.append({"IpProtocol": "tcp", "FromPort": 8443, "ToPort": 8443,
                          "IpRanges": [{"CidrIp": "198.51.100.0/24"}]})
        ec2.authorize_security_group_ingress(GroupId=web, IpPermissions=rules)
        ec2.authorize_security_group_ingress(GroupId=db, IpPermissions=[
            {"IpProtocol": "tcp", "FromPort": 5432, "ToPort": 5432, "UserIdGroupPairs": [{"GroupId": web}]},
            {"IpProtocol": "tcp", "FromPort": 5432, "ToPort": 5432, "IpRanges": [{"CidrIp": f"10.{o}.0.0/16"}]}])
        if rng.random() < 0.4:
            acl = ec2.create_network_acl(VpcId=vpc)["NetworkAcl"]["NetworkAclId"]
            ec2.create_network_acl_entry(NetworkAclId=acl, RuleNumber=100, Protocol="6", RuleAction="allow",
                                         Egress=False, CidrBlock="0.0.0.0/0", PortRange={"From": 443, "To": 443})
            ec2.create_network_acl_entry(NetworkAclId=acl, RuleNumber=110, Protocol="-1", RuleAction="deny",
                                         Egress=False, CidrBlock="0.0.0.0/0")
            ec2.create_network_acl_entry(NetworkAclId=acl, RuleNumber=100, Protocol="-1", RuleAction="allow",
                                         Egress=True, CidrBlock="0.0.0.0/0")
        for _ in range(rng.randint(0, 2)):
            sub, _kind = rng.choice(subnets)
            itype = rng.choice(["t2.micro", "t3.small", "m5.large", "m3.large", "m1.large"])
            tags = [{"Key": "dualstack:opt-out", "Value": "true"}] if rng.random() < 0.1 else []
            ec2.run_instances(ImageId="ami-760aaa0f", InstanceType=itype, MinCount=1, MaxCount=1,
                              SubnetId=sub, SecurityGroupIds=[web],
                              TagSpecifications=[{"ResourceType": "instance", "Tags": tags}] if tags else [])
    return vpcs


def resize_fleet(ec2, n=20, per_vpc=2, itype="m3.large"):
    """n small VPCs (a public subnet behind an internet gateway) each running per_vpc
    instances of a type without IPv6: a fleet whose reconcile is mostly resizes (per_vpc 0:
    the VPCs alone)."""
    out = []
    for i in range(n):
        vpc = ec2.create_vpc(CidrBlock=f"10.{i}.0.0/16")["Vpc"]["VpcId"]
        igw = ec2.create_internet_gateway()["InternetGateway"]["InternetGatewayId"]
        ec2.attach_internet_gateway(InternetGatewayId=igw, VpcId=vpc)
        sub = ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.{i}.0.0/24")["Subnet"]["SubnetId"]
        rt = ec2.create_route_table(VpcId=vpc)["RouteTable"]["RouteTableId"]
        ec2.create_route(RouteTableId=rt, DestinationCidrBlock="0.0.0.0/0", GatewayId=igw)
        ec2.associate_route_table(RouteTableId=rt, SubnetId=sub)
        ids = [x["InstanceId"] for x in ec2.run_instances(
            ImageId="ami-760aaa0f", InstanceType=itype, MinCount=per_vpc, MaxCount=per_vpc,
            SubnetId=sub)["Instances"]] if per_vpc else []
        out.append({"vpc": vpc, "subnet": sub, "instances": ids})
    return out
