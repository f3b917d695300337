"""The readiness report an operator acts on: progress along the steps, the blockers grouped by
cause with the exact fix, a trend over earlier reports, and a page that shows the summary and
the top fix in the first screen - checked in headless Chromium by what is visible."""
import json
import os
import random
import subprocess

import pytest

from browser import Page, chromium
from conftest import BINARY, ROOT
from fleet import guide_example
from test_reconcile import POLICY

FIX = 'add "c1.medium: c3.large" to instances.type_map'


def c1_fleet(ec2, n=3):
    """The guide's example and n VPCs each with a c1.medium: no successor family has a medium
    size with IPv6, so the resize waits for a type_map entry - one cause, one fix, n VPCs."""
    guide_example(ec2)
    for i in range(n):
        v = ec2.create_vpc(CidrBlock=f"10.{50 + i}.0.0/16")["Vpc"]["VpcId"]
        s = ec2.create_subnet(VpcId=v, CidrBlock=f"10.{50 + i}.0.0/24")["Subnet"]["SubnetId"]
        ec2.run_instances(ImageId="ami-760aaa0f", InstanceType="c1.medium", MinCount=1,
                          MaxCount=1, SubnetId=s)


def report(env, *args):
    r = subprocess.run([BINARY, "report", *args], env=env, capture_output=True, text=True,
                       timeout=180)
    return r


def test_report_steps_blockers_with_fixes_and_a_trend(moto, tmp_path):
    ec2 = moto.client()
    c1_fleet(ec2)
    r = report(moto.env(), "--policy", POLICY, "--json")
    assert r.returncode == 0, r.stderr
    rep = json.loads(r.stdout)
    assert rep["totals"] == {"converged": 0, "pending": 2, "blocked": 3, "total": 5}
    steps = rep["steps"]
    # four new VPCs (the c1 ones and the guide's) and the default VPC, none with a block yet
    assert steps["vpc_blocks"]["total"] == 5 and steps["vpc_blocks"]["pending"] == 5
    # the guide's web server has IPv6 already; its database resizes; the c1s wait for a fix
    assert steps["instance_types"] == {"label": steps["instance_types"]["label"], "done": 1,
                                       "pending": 1, "blocked": 3, "total": 5}
    for s in steps.values():
        assert s["done"] + s["pending"] + s["blocked"] == s["total"]
    top = rep["blockers"][0]
    assert (top["code"], top["fix"], top["count"]) == ("no-ipv6-successor", FIX, 3)
    assert len(top["resources"]) == 3 and all(x["resource"].startswith("i-")
                                              for x in top["resources"])
    assert rep["targets"][0]["steps"]["instance_types"]["blocked"] == 3
    text = report(moto.env(), "--policy", POLICY).stdout
    assert f"no-ipv6-successor x3: {FIX}" in text

    # the trend: an earlier report with less done, then this one
    earlier = json.loads(json.dumps(rep))
    earlier["generated"] = "2026-01-01T00:00:00Z"
    earlier["totals"]["converged"] = 0
    old = tmp_path / "earlier.json"
    old.write_text(json.dumps(earlier))
    r = report(moto.env(), "--policy", POLICY, "--json", "--since", str(old))
    trend = json.loads(r.stdout)["trend"]
    assert [p["generated"] for p in trend][0] == "2026-01-01T00:00:00Z" and len(trend) == 2
    bad = tmp_path / "bad.json"
    bad.write_text("{}")
    r = report(moto.env(), "--policy", POLICY, "--since", str(bad))
    assert r.returncode == 2 and "not a JSON report of dualstackd" in r.stderr


