"""The daemon on a real Kafka broker and moto: events in, converged VPCs out, nothing lost."""
import json
import re
import shutil
import signal
import subprocess
import time

from daemon_harness import POLICY, Daemon, cloudtrail, guide_events
from fleet import guide_example
from test_reconcile import check_crash_invariants, check_guide_converged


def converge_within(ec2, ids, seconds):
    end = time.time() + seconds
    last = None
    while time.time() < end:
        try:
            check_guide_converged(ec2, ids)
            return time.time()
        except (AssertionError, KeyError, StopIteration) as e:
            last = e
        time.sleep(0.2)
    raise AssertionError(f"not converged in {seconds}s: {last}")


def wait_metric(daemon, pattern, seconds):
    """Until a line of the daemon's /metrics matches pattern (the metrics tick is 5 s)."""
    end = time.time() + seconds
    m = ""
    while time.time() < end:
        m = daemon.metrics()
        if re.search(pattern, m, re.M):
            return m
        time.sleep(0.5)
    raise AssertionError(f"no {pattern!r} in {seconds}s:\n" + "\n".join(
        line for line in m.splitlines() if "share" in line or "members" in line))


def test_cloudtrail_events_converge_a_new_vpc_within_10s(kafka, moto):
    ec2 = moto.client()
    ids = guide_example(ec2)
    d = Daemon(kafka, moto).start()
    try:
        d.publish(guide_events(ids))
        last = time.time()
        done = converge_within(ec2, ids, 10)
        print(f"converged {done - last:.2f} s after the last event")
        d.wait_log('"outcome":"converged"', 10)
        time.sleep(5.5)  # the metrics tick
        m = d.metrics()
        assert 'dualstackd_ec2_calls_total{action="DescribeVpcs",outcome="ok"}' in m
        assert 'dualstackd_ec2_calls_total{action="AssociateVpcCidrBlock",outcome="ok"} 1' in m
        assert 'dualstackd_ec2_calls_waiting{action="AssociateVpcCidrBlock"} 0' in m
        assert re.search(r"^dualstackd_ec2_buckets [1-9]", m, re.M)
        # the guide's 20-odd calls never fill the send window; nothing is left out once idle
        assert re.search(r"^dualstackd_ec2_requests_out 0$", m, re.M)
        assert re.search(r"^dualstackd_ec2_send_window_waits 0$", m, re.M)
        assert 'dualstackd_reconciles_total{outcome="converged"}' in m
        assert "dualstackd_reconcile_seconds_bucket" in m
    finally:
        assert d.stop() == 0


def test_duplicated_reordered_and_stale_events_do_no_harm(kafka, moto):
    ec2 = moto.client()
    ids = guide_example(ec2)
    gone = ec2.create_vpc(CidrBlock="10.9.0.0/16")["Vpc"]["VpcId"]
    ec2.delete_vpc(VpcId=gone)
    d = Daemon(kafka, moto).start()
    try:
        events = guide_events(ids)
        stale = cloudtrail("CreateVpc", "123456789012", "us-east-1", {}, {"vpc": {"vpcId": gone}})
        d.publish(events + list(reversed(events)) + events[:3] + [stale])
        converge_within(ec2, ids, 20)
        d.wait_log(gone, 20)
        time.sleep(2)  # let any duplicate work finish
        check_crash_invariants(ec2, ids)  # one /56, one eigw, one address per eth0
        audit = [json.loads(x) for x in kafka.consume(d.topics["audit"], 1000, timeout=20)]
        once = [a["action"] for a in audit if a["action"] in
                ("AssociateVpcCidrBlock", "CreateEgressOnlyInternetGateway", "AssignIpv6Addresses")]
        assert sorted(once) == ["AssignIpv6Addresses", "AssignIpv6Addresses",
                                "AssociateVpcCidrBlock", "CreateEgressOnlyInternetGateway"]
        assert all(a["outcome"] == "ok" for a in audit), audit
    finally:
        assert d.stop() == 0


