"""make demo: dualstackd on the example of AWS's "Migrating to IPv6" guide, against a local EC2
emulator (moto server, signature checking on) and an embedded Kafka (librdkafka's mock cluster,
inside the daemon). Shows the fleet before, the plan, the daemon turning CloudTrail events into
a converged VPC, and the fleet after."""
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "py"))
from daemon_harness import guide_events  # noqa: E402
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


def run_daemon(env, ids):
    """dualstackd run with the embedded Kafka; the guide's CloudTrail events go in."""
    tmp = tempfile.mkdtemp(prefix="dualstackd-demo-")
    cfg = {"kafka": {"brokers": "mock", "group": "demo", "input_topics": ["aws.ec2.events"],
                     "properties": {"session.timeout.ms": "6000",
                                    "heartbeat.interval.ms": "500"}},
           "policy": POLICY, "listen": "127.0.0.1:0", "resync_interval_s": 3600,
           "resync_initial_delay_s": 3600, "halt_file": os.path.join(tmp, "halt")}
    with open(os.path.join(tmp, "config.json"), "w") as f:
        json.dump(cfg, f)
    log_path = os.path.join(tmp, "daemon.log")
    log = open(log_path, "w")
    proc = subprocess.Popen([BINARY, "run", "--config", os.path.join(tmp, "config.json")],
                            env=env, stdout=log, stderr=log)

    def lines():
        return [json.loads(x) for x in open(log_path) if x.startswith("{")]
    try:
        for _ in range(100):
            started = [x for x in lines() if x.get("msg") == "started"]
            if started:
                break
            time.sleep(0.1)
        bootstrap, port = started[0]["brokers"], started[0]["metrics_port"]
        print(f"dualstackd run: embedded Kafka at {bootstrap}, metrics on :{port}")
        events = guide_events(ids)
        subprocess.run(["kcat", "-b", bootstrap, "-P", "-t", "aws.ec2.events"], text=True,
                       input="".join(json.dumps(e) + "\n" for e in events), check=True,
                       timeout=30)
        t0 = time.time()
        print(f"published {len(events)} CloudTrail events: "
              + ", ".join(e["detail"]["eventName"] for e in events))
        while time.time() - t0 < 90:
            done = [x for x in lines() if x.get("msg") == "reconciled" and x.get("vpc") == ids["vpc"]]
            if done:
                print(f"reconciled {ids['vpc']}: {done[-1]['outcome']} "
                      f"({time.time() - t0:.1f} s after the events)")
                break
            time.sleep(0.2)
        else:
            sys.exit("the daemon did not reconcile the VPC:\n" + open(log_path).read()[-3000:])
        metrics = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics").read().decode()
        print("metrics:", "; ".join(m for m in metrics.splitlines()
                                    if m.startswith(("dualstackd_events_total",
                                                     "dualstackd_reconciles_total"))))
    finally:
        proc.send_signal(signal.SIGTERM)
        print(f"dualstackd run stopped on SIGTERM (exit {proc.wait(15)})")


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
        print("== the daemon")
        run_daemon(env, ids)
        print("\n== after")
        summary(env, ids["vpc"])
        print("\n== dualstackd apply (one-shot): nothing left to do")
        rc, out, err = dualstackd(env, "apply", "--policy", POLICY, "--vpc", ids["vpc"])
        print(out + err)
        sys.exit(rc)
    finally:
        moto.stop()


if __name__ == "__main__":
    main()
