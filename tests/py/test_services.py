"""The test services themselves: a real Kafka broker, and moto refusing bad signatures."""
import botocore.exceptions
import boto3
import pytest


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