def test_poison_messages_go_to_the_dead_letter_topic(kafka, moto):
    ec2 = moto.client()
    ids = guide_example(ec2)
    d = Daemon(kafka, moto).start()
    try:
        huge = json.dumps({"detail-type": "AWS API Call via CloudTrail", "detail": {},
                           "padding": "x" * (5 << 20)})
        wrong = json.dumps({"detail-type": "EC2 Instance State-change Notification",
                            "account": "123456789012", "region": "us-east-1",
                            "detail": {"instance-id": 42, "state": ["running"]}})
        # hostile fields: a region that would become a host name, a wildcard VPC id
        evil = cloudtrail("CreateVpc", "123456789012", "evil.example/x", {},
                          {"vpc": {"vpcId": ids["vpc"]}})
        wild = cloudtrail("CreateVpc", "123456789012", "us-east-1", {}, {"vpc": {"vpcId": "vpc-*"}})
        d.publish(["{not json", huge, wrong, evil, wild])
        d.publish(guide_events(ids)[:1])  # the consumer keeps going
        converge_within(ec2, ids, 15)
        out = subprocess.run(["kcat", "-b", kafka.bootstrap, "-C", "-t", d.topics["dlq"], "-o",
                              "beginning", "-c", "5", "-e", "-q", "-f",
                              "%h|%S\n"], capture_output=True, text=True, timeout=30).stdout
        rows = [line for line in out.splitlines() if line]
        assert len(rows) == 5, out[:2000]
        reasons = " ".join(rows)
        assert "invalid JSON" in reasons
        assert "oversized: 5242" in reasons
        assert "without instance-id" in reasons
        assert 'region \"evil.example/x\" is not an AWS region name' in reasons or \
            "evil.example/x" in reasons
        assert "vpc-*" in reasons
        assert any(r.endswith(f"|{5 * 1024 * 1024 + len(huge) - (5 << 20)}") for r in rows)
        m = d.metrics()
        assert 'dualstackd_events_total{verdict="reject"} 5' in m
        assert "evil.example" not in m  # nothing hostile reaches a label
    finally:
        assert d.stop() == 0


def test_sigterm_commits_and_sighup_keeps_a_good_policy(kafka, moto):
    ec2 = moto.client()
    ids = guide_example(ec2)
    d = Daemon(kafka, moto).start()
    d.publish(["{poison"] + guide_events(ids)[:1])
    converge_within(ec2, ids, 15)
    d.wait_log("event dead-lettered", 10)
    # SIGHUP with a broken policy: it says why and keeps running on the old one
    with open(d.policy, "w") as f:
        f.write('{"mode": "enforce", "instances": {"resize": "sometimes"}}')
    d.proc.send_signal(signal.SIGHUP)
    d.wait_log("policy reload failed", 10)
    assert d.proc.poll() is None
    ids2 = guide_example(ec2)
    d.publish(guide_events(ids2)[:1])
    converge_within(ec2, ids2, 15)  # still working, with the old policy (resize always)
    t0 = time.time()
    assert d.stop() == 0
    assert time.time() - t0 < 10
    # offsets were committed: a new run of the same group (with a good policy of its own)
    # does not see the poison again
    d2 = Daemon(kafka, moto, suffix=d.suffix)
    d2.start()
    time.sleep(4)
    assert open(d2.log_path).read().count("event dead-lettered") == 0
    assert d2.stop() == 0


def fleet_events(ec2, vpcs):
    return [cloudtrail("CreateVpc", "123456789012", "us-east-1", {}, {"vpc": {"vpcId": v}})
            for v in vpcs]


def wait_fleet(ec2, vpcs, seconds):
    from spec_check import check_vpc
    v6_types = {t["InstanceType"] for t in ec2.describe_instance_types()["InstanceTypes"]
                if t["NetworkInfo"]["Ipv6Supported"]}
    end = time.time() + seconds
    bad = None
    while time.time() < end:
        bad = [b for v in vpcs for b in check_vpc(ec2, v, v6_types)]
        if not bad:
            return
        time.sleep(1)
    raise AssertionError("\n".join(bad[:20]))