@pytest.mark.skipif(not chromium(), reason="chromium is installed by tests/deps.sh")
def test_report_page_shows_the_summary_and_the_top_fix_in_the_first_screen(moto, tmp_path):
    ec2 = moto.client()
    c1_fleet(ec2)
    saved = tmp_path / "now.json"
    r = report(moto.env(), "--policy", POLICY, "--json")
    saved.write_text(r.stdout)
    earlier = json.loads(r.stdout)
    earlier["generated"] = "2026-01-01T00:00:00Z"
    old = tmp_path / "earlier.json"
    old.write_text(json.dumps(earlier))
    html = tmp_path / "report.html"
    r = report(moto.env(), "--policy", POLICY, "--html", str(html), "--since", str(old))
    assert r.returncode == 0, r.stderr
    page = Page(f"file://{html}", tmp_path / "profile", 1280, 800)
    try:
        page.screenshot(os.path.join(ROOT, "build", "report-screenshot.png"))
        summary = page.seen("#summary-converged")
        assert summary and "0 of 5 VPCs dual-stack" in summary, summary
        assert "3" in (page.seen("#summary-blocked") or "")
        assert page.seen("#top-fix") == FIX
        # the details are folded until opened; the trend is drawn
        assert page.seen("#vpc-table") is None
        assert page.evaluate("document.querySelectorAll('.trend-point').length") == 2
    finally:
        page.close()


@pytest.mark.skipif(not chromium(), reason="chromium is installed by tests/deps.sh")
def test_report_page_of_5000_vpcs_reads_top_first_and_filters(tmp_path):
    """A saved report of 5,000 VPCs in 40 accounts x 3 regions, rendered with --from: the
    summary and the top fix still lead the first screen; the VPC table is folded, and the
    filter narrows it to one account's VPCs."""
    rng = random.Random(5)
    targets, n = [], 0
    for a in range(40):
        for region in ("us-east-1", "eu-west-1", "ap-south-1"):
            vpcs = []
            for _ in range(5000 // 120 + (1 if len(targets) < 5000 % 120 else 0)):
                st = rng.choice(["converged"] * 6 + ["pending"] * 3 + ["blocked"])
                find = [{"severity": "blocked", "step": 4, "code": "no-ipv6-successor",
                         "resource": f"i-{n:017x}", "detail": "c1.medium: ...", "fix": FIX}] \
                    if st == "blocked" else []
                vpcs.append({"vpc": f"vpc-{n:017x}", "status": st, "planned_calls": 3,
                             "findings": find})
                n += 1
            counts = {k: sum(v["status"] == k for v in vpcs)
                      for k in ("converged", "pending", "blocked")}
            counts["total"] = len(vpcs)
            targets.append({"account": f"{100000000000 + a}", "region": region,
                            "counts": counts, "steps": {}, "findings_by_code": {},
                            "vpcs": vpcs})
    totals = {k: sum(t["counts"][k] for t in targets)
              for k in ("converged", "pending", "blocked", "total")}
    assert totals["total"] == 5000
    blocked = [{"resource": v["findings"][0]["resource"], "vpc": v["vpc"],
                "account": t["account"], "region": t["region"]}
               for t in targets for v in t["vpcs"] if v["findings"]]
    saved = {"generated": "2026-12-01T00:00:00Z", "policy": "p.yaml", "totals": totals,
             "steps": {"subnets": {"label": "subnets with a /64", "done": 9000,
                                   "pending": 800, "blocked": 200, "total": 10000}},
             "blockers": [{"code": "no-ipv6-successor", "severity": "blocked", "step": 4,
                           "fix": FIX, "example": "c1.medium: ...", "count": len(blocked),
                           "resources": blocked[:200]}],
             "targets": targets}
    src = tmp_path / "big.json"
    src.write_text(json.dumps(saved))
    html = tmp_path / "big.html"
    r = subprocess.run([BINARY, "report", "--from", str(src), "--html", str(html)],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    page = Page(f"file://{html}", tmp_path / "profile", 1280, 800)
    try:
        assert f"{totals['converged']} of 5000 VPCs dual-stack" in page.seen("#summary-converged")
        assert page.seen("#top-fix") == FIX
        assert page.evaluate("document.querySelectorAll('#vpc-table tbody tr').length") == 5000
        page.evaluate("document.getElementById('vpcs').open = true; narrow('100000000007')")
        shown = page.evaluate("Array.from(document.querySelectorAll('#vpc-table tbody tr'))"
                              ".filter(function(r) { return r.style.display !== 'none'; })"
                              ".length")
        want = sum(len(t["vpcs"]) for t in targets if t["account"] == "100000000007")
        assert shown == want
    finally:
        page.close()
