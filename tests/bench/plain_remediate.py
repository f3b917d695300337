"""The yardstick of the fleet benchmark: the remediation an engineer would write with boto3 in
an afternoon - sequential, one VPC after the other, the SDK's "standard" retry mode - doing
what dualstackd's bench policy asks (spec §1 on the generated fleets), so the two can be timed
and counted side by side through the same EC2 proxy.

It writes what is missing and nothing else: an Amazon /56 per VPC, a /64 per subnet (lowest free
index) with assign-on-create, ::/0 routes in the tables of in-scope subnets (internet gateway, or
one egress-only gateway per VPC behind NAT), the IPv6 twins of 0.0.0.0/0 and mapped security
group rules (the VPC's CIDRs to its /56, a subnet's to its /64, the policy's cidr_map; one
Authorize call per group and direction, as boto3 invites) and network ACL entries (rule number
+ 1), resizes of types without IPv6 (stop, wait, modify, start, wait) and one address per
instance's eth0.
Like dualstackd it records what it changed, so the change can be undone (dualstackd's revert
reads the same `dualstack:ipv6-by` mark): the VPC, subnets, route tables, network ACLs and
instances it wrote to, in one CreateTags per VPC after that VPC's writes (dualstackd writes its
marks before its first write, merged over VPCs in one CreateTags per 500 resources; security
group twins carry theirs in their descriptions in both). Opt-out tags are honoured. A call that stays throttled after the SDK's retries is tried again
after a second - what anyone would add the first time a script dies on RequestLimitExceeded.

Usage: plain_remediate.py --endpoint URL [--resize]   (credentials and region from the env)"""
import argparse
import ipaddress
import sys
import time

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

OPT_OUT = {"Key": "dualstack:opt-out", "Value": "true"}
CIDR_MAP = {"198.51.100.0/24": "2001:db8:1234::/48"}
TYPE_MAP = {"m3.large": "m4.large", "m1.large": "m4.large"}
MARK = {"Key": "dualstack:ipv6-by", "Value": "plain-script"}
CHANGED = []  # what the current VPC's writes touched, for its mark
ICMP = {(8, -1): (128, -1), (8, 0): (128, 0), (0, -1): (129, -1), (0, 0): (129, 0),
        (-1, -1): (-1, -1), (11, -1): (3, -1), (11, 0): (3, 0), (11, 1): (3, 1), (3, -1): (1, -1),
        (3, 4): (2, 0)}


def call(fn, **kw):
    while True:
        try:
            return fn(**kw)
        except ClientError as e:
            if e.response["Error"]["Code"] not in ("RequestLimitExceeded", "Throttling"):
                raise
            time.sleep(1)


def opted_out(res):
    return OPT_OUT in res.get("Tags", [])


def state(assoc):
    s = assoc["Ipv6CidrBlockState"]["State"]
    return s.replace("{'State': '", "").rstrip("'}")  # moto prints a dict for subnets


def live(assocs):
    return [a for a in assocs if state(a) not in ("disassociated", "failed")]


def ensure_vpc_block(ec2, vpc):
    blocks = live(vpc.get("Ipv6CidrBlockAssociationSet", []))
    if not blocks:
        call(ec2.associate_vpc_cidr_block, VpcId=vpc["VpcId"], AmazonProvidedIpv6CidrBlock=True)
        CHANGED.append(vpc["VpcId"])
    while True:
        v = call(ec2.describe_vpcs, VpcIds=[vpc["VpcId"]])["Vpcs"][0]
        blocks = live(v.get("Ipv6CidrBlockAssociationSet", []))
        if blocks and state(blocks[0]) == "associated":
            return ipaddress.ip_network(blocks[0]["Ipv6CidrBlock"])
        time.sleep(1)


def number_subnets(ec2, block, subnets):
    used = {ipaddress.ip_network(a["Ipv6CidrBlock"]) for s in subnets
            for a in live(s.get("Ipv6CidrBlockAssociationSet", []))}
    free = (n for n in block.subnets(new_prefix=64) if n not in used)
    for s in subnets:
        if opted_out(s) or live(s.get("Ipv6CidrBlockAssociationSet", [])):
            continue
        call(ec2.associate_subnet_cidr_block, SubnetId=s["SubnetId"], Ipv6CidrBlock=str(next(free)))
        call(ec2.modify_subnet_attribute, SubnetId=s["SubnetId"],
             AssignIpv6AddressOnCreation={"Value": True})
        CHANGED.append(s["SubnetId"])