def test_sigkill_mid_stream_then_restart_converges_everything_once(kafka, moto):
    from fleet import generate_fleet
    ec2 = moto.client()
    vpcs = generate_fleet(ec2, n=50, seed=5)
    d = Daemon(kafka, moto).start()
    d.publish(fleet_events(ec2, vpcs))
    d.wait_log('"msg":"reconciled"', 60, count=3)
    d.proc.kill()  # SIGKILL in the middle of the stream
    d.proc.wait()
    d.start()
    try:
        wait_fleet(ec2, vpcs, 240)  # one /56, one eigw, one address per eth0, none stopped
    finally:
        assert d.stop() == 0


def test_two_replicas_split_the_fleet_and_take_over(kafka, moto):
    from fleet import generate_fleet
    ec2 = moto.client()
    vpcs = generate_fleet(ec2, n=20, seed=9)
    a = Daemon(kafka, moto)
    b = Daemon(kafka, moto, suffix=a.suffix, group=None)
    b.config, b.policy = a.config, a.policy  # same topics and group
    pol = json.load(open(a.policy))
    pol["guard"] = {"max_changes_per_hour": 1001}  # fleet-wide: each replica gets its share
    json.dump(pol, open(a.policy, "w"))
    a.start()
    b.start()
    try:
        a.publish(fleet_events(ec2, vpcs))
        a.wait_log('"msg":"reconciled"', 60)
        b.wait_log('"msg":"reconciled"', 60)  # both have a share of the fleet
        wait_metric(b, r"^dualstackd_max_changes_per_hour_share 501$", 30)
        a.proc.kill()  # one dies; the other finishes all of it
        a.proc.wait()
        wait_fleet(ec2, vpcs, 150)
        wait_metric(b, r"^dualstackd_max_changes_per_hour_share 1001$", 30)  # alone again
        # no VPC was ever reconciled by both replicas at once, per the audit topic
        audit = [json.loads(x) for x in kafka.consume(a.topics["audit"], 100000, timeout=30)]
        spans = {}
        for r in audit:
            spans.setdefault(r["vpc"], {}).setdefault(r["replica"], []).append(r["time"])
        # (the killed replica's last audit records may not have left it: audit records are
        # produced asynchronously, so the check covers every record that reached the topic)
        assert audit
        for vpc, by in spans.items():
            windows = sorted((min(t), max(t)) for t in by.values())
            for (s1, e1), (s2, e2) in zip(windows, windows[1:]):
                assert e1 < s2, f"{vpc} reconciled by two replicas at once: {by}"
        # and per the replicas' own logs: each reconcile's [start, end] per VPC
        from datetime import datetime, timedelta
        runs = {}
        for name, rep in (("a", a), ("b", b)):
            for line in rep.lines():
                if line.get("msg") == "reconciled":
                    end = datetime.strptime(line["ts"], "%Y-%m-%dT%H:%M:%S.%fZ")
                    start = end - timedelta(seconds=float(line["seconds"]))
                    runs.setdefault(line["vpc"], []).append((start, end, name))
        assert {n for v in runs.values() for _, _, n in v} == {"a", "b"}
        for vpc, rs in runs.items():
            rs.sort()
            for (s1, e1, n1), (s2, e2, n2) in zip(rs, rs[1:]):
                assert n1 == n2 or e1 <= s2, f"{vpc}: replicas {n1} and {n2} overlapped"
    finally:
        b.stop()
        if a.proc.poll() is None:
            a.stop()


