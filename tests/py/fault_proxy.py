"""A fault-injecting HTTP proxy that models real EC2 in front of moto.

moto answers every call at once and never throttles; EC2 does not. This proxy sits between
dualstackd and moto and:
  * enforces EC2's documented request token buckets, one per action, sized by the action's
    throttling category, answering HTTP 503 RequestLimitExceeded (EC2's XML) when empty;
  * injects 5xx answers, connection resets (after forwarding: the call happened, the answer
    was lost) and latency at configured rates;
  * makes stops and starts take time, as on EC2 (moto's are instant): for stop_s after a
    StopInstances the instance reads "stopping", for start_s after a StartInstances "pending",
    and ModifyInstanceAttribute of its type answers IncorrectInstanceState unless it is
    stopped;
  * enforces the resource buckets of StartInstances (1000, 2/s) and StopInstances (1000,
    20/s): a token per instance;
  * given a boto3 client to moto (ec2=), refuses what EC2 refuses and moto does not: a subnet's
    /64 while its AssignIpv6AddressOnCreation is on, a VPC's /56 while a subnet has a /64 of
    it (InvalidCidrBlock.InUse, EC2's words);
  * counts calls per action and outcome: the yardstick for pacing and API efficiency.

Use in-process (FaultProxy(...).start()) from tests, or run it:
  python3 tests/py/fault_proxy.py --upstream http://127.0.0.1:5000 --port 5001 --p5xx 0.1
"""
import argparse
import collections
import json
import http.client
import http.server
import ipaddress
import random
import re
import socket
import socketserver
import struct
import threading
import time
import urllib.parse

# (size, refill per second), EC2 API Reference "Request throttling", as of this writing.
CATEGORY_BUCKETS = {
    "non-mutating": (100, 20),
    "unfiltered": (50, 10),
    "mutating": (50, 5),
    "resource-intensive": (50, 5),
    "AssignIpv6Addresses": (100, 5),
    "StartInstances": (5, 2),
    "ssm": (10, 5),
}
RESOURCE_INTENSIVE = {"AuthorizeSecurityGroupIngress", "AuthorizeSecurityGroupEgress",
                      "RevokeSecurityGroupIngress", "RevokeSecurityGroupEgress"}
UNFILTERABLE = {"DescribeInstances", "DescribeSecurityGroups", "DescribeNetworkInterfaces"}


RESOURCE_BUCKETS = {"StartInstances": (1000, 2), "StopInstances": (1000, 20)}
STATE_CODES = {"pending": 0, "running": 16, "stopping": 64, "stopped": 80}


def category(action, params):
    if params.get("__ssm"):
        return "ssm"
    if action in RESOURCE_INTENSIVE:
        return "resource-intensive"
    if action in ("AssignIpv6Addresses", "StartInstances"):
        return action
    if action.startswith(("Describe", "Get", "List")):
        filtered = any(k not in ("Action", "Version") for k in params)
        return "unfiltered" if action in UNFILTERABLE and not filtered else "non-mutating"
    return "mutating"


class Bucket:
    def __init__(self, size, refill):
        self.size, self.refill = size, refill
        self.tokens, self.last = float(size), time.monotonic()

    def take(self):
        now = time.monotonic()
        self.tokens = min(self.size, self.tokens + (now - self.last) * self.refill)
        self.last = now
        if self.tokens >= 1:
            self.tokens -= 1
            return True
        return False


THROTTLE_XML = (b'<?xml version="1.0" encoding="UTF-8"?>\n<Response><Errors><Error>'
                b'<Code>RequestLimitExceeded</Code><Message>Request limit exceeded.</Message>'
                b'</Error></Errors><RequestID>%s</RequestID></Response>')
FAULT_XML = (b'<?xml version="1.0" encoding="UTF-8"?>\n<Response><Errors><Error>'
             b'<Code>%s</Code><Message>injected by fault_proxy</Message></Error></Errors>'
             b'<RequestID>%s</RequestID></Response>')
ERROR_XML = (b'<?xml version="1.0" encoding="UTF-8"?>\n<Response><Errors><Error>'
             b'<Code>%s</Code><Message>%s</Message></Error></Errors>'
             b'<RequestID>%s</RequestID></Response>')


