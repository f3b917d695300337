"""Real test services on loopback: moto server with signature checking on, and a single-node
Apache Kafka broker (KRaft) run from Maven Central jars with plain `java`. Each starts on free
ports, waits until it answers, and is always torn down by its owner (pytest fixtures, demo)."""
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.request

import boto3

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
REGION = "us-east-1"
ACCOUNT = "123456789012"


def _ephemeral_range():
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
            low, high = (int(x) for x in f.read().split())
            return low, high
    except (OSError, ValueError):
        return 32768, 60999


_ports = random.Random(os.getpid() ^ time.monotonic_ns())


def free_port():
    """A loopback port a service may bind later. It comes from below the kernel's ephemeral range:
    a port the kernel handed out (bind to 0) goes back to the ephemeral pool when the probe closes,
    and every outgoing loopback connection of the parallel tests (thousands to moto) may take it
    as its source port before the service binds it - a broker that then fails to start."""
    low, _ = _ephemeral_range()
    if low > 12000:
        for _ in range(200):
            port = _ports.randrange(10000, low)
            with socket.socket() as s:
                try:
                    s.bind(("127.0.0.1", port))
                except OSError:
                    continue
                return port
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# A port taken between its choice and the service's bind (by another test's service) is a
# service that exits at once: it is started again on a fresh port, this many times at most.
PORT_ATTEMPTS = 3


def log_tail(path, lines=15):
    with open(path, errors="replace") as f:
        return "".join(f.readlines()[-lines:])


def lost_its_port(log_path):
    with open(log_path, errors="replace") as f:
        return "Address already in use" in f.read()


class ServiceExited(RuntimeError):
    """The process waited for is gone: no point waiting for it any longer."""


def wait_until(pred, timeout, what):
    deadline = time.time() + timeout
    last = None
    while time.time() < deadline:
        try:
            if pred():
                return
        except ServiceExited:
            raise
        except Exception as e:  # not up yet
            last = e
        time.sleep(0.1)
    raise RuntimeError(f"{what} not ready after {timeout}s: {last}")


