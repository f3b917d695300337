"""make demo: dualstackd on the example of AWS's "Migrating to IPv6" guide, against a local EC2
emulator (moto server, signature checking on). Prints the fleet before, the plan, the apply and
the fleet after."""
import json
import os
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "py"))
from fleet import guide_example  # noqa: E402
from services import ROOT, Moto  # noqa: E402

BINARY = os.path.join(ROOT, "dualstackd")
POLICY = os.path.join(ROOT, "tests", "policies", "canonical.json")


def dualstackd(env, *args):
    r = subprocess.run([BINARY, *args], env=env, capture_output=True, text=True, timeout=600)
    return r.returncode, r.stdout, r.stderr


def summary(env, vpc):
    def kind(k):
        return next(iter(json.loads(dualstackd(env, "describe", k, "--vpc", vpc)[1]).values()))
    v = kind("vpcs")[0]
    blocks = [a["Ipv6CidrBlock"] for a in v["Ipv6CidrBlockAssociationSet"]]
    print(f"  VPC {vpc} {v['CidrBlock']} IPv6 {blocks or '-'}")
    for s in kind("subnets"):
        six = [a["Ipv6CidrBlock"] for a in s["Ipv6CidrBlockAssociationSet"]]
        print(f"  subnet {s['SubnetId']} {s['CidrBlock']:<14} IPv6 {six or '-'}")
    for t in kind("route-tables"):
        routes = [f"{r.get('DestinationCidrBlock') or r.get('DestinationIpv6CidrBlock')}->"
                  f"{r.get('GatewayId') or r.get('NatGatewayId') or r.get('EgressOnlyInternetGatewayId')}"
                  for r in t["Routes"]]
        print(f"  route table {t['RouteTableId']}: {', '.join(routes)}")
    for i in kind("instances"):
        six = [a["Ipv6Address"] for n in i["NetworkInterfaces"] for a in n["Ipv6Addresses"]]
        print(f"  instance {i['InstanceId']} {i['InstanceType']:<10} {i['State']['Name']:<8} "
              f"IPv6 {six or '-'}")


def main():
    moto = Moto().start()
    try:
        ids = guide_example(moto.client())
        env = moto.env()
        print(f"EC2 emulator (moto, SigV4 checked) on {moto.endpoint}\n")
        print("== the guide's example, before")
        summary(env, ids["vpc"])
        print(f"\n== dualstackd plan --policy {os.path.relpath(POLICY)} --vpc {ids['vpc']}")
        print(dualstackd(env, "plan", "--policy", POLICY, "--vpc", ids["vpc"])[1])
        print("== dualstackd apply")
        rc, out, err = dualstackd(env, "apply", "--policy", POLICY, "--vpc", ids["vpc"])
        print(out + err)
        print("== after")
        summary(env, ids["vpc"])
        print("\n== dualstackd apply, again")
        rc2, out, err = dualstackd(env, "apply", "--policy", POLICY, "--vpc", ids["vpc"])
        print(out + err)
        sys.exit(rc or rc2)
    finally:
        moto.stop()


if __name__ == "__main__":
    main()
