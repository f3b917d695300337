"""pytest fixtures for the integration tests: real services, torn down whatever happens."""
import json
import os
import subprocess
import sys

import pytest

sys.path.insert(0, os.path.dirname(__file__))
from services import ROOT, Kafka, Moto  # noqa: E402

BUILD = os.environ.get("DS_BUILD", os.path.join(ROOT, "build", "rel"))
BINARY = os.environ.get("DS_BINARY", os.path.join(ROOT, "dualstackd"))


@pytest.fixture
def moto():
    """A fresh moto server per test (state and IAM users are per server)."""
    m = Moto().start()
    try:
        yield m
    finally:
        m.stop()


@pytest.fixture(scope="session")
def kafka():
    k = Kafka().start()
    try:
        yield k
    finally:
        k.stop()


def run_dualstackd(args, env, timeout=120, check=True):
    r = subprocess.run([BINARY] + args, env=env, capture_output=True, text=True,
                       timeout=timeout)
    if check and r.returncode != 0:
        raise AssertionError(f"dualstackd {' '.join(args)} exited {r.returncode}:\n{r.stderr}")
    return r


def run_tool(name, args, env, timeout=300):
    r = subprocess.run([os.path.join(BUILD, name)] + args, env=env, capture_output=True,
                       text=True, timeout=timeout)
    assert r.returncode == 0, f"{name} exited {r.returncode}:\n{r.stdout}\n{r.stderr}"
    return json.loads(r.stdout)
