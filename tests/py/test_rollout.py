"""Rollout waves end to end against moto: the first wave converges while the next one gets no
write; the next opens only once the first has converged (and soaked); plan shows one wave; a
rerun writes nothing. The daemon does the same from its periodic scan."""
import json
import subprocess
import time

from conftest import BINARY
from daemon_harness import POLICY, Daemon
from fleet import guide_example
from test_daemon import fleet_events, http_get, wait_fleet
from test_guard import first_writes


def waves_policy(tmp_path, soak_s=0):
    pol = dict(json.load(open(POLICY)),
               rollout={"waves": [{"name": "canary", "vpc_tags": {"env": "canary"},
                                   "soak_s": soak_s},
                                  {"name": "rest", "percent": 100}]})
    path = tmp_path / f"waves-{soak_s}.json"
    path.write_text(json.dumps(pol))
    return str(path)


def three_vpcs(ec2):
    """The guide's example three times; the first is the canary. moto's default VPC is in the
    scope too, with the rest: returned last."""
    vpcs = [guide_example(ec2)["vpc"] for _ in range(3)]
    ec2.create_tags(Resources=[vpcs[0]], Tags=[{"Key": "env", "Value": "canary"}])
    default = [v["VpcId"] for v in ec2.describe_vpcs()["Vpcs"] if v["IsDefault"]]
    return vpcs + default


def has_block(ec2, vpc):
    v = ec2.describe_vpcs(VpcIds=[vpc])["Vpcs"][0]
    return any(a["Ipv6CidrBlockState"]["State"] == "associated"
               for a in v.get("Ipv6CidrBlockAssociationSet", []))


def tag(ec2, vpc, key):
    v = ec2.describe_vpcs(VpcIds=[vpc])["Vpcs"][0]
    return next((t["Value"] for t in v.get("Tags", []) if t["Key"] == key), None)


def cli(env, *args):
    return subprocess.run([BINARY, *args], env=env, capture_output=True, text=True, timeout=300)


def test_apply_goes_wave_by_wave(moto, tmp_path):
    ec2 = moto.client()
    canary, *rest = three_vpcs(ec2)
    policy = waves_policy(tmp_path)
    first = cli(moto.env(), "apply", "--policy", policy)
    assert first.returncode == 1, first.stdout + first.stderr  # the rest is not converged yet
    assert "wave 1 canary (open): 1 VPCs" in first.stdout, first.stdout
    assert f"wave 2 rest (waiting): {len(rest)} VPCs, 0 converged, {len(rest)} pending" in first.stdout
    assert "next: rest waits for canary: 1 of 1 VPCs not converged" in first.stdout
    assert f"{canary}: converged" in first.stdout
    assert all(f"{v}: NOT converged: its rollout wave is not open" in first.stdout for v in rest)
    assert has_block(ec2, canary) and tag(ec2, canary, "dualstack:converged-at")
    assert not any(has_block(ec2, v) for v in rest), "a VPC of a closed wave was written"
    assert not any(tag(ec2, v, "dualstack:converged-at") for v in rest)
    report = cli(moto.env(), "report", "--policy", policy, "--json")
    waves = json.loads(report.stdout)["rollout"]["waves"]
    assert [(w["name"], w["open"], w["converged"]) for w in waves] == \
        [("canary", True, 1), ("rest", True, 0)], waves  # the canary is done: rest opens
    text = cli(moto.env(), "report", "--policy", policy).stdout
    assert "wave canary" in text and "wave rest" in text, text
    # the canary converged with no soak: the next plan shows the rest's wave open, and only it
    shown = cli(moto.env(), "plan", "--policy", policy, "--wave", "rest")
    assert shown.returncode == 0, shown.stderr
    assert "wave 2 rest (open)" in shown.stdout
    assert all(f"plan {v}:" in shown.stdout for v in rest) and f"plan {canary}:" not in shown.stdout
    second = cli(moto.env(), "apply", "--policy", policy)
    assert second.returncode == 0, second.stdout + second.stderr
    assert all(has_block(ec2, v) for v in rest)
    third = cli(moto.env(), "apply", "--policy", policy)
    assert third.returncode == 0 and "mutating calls: 0" in third.stdout, third.stdout
    bad = cli(moto.env(), "plan", "--policy", policy, "--wave", "nope")
    assert bad.returncode == 2 and "no wave of that name" in bad.stderr


def test_the_next_wave_waits_for_the_soak(moto, tmp_path):
    ec2 = moto.client()
    canary, *rest = three_vpcs(ec2)
    policy = waves_policy(tmp_path, soak_s=3600)
    assert cli(moto.env(), "apply", "--policy", policy).returncode == 1
    again = cli(moto.env(), "apply", "--policy", policy)
    assert again.returncode == 1
    assert "rest waits for canary to soak until" in again.stdout, again.stdout
    assert not any(has_block(ec2, v) for v in rest)
    # the canary fails again (its /56 route removed by someone): still closed, and said so
    rtb = ec2.describe_route_tables(Filters=[{"Name": "vpc-id", "Values": [canary]}])
    for t in rtb["RouteTables"]:
        for r in t["Routes"]:
            if r.get("DestinationIpv6CidrBlock") == "::/0":
                ec2.delete_route(RouteTableId=t["RouteTableId"], DestinationIpv6CidrBlock="::/0")
    shown = cli(moto.env(), "plan", "--policy", policy)
    assert "rest waits for canary: 1 of 1 VPCs not converged" in shown.stdout, shown.stdout


def test_the_daemon_opens_the_next_wave_after_the_first(kafka, moto, tmp_path):
    from fault_proxy import FaultProxy
    proxy = FaultProxy(moto.endpoint).start()
    ec2 = moto.client()
    canary, *rest = three_vpcs(ec2)
    d = Daemon(kafka, moto, policy=waves_policy(tmp_path), endpoint=proxy.endpoint,
               extra={"rollout_scan_interval_s": 2})
    d.start()
    try:
        d.publish(fleet_events(ec2, [canary, *rest]))
        wait_fleet(ec2, [canary, *rest], 120)
        converged_at = tag(ec2, canary, "dualstack:converged-at")
        t0 = time.mktime(time.strptime(converged_at, "%Y-%m-%dT%H:%M:%SZ")) - time.timezone
        first = first_writes(proxy, ec2)
        for v in rest:  # converged-at has 1-s resolution
            assert first[v] >= t0 - 1, (v, first[v] - t0)
        assert d.wait_log('"msg":"rollout: the open waves changed","open_waves":"2"', 10)
        port = next(x["metrics_port"] for x in d.lines() if "metrics_port" in x)
        # the wave metrics are as of the last scan (every 2 s here): the rest's converged-at
        # tags are written in the round after their last change, so a scan or two behind
        want = f'dualstackd_rollout_vpcs{{wave="rest",state="converged"}} {len(rest)}'
        end = time.time() + 15
        while True:
            metrics = http_get(f"http://127.0.0.1:{port}/metrics")[1]
            if want in metrics or time.time() > end:
                break
            time.sleep(0.5)
        assert "dualstackd_rollout_open_waves 2" in metrics
        assert want in metrics, metrics[-3000:]
    finally:
        assert d.stop() == 0
        proxy.stop()
