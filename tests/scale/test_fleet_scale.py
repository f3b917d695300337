"""Fleet scale (make test-scale, not in make test): a resync over 1,000 VPCs in 10 accounts x 2
regions converges through one daemon; its RSS per tracked VPC, the /metrics scrape size and the
time are written to docs/benchmarks-recorded.md's scale section.

moto keeps accounts apart by the credentials' account. A member account's AssumeRole session
is only accepted by moto's signature checking when that account's IAM is set up, so this one
test runs moto without signature checking (every other integration test keeps it on)."""
import json
import os
import re
import subprocess
import sys
import time
import urllib.request

import boto3

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "py"))
from conftest import BINARY, ROOT  # noqa: E402
from bench_record import record_section  # noqa: E402
from daemon_harness import Daemon  # noqa: E402
from fleet import resize_fleet  # noqa: E402
from services import Kafka, Moto, free_port, wait_until  # noqa: E402

ACCOUNTS = [f"{222222222222 + i * 1111:012d}" for i in range(10)]
REGIONS = ["us-east-1", "eu-west-1"]
PER_TARGET = 50


class PlainMoto(Moto):
    """moto without signature checking: any key is accepted, the account comes from the
    AssumeRole session the key belongs to."""

    def start(self):
        exe = "moto_server"
        env = dict(os.environ)
        env.pop("INITIAL_NO_AUTH_ACTION_COUNT", None)
        self.proc = subprocess.Popen([exe, "-H", "127.0.0.1", "-p", str(self.port)], env=env,
                                     stdout=self.log, stderr=subprocess.STDOUT,
                                     start_new_session=True)
        wait_until(lambda: urllib.request.urlopen(self.endpoint + "/moto-api/", timeout=1)
                   .status == 200, 30, "moto")
        self.access_key, self.secret_key = "AKIAOPSACCOUNT000000", "ops-secret"
        self.role_arn = None
        return self


def member_ec2(moto, account, region):
    sts = boto3.client("sts", endpoint_url=moto.endpoint, region_name=region,
                       aws_access_key_id=moto.access_key, aws_secret_access_key=moto.secret_key)
    c = sts.assume_role(RoleArn=f"arn:aws:iam::{account}:role/dualstackd",
                        RoleSessionName="fleet")["Credentials"]
    return boto3.client("ec2", endpoint_url=moto.endpoint, region_name=region,
                        aws_access_key_id=c["AccessKeyId"], aws_secret_access_key=c["SecretAccessKey"],
                        aws_session_token=c["SessionToken"])


def build_target(ec2, n):
    return [v["vpc"] for v in resize_fleet(ec2, n=n, per_vpc=0)]


def converged(ec2, vpcs):
    have = {v["VpcId"]: v for v in ec2.describe_vpcs(Filters=[
        {"Name": "vpc-id", "Values": vpcs}])["Vpcs"]}
    subnets = ec2.describe_subnets(Filters=[{"Name": "vpc-id", "Values": vpcs}])["Subnets"]
    done = sum(1 for v in vpcs if any(
        a["Ipv6CidrBlockState"]["State"] == "associated"
        for a in have[v].get("Ipv6CidrBlockAssociationSet", [])))
    return done, all(s.get("Ipv6CidrBlockAssociationSet") for s in subnets)


def rss_kb(pid):
    for line in open(f"/proc/{pid}/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def test_resync_of_1000_vpcs_in_20_targets_converges():
    kafka = Kafka().start()
    moto = PlainMoto().start()
    try:
        t0 = time.time()
        fleet = {}
        for a in ACCOUNTS:
            for r in REGIONS:
                ec2 = member_ec2(moto, a, r)
                fleet[(a, r)] = (ec2, build_target(ec2, PER_TARGET))
        built = time.time() - t0
        policy = json.load(open(os.path.join(ROOT, "tests", "policies", "canonical.json")))
        policy["scope"]["accounts"] = ACCOUNTS
        policy["scope"]["regions"] = REGIONS
        policy["instances"]["resize"] = "never"
        path = "/tmp/dualstackd-scale-policy.json"
        json.dump(policy, open(path, "w"))
        d = Daemon(kafka, moto, policy=path,
                   extra={"resync_interval_s": 3600, "resync_initial_delay_s": 1,
                          "max_concurrent_reconciles": 16})
        d.env["DUALSTACKD_BUCKET_SCALE"] = "1000"  # moto never throttles: measure the daemon
        rss0 = None
        d.start()
        rss0 = rss_kb(d.proc.pid)
        t1 = time.time()
        deadline = t1 + 1800
        total = PER_TARGET * len(fleet)
        while time.time() < deadline:
            done = 0
            for (a, r), (ec2, vpcs) in fleet.items():
                n, _ = converged(ec2, vpcs)
                done += n
            if done == total:
                break
            time.sleep(10)
        took = time.time() - t1
        assert done == total, f"{done} of {total} VPCs have their /56"
        for (a, r), (ec2, vpcs) in fleet.items():
            _, subnets_ok = converged(ec2, vpcs)
            assert subnets_ok, f"{a}/{r}: a subnet without its /64"
        time.sleep(8)
        port = next(line["metrics_port"] for line in d.lines() if line.get("msg") == "started")
        scrape = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10).read()
        rss1 = rss_kb(d.proc.pid)
        series = len([line for line in scrape.splitlines() if line and not line.startswith(b"#")])
        reconciled = open(d.log_path).read().count('"msg":"reconciled"')
        assert d.stop() == 0
        row = (f"| resync of {total} VPCs in {len(ACCOUNTS)} accounts x {len(REGIONS)} regions "
               f"(AssumeRole per account, moto without signature checking, buckets x1000) | "
               f"converged in {took:.0f} s ({reconciled} reconciles); RSS {rss0 / 1024:.1f} MB "
               f"at start, {rss1 / 1024:.1f} MB after ({(rss1 - rss0) * 1024 / total:.0f} B per "
               f"VPC); /metrics {len(scrape)} B, {series} series | converges; bounded |")
        print(row)
        print(f"fleet built in {built:.0f} s")
        record_section("Fleet scale (`make test-scale`, one daemon, real broker, "
                       f"{time.strftime('%Y-%m-%d')})",
                       "| what | measured | target |\n|---|---|---|\n" + row + "\n")
    finally:
        moto.stop()
        kafka.stop()
