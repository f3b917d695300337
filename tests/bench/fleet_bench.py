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
# EC2 takes tens of seconds to stop an instance; scaled down so a fleet's resizes fit a run
STOP_S, START_S = 4.0, 2.0
MAX_CONCURRENT_STOPS = 2  # the bench policy's (canonical.json)
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
    peak = tempfile.NamedTemporaryFile("r", suffix=".rss")
    # /usr/bin/time: the peak RSS of the tool itself (a forked child's rusage also counts the
    # Python parent's pages it held before exec)
    argv = ["/usr/bin/time", "-f", "%M", "-o", peak.name] + argv
    t0 = time.monotonic()
    proc = subprocess.run(argv, env=env, stdout=out, stderr=subprocess.STDOUT)
    wall = time.monotonic() - t0
    out.seek(0)
    text = out.read().decode(errors="replace")
    lines = [x for x in open(peak.name).read().split() if x.isdigit()]
    return wall, proc.returncode, int(lines[-1]) if lines else 0, text


def one(size, resize, tool):
    moto = Moto().start()
    proxy = None
    try:
        ec2 = moto.client()
        vpcs = generate_fleet(ec2, n=size, seed=100 + size)
        proxy = FaultProxy(moto.endpoint, scale=1.0, stop_s=STOP_S, start_s=START_S).start()
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
        sts = sum(made.pop(a, 0) for a in ("AssumeRole", "GetCallerIdentity"))
        reads = sum(n for a, n in made.items() if a.startswith(("Describe", "Get", "List")))
        writes = sum(made.values()) - reads
        v6_types = {t["InstanceType"] for t in ec2.describe_instance_types()["InstanceTypes"]
                    if t["NetworkInfo"]["Ipv6Supported"]}
        bad = [b for v in vpcs for b in check_vpc(ec2, v, v6_types)
               if resize or "still lacks IPv6" not in b]
        tmin, bound = t_min(made)
        stops = [t for t, a, o in proxy.events if a == "StopInstances" and o == "ok"]
        starts = [t for t, a, o in proxy.events if a == "StartInstances" and o == "ok"]
        resizes = proxy.calls("ModifyInstanceAttribute", "ok")
        phase = (max(starts) + START_S - min(stops)) if stops and starts else 0.0
        return {"size": size, "resize": resize, "tool": tool, "wall": wall, "rc": rc,
                "writes": writes, "reads": reads, "throttled": throttled,
                "calls": sum(made.values()) + throttled, "sts": sts, "t_min": tmin,
                "bound": bound,
                "rss_kb": rss_kb, "violations": len(bad), "first_violations": bad[:5],
                "resizes": resizes, "resize_phase": phase,
                "mix": made, "tail": text[-1500:] if rc else ""}
    finally:
        if proxy:
            proxy.stop()
        moto.stop()