def test_broker_restart_mid_stream_converges_everything_once(moto):
    """A broker of its own, restarted in the middle of a 50-VPC stream."""
    from fleet import generate_fleet
    from services import Kafka
    broker = Kafka().start()
    ec2 = moto.client()
    vpcs = generate_fleet(ec2, n=50, seed=13)
    d = Daemon(broker, moto).start()
    try:
        d.publish(fleet_events(ec2, vpcs))
        d.wait_log('"msg":"reconciled"', 60, count=2)
        broker.restart()
        wait_fleet(ec2, vpcs, 240)
    finally:
        assert d.stop() == 0
        broker.stop()


def test_resync_converges_a_vpc_no_event_named(kafka, moto):
    """A lost event delays convergence but never prevents it: the periodic resync (run by the
    replica that owns partition 0 of the work topic) finds the VPC by itself."""
    ec2 = moto.client()
    ids = guide_example(ec2)
    d = Daemon(kafka, moto, extra={"resync_interval_s": 60, "resync_initial_delay_s": 1})
    d.start()
    try:
        converge_within(ec2, ids, 30)
        d.wait_log('"msg":"resync"', 5)
        m = d.metrics()
        # the example and the default VPC
        assert 'dualstackd_vpcs_in_scope{account="123456789012",region="us-east-1"} 2' in m
    finally:
        assert d.stop() == 0


def wait_resized(ec2, ids, seconds, what):
    """Until every instance runs as an m4.large; fails with `what` after seconds."""
    end = time.time() + seconds
    while time.time() < end:
        insts = [i for r in ec2.describe_instances(InstanceIds=ids)["Reservations"]
                 for i in r["Instances"]]
        if all(i["InstanceType"] == "m4.large" and i["State"]["Name"] == "running"
               for i in insts):
            return
        time.sleep(1)
    raise AssertionError(what)


def test_resync_of_many_resizes_holds_max_concurrent_stops(kafka, moto):
    """max_concurrent_stops (2 in the policy) holds per account and region across every
    reconcile the daemon runs at once: measured at the proxy, from each StopInstances to the
    instance's StartInstances, during a resync of 12 VPCs with 2 resizes each."""
    from fault_proxy import FaultProxy
    from fleet import resize_fleet
    proxy = FaultProxy(moto.endpoint).start()
    ec2 = moto.client()
    fleet = resize_fleet(ec2, n=12, per_vpc=2)
    d = Daemon(kafka, moto, endpoint=proxy.endpoint,
               extra={"resync_interval_s": 3600, "resync_initial_delay_s": 1,
                      "max_concurrent_reconciles": 8})
    d.start()
    try:
        ids = [i for v in fleet for i in v["instances"]]
        wait_resized(ec2, ids, 240, "resizes did not finish")
        # one StopInstances may carry several instances (merged requests), so count instances
        assert proxy.instances_stopped >= 24
        assert proxy.max_stopped <= 2, f"{proxy.max_stopped} instances stopped at once"
        assert not proxy.stopped, "instances left stopped"
    finally:
        assert d.stop() == 0
        proxy.stop()


def audit_windows(audit):
    """{vpc: {replica: (first, last)}} of the mutating calls each replica made."""
    spans = {}
    for r in audit:
        spans.setdefault(r["vpc"], {}).setdefault(r["replica"], []).append(r["time"])
    return {v: {rep: (min(t), max(t)) for rep, t in by.items()} for v, by in spans.items()}


