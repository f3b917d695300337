"""Fleet benchmark (make bench): dualstackd `apply` next to a plain boto3 script
(plain_remediate.py) on the same generated fleets, each through the fault proxy enforcing EC2's
per-action buckets at their documented sizes (scale 1.0), `api_budget: 1.0`.

For each fleet size and resize off/on, each tool gets a fresh moto with the same fleet (same
seed); the proxy counts every call by action and outcome. Recorded: wall time, writes, reads,
throttled answers, T_min of each tool's call mix (max over buckets of (calls - size) / refill:
no client can be faster at EC2's limits), peak RSS of the tool's process, and the violations
of spec §1 an independent boto3 check finds after the run (spec_check.py) - a fast run that
leaves the fleet wrong does not count.

Usage: fleet_bench.py [--sizes 20,50,100] [--resize off,on] [--no-record]"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "py"))
from bench_record import ROOT, record_section  # noqa: E402
from fault_proxy import CATEGORY_BUCKETS, FaultProxy, category  # noqa: E402
from fleet import generate_fleet  # noqa: E402
from services import Moto  # noqa: E402
from spec_check import check_vpc  # noqa: E402

BINARY = os.environ.get("DS_BINARY", os.path.join(ROOT, "dualstackd"))
# EC2's resource buckets (instances per call): (size, refill per second)
RESOURCE_BUCKETS = {"StartInstances": (1000, 2), "StopInstances": (1000, 20)}


def bench_policy(resize):
    p = json.load(open(os.path.join(ROOT, "tests", "policies", "canonical.json")))
    p["api_budget"] = 1.0
    p["instances"]["resize"] = "always" if resize else "never"
    p["instances"]["type_map"] = {"m3.large": "m4.large", "m1.large": "m4.large"}
    return p


def t_min(counts):
    """Seconds EC2's buckets need for this call mix at the least: the slowest bucket's."""
    worst, why = 0.0, "-"
    for action, n in counts.items():
        size, refill = CATEGORY_BUCKETS[category(action, {"VpcId": "x"})]
        t = (n - size) / refill
        if t > worst:
            worst, why = t, f"{action} {n}"
    return worst, why


def run_tool(tool, moto, proxy, resize, policy_path):
    env = moto.env(proxy.endpoint)
    if tool == "dualstackd":
        argv = [BINARY, "apply", "--policy", policy_path]
    else:
        env = dict(env, AWS_DEFAULT_REGION=env["AWS_REGION"])
        argv = [sys.executable, os.path.join(HERE, "plain_remediate.py"), "--endpoint",
                proxy.endpoint] + (["--resize"] if resize else [])
    out = tempfile.TemporaryFile()
    t0 = time.monotonic()
    proc = subprocess.Popen(argv, env=env, stdout=out, stderr=subprocess.STDOUT)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.monotonic() - t0
    proc.returncode = os.waitstatus_to_exitcode(status)
    out.seek(0)
    text = out.read().decode(errors="replace")
    return wall, proc.returncode, usage.ru_maxrss, text


def one(size, resize, tool):
    moto = Moto().start()
    proxy = None
    try:
        ec2 = moto.client()
        vpcs = generate_fleet(ec2, n=size, seed=100 + size)
        proxy = FaultProxy(moto.endpoint, scale=1.0).start()
        with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
            json.dump(bench_policy(resize), f)
            policy_path = f.name
        wall, rc, rss_kb, text = run_tool(tool, moto, proxy, resize, policy_path)
        os.unlink(policy_path)
        made = {}
        throttled = 0
        with proxy.lock:
            for (action, outcome), n in proxy.counts.items():
                if outcome == "throttled":
                    throttled += n
                else:
                    made[action] = made.get(action, 0) + n
        reads = sum(n for a, n in made.items() if a.startswith(("Describe", "Get", "List")))
        writes = sum(made.values()) - reads
        v6_types = {t["InstanceType"] for t in ec2.describe_instance_types()["InstanceTypes"]
                    if t["NetworkInfo"]["Ipv6Supported"]}
        bad = [b for v in vpcs for b in check_vpc(ec2, v, v6_types)
               if resize or "still lacks IPv6" not in b]
        tmin, bound = t_min(made)
        return {"size": size, "resize": resize, "tool": tool, "wall": wall, "rc": rc,
                "writes": writes, "reads": reads, "throttled": throttled,
                "calls": sum(made.values()) + throttled, "t_min": tmin, "bound": bound,
                "rss_kb": rss_kb, "violations": len(bad), "first_violations": bad[:5],
                "mix": made, "tail": text[-1500:] if rc else ""}
    finally:
        if proxy:
            proxy.stop()
        moto.stop()


def row(d, p):
    """One fleet's line: dualstackd d next to the plain script p."""
    tmin = min(d["t_min"], p["t_min"])
    ratio = d["wall"] / tmin if tmin > 0 else float("inf")
    pct = 100.0 * d["throttled"] / max(d["calls"], 1)
    return (f"| {d['size']} VPCs, resize {'on' if d['resize'] else 'off'} "
            f"| {d['wall']:.1f} s, {d['throttled']} throttled ({pct:.1f}%), {d['writes']} writes, "
            f"{d['reads']} reads, {d['rss_kb'] / 1024:.1f} MB RSS, {d['violations']} violations "
            f"| {p['wall']:.1f} s, {p['throttled']} throttled, {p['writes']} writes, "
            f"{p['reads']} reads, {p['violations']} violations "
            f"| {tmin:.1f} s ({d['bound'] if d['t_min'] <= p['t_min'] else p['bound']}) "
            f"| {ratio:.2f} x T_min; {p['wall'] / d['wall']:.1f} x faster than plain |")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", default="20,50,100")
    ap.add_argument("--resize", default="off,on")
    ap.add_argument("--no-record", action="store_true")
    ap.add_argument("--tools", default="dualstackd,plain")
    args = ap.parse_args()
    rows, results = [], []
    for size in [int(s) for s in args.sizes.split(",")]:
        for resize in [r == "on" for r in args.resize.split(",")]:
            pair = {}
            for tool in args.tools.split(","):
                r = one(size, resize, tool)
                results.append(r)
                pair[tool] = r
                print(json.dumps({k: v for k, v in r.items() if k != "mix"}), flush=True)
                print("   mix:", json.dumps(dict(sorted(r["mix"].items()))), flush=True)
            if "dualstackd" in pair and "plain" in pair:
                rows.append(row(pair["dualstackd"], pair["plain"]))
                print(rows[-1], flush=True)
    if rows and not args.no_record:
        body = ("| fleet | dualstackd `apply` | plain boto3 script | T_min (bound) | ratio |\n"
                "|---|---|---|---|---|\n" + "\n".join(rows) + "\n\n"
                "Both through `tests/py/fault_proxy.py` at EC2's documented per-action buckets "
                "(scale 1.0), `api_budget: 1.0`, fresh moto per run with the same generated "
                "fleet; violations: spec §1 by the independent boto3 check after the run. "
                "T_min: max over actions of (calls - bucket size) / refill for the smaller of the "
                "two call mixes (the action that sets it in brackets).")
        record_section(f"Fleet at EC2's rate limits (`make bench`, {time.strftime('%Y-%m-%d')})",
                       body)
    failed = [r for r in results if r["rc"] != 0]
    for r in failed:
        print(f"{r['tool']} exited {r['rc']}:\n{r['tail']}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
