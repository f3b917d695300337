"""make bench, Kafka part: fills a topic on a real broker with realistic 1-3 KB CloudTrail
events (the shared samples with fresh ids over 5,000 VPCs), runs build/rel/ingest through it,
and measures event-to-first-EC2-call latency of an idle `dualstackd run`. Prints Markdown rows."""
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "py"))
from daemon_harness import Daemon, cloudtrail  # noqa: E402
from fault_proxy import FaultProxy  # noqa: E402
from services import ROOT, Kafka, Moto  # noqa: E402

N = int(os.environ.get("INGEST_EVENTS", "200000"))
SAMPLES = ["cloudtrail-AuthorizeSecurityGroupIngress-1.json", "cloudtrail-CreateVpc-1.json",
           "cloudtrail-AuthorizeSecurityGroupEgress-1.json", "cloudtrail-CreateSecurityGroup-1.json",
           "cloudtrail-StartInstances-2.json", "cloudtrail-CreateRoute-1.json"]


def events(n):
    rng = random.Random(1)
    base = [json.load(open(os.path.join(ROOT, "tests", "fixtures", "events", s))) for s in SAMPLES]
    for i in range(n):
        e = json.loads(json.dumps(base[i % len(base)]))
        rec = e.get("detail", e)
        vpc = f"vpc-{rng.randrange(5000):017x}"
        rec.setdefault("requestParameters", {})["vpcId"] = vpc
        rec["eventID"] = f"{i:032x}"
        yield json.dumps(e, separators=(",", ":"))


def ingest(kafka):
    path = os.path.join(tempfile.mkdtemp(), "events.ndjson")
    sizes = []
    with open(path, "w") as f:
        for line in events(N):
            sizes.append(len(line))
            f.write(line + "\n")
    subprocess.run(["kcat", "-b", kafka.bootstrap, "-P", "-t", "ingest", "-l", "-z", "lz4",
                    "-X", "linger.ms=50", "-X", "batch.num.messages=10000", path], check=True,
                   timeout=600)
    out = subprocess.run([os.path.join(ROOT, "build", "rel", "ingest"), kafka.bootstrap,
                          "ingest", str(N)], capture_output=True, text=True, timeout=600)
    r = json.loads(out.stdout)
    print(f"| Ingest from a real broker through decode and coalescing, no AWS call "
          f"({N} CloudTrail events of {min(sizes)}-{max(sizes)} B, {r['queued_vpcs']} VPCs) "
          f"| {r['events_per_s']:.0f} events/s; {r['loop_cpu_us_per_event']:.2f} us loop CPU "
          f"per event | >= 100000 events/s |")


def latency(kafka):
    moto = Moto().start()
    proxy = FaultProxy(moto.endpoint).start()
    try:
        ec2 = moto.client()
        d = Daemon(kafka, moto)
        d.env["AWS_ENDPOINT_URL"] = proxy.endpoint
        d.start()
        lat = []
        for i in range(31):  # the first warms up: credentials (STS) and connections
            vpc = ec2.create_vpc(CidrBlock=f"10.{i}.0.0/16")["Vpc"]["VpcId"]
            proxy.reset_counts()
            d.publish([cloudtrail("CreateVpc", "123456789012", "us-east-1", {},
                                  {"vpc": {"vpcId": vpc}})])
            t0 = time.monotonic()
            while time.monotonic() - t0 < 10 and not any(a.startswith("Describe") for _, a, _ in proxy.events):
                time.sleep(0.0005)
            first = min(t for t, a, _ in proxy.events if a.startswith("Describe"))
            if i:
                lat.append((first - t0) * 1000)
            time.sleep(0.5)  # idle between events
        d.stop()
        lat.sort()
        p99 = lat[min(len(lat) - 1, int(len(lat) * 0.99))]
        print(f"| Event-to-first-EC2-call latency, idle daemon, real broker (30 events; "
              f"from kcat's acknowledged produce to the first Describe at the proxy) | "
              f"p50 {statistics.median(lat):.1f} ms, p99 {p99:.1f} ms | p99 < 20 ms |")
    finally:
        proxy.stop()
        moto.stop()


def main():
    kafka = Kafka().start()
    try:
        ingest(kafka)
        latency(kafka)
    finally:
        kafka.stop()


if __name__ == "__main__":
    main()