def test_rebalances_never_put_one_vpc_in_two_replicas_hands(kafka, moto):
    """Three replicas over a 50-VPC stream; a fourth joins and one leaves mid-stream. Per the
    audit topic no VPC ever has overlapping reconcile windows from two replicas, and every VPC
    ends with exactly one /56 and one egress-only gateway."""
    from fleet import generate_fleet
    ec2 = moto.client()
    vpcs = generate_fleet(ec2, n=50, seed=21)
    first = Daemon(kafka, moto)
    # one work-topic partition per replica to come, and quick group moves
    cfg = json.load(open(first.config))
    cfg["kafka"]["work_topic_partitions"] = 8
    cfg["kafka"]["properties"]["max.poll.interval.ms"] = "120000"
    cfg["revoke_timeout_s"] = 60
    json.dump(cfg, open(first.config, "w"))
    replicas = [first]
    for _ in range(3):
        r = Daemon(kafka, moto, suffix=first.suffix)
        r.config, r.policy = first.config, first.policy
        replicas.append(r)
    a, b, c, late = replicas
    for r in (a, b, c):
        r.start()
    try:
        a.publish(fleet_events(ec2, vpcs))
        a.wait_log('"msg":"reconciled"', 60)
        late.start()  # joins mid-stream
        late.wait_log('"msg":"partitions assigned"', 60)
        assert c.stop() == 0  # and one leaves
        wait_fleet(ec2, vpcs, 300)
        for vpc in vpcs:
            v = ec2.describe_vpcs(VpcIds=[vpc])["Vpcs"][0]
            blocks = [x for x in v.get("Ipv6CidrBlockAssociationSet", [])
                      if x["Ipv6CidrBlockState"]["State"] not in ("disassociated", "failed")]
            assert len(blocks) <= 1, f"{vpc}: {len(blocks)} IPv6 blocks"
            eigws = [g for g in ec2.describe_egress_only_internet_gateways()[
                "EgressOnlyInternetGateways"] if any(x["VpcId"] == vpc for x in g["Attachments"])]
            assert len(eigws) <= 1, f"{vpc}: {len(eigws)} egress-only gateways"
        audit = [json.loads(x) for x in kafka.consume(a.topics["audit"], 100000, timeout=30)]
        assert len({r["replica"] for r in audit}) >= 3
        for vpc, by in audit_windows(audit).items():
            windows = sorted(by.values())
            for (s1, e1), (s2, e2) in zip(windows, windows[1:]):
                assert e1 < s2, f"{vpc} reconciled by two replicas at once: {by}"
        handovers = sum(open(r.log_path).read().count("partition revoked") for r in replicas)
        assert handovers >= 1
    finally:
        for r in (a, b, late):
            r.stop()


def test_reloads_while_vpcs_reconcile_are_memory_safe(kafka, moto):
    """Dozens of policy reloads (SIGHUP, and the file changing) while 20 VPCs reconcile: runs
    keep the policy they started with. Run under ASan by `make asan`."""
    from fleet import generate_fleet
    ec2 = moto.client()
    vpcs = generate_fleet(ec2, n=20, seed=31)
    d = Daemon(kafka, moto, extra={"resync_interval_s": 3600, "resync_initial_delay_s": 1})
    d.start()
    try:
        pol = json.load(open(d.policy))
        for i in range(40):
            pol["api_budget"] = 0.5 if i % 2 else 0.4
            with open(d.policy, "w") as f:
                json.dump(pol, f)
            d.proc.send_signal(signal.SIGHUP)
            time.sleep(0.15)
            assert d.proc.poll() is None, open(d.log_path).read()[-3000:]
        wait_fleet(ec2, vpcs, 240)
        assert open(d.log_path).read().count('"msg":"policy reloaded"') >= 30
    finally:
        assert d.stop() == 0