def row(d, p, base_kb):
    """One fleet's line: dualstackd d next to the plain script p."""
    tmin = min(d["t_min"], p["t_min"])
    ratio = f"{d['wall'] / tmin:.2f} x T_min" if tmin > 0 else "T_min 0 (every bucket's burst)"
    pct = 100.0 * d["throttled"] / max(d["calls"], 1)
    per_vpc = max(d["rss_kb"] - base_kb, 0) / d["size"]
    resize = ""
    if d["resize"]:
        waves = -(-d["resizes"] // MAX_CONCURRENT_STOPS)
        resize = (f"; resize phase {d['resize_phase']:.0f} s for {d['resizes']} resizes, "
                  f"bound {waves} waves x {STOP_S + START_S:.0f} s = "
                  f"{waves * (STOP_S + START_S):.0f} s (plain: {p['resize_phase']:.0f} s)")
    return (f"| {d['size']} VPCs, resize {'on' if d['resize'] else 'off'} "
            f"| {d['wall']:.1f} s, {d['throttled']} throttled ({pct:.1f}%), {d['writes']} writes "
            f"({d['mix'].get('CreateTags', 0)} CreateTags; +{d['sts']} STS), {d['reads']} reads, {d['rss_kb'] / 1024:.1f} MB RSS "
            f"({per_vpc:.0f} KB per VPC over the {base_kb / 1024:.1f} MB of an empty run), "
            f"{d['violations']} violations "
            f"| {p['wall']:.1f} s, {p['throttled']} throttled, {p['writes']} writes "
            f"({p['mix'].get('CreateTags', 0)} CreateTags), "
            f"{p['reads']} reads, {p['violations']} violations "
            f"| {tmin:.1f} s ({d['bound'] if d['t_min'] <= p['t_min'] else p['bound']}) "
            f"| {ratio}; {p['wall'] / d['wall']:.1f} x the plain script's speed{resize} |")


def baseline_kb():
    """Peak RSS of an apply with nothing to do (one VPC id that does not exist)."""
    moto = Moto().start()
    try:
        with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
            json.dump(bench_policy(False), f)
        peak = tempfile.NamedTemporaryFile("r", suffix=".rss")
        subprocess.run(["/usr/bin/time", "-f", "%M", "-o", peak.name, BINARY, "apply",
                        "--policy", f.name, "--vpc", "vpc-0123456789abcdef0"],
                       env=moto.env(), capture_output=True)
        os.unlink(f.name)
        return int([x for x in open(peak.name).read().split() if x.isdigit()][-1])
    finally:
        moto.stop()


def memory_at_scale(n):
    """Peak RSS of `plan` and `apply` over n generated VPCs of one account and region (EC2's
    buckets scaled out of the way: this measures memory, not pacing). The CLI streams a target's
    VPCs in windows (controller/cli_fleet.c), so the peak follows the windows in flight, not n."""
    moto = Moto().start()
    try:
        generate_fleet(moto.client(), n=n, seed=7)
        with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
            json.dump(bench_policy(False), f)
        env = dict(moto.env(), DUALSTACKD_BUCKET_SCALE="1000")
        out = {}
        for cmd in ("plan", "apply"):
            peak = tempfile.NamedTemporaryFile("r", suffix=".rss")
            t0 = time.monotonic()
            subprocess.run(["/usr/bin/time", "-f", "%M", "-o", peak.name, BINARY, cmd,
                            "--policy", f.name], env=env, capture_output=True, timeout=3600)
            out[cmd] = (int([x for x in open(peak.name).read().split() if x.isdigit()][-1]),
                        time.monotonic() - t0)
        os.unlink(f.name)
        return out
    finally:
        moto.stop()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", default="20,50,100")
    ap.add_argument("--resize", default="off,on")
    ap.add_argument("--no-record", action="store_true")
    ap.add_argument("--tools", default="dualstackd,plain")
    ap.add_argument("--memory-vpcs", type=int, default=1000,
                    help="VPCs of the memory run (0: none)")
    args = ap.parse_args()
    rows, results = [], []
    base_kb = baseline_kb()
    memory = ""
    if args.memory_vpcs:
        m = memory_at_scale(args.memory_vpcs)
        memory = " ".join(
            f"`{cmd}` over {args.memory_vpcs} VPCs of one account and region: peak RSS "
            f"{kb / 1024:.1f} MB, {max(kb - base_kb, 0) * 1024 / args.memory_vpcs / 1024:.1f} KB "
            f"per VPC over an empty run ({s:.0f} s)." for cmd, (kb, s) in m.items())
        print(memory, flush=True)
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
                rows.append(row(pair["dualstackd"], pair["plain"], base_kb))
                print(rows[-1], flush=True)
    if rows and not args.no_record:
        body = ("| fleet | dualstackd `apply` | plain boto3 script | T_min (bound) | ratio |\n"
                "|---|---|---|---|---|\n" + "\n".join(rows) + "\n\n"
                "Both through `tests/py/fault_proxy.py` at EC2's documented per-action buckets "
                "(scale 1.0), `api_budget: 1.0`, fresh moto per run with the same generated "
                "fleet; violations: spec §1 by the independent boto3 check after the run. "
                "T_min: max over actions of (calls - bucket size) / refill for the smaller of the "
                "two call mixes (the action that sets it in brackets). The proxy makes a stop "
                f"take {STOP_S:.0f} s and a start {START_S:.0f} s (moto's are instant); "
                f"`max_concurrent_stops: {MAX_CONCURRENT_STOPS}`. The plain script waits with "
                "boto3's waiters polling every second (their default is 15 s). Writes include "
                "the undo marks both write (`dualstack:ipv6-by`, CreateTags; remediation writes "
                "are the rest): dualstackd one request per 500 resources over all VPCs, "
                "written before its first write; the plain script one per VPC, after its "
                "writes. RSS per VPC in the table is for one window (the CLI reads, plans and "
                "executes a target's VPCs 100 at a time, two windows at once); the memory run "
                "shows the peak over a fleet of many windows.\n\n" + memory)
        record_section(f"Fleet at EC2's rate limits (`make bench`, {time.strftime('%Y-%m-%d')})",
                       body)
    # apply exits 1 while a VPC is blocked - with resize off, the instances without IPv6 are
    failed = [r for r in results if r["rc"] != 0 and not (
        r["tool"] == "dualstackd" and not r["resize"] and r["rc"] == 1 and not r["violations"])]
    for r in failed:
        print(f"{r['tool']} exited {r['rc']}:\n{r['tail']}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
