"""The test services themselves: a real Kafka broker, and moto refusing bad signatures."""
import socket
import time

import botocore.exceptions
import boto3
import pytest

from services import Kafka, Moto, ServiceExited


def test_kafka_broker_round_trip(kafka):
    msgs = [f'{{"n": {i}}}' for i in range(5)]
    kafka.produce("harness-check", msgs)
    # three partitions: order holds within a partition, not across them
    assert sorted(kafka.consume("harness-check", 5)) == sorted(msgs)


def test_moto_checks_signatures(moto):
    good = moto.client()
    assert "Vpcs" in good.describe_vpcs()
    bad = boto3.client("ec2", endpoint_url=moto.endpoint, region_name="us-east-1",
                       aws_access_key_id=moto.access_key, aws_secret_access_key="wrong")
    with pytest.raises(botocore.exceptions.ClientError) as e:
        bad.describe_vpcs()
    assert e.value.response["Error"]["Code"] == "AuthFailure"


def _hold(port):
    """Another process's listener on port, as when a parallel test's service took it first."""
    s = socket.socket()
    s.bind(("127.0.0.1", port))
    s.listen()
    return s


def test_kafka_starts_on_fresh_ports_when_its_port_was_taken():
    """The CI failure of stop 14: a broker whose port another process bound first exited, and the
    harness waited 90 s without saying why. Now it starts again on fresh ports."""
    broker = Kafka()
    held = _hold(broker.port)
    try:
        taken = broker.port
        broker.start()
        assert broker.port != taken
        assert "Address already in use" in open(broker.log.name).read()
        broker.produce("harness-retry", ['{"n": 1}'])
        assert broker.consume("harness-retry", 1) == ['{"n": 1}']
    finally:
        held.close()
        broker.stop()


def test_moto_starts_on_a_fresh_port_when_its_port_was_taken():
    moto = Moto()
    held = _hold(moto.port)
    try:
        taken = moto.port
        moto.start()
        assert moto.port != taken and "Vpcs" in moto.client().describe_vpcs()
    finally:
        held.close()
        moto.stop()


def test_a_service_that_exits_for_another_reason_fails_at_once_with_its_log():
    broker = Kafka()
    broker._configure(None)
    with open(broker.props, "a") as f:
        f.write("num.partitions=not-a-number\n")
    broker._launch()
    started = time.monotonic()
    try:
        with pytest.raises(ServiceExited) as e:
            broker._wait_ready(90)
        assert time.monotonic() - started < 60 and "num.partitions" in str(e.value)
    finally:
        broker.stop()