def add_routes(ec2, vpc_id, f, subnets):
    eigw = None
    for g in call(ec2.describe_egress_only_internet_gateways)["EgressOnlyInternetGateways"]:
        if any(a["VpcId"] == vpc_id for a in g.get("Attachments", [])):
            eigw = g["EgressOnlyInternetGatewayId"]
    in_scope = {s["SubnetId"] for s in subnets if not opted_out(s)}
    tables = call(ec2.describe_route_tables, Filters=f)["RouteTables"]
    explicit = {a.get("SubnetId") for t in tables for a in t.get("Associations", [])}
    for t in tables:
        mine = {a.get("SubnetId") for a in t.get("Associations", [])}
        main = any(a.get("Main") for a in t.get("Associations", []))
        if opted_out(t) or not (mine & in_scope or (main and in_scope - explicit)):
            continue
        v4 = [r for r in t["Routes"] if r.get("DestinationCidrBlock") == "0.0.0.0/0"]
        if not v4 or any(r.get("DestinationIpv6CidrBlock") == "::/0" for r in t["Routes"]):
            continue
        CHANGED.append(t["RouteTableId"])
        if v4[0].get("GatewayId", "").startswith("igw-"):
            call(ec2.create_route, RouteTableId=t["RouteTableId"], DestinationIpv6CidrBlock="::/0",
                 GatewayId=v4[0]["GatewayId"])
        elif v4[0].get("NatGatewayId"):
            if eigw is None:
                eigw = call(ec2.create_egress_only_internet_gateway, VpcId=vpc_id)[
                    "EgressOnlyInternetGateway"]["EgressOnlyInternetGatewayId"]
            call(ec2.create_route, RouteTableId=t["RouteTableId"], DestinationIpv6CidrBlock="::/0",
                 EgressOnlyInternetGatewayId=eigw)


def twin_permissions(perms, cidr_map):
    have = {(p["IpProtocol"], p.get("FromPort"), p.get("ToPort"), r["CidrIpv6"])
            for p in perms for r in p.get("Ipv6Ranges", [])}
    out = []
    for p in perms:
        for r in p.get("IpRanges", []):
            v6 = "::/0" if r["CidrIp"] == "0.0.0.0/0" else cidr_map.get(r["CidrIp"])
            if not v6:
                continue
            proto, lo, hi = p["IpProtocol"], p.get("FromPort"), p.get("ToPort")
            if proto == "icmp":
                if (lo, hi) not in ICMP:
                    continue
                proto, (lo, hi) = "icmpv6", ICMP[(lo, hi)]
            if (proto, lo, hi, v6) in have:
                continue
            have.add((proto, lo, hi, v6))
            perm = {"IpProtocol": proto, "Ipv6Ranges": [{"CidrIpv6": v6}]}
            if lo is not None:
                perm.update(FromPort=lo, ToPort=hi)
            out.append(perm)
    return out


def own_cidr_map(ec2, vpc_id, f):
    """The policy's map plus the VPC's own: its IPv4 CIDRs to its /56, a subnet's to its /64."""
    out = dict(CIDR_MAP)
    vpc = call(ec2.describe_vpcs, VpcIds=[vpc_id])["Vpcs"][0]
    block = live(vpc.get("Ipv6CidrBlockAssociationSet", []))[0]["Ipv6CidrBlock"]
    for a in vpc.get("CidrBlockAssociationSet", []):
        out[a["CidrBlock"]] = block
    for s in call(ec2.describe_subnets, Filters=f)["Subnets"]:
        v6 = live(s.get("Ipv6CidrBlockAssociationSet", []))
        if v6:
            out[s["CidrBlock"]] = v6[0]["Ipv6CidrBlock"]
    return out


def mirror_security_groups(ec2, f, cidr_map):
    for g in call(ec2.describe_security_groups, Filters=f)["SecurityGroups"]:
        if opted_out(g):
            continue
        ingress = twin_permissions(g["IpPermissions"], cidr_map)
        if ingress:
            call(ec2.authorize_security_group_ingress, GroupId=g["GroupId"], IpPermissions=ingress)
        egress = twin_permissions(g["IpPermissionsEgress"], cidr_map)
        if egress:
            call(ec2.authorize_security_group_egress, GroupId=g["GroupId"], IpPermissions=egress)


