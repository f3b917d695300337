"""The blast-radius guard in the daemon: a fleet where 30% of mutating calls fail halts within
the window, no further VPC gets a first write, the halt survives in the halt file and /metrics,
and `dualstackd resume` clears it - after which the fleet converges."""
import json
import os
import subprocess
import time

from conftest import BINARY
from daemon_harness import POLICY, Daemon, cloudtrail
from fleet import guide_example
from test_daemon import fleet_events, http_get, wait_fleet

# the canonical policy, with a guard that proves itself on a small fleet
GUARD_POLICY = dict(json.load(open(POLICY)),
                    guard={"max_failure_ratio": 0.2, "window_s": 60, "min_samples": 10})


def vpc_of_resources(ec2):
    """{resource id: VPC id} for everything a write may name."""
    m = {}
    for v in ec2.describe_vpcs()["Vpcs"]:
        m[v["VpcId"]] = v["VpcId"]
    for s in ec2.describe_subnets()["Subnets"]:
        m[s["SubnetId"]] = s["VpcId"]
    for g in ec2.describe_security_groups()["SecurityGroups"]:
        m[g["GroupId"]] = g["VpcId"]
    for a in ec2.describe_network_acls()["NetworkAcls"]:
        m[a["NetworkAclId"]] = a["VpcId"]
    for r in ec2.describe_route_tables()["RouteTables"]:
        m[r["RouteTableId"]] = r["VpcId"]
    for r in ec2.describe_instances()["Reservations"]:
        for i in r["Instances"]:
            m[i["InstanceId"]] = i.get("VpcId")
    for n in ec2.describe_network_interfaces()["NetworkInterfaces"]:
        m[n["NetworkInterfaceId"]] = n["VpcId"]
    return m


def first_writes(proxy, ec2):
    """{VPC id: wall time of the first mutating call that named something of it}"""
    owner = vpc_of_resources(ec2)
    first = {}
    for t, _action, params in proxy.writes:
        for k, v in params.items():
            vpc = owner.get(v)
            if vpc and (k.endswith("Id") or k.startswith(("Resource", "InstanceId"))):
                first[vpc] = min(first.get(vpc, t), t)
                break
    return first


def leave_a_halt(d):
    """The halt file a halted daemon leaves behind: the next one starts halted."""
    with open(os.path.join(d.dir, "halt"), "w") as f:
        json.dump({"halts": [{"scope": "fleet", "reason": "left by the last run",
                              "since": "2026-12-02T00:00:00Z"}]}, f)


def start_halted_and_publish(kafka, moto, proxy, vpc):
    """A daemon started on a halt file left behind, then an event for vpc: the daemon."""
    d = Daemon(kafka, moto, endpoint=proxy.endpoint)
    leave_a_halt(d)
    d.start()
    try:
        assert d.wait_log('"msg":"starting halted', 5)
        d.publish([cloudtrail("CreateVpc", "123456789012", "us-east-1", {},
                              {"vpc": {"vpcId": vpc}})])
    except BaseException:
        d.stop()
        proxy.stop()
        raise
    return d


def log_time(line):
    ts = line["ts"]  # 2026-12-02T01:02:03.456Z
    return time.mktime(time.strptime(ts[:19], "%Y-%m-%dT%H:%M:%S")) - time.timezone \
        + float("0" + ts[19:-1])