class Moto:
    """moto_server with SigV4 checking on. The first FREE_ACTIONS requests are unauthenticated
    (INITIAL_NO_AUTH_ACTION_COUNT): they create an IAM user with ec2/ssm/sts rights, its access
    key, and a role that user may assume. Every later request must be signed correctly."""

    FREE_ACTIONS = 5

    def __init__(self):
        self.port = free_port()
        self.endpoint = f"http://127.0.0.1:{self.port}"
        self.proc = None
        self.log = tempfile.NamedTemporaryFile(prefix="moto-", suffix=".log", delete=False)

    def _answers(self):
        if self.proc.poll() is not None:  # before asking: the port may be another's moto
            raise ServiceExited(f"moto exited ({self.proc.returncode}); the end of "
                                f"{self.log.name}:\n{log_tail(self.log.name)}")
        return urllib.request.urlopen(self.endpoint + "/moto-api/", timeout=1).status == 200

    def start(self):
        env = dict(os.environ, INITIAL_NO_AUTH_ACTION_COUNT=str(self.FREE_ACTIONS),
                   MOTO_ALLOW_NONEXISTENT_REGION="true")
        exe = shutil.which("moto_server")
        if not exe:
            raise RuntimeError("moto_server not found: run tests/deps.sh")
        for attempt in range(1, PORT_ATTEMPTS + 1):
            self.proc = subprocess.Popen([exe, "-H", "127.0.0.1", "-p", str(self.port)],
                                         env=env, stdout=self.log, stderr=subprocess.STDOUT,
                                         start_new_session=True)
            try:
                wait_until(self._answers, 30, "moto")
                break
            except ServiceExited:
                if attempt == PORT_ATTEMPTS or not lost_its_port(self.log.name):
                    raise
                self.port = free_port()
                self.endpoint = f"http://127.0.0.1:{self.port}"
        iam = boto3.client("iam", endpoint_url=self.endpoint, region_name=REGION,
                           aws_access_key_id="bootstrap", aws_secret_access_key="bootstrap")
        user = iam.create_user(UserName="dualstackd-test")["User"]
        key = iam.create_access_key(UserName="dualstackd-test")["AccessKey"]
        iam.put_user_policy(UserName="dualstackd-test", PolicyName="all", PolicyDocument=json.dumps(
            {"Version": "2012-10-17", "Statement": [
                {"Effect": "Allow", "Action": ["ec2:*", "ssm:*", "sts:*", "iam:*"],
                 "Resource": "*"}]}))
        trust = {"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Principal": {"AWS": user["Arn"]}, "Action": "sts:AssumeRole"}]}
        role = iam.create_role(RoleName="dualstackd", AssumeRolePolicyDocument=json.dumps(trust))
        iam.put_role_policy(RoleName="dualstackd", PolicyName="all", PolicyDocument=json.dumps(
            {"Version": "2012-10-17", "Statement": [
                {"Effect": "Allow", "Action": ["ec2:*", "ssm:*"], "Resource": "*"}]}))
        self.role_arn = role["Role"]["Arn"]
        self.access_key = key["AccessKeyId"]
        self.secret_key = key["SecretAccessKey"]
        return self

    def env(self, endpoint=None):
        """Environment for a dualstackd process talking to this moto (or a proxy in front)."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
        env.update(AWS_REGION=REGION, AWS_ENDPOINT_URL=endpoint or self.endpoint,
                   AWS_ACCESS_KEY_ID=self.access_key, AWS_SECRET_ACCESS_KEY=self.secret_key,
                   AWS_EC2_METADATA_DISABLED="true")
        return env

    def client(self, service="ec2"):
        return boto3.client(service, endpoint_url=self.endpoint, region_name=REGION,
                            aws_access_key_id=self.access_key,
                            aws_secret_access_key=self.secret_key)

    def stop(self):
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        self.log.close()
        os.unlink(self.log.name)


def kafka_libs():
    libs = os.path.join(ROOT, "build", "kafka-libs")
    if not os.path.isdir(libs) or not any(n.startswith("kafka_") for n in os.listdir(libs)):
        raise RuntimeError("Kafka jars missing: run tests/deps.sh")
    return libs


SCRAM_USER, SCRAM_PASSWORD = "dualstackd", "scram-secret-of-the-test"


class Kafka:
    """A real Apache Kafka broker, KRaft combined mode, one node, on loopback. secure=True adds
    a second listener as production brokers have it: SASL_SSL with SCRAM-SHA-512 (the user
    created when the storage is formatted) and a broker certificate signed by a CA made with
    keytool at start (self.ca_pem for clients)."""

    def __init__(self, secure=False):
        self.dir = tempfile.mkdtemp(prefix="kafka-")
        self.proc = None
        self.secure = secure
        self._pick_ports()
        if secure:
            self.ca_pem = os.path.join(self.dir, "ca.pem")

    def _pick_ports(self):
        self.port = free_port()
        self.controller_port = free_port()
        self.bootstrap = f"127.0.0.1:{self.port}"
        if self.secure:
            self.secure_port = free_port()
            self.secure_bootstrap = f"127.0.0.1:{self.secure_port}"

    def _make_certificates(self):
        """A CA and a broker certificate for 127.0.0.1/localhost, with keytool only."""
        pw = "test-store-pass"
        ca, broker = os.path.join(self.dir, "ca.p12"), os.path.join(self.dir, "broker.p12")

        def kt(*args):
            subprocess.run(["keytool", *args], check=True, capture_output=True, timeout=60)
        kt("-genkeypair", "-alias", "ca", "-keyalg", "RSA", "-keysize", "2048", "-validity", "2",
           "-dname", "CN=dualstackd-test-ca", "-ext", "bc:c", "-keystore", ca, "-storetype",
           "PKCS12", "-storepass", pw, "-keypass", pw)
        kt("-exportcert", "-rfc", "-alias", "ca", "-keystore", ca, "-storepass", pw, "-file",
           self.ca_pem)
        kt("-genkeypair", "-alias", "broker", "-keyalg", "RSA", "-keysize", "2048", "-validity",
           "2", "-dname", "CN=localhost", "-keystore", broker, "-storetype", "PKCS12",
           "-storepass", pw, "-keypass", pw)
        csr = os.path.join(self.dir, "broker.csr")
        signed = os.path.join(self.dir, "broker.pem")
        kt("-certreq", "-alias", "broker", "-keystore", broker, "-storepass", pw, "-file", csr)
        kt("-gencert", "-rfc", "-alias", "ca", "-keystore", ca, "-storepass", pw, "-infile", csr,
           "-outfile", signed, "-validity", "2", "-ext", "SAN=ip:127.0.0.1,dns:localhost")
        kt("-importcert", "-noprompt", "-alias", "ca", "-keystore", broker, "-storepass", pw,
           "-file", self.ca_pem)
        kt("-importcert", "-alias", "broker", "-keystore", broker, "-storepass", pw, "-file",
           signed)
        return broker, pw

    def client_properties(self, password=SCRAM_PASSWORD, ca=None):
        """librdkafka properties for the SASL_SSL listener, as the README shows them."""
        return {"security.protocol": "SASL_SSL", "sasl.mechanisms": "SCRAM-SHA-512",
                "sasl.username": SCRAM_USER, "sasl.password": password,
                "ssl.ca.location": ca or self.ca_pem}

    def start(self, timeout=90):
        """Formats the storage and starts the broker. A port taken between its choice and the
        broker's bind (another test's service) is a broker that exits with a BindException: it is
        started again on fresh ports (PORT_ATTEMPTS in all), and any other exit is an error that
        carries the end of the broker's log."""
        keystore = self._make_certificates() if self.secure else None
        for attempt in range(1, PORT_ATTEMPTS + 1):
            self._configure(keystore)
            self._launch()
            try:
                self._wait_ready(timeout)
                return self
            except ServiceExited:
                if attempt == PORT_ATTEMPTS or not lost_its_port(self.log.name):
                    raise
                self.log.close()
                shutil.rmtree(os.path.join(self.dir, "data"), ignore_errors=True)
                self._pick_ports()

    def _configure(self, keystore):
        cp = os.path.join(kafka_libs(), "*")
        props = os.path.join(self.dir, "server.properties")
        listeners = f"PLAINTEXT://127.0.0.1:{self.port}"
        protocols = "CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT"
        secure = ""
        if keystore:
            keystore, pw = keystore
            listeners += f",SASL_SSL://127.0.0.1:{self.secure_port}"
            protocols += ",SASL_SSL:SASL_SSL"
            secure = f"""sasl.enabled.mechanisms=SCRAM-SHA-512
listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;
ssl.keystore.type=PKCS12
ssl.keystore.location={keystore}
ssl.keystore.password={pw}
ssl.key.password={pw}
"""
        with open(props, "w") as f:
            f.write(f"""process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:{self.controller_port}
listeners={listeners},CONTROLLER://127.0.0.1:{self.controller_port}
advertised.listeners={listeners}
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map={protocols}
{secure}log.dirs={self.dir}/data
num.partitions=3
offsets.topic.replication.factor=1
offsets.topic.num.partitions=3
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
share.coordinator.state.topic.replication.factor=1
group.initial.rebalance.delay.ms=0
auto.create.topics.enable=true
message.max.bytes=10485760
""")
        with open(os.path.join(self.dir, "log4j2.properties"), "w") as f:
            f.write("rootLogger.level=WARN\nrootLogger.appenderRef.stdout.ref=STDOUT\n"
                    "appender.stdout.type=Console\nappender.stdout.name=STDOUT\n"
                    "appender.stdout.layout.type=PatternLayout\n"
                    "appender.stdout.layout.pattern=[%d] %p %m (%c)%n\n")
        java = ["java", "-Xms256m", "-Xmx512m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1",
                f"-Dlog4j2.configurationFile={self.dir}/log4j2.properties", "-cp", cp]
        scram = (["--add-scram", f"SCRAM-SHA-512=[name={SCRAM_USER},password={SCRAM_PASSWORD}]"]
                 if self.secure else [])
        subprocess.run(java + ["kafka.tools.StorageTool", "format", "-t",
                               "q1Sh-9_ISia_zwGINzRvyQ", "-c", props, "--ignore-formatted"] +
                       scram, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
        self.java, self.props = java, props

    def _launch(self):
        self.log = open(os.path.join(self.dir, "broker.log"), "a")
        self.proc = subprocess.Popen(self.java + ["kafka.Kafka", self.props], stdout=self.log,
                                     stderr=subprocess.STDOUT, start_new_session=True)

    def restart(self, down_s=3, timeout=90):
        """Stops the broker (SIGTERM), keeps it down for down_s, starts it on the same data."""
        os.killpg(self.proc.pid, signal.SIGTERM)
        self.proc.wait(30)
        self.log.close()
        time.sleep(down_s)
        self._launch()
        self._wait_ready(timeout)

    def _wait_ready(self, timeout):
        def ready():
            if self.proc.poll() is not None:
                self.log.flush()
                raise ServiceExited(f"broker exited ({self.proc.returncode}); the end of "
                                    f"{self.log.name}:\n{log_tail(self.log.name)}")
            r = subprocess.run(["kcat", "-b", self.bootstrap, "-L", "-m", "2"],
                               capture_output=True, text=True, timeout=10)
            return r.returncode == 0 and "1 brokers" in r.stdout
        wait_until(ready, timeout, "kafka")

    def produce(self, topic, messages, key=None):
        data = "".join(m.replace("\n", " ") + "\n" for m in messages)
        cmd = ["kcat", "-b", self.bootstrap, "-P", "-t", topic, "-X", "message.max.bytes=10485760"]
        subprocess.run(cmd, input=data, text=True, check=True, timeout=30)

    def consume(self, topic, count, timeout=30):
        r = subprocess.run(["kcat", "-b", self.bootstrap, "-C", "-t", topic, "-o", "beginning",
                            "-c", str(count), "-e", "-q"], capture_output=True, text=True,
                           timeout=timeout)
        return [line for line in r.stdout.splitlines() if line]

    def stop(self):
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        if self.proc:
            self.log.close()
        shutil.rmtree(self.dir, ignore_errors=True)
