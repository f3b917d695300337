"""Runs `dualstackd run` against the test services, and builds EC2 events for it."""
import json
import os
import signal
import subprocess
import tempfile
import time
import urllib.request
import uuid

from conftest import BINARY, ROOT

POLICY = os.path.join(ROOT, "tests", "policies", "canonical.json")


class Daemon:
    def __init__(self, kafka, moto, policy=POLICY, suffix=None, group=None, extra=None,
                 endpoint=None):
        self.suffix = suffix or uuid.uuid4().hex[:8]
        self.dir = tempfile.mkdtemp(prefix="dualstackd-")
        self.topics = {"input": f"ec2-events-{self.suffix}", "work": f"work-{self.suffix}",
                       "dlq": f"deadletter-{self.suffix}", "audit": f"audit-{self.suffix}"}
        self.policy = os.path.join(self.dir, "policy.json")
        with open(self.policy, "w") as f:
            f.write(open(policy).read())
        self.config = os.path.join(self.dir, "config.json")
        cfg = {"kafka": {"brokers": kafka.bootstrap, "group": group or f"g-{self.suffix}",
                         "input_topics": [self.topics["input"]],
                         "work_topic": self.topics["work"],
                         "dead_letter_topic": self.topics["dlq"],
                         "audit_topic": self.topics["audit"],
                         "properties": {"session.timeout.ms": "6000",
                                        "heartbeat.interval.ms": "500"}},
               "policy": self.policy, "listen": "127.0.0.1:0",
               "halt_file": os.path.join(self.dir, "halt"),
               "resync_interval_s": 3600, "resync_initial_delay_s": 3600}
        cfg.update(extra or {})
        with open(self.config, "w") as f:
            json.dump(cfg, f)
        self.env = moto.env(endpoint)
        self.env["DUALSTACKD_BUCKET_SCALE"] = "10"
        self.kafka = kafka
        self.proc = None
        self.log_path = os.path.join(self.dir, "daemon.log")

    def start(self, wait_ready=True):
        self.log = open(self.log_path, "a")
        self.proc = subprocess.Popen([BINARY, "run", "--config", self.config], env=self.env,
                                     stdout=self.log, stderr=self.log)
        if wait_ready:
            self.wait_log('"msg":"partitions assigned"', 60)
        return self

    def lines(self):
        out = []
        for line in open(self.log_path):
            if line.startswith("{"):
                try:
                    out.append(json.loads(line))
                except ValueError:
                    pass
        return out

    def wait_log(self, needle, timeout, count=1):
        end = time.time() + timeout
        while time.time() < end:
            if open(self.log_path).read().count(needle) >= count:
                return True
            assert self.proc.poll() is None, open(self.log_path).read()[-3000:]
            time.sleep(0.1)
        raise AssertionError(f"no {needle!r} in {timeout}s:\n" + open(self.log_path).read()[-3000:])

    def metrics(self):
        port = next(line["metrics_port"] for line in self.lines() if line.get("msg") == "started")
        return urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read().decode()

    def publish(self, events):
        self.kafka.produce(self.topics["input"], [json.dumps(e) if not isinstance(e, str) else e
                                                  for e in events])

    def stop(self, sig=signal.SIGTERM, timeout=15):
        """Signals the daemon and returns its exit status; a daemon that does not exit within
        timeout is killed and the test fails with the end of its log."""
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                return self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                raise AssertionError(f"no exit {timeout}s after signal {sig}:\n"
                                     + open(self.log_path).read()[-4000:])
        return self.proc.returncode if self.proc else None


def cloudtrail(name, account, region, request=None, response=None, error=None):
    """An EventBridge "AWS API Call via CloudTrail" event for an EC2 call."""
    detail = {"eventVersion": "1.08", "eventSource": "ec2.amazonaws.com", "eventName": name,
              "awsRegion": region, "recipientAccountId": account, "eventType": "AwsApiCall",
              "eventID": str(uuid.uuid4()), "requestParameters": request or {},
              "responseElements": response or {}}
    if error:
        detail["errorCode"] = error
    return {"version": "0", "id": str(uuid.uuid4()), "detail-type": "AWS API Call via CloudTrail",
            "source": "aws.ec2", "account": account, "time": "2026-11-26T12:00:00Z",
            "region": region, "resources": [], "detail": detail}


def guide_events(ids, account="123456789012", region="us-east-1"):
    """The calls that built the guide's example, as CloudTrail would report them."""
    return [
        cloudtrail("CreateVpc", account, region, {"cidrBlock": "10.0.0.0/16"},
                   {"vpc": {"vpcId": ids["vpc"]}}),
        cloudtrail("CreateSubnet", account, region, {"vpcId": ids["vpc"], "cidrBlock": "10.0.0.0/24"},
                   {"subnet": {"subnetId": ids["public"], "vpcId": ids["vpc"]}}),
        cloudtrail("CreateRoute", account, region, {"routeTableId": ids["rt_public"],
                                                    "destinationCidrBlock": "0.0.0.0/0",
                                                    "gatewayId": ids["igw"]}),
        cloudtrail("CreateSecurityGroup", account, region, {"groupName": "web", "vpcId": ids["vpc"]},
                   {"groupId": ids["web_sg"]}),
        cloudtrail("AuthorizeSecurityGroupIngress", account, region,
                   {"groupId": ids["web_sg"], "ipPermissions": {"items": [
                       {"ipProtocol": "tcp", "fromPort": 443, "toPort": 443,
                        "ipRanges": {"items": [{"cidrIp": "0.0.0.0/0"}]}}]}}),
        cloudtrail("RunInstances", account, region, {"instanceType": "m3.large"},
                   {"instancesSet": {"items": [{"instanceId": ids["db"], "subnetId": ids["private"],
                                                "vpcId": ids["vpc"]}]}}),
    ]