def test_failures_halt_the_fleet_until_resume(kafka, moto, tmp_path):
    from fault_proxy import FaultProxy
    from fleet import generate_fleet
    proxy = FaultProxy(moto.endpoint).start()
    ec2 = moto.client()
    vpcs = generate_fleet(ec2, n=16, seed=7)
    policy = tmp_path / "policy.json"
    policy.write_text(json.dumps(GUARD_POLICY))
    d = Daemon(kafka, moto, policy=str(policy), endpoint=proxy.endpoint,
               extra={"max_concurrent_reconciles": 2})
    d.start()
    try:
        proxy.fail_ratio = 0.3
        d.publish(fleet_events(ec2, vpcs))
        assert d.wait_log('"msg":"halted:', 90)
        halt = next(x for x in d.lines() if x.get("msg", "").startswith("halted:"))
        halted_at = log_time(halt)
        assert "mutating calls failed" in halt["reason"] or "reconciles failed" in halt["reason"]
        time.sleep(10)  # what would have started meanwhile
        first = first_writes(proxy, ec2)
        # calls sent up to a moment after the halt began before it (a token wait, a request
        # in flight); no VPC's first write comes later
        late = {v: round(t - halted_at, 1) for v, t in first.items() if t > halted_at + 1.5}
        assert not late, f"VPCs first written after the halt: {late}"
        untouched = [v for v in vpcs if v not in first]
        assert untouched, "the halt held nothing back (the fleet was done before it)"
        # the halt is written down and shown
        saved = json.load(open(os.path.join(d.dir, "halt")))
        assert saved["halts"] and saved["halts"][0]["reason"] == halt["reason"]
        port = next(x["metrics_port"] for x in d.lines() if "metrics_port" in x)
        metrics = http_get(f"http://127.0.0.1:{port}/metrics")[1]
        assert f'dualstackd_halted{{scope="{halt["scope"]}"}} 1' in metrics, metrics[-2000:]
        # SIGHUP (a policy reload) keeps the halt
        d.proc.send_signal(1)
        assert d.wait_log('"msg":"policy reloaded"', 10)
        time.sleep(3)
        first_after_hup = first_writes(proxy, ec2)
        assert set(first_after_hup) == set(first)
        # the operator fixes the cause and resumes: the held VPCs converge. A resize that the
        # injected failures rolled back is marked dualstack:resize-failed and waits for the
        # operator too: clearing the cause includes those marks.
        proxy.fail_ratio = 0.0
        # resizes under way go on during a halt: one the injected failures are rolling back
        # tags itself resize-failed when it ends, so the operator waits for them to settle
        # (CI once cleared the tags a moment before a rollback wrote its own)
        def tagged(key):
            return [i["InstanceId"] for r in ec2.describe_instances()["Reservations"]
                    for i in r["Instances"] if any(t["Key"] == key for t in i.get("Tags", []))]
        end = time.time() + 60
        while tagged("dualstack:resize-from") and time.time() < end:
            time.sleep(0.5)
        assert not tagged("dualstack:resize-from"), "resizes under way never settled"
        failed = tagged("dualstack:resize-failed")
        if failed:
            ec2.delete_tags(Resources=failed, Tags=[{"Key": "dualstack:resize-failed"}])
        out = subprocess.run([BINARY, "resume", "--config", d.config], capture_output=True,
                             text=True, timeout=30)
        assert out.returncode == 0, out.stderr
        assert halt["reason"] in out.stdout and "resumed" in out.stdout
        assert d.wait_log('"msg":"resumed: the halt file was removed', 10)
        # what the halt held was answered "halted"; the resume's resync brings it back
        wait_fleet(ec2, vpcs, 120)
        again = subprocess.run([BINARY, "resume", "--config", d.config], capture_output=True,
                               text=True, timeout=30)
        assert again.returncode == 0 and "not halted" in again.stdout
    finally:
        assert d.stop() == 0
        proxy.stop()


def test_a_restart_keeps_the_halt(kafka, moto):
    """A halt file left by a halted daemon: the next one starts halted and writes nothing."""
    from fault_proxy import FaultProxy
    proxy = FaultProxy(moto.endpoint).start()
    ec2 = moto.client()
    ids = guide_example(ec2)
    d = start_halted_and_publish(kafka, moto, proxy, ids["vpc"])
    try:
        assert d.wait_log('"detail":"halted"', 30)
        assert not proxy.writes, proxy.writes[:3]
    finally:
        assert d.stop() == 0
        proxy.stop()


def test_one_vpc_failing_again_and_again_is_not_a_fleet_in_trouble(kafka, moto, tmp_path):
    """One VPC whose CreateRoute always fails is retried with backoff; each retry fails again.
    That is one broken VPC, not a failure ratio of the account: no halt. (A guard that counted
    every retry halted within a minute.)"""
    from fault_proxy import FaultProxy
    proxy = FaultProxy(moto.endpoint).start()
    ec2 = moto.client()
    ids = guide_example(ec2)
    proxy.fail_actions["CreateRoute"] = ("InvalidParameterValue", 400)
    policy = tmp_path / "policy.json"
    policy.write_text(json.dumps(dict(GUARD_POLICY, guard={"max_failure_ratio": 0.2,
                                                           "window_s": 60, "min_samples": 5})))
    d = Daemon(kafka, moto, policy=str(policy), endpoint=proxy.endpoint)
    d.start()
    try:
        d.publish([cloudtrail("CreateVpc", "123456789012", "us-east-1", {},
                              {"vpc": {"vpcId": ids["vpc"]}})])
        end = time.time() + 60
        while time.time() < end and proxy.calls("CreateRoute") < 6:
            time.sleep(0.5)
        assert proxy.calls("CreateRoute") >= 6, "the VPC was not retried"
        assert '"msg":"halted:' not in open(d.log_path).read()
    finally:
        assert d.stop() == 0
        proxy.stop()


def test_max_changes_per_hour_counts_requests_not_riders(moto, tmp_path):
    """The guide's example is 23 mutating calls (the plan says so): with max_changes_per_hour 23
    it converges. The marks and the second permission of a group ride in other calls' requests
    and are no change of their own (counted one each, they halted the run before its last
    call: "23 mutating calls in the last hour and 1 more planned")."""
    from test_reconcile import plan_json
    ec2 = moto.client()
    ids = guide_example(ec2)
    pol = json.load(open(POLICY))
    pol["guard"] = {"max_changes_per_hour": 23}
    path = tmp_path / "policy.json"
    path.write_text(json.dumps(pol))
    plan = plan_json(moto.env(), ids["vpc"], policy=str(path))
    riders = sum(1 for a in plan["actions"] if a.get("in_request_of"))
    assert riders >= 9
    r = subprocess.run([BINARY, "apply", "--policy", str(path), "--vpc", ids["vpc"]],
                       env=moto.env(), capture_output=True, text=True, timeout=300)
    assert r.returncode == 0 and f"{ids['vpc']}: converged" in r.stdout, r.stdout + r.stderr
    assert "HALTED" not in r.stderr