class FaultProxy:
    def __init__(self, upstream, port=0, buckets=True, p5xx=0.0, preset=0.0, latency_ms=0,
                 seed=None, scale=1.0, stop_s=0.0, start_s=0.0, ec2=None):
        u = urllib.parse.urlparse(upstream)
        self.upstream_host, self.upstream_port = u.hostname, u.port or 80
        self.buckets_on = buckets
        self.ec2 = ec2  # a boto3 client to moto itself: the EC2 rules that need its state
        self.p5xx, self.preset, self.latency_ms = p5xx, preset, latency_ms
        self.scale = scale  # multiplies bucket sizes and rates (1.0 = EC2's numbers)
        # drop_action: requests of this action are held (drop_seen is set) and then dropped
        # with a reset once drop_release is set - a crash test kills dualstackd meanwhile.
        self.drop_action = None
        # SSM DescribeInstanceInformation, which moto lacks: {instance id: platform dict}
        self.ssm_instances = None
        # SSM GetCommandInvocation outcomes moto cannot produce (it reports Success for
        # everything): {instance id: "Failed" | "TimedOut" | ...}
        self.command_status = {}
        # instance state as the calls that went through say it: what a stop does to a fleet
        self.stopped = {}  # instance id -> time of its StopInstances
        self.max_stopped = 0  # most instances stopped by calls at one time
        self.instances_stopped = 0  # instances EC2 accepted a stop for (a request may carry many)
        self.types = {}  # instance id -> type set by ModifyInstanceAttribute
        self.stop_s, self.start_s = stop_s, start_s
        self.transitions = {}  # instance id -> ("stopping" | "pending", until monotonic time)
        # EC2 out of capacity for these types: StartInstances of an instance modified to one
        # of them answers InsufficientInstanceCapacity (HTTP 500), as EC2 does
        self.no_capacity = set()
        # {action: (code, http status)}: every call of the action fails with it (not forwarded)
        self.fail_actions = {}
        # this share of mutating calls fails for good (InvalidParameterValue, not forwarded):
        # a fleet where something is wrong, for the blast-radius guard
        self.fail_ratio = 0.0
        self.fail_rng = random.Random(f"fail-{seed}")
        # every mutating call that reached the proxy: (wall time, action, {param: value})
        self.writes = []
        # {action: [(code, status, {header: value})]}: the next calls fail with these, in turn
        self.fail_next = {}
        self.amz_dates = []  # (action, X-Amz-Date) of every request, for the clock tests
        self.drop_seen = threading.Event()
        self.drop_release = threading.Event()
        self.rng = random.Random(seed)
        self.lock = threading.Lock()
        self.buckets = {}
        self.counts = collections.Counter()  # (action, outcome) -> n
        self.events = []  # (time, action, outcome)
        self.local = threading.local()
        proxy = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a):
                pass

            def do_POST(self):
                proxy.handle(self)

            def do_GET(self):
                proxy.handle(self)

        class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
            daemon_threads = True
            allow_reuse_address = True
            request_queue_size = 128

        self.server = Server(("127.0.0.1", port), Handler)
        self.port = self.server.server_address[1]
        self.endpoint = f"http://127.0.0.1:{self.port}"
        self.thread = None

    # -- bookkeeping --
    def count(self, action, outcome):
        with self.lock:
            self.counts[(action, outcome)] += 1
            self.events.append((time.monotonic(), action, outcome))

    MUTATING_PREFIXES = ("Create", "Associate", "Authorize", "Modify", "Assign", "Stop", "Start",
                         "Delete", "Revoke", "Replace", "Attach", "Run", "SendCommand",
                         "Disassociate", "Unassign", "Detach")

    def mutating(self, outcome="ok"):
        """{action: n} of mutating EC2 calls that reached moto (outcome ok by default)."""
        out = collections.Counter()
        with self.lock:
            for (a, o), n in self.counts.items():
                if a.startswith(self.MUTATING_PREFIXES) and (outcome is None or o == outcome):
                    out[a] += n
        return dict(out)

    def calls(self, action=None, outcome=None):
        with self.lock:
            return sum(n for (a, o), n in self.counts.items()
                       if (action is None or a == action) and (outcome is None or o == outcome))

    def actions(self):
        """{action: {outcome: n}}"""
        out = collections.defaultdict(dict)
        with self.lock:
            for (a, o), n in self.counts.items():
                out[a][o] = n
        return dict(out)

    def reset_counts(self):
        with self.lock:
            self.counts.clear()
            self.events.clear()

    def track(self, action, params):
        """Follows stops and starts that EC2 accepted."""
        ids = [v for k, v in params.items() if k.startswith("InstanceId")]
        with self.lock:
            if action == "StopInstances":
                self.instances_stopped += len(ids)
                for i in ids:
                    self.stopped.setdefault(i, time.monotonic())
                    if self.stop_s:
                        self.transitions[i] = ("stopping", time.monotonic() + self.stop_s)
                self.max_stopped = max(self.max_stopped, len(self.stopped))
            elif action == "StartInstances":
                for i in ids:
                    self.stopped.pop(i, None)
                    if self.start_s:
                        self.transitions[i] = ("pending", time.monotonic() + self.start_s)
            elif action == "ModifyInstanceAttribute" and params.get("InstanceType.Value"):
                self.types[params.get("InstanceId")] = params["InstanceType.Value"]

    def capacity_refused(self, action, params):
        if action != "StartInstances" or not self.no_capacity:
            return False
        ids = [v for k, v in params.items() if k.startswith("InstanceId")]
        with self.lock:
            return any(self.types.get(i) in self.no_capacity for i in ids)

    def resource_tokens(self, action, params):
        """Start/Stop also take a token per instance from their resource bucket."""
        if action not in RESOURCE_BUCKETS:
            return True
        n = len([k for k in params if k.startswith("InstanceId")])
        size, refill = RESOURCE_BUCKETS[action]
        with self.lock:
            b = self.buckets.get(action + "#resource")
            if b is None:
                b = self.buckets[action + "#resource"] = Bucket(size * self.scale,
                                                                refill * self.scale)
            now = time.monotonic()
            b.tokens = min(b.size, b.tokens + (now - b.last) * b.refill)
            b.last = now
            if b.tokens >= n:
                b.tokens -= n
                return True
            return False

    def phase(self, iid):
        """"stopping" or "pending" while a stop or start is still under way, else None."""
        with self.lock:
            t = self.transitions.get(iid)
            if t and time.monotonic() < t[1]:
                return t[0]
            self.transitions.pop(iid, None)
            return None

    def retype_refused(self, action, params):
        """EC2 retypes only stopped instances; moto retypes anything."""
        if action != "ModifyInstanceAttribute" or not (self.stop_s or self.start_s) or \
                "InstanceType.Value" not in params:
            return False
        return self.phase(params.get("InstanceId")) is not None

    def cidr_in_use(self, action, params):
        """EC2's InvalidCidrBlock.InUse message for a disassociation moto would accept, or None:
        a subnet's /64 while the subnet assigns IPv6 on creation; a VPC's /56 while one of its
        subnets has a live /64 in it."""
        if not self.ec2 or action not in ("DisassociateSubnetCidrBlock",
                                          "DisassociateVpcCidrBlock"):
            return None
        assoc = params.get("AssociationId", "")

        def live(a):  # moto writes a subnet's state as "{'State': 'associated'}"
            state = str(a.get("Ipv6CidrBlockState", {}).get("State", ""))
            return "associat" in state and "disassociat" not in state
        subnets = self.ec2.describe_subnets()["Subnets"]
        if action == "DisassociateSubnetCidrBlock":
            for s in subnets:
                if any(a["AssociationId"] == assoc and live(a) for a in
                       s.get("Ipv6CidrBlockAssociationSet", [])) and \
                        s.get("AssignIpv6AddressOnCreation"):
                    return (f"The subnet IPv6 CIDR block with association ID {assoc} may not be "
                            "disassociated, because its subnet has "
                            "assign-ipv6-address-on-creation set to true.")
            return None
        for v in self.ec2.describe_vpcs()["Vpcs"]:
            for a in v.get("Ipv6CidrBlockAssociationSet", []):
                if a["AssociationId"] != assoc:
                    continue
                block = ipaddress.ip_network(a["Ipv6CidrBlock"])
                for s in subnets:
                    for sa in s.get("Ipv6CidrBlockAssociationSet", []):
                        if s["VpcId"] == v["VpcId"] and live(sa) and \
                                ipaddress.ip_network(sa["Ipv6CidrBlock"]).subnet_of(block):
                            return (f"The vpc {v['VpcId']} currently has a subnet within CIDR "
                                    f"block {a['Ipv6CidrBlock']}")
        return None

    def rewrite_states(self, body):
        """DescribeInstances as EC2 would answer it mid-transition."""
        if not self.transitions or b"<instanceState>" not in body:
            return body

        def fix(m):
            phase = self.phase(m.group(2).decode())
            if not phase:
                return m.group(0)
            return (m.group(1) + str(STATE_CODES[phase]).encode() + m.group(4) +
                    phase.encode() + m.group(6))
        return re.sub(rb"(<instanceId>(i-[0-9a-f]+)</instanceId>.*?<instanceState>\s*<code>)"
                      rb"(\d+)(</code>\s*<name>)(\w+)(</name>)", fix, body, flags=re.S)

    def bucket_for(self, action, params):
        cat = category(action, params)
        size, refill = CATEGORY_BUCKETS[cat]
        with self.lock:
            b = self.buckets.get(action)
            if b is None:
                b = self.buckets[action] = Bucket(size * self.scale, refill * self.scale)
            return b

    # -- the proxy --
    def upstream(self):
        conn = getattr(self.local, "conn", None)
        if conn is None:
            conn = self.local.conn = http.client.HTTPConnection(self.upstream_host,
                                                                self.upstream_port, timeout=60)
        return conn

    def forward(self, req, body):
        for attempt in range(2):
            conn = self.upstream()
            try:
                headers = {k: v for k, v in req.headers.items()}
                conn.request(req.command, req.path, body=body, headers=headers)
                resp = conn.getresponse()
                return resp.status, resp.getheaders(), resp.read()
            except (http.client.HTTPException, OSError):
                conn.close()
                self.local.conn = None
                if attempt:
                    raise

    def reply(self, req, status, body, headers=(), keep_date=False):
        if keep_date:  # an injected Date: the server's clock as the answer tells it
            req.send_response_only(status)
        else:
            req.send_response(status)
        sent = set()
        for k, v in headers:
            if k.lower() in ("content-length", "connection", "transfer-encoding", "server") or \
                    (k.lower() == "date" and not keep_date):
                continue
            req.send_header(k, v)
            sent.add(k.lower())
        if "content-type" not in sent:
            req.send_header("Content-Type", "text/xml;charset=UTF-8")
        req.send_header("Content-Length", str(len(body)))
        req.end_headers()
        req.wfile.write(body)

    def reset(self, req):
        # SO_LINGER 0: close() sends RST, as a dropped connection would.
        req.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        req.close_connection = True
        req.connection.close()

    def handle(self, req):
        n = int(req.headers.get("Content-Length") or 0)
        body = req.rfile.read(n) if n else b""
        target = req.headers.get("X-Amz-Target", "")
        if target:  # JSON protocol (SSM)
            action = target.rsplit(".", 1)[-1]
            params = {"__ssm": True}
        else:
            params = dict(urllib.parse.parse_qsl(body.decode("utf-8", "replace")))
            action = params.get("Action", "other")
        rid = ("%032x" % self.rng.getrandbits(128)).encode()
        if self.latency_ms:
            time.sleep(self.latency_ms / 1000.0)
        if action == self.drop_action:
            self.count(action, "dropped")
            self.drop_seen.set()
            self.drop_release.wait(60)
            return self.reset(req)
        if self.buckets_on and action != "other" and (
                not self.bucket_for(action, params).take() or
                not self.resource_tokens(action, params)):
            self.count(action, "throttled")
            return self.reply(req, 503, THROTTLE_XML % rid)
        if self.retype_refused(action, params):
            self.count(action, "IncorrectInstanceState")
            return self.reply(req, 400, FAULT_XML % (b"IncorrectInstanceState", rid))
        in_use = self.cidr_in_use(action, params)
        if in_use:
            self.count(action, "InvalidCidrBlock.InUse")
            return self.reply(req, 400, ERROR_XML % (b"InvalidCidrBlock.InUse",
                                                     in_use.encode(), rid))
        if action == "DescribeInstanceInformation" and self.ssm_instances is not None:
            ids = set()
            for f in json.loads(body or b"{}").get("Filters", []):
                if f.get("Key") == "InstanceIds":
                    ids |= set(f.get("Values", []))
            items = [dict(InstanceId=i, **p) for i, p in self.ssm_instances.items()
                     if not ids or i in ids]
            self.count(action, "ok")
            return self.reply(req, 200, json.dumps({"InstanceInformationList": items}).encode(),
                              [("Content-Type", "application/x-amz-json-1.1")])
        if self.capacity_refused(action, params):
            self.count(action, "InsufficientInstanceCapacity")
            return self.reply(req, 500, FAULT_XML.replace(b"injected by fault_proxy",
                              b"We currently do not have sufficient capacity.") %
                              (b"InsufficientInstanceCapacity", rid))
        with self.lock:
            self.amz_dates.append((action, req.headers.get("X-Amz-Date", "")))
            queued = self.fail_next.get(action)
            once = queued.pop(0) if queued else None
        if once:
            code, status, extra = once
            self.count(action, code)
            return self.reply(req, status, FAULT_XML % (code.encode(), rid), list(extra.items()),
                              keep_date=True)
        if action.startswith(self.MUTATING_PREFIXES):
            with self.lock:
                self.writes.append((time.time(), action, dict(params)))
                fail = self.fail_ratio and self.fail_rng.random() < self.fail_ratio
            if fail:
                self.count(action, "InvalidParameterValue")
                return self.reply(req, 400, FAULT_XML % (b"InvalidParameterValue", rid))
        if action in self.fail_actions:
            code, status = self.fail_actions[action]
            self.count(action, code)
            return self.reply(req, status, FAULT_XML % (code.encode(), rid))
        if action == "GetCommandInvocation" and self.command_status:
            req_json = json.loads(body or b"{}")
            status = self.command_status.get(req_json.get("InstanceId"))
            if status:
                self.count(action, "ok")
                return self.reply(req, 200, json.dumps({
                    "CommandId": req_json.get("CommandId"), "InstanceId": req_json.get("InstanceId"),
                    "Status": status, "StandardErrorContent": "dhclient: no lease\n"}).encode(),
                    [("Content-Type", "application/x-amz-json-1.1")])
        with self.lock:
            roll = self.rng.random()
        if roll < self.p5xx:
            self.count(action, "injected-5xx")
            code, status = (b"InternalError", 500) if roll < self.p5xx / 2 else \
                (b"Unavailable", 503)
            return self.reply(req, status, FAULT_XML % (code, rid))
        try:
            status, headers, out = self.forward(req, body)
        except OSError:
            self.count(action, "upstream-error")
            return self.reply(req, 502, b"bad gateway")
        if status == 200:
            self.track(action, params)
            if action == "DescribeInstances":
                out = self.rewrite_states(out)
        if roll < self.p5xx + self.preset:
            self.count(action, "reset")  # the call happened; its answer is lost
            return self.reset(req)
        self.count(action, "ok" if status == 200 else f"http-{status}")
        return self.reply(req, status, out, headers)

    def start(self):
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        return self

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--upstream", required=True)
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--p5xx", type=float, default=0.0)
    ap.add_argument("--preset", type=float, default=0.0)
    ap.add_argument("--latency-ms", type=int, default=0)
    ap.add_argument("--no-buckets", action="store_true")
    a = ap.parse_args()
    p = FaultProxy(a.upstream, a.port, not a.no_buckets, a.p5xx, a.preset, a.latency_ms)
    print(p.endpoint, flush=True)
    try:
        p.server.serve_forever()
    except KeyboardInterrupt:
        pass
    for action, outcomes in sorted(p.actions().items()):
        print(action, outcomes)


if __name__ == "__main__":
    main()
