"""The daemon on a real Kafka broker and moto: events in, converged VPCs out, nothing lost."""
import json
import signal
import subprocess
import time

from daemon_harness import Daemon, cloudtrail, guide_events
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
        d.publish(["{not json", huge, wrong])
        d.publish(guide_events(ids)[:1])  # the consumer keeps going
        converge_within(ec2, ids, 15)
        out = subprocess.run(["kcat", "-b", kafka.bootstrap, "-C", "-t", d.topics["dlq"], "-o",
                              "beginning", "-c", "3", "-e", "-q", "-f",
                              "%h|%S\n"], capture_output=True, text=True, timeout=30).stdout
        rows = [line for line in out.splitlines() if line]
        assert len(rows) == 3, out[:2000]
        reasons = " ".join(rows)
        assert "invalid JSON" in reasons
        assert "oversized: 5242" in reasons
        assert "without instance-id" in reasons
        assert any(r.endswith(f"|{5 * 1024 * 1024 + len(huge) - (5 << 20)}") for r in rows)
        m = d.metrics()
        assert 'dualstackd_events_total{verdict="reject"} 3' in m
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
    # offsets were committed: a new run of the same group does not see the poison again
    with open(d.policy, "w") as f:
        f.write(open(d.policy.replace("policy.json", "policy.json")).read())
    d2 = Daemon(kafka, moto, suffix=d.suffix)
    d2.start()
    time.sleep(4)
    assert open(d2.log_path).read().count("event dead-lettered") == 0
    assert d2.stop() == 0