def test_a_halt_still_drives_a_resize_under_way_to_its_end(kafka, moto):
    """A halted daemon still finishes a resize begun before: here a rollback whose last step
    (DeleteTags) failed once. The reconcile ends 'halted' (its other actions were held); it must
    be retried anyway until the instance's resize tags are gone - and nothing else is written."""
    from fault_proxy import FaultProxy
    proxy = FaultProxy(moto.endpoint).start()
    ec2 = moto.client()
    ids = guide_example(ec2)
    ec2.create_tags(Resources=[ids["db"]], Tags=[
        {"Key": "dualstack:resize-from", "Value": "m3.large"},
        {"Key": "dualstack:resize-to", "Value": "m4.large"},
        {"Key": "dualstack:resize-was", "Value": "running"},
        {"Key": "dualstack:resize-rollback", "Value": "StartInstances: InsufficientInstanceCapacity"}])
    proxy.fail_next["DeleteTags"] = [("InvalidParameterValue", 400, {})]
    d = start_halted_and_publish(kafka, moto, proxy, ids["vpc"])
    try:
        def resize_tags():
            i = ec2.describe_instances(InstanceIds=[ids["db"]])["Reservations"][0]["Instances"][0]
            return sorted(t["Key"] for t in i.get("Tags", [])
                          if t["Key"].startswith("dualstack:resize-"))
        end = time.time() + 30
        while resize_tags() != ["dualstack:resize-failed"] and time.time() < end:
            time.sleep(0.5)
        assert resize_tags() == ["dualstack:resize-failed"], (resize_tags(), proxy.actions())
        # only the rollback's bookkeeping on the instance was written: the halt held the rest
        assert {a for _, a, _ in proxy.writes} <= {"CreateTags", "DeleteTags"}, proxy.writes
        assert all(p.get("ResourceId.1") == ids["db"] for _, _, p in proxy.writes), proxy.writes
    finally:
        assert d.stop() == 0
        proxy.stop()


def test_apply_answers_to_the_daemons_halt_file(moto, tmp_path):
    """The daemon halted an account/region (its halt file says so): an operator's `apply` on
    the same host holds its writes there too - the halt file is read from the daemon's default
    place ($STATE_DIRECTORY/halt) or --halt-file - and says why and how to clear it. Reads and
    the plan go on. --halt-file none is the operator saying the halt is not theirs to honour."""
    from fault_proxy import FaultProxy
    ec2 = moto.client()
    ids = guide_example(ec2)
    state = tmp_path / "state"
    state.mkdir()
    (state / "halt").write_text(json.dumps({"halts": [{
        "scope": "123456789012/us-east-1", "since": "2026-12-02T01:00:00Z",
        "reason": "3 of 10 mutating calls failed in 60 s (more than 20%)"}]}))
    proxy = FaultProxy(moto.endpoint).start()
    env = dict(moto.env(proxy.endpoint), STATE_DIRECTORY=str(state),
               DUALSTACKD_BUCKET_SCALE="10")
    try:
        held = subprocess.run([BINARY, "apply", "--policy", POLICY, "--vpc", ids["vpc"]], env=env,
                              capture_output=True, text=True, timeout=300)
        assert held.returncode == 1, held.stdout + held.stderr
        assert f"HALTED (123456789012/us-east-1)" in held.stderr, held.stderr
        assert str(state / "halt") in held.stderr and "dualstackd resume" in held.stderr
        assert proxy.mutating(outcome=None) == {}, proxy.mutating(outcome=None)
        assert proxy.calls("DescribeVpcs") >= 1  # it read and planned

        # a halt file that is not the daemon's JSON may have been a halt: the fleet holds
        (state / "halt").write_text("{truncated")
        garbled = subprocess.run([BINARY, "apply", "--policy", POLICY, "--vpc", ids["vpc"]],
                                 env=env, capture_output=True, text=True, timeout=300)
        assert garbled.returncode == 1, garbled.stdout + garbled.stderr
        assert "HALTED (fleet): the halt file cannot be read" in garbled.stderr, garbled.stderr
        assert proxy.mutating(outcome=None) == {}, proxy.mutating(outcome=None)

        mine = subprocess.run([BINARY, "apply", "--policy", POLICY, "--vpc", ids["vpc"],
                               "--halt-file", "none"], env=env, capture_output=True, text=True,
                              timeout=300)
        assert mine.returncode == 0 and f"{ids['vpc']}: converged" in mine.stdout, \
            mine.stdout + mine.stderr
    finally:
        proxy.stop()
