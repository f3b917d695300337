"""A generated fleet of 50 varied VPCs converges in one apply, and an independent boto3 check
of spec §1 passes for every VPC (acceptance 4 of the reconcile issue)."""
import subprocess

from conftest import BINARY
from fault_proxy import FaultProxy
from fleet import generate_fleet
from spec_check import check_vpc
from test_reconcile import POLICY


def test_fleet_of_50_converges(moto):
    ec2 = moto.client()
    vpcs = generate_fleet(ec2, n=50, seed=11)
    proxy = FaultProxy(moto.endpoint, scale=20).start()
    env = moto.env(proxy.endpoint)
    env["DUALSTACKD_BUCKET_SCALE"] = "20"
    try:
        r = subprocess.run([BINARY, "apply", "--policy", POLICY], env=env, capture_output=True,
                           text=True, timeout=900)
        assert r.returncode == 0, r.stdout[-4000:] + r.stderr[-2000:]
        # hundreds of calls are released at once; a token is taken only when its request can
        # go (ec2_client.c's send window), so EC2's buckets see what ours do
        calls = sum(proxy.counts.values())
        throttled = proxy.calls(outcome="throttled")
        assert throttled <= calls // 100, (throttled, calls, proxy.actions())
        in_scope = [v for v in ec2.describe_vpcs()["Vpcs"]
                    if {"Key": "dualstack:opt-out", "Value": "true"} not in v.get("Tags", [])]
        assert len(in_scope) >= 40
        assert r.stdout.count(": converged") == len(in_scope)
        v6_types = {t["InstanceType"] for t in ec2.describe_instance_types()["InstanceTypes"]
                    if t["NetworkInfo"]["Ipv6Supported"]}
        bad = [b for v in vpcs for b in check_vpc(ec2, v, v6_types)]
        assert not bad, "\n".join(bad[:30])
        proxy.reset_counts()
        again = subprocess.run([BINARY, "apply", "--policy", POLICY], env=env,
                               capture_output=True, text=True, timeout=300)
        assert again.returncode == 0 and proxy.mutating(outcome=None) == {}
        assert proxy.calls(outcome="throttled") == 0
    finally:
        proxy.stop()
