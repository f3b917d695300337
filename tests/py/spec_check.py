"""An independent check of spec §1 with boto3, for the fleet test: written from the spec, not
from dualstackd's planner, so the two can disagree. Returns a list of violations."""
import ipaddress

ICMP = {(8, 0): (128, 0), (8, -1): (128, -1), (0, 0): (129, 0), (0, -1): (129, -1),
        (-1, -1): (-1, -1), (11, 0): (3, 0), (11, 1): (3, 1), (11, -1): (3, -1), (3, -1): (1, -1)}
OPT_OUT = {"Key": "dualstack:opt-out", "Value": "true"}


def opted_out(res):
    return OPT_OUT in res.get("Tags", [])


def live(assocs):
    return [a for a in assocs if a["Ipv6CidrBlockState"]["State"].replace("{'State': '", "")
            .rstrip("'}") not in ("disassociated", "failed")]


def check_vpc(ec2, vpc_id, v6_types):
    bad = []
    f = [{"Name": "vpc-id", "Values": [vpc_id]}]
    vpc = ec2.describe_vpcs(VpcIds=[vpc_id])["Vpcs"][0]
    blocks = live(vpc.get("Ipv6CidrBlockAssociationSet", []))
    if opted_out(vpc):
        # out of scope: nothing of dualstackd's may appear (it may have had IPv6 before)
        marked = [s["SubnetId"] for s in ec2.describe_subnets(Filters=f)["Subnets"]
                  if any(t["Key"] == "dualstack:ipv6-by" for t in s.get("Tags", []))]
        return [f"{vpc_id}: opted out but dualstackd numbered {marked}"] if marked else []
    if len(blocks) != 1:
        return [f"{vpc_id}: {len(blocks)} IPv6 blocks"]
    block = ipaddress.ip_network(blocks[0]["Ipv6CidrBlock"])
    subnets = ec2.describe_subnets(Filters=f)["Subnets"]
    in_scope = {s["SubnetId"]: s for s in subnets if not opted_out(s)}
    seen64 = set()
    for s in in_scope.values():
        v6 = live(s.get("Ipv6CidrBlockAssociationSet", []))
        if len(v6) != 1 or not ipaddress.ip_network(v6[0]["Ipv6CidrBlock"]).subnet_of(block):
            bad.append(f"{s['SubnetId']}: no /64 from the VPC's /56")
        elif v6[0]["Ipv6CidrBlock"] in seen64:
            bad.append(f"{s['SubnetId']}: /64 used twice")
        else:
            seen64.add(v6[0]["Ipv6CidrBlock"])
    eigws = [g for g in ec2.describe_egress_only_internet_gateways()["EgressOnlyInternetGateways"]
             if any(a["VpcId"] == vpc_id for a in g.get("Attachments", []))]
    if len(eigws) > 1:
        bad.append(f"{vpc_id}: {len(eigws)} egress-only gateways")
    tables = ec2.describe_route_tables(Filters=f)["RouteTables"]
    main = next(t for t in tables if any(a.get("Main") for a in t.get("Associations", [])))
    for sid in in_scope:
        t = next((t for t in tables if any(a.get("SubnetId") == sid for a in t.get("Associations", []))), main)
        v4 = [r for r in t["Routes"] if r.get("DestinationCidrBlock") == "0.0.0.0/0"]
        v6 = [r for r in t["Routes"] if r.get("DestinationIpv6CidrBlock") == "::/0"]
        if not v4:
            if v6:
                bad.append(f"{t['RouteTableId']}: isolated table got ::/0")
            continue
        if v4[0].get("GatewayId", "").startswith("igw-"):
            if [r.get("GatewayId") for r in v6] != [v4[0]["GatewayId"]]:
                bad.append(f"{t['RouteTableId']}: ::/0 does not go to {v4[0]['GatewayId']}")
        elif v4[0].get("NatGatewayId"):
            if len(eigws) != 1 or [r.get("EgressOnlyInternetGatewayId") for r in v6] != \
                    [eigws[0]["EgressOnlyInternetGatewayId"]]:
                bad.append(f"{t['RouteTableId']}: ::/0 does not go to the egress-only gateway")
    for g in ec2.describe_security_groups(Filters=f)["SecurityGroups"]:
        for direction in ("IpPermissions", "IpPermissionsEgress"):
            perms = g[direction]
            v6_any = {(p["IpProtocol"], p.get("FromPort"), p.get("ToPort"))
                      for p in perms for r in p.get("Ipv6Ranges", []) if r["CidrIpv6"] == "::/0"}
            v4_any = set()
            for p in perms:
                if not any(r["CidrIp"] == "0.0.0.0/0" for r in p.get("IpRanges", [])):
                    continue
                key = (p["IpProtocol"], p.get("FromPort"), p.get("ToPort"))
                if p["IpProtocol"] == "icmp":
                    t6 = ICMP.get((p.get("FromPort", -1), p.get("ToPort", -1)))
                    if not t6:
                        continue
                    key = ("icmpv6", t6[0], t6[1])
                v4_any.add(key)
                if key not in v6_any:
                    bad.append(f"{g['GroupId']}: no ::/0 twin of {key}")
            # never widen: every ::/0 rule has a 0.0.0.0/0 original
            for key in v6_any - v4_any:
                bad.append(f"{g['GroupId']}: ::/0 rule {key} without a 0.0.0.0/0 original")
    for acl in ec2.describe_network_acls(Filters=f)["NetworkAcls"]:
        for egress in (False, True):
            es = [e for e in acl["Entries"] if e["Egress"] == egress and e["RuleNumber"] != 32767]
            v4 = sorted((e for e in es if e.get("CidrBlock") == "0.0.0.0/0"), key=lambda e: e["RuleNumber"])
            v6 = [e for e in es if e.get("Ipv6CidrBlock") == "::/0"]
            numbers = []
            for e in v4:
                twin = [t for t in v6 if t["Protocol"] == ("58" if e["Protocol"] == "1" else e["Protocol"])
                        and t["RuleAction"] == e["RuleAction"] and t.get("PortRange") == e.get("PortRange")]
                if not twin:
                    bad.append(f"{acl['NetworkAclId']}: no twin of rule {e['RuleNumber']}")
                else:
                    numbers.append(twin[0]["RuleNumber"])
            if numbers != sorted(numbers):
                bad.append(f"{acl['NetworkAclId']}: twins out of order {numbers}")
    for r in ec2.describe_instances(Filters=f)["Reservations"]:
        for i in r["Instances"]:
            if i["SubnetId"] not in in_scope or opted_out(i):
                continue
            if i["State"]["Name"] not in ("running", "stopped"):
                bad.append(f"{i['InstanceId']}: {i['State']['Name']}")
                continue
            if i["State"]["Name"] == "stopped":
                bad.append(f"{i['InstanceId']}: left stopped")
            if i["InstanceType"] not in v6_types:
                bad.append(f"{i['InstanceId']}: {i['InstanceType']} still lacks IPv6")
                continue
            eth0 = next(n for n in i["NetworkInterfaces"] if n["Attachment"]["DeviceIndex"] == 0)
            if len(eth0.get("Ipv6Addresses", [])) != 1:
                bad.append(f"{i['InstanceId']}: eth0 has {len(eth0.get('Ipv6Addresses', []))} IPv6 addresses")
    return bad