def mirror_network_acls(ec2, f):
    for acl in call(ec2.describe_network_acls, Filters=f)["NetworkAcls"]:
        if opted_out(acl):
            continue
        for egress in (False, True):
            entries = [e for e in acl["Entries"] if e["Egress"] == egress]
            numbers = {e["RuleNumber"] for e in entries}
            v6 = [e for e in entries if e.get("Ipv6CidrBlock") == "::/0"]
            for e in sorted(entries, key=lambda e: e["RuleNumber"]):
                if e.get("CidrBlock") != "0.0.0.0/0" or e["RuleNumber"] == 32767:
                    continue
                proto = "58" if e["Protocol"] == "1" else e["Protocol"]
                if any(t["Protocol"] == proto and t["RuleAction"] == e["RuleAction"] and
                       t.get("PortRange") == e.get("PortRange") for t in v6):
                    continue
                number = e["RuleNumber"] + 1
                if number in numbers:
                    print(f"{acl['NetworkAclId']}: rule {number} taken", file=sys.stderr)
                    continue
                kw = dict(NetworkAclId=acl["NetworkAclId"], RuleNumber=number, Protocol=proto,
                          RuleAction=e["RuleAction"], Egress=egress, Ipv6CidrBlock="::/0")
                if e.get("PortRange"):
                    kw["PortRange"] = e["PortRange"]
                if e.get("IcmpTypeCode"):
                    kw["IcmpTypeCode"] = e["IcmpTypeCode"]
                call(ec2.create_network_acl_entry, **kw)
                numbers.add(number)
                if acl["NetworkAclId"] not in CHANGED:
                    CHANGED.append(acl["NetworkAclId"])


def fix_instances(ec2, f, subnets, v6_types, resize):
    in_scope = {s["SubnetId"] for s in subnets if not opted_out(s)}
    for r in call(ec2.describe_instances, Filters=f)["Reservations"]:
        for i in r["Instances"]:
            if i["SubnetId"] not in in_scope or opted_out(i) or \
                    i["State"]["Name"] not in ("running", "stopped"):
                continue
            itype = i["InstanceType"]
            if itype not in v6_types:
                if not resize or itype not in TYPE_MAP:
                    continue
                iid = i["InstanceId"]
                was_running = i["State"]["Name"] == "running"
                if was_running:
                    call(ec2.stop_instances, InstanceIds=[iid])
                    ec2.get_waiter("instance_stopped").wait(InstanceIds=[iid],
                                                           WaiterConfig={"Delay": 1})
                call(ec2.modify_instance_attribute, InstanceId=iid,
                     InstanceType={"Value": TYPE_MAP[itype]})
                if was_running:
                    call(ec2.start_instances, InstanceIds=[iid])
                    ec2.get_waiter("instance_running").wait(InstanceIds=[iid],
                                                           WaiterConfig={"Delay": 1})
            eth0 = next(n for n in i["NetworkInterfaces"] if n["Attachment"]["DeviceIndex"] == 0)
            if not eth0.get("Ipv6Addresses"):
                call(ec2.assign_ipv6_addresses, NetworkInterfaceId=eth0["NetworkInterfaceId"],
                     Ipv6AddressCount=1)
                CHANGED.append(i["InstanceId"])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--endpoint", required=True)
    ap.add_argument("--resize", action="store_true")
    args = ap.parse_args()
    ec2 = boto3.client("ec2", endpoint_url=args.endpoint,
                       config=Config(retries={"mode": "standard"}))
    v6_types = {t["InstanceType"] for page in ec2.get_paginator("describe_instance_types")
                .paginate() for t in page["InstanceTypes"] if t["NetworkInfo"]["Ipv6Supported"]}
    for vpc in call(ec2.describe_vpcs)["Vpcs"]:
        if opted_out(vpc):
            continue
        f = [{"Name": "vpc-id", "Values": [vpc["VpcId"]]}]
        block = ensure_vpc_block(ec2, vpc)
        subnets = call(ec2.describe_subnets, Filters=f)["Subnets"]
        number_subnets(ec2, block, subnets)
        add_routes(ec2, vpc["VpcId"], f, subnets)
        mirror_security_groups(ec2, f, own_cidr_map(ec2, vpc["VpcId"], f))
        mirror_network_acls(ec2, f)
        fix_instances(ec2, f, subnets, v6_types, args.resize)
        for k in range(0, len(CHANGED), 500):
            call(ec2.create_tags, Resources=CHANGED[k:k + 500], Tags=[MARK])
        CHANGED.clear()
    return 0


if __name__ == "__main__":
    sys.exit(main())