def test_sigterm_mid_resize_hands_over_at_a_safe_point(kafka, moto, tmp_path):
    """SIGTERM while resizes are under way (EC2 answering slowly): the daemon cancels its
    reconciles, waits until each resize has its instance running again, and exits 0 - it
    neither hangs on its own handover nor leaves an instance stopped. A second daemon of the
    same group finishes the fleet. The cancelled reconciles are no failures: a guard that
    halts on 3 samples at 20% stays quiet (it once counted them and halted the account)."""
    from fault_proxy import FaultProxy
    from fleet import resize_fleet
    proxy = FaultProxy(moto.endpoint, latency_ms=400).start()
    ec2 = moto.client()
    fleet = resize_fleet(ec2, n=8, per_vpc=2)  # more than 8 s of work, 2 stops at a time
    extra = {"resync_interval_s": 3600, "resync_initial_delay_s": 1}
    policy = tmp_path / "policy.json"
    policy.write_text(json.dumps(dict(json.load(open(POLICY)), guard={
        "max_failure_ratio": 0.2, "window_s": 60, "min_samples": 3})))
    d = Daemon(kafka, moto, policy=str(policy), endpoint=proxy.endpoint, extra=extra).start()
    d2 = None
    try:
        end = time.time() + 60
        while not proxy.calls("StopInstances", "ok") and time.time() < end:
            time.sleep(0.1)
        assert proxy.calls("StopInstances", "ok"), "no resize started"
        t0 = time.time()
        assert d.stop(timeout=90) == 0
        took = time.time() - t0
        assert not proxy.stopped, f"instances left stopped: {proxy.stopped}"
        ids = [i for v in fleet for i in v["instances"]]
        states = [i["State"]["Name"] for r in ec2.describe_instances(InstanceIds=ids)[
            "Reservations"] for i in r["Instances"]]
        assert all(s == "running" for s in states), states
        assert '"outcome":"cancelled"' in open(d.log_path).read(), f"exit took {took:.1f}s"
        assert '"msg":"halted:' not in open(d.log_path).read()
        d2 = Daemon(kafka, moto, endpoint=proxy.endpoint, suffix=d.suffix, extra=extra)
        d2.config, d2.policy = d.config, d.policy
        d2.start()
        wait_resized(ec2, ids, 180, "the second daemon did not finish the resizes")
    finally:
        if d2:
            assert d2.stop(timeout=90) == 0
        proxy.stop()


def http_get(url):
    import urllib.error
    import urllib.request
    try:
        with urllib.request.urlopen(url, timeout=5) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


def test_health_readiness_and_a_dual_stack_listener(kafka, moto):
    """One "[::]" listener answers over IPv4 and IPv6; /healthz is 200 while the loop turns;
    /readyz is 200 once partitions are assigned and 503, naming the failed check, when the
    member account's credentials cannot be had (STS unreachable) - /healthz stays 200."""
    ec2 = moto.client()
    ids = guide_example(ec2)
    d = Daemon(kafka, moto, extra={"listen": "[::]:0"})
    d.env["AWS_ENDPOINT_URL_STS"] = "http://127.0.0.1:9"
    d.start()
    try:
        port = next(x["metrics_port"] for x in d.lines() if x.get("msg") == "started")
        for host in ("127.0.0.1", "[::1]"):
            assert http_get(f"http://{host}:{port}/healthz")[0] == 200, host
        status, body = http_get(f"http://127.0.0.1:{port}/readyz")
        assert status == 200, body
        d.publish(guide_events(ids)[:1])
        end = time.time() + 60
        while time.time() < end:
            status, body = http_get(f"http://[::1]:{port}/readyz")
            if status == 503:
                break
            time.sleep(0.5)
        assert status == 503 and "credentials" in body, (status, body)
        assert http_get(f"http://127.0.0.1:{port}/healthz")[0] == 200
    finally:
        assert d.stop() == 0


def secure_daemon(broker, moto, **props):
    """A daemon on the broker's SASL_SSL listener, with the README's properties."""
    d = Daemon(broker, moto)
    cfg = json.load(open(d.config))
    cfg["kafka"]["brokers"] = broker.secure_bootstrap
    cfg["kafka"]["properties"].update(broker.client_properties(**props))
    json.dump(cfg, open(d.config, "w"))
    return d


def test_sasl_ssl_with_scram_and_its_failures(moto, tmp_path):
    """Production transport: SASL_SSL with SCRAM-SHA-512 and a CA, on a broker listener made
    so at test time (keytool, the user added when the storage is formatted); the guide's VPC
    converges through it. A wrong password and an unknown CA are each a clear error in the log
    and a 503 /readyz naming kafka, with /healthz still 200 - never a hang."""
    from services import Kafka
    broker = Kafka(secure=True).start()
    try:
        ec2 = moto.client()
        ids = guide_example(ec2)
        d = secure_daemon(broker, moto)
        d.start()
        try:
            d.publish(guide_events(ids))
            converge_within(ec2, ids, 30)
        finally:
            assert d.stop() == 0
        # an unknown CA: a certificate of the same name from another CA
        other = Kafka(secure=True)
        other._make_certificates()
        cases = {"wrong password": ({"password": "not-the-password"}, "Authentication"),
                 "unknown CA": ({"ca": other.ca_pem}, "certificate verify failed")}
        for what, (props, needle) in cases.items():
            bad = secure_daemon(broker, moto, **props)
            bad.start(wait_ready=False)
            try:
                bad.wait_log(needle, 60)
                port = next(x["metrics_port"] for x in bad.lines() if "metrics_port" in x)
                status, body = http_get(f"http://127.0.0.1:{port}/readyz")
                assert status == 503 and "kafka" in body, (what, status, body)
                assert http_get(f"http://127.0.0.1:{port}/healthz")[0] == 200, what
            finally:
                t0 = time.time()
                assert bad.stop() == 0, what
                assert time.time() - t0 < 15, f"{what}: stop took {time.time() - t0:.0f} s"
        shutil.rmtree(other.dir, ignore_errors=True)
    finally:
        broker.stop()


class SlowCredentialsEndpoint:
    """A container credentials endpoint (AWS_CONTAINER_CREDENTIALS_FULL_URI) on loopback that
    hands out moto's key expiring in 299 s - inside the 300 s refresh margin, so they are due
    again at once; every answer after the first takes slow_s, as IMDS or STS do when they
    struggle."""

    def __init__(self, moto, slow_s):
        import http.server
        import threading
        outer = self
        self.asked = 0

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                outer.asked += 1
                if outer.asked > 1:
                    time.sleep(slow_s)
                expires = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 299))
                body = json.dumps({"AccessKeyId": moto.access_key,
                                   "SecretAccessKey": moto.secret_key, "Token": "",
                                   "Expiration": expires}).encode()
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/creds"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def test_a_slow_credentials_refresh_never_stalls_the_loop(kafka, moto, tmp_path):
    """The controller's own credentials (which sign every EC2 call here: no assume_role) come
    from the container endpoint and are always due; each refresh takes 1.5 s (the endpoint's
    timeout is 2 s). The guide's VPC converges as fast as with static keys and SIGTERM ends
    the daemon at once: the chain is walked on the cache's refresher thread, at most every
    CREDS_RETRY_MIN_S. (Before, every EC2 call inside the refresh margin walked it on the
    loop, 1.5 s each: not converged in 10 s.)"""
    ec2 = moto.client()
    ids = guide_example(ec2)
    creds = SlowCredentialsEndpoint(moto, slow_s=1.5)
    own = json.load(open(POLICY))
    own["assume_role"] = None
    own["scope"]["accounts"] = []
    policy = tmp_path / "own.json"
    policy.write_text(json.dumps(own))
    d = Daemon(kafka, moto, policy=str(policy))
    for k in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        d.env.pop(k)
    d.env["AWS_CONTAINER_CREDENTIALS_FULL_URI"] = creds.url
    d.start()
    try:
        time.sleep(2)  # a slow refresh is under way
        d.publish(guide_events(ids))
        start = time.time()
        done = converge_within(ec2, ids, 10)
        print(f"converged in {done - start:.2f} s; credentials asked {creds.asked} times")
        time.sleep(5.5)  # the metrics tick
        m = d.metrics()
        ok = re.search(r'^dualstackd_credentials_refreshes\{outcome="ok"\} (\d+)', m, re.M)
        assert ok and int(ok.group(1)) >= 2, m
        assert re.search(r"^dualstackd_credentials_refresh_failing 0$", m, re.M)
        t = time.time()
    finally:
        assert d.stop(timeout=15) == 0
        creds.close()
    assert time.time() - t < 3  # a refresh in flight is at most one 2 s fetch to wait for
