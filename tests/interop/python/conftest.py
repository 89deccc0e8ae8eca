"""Fixtures for the interop tests: the OFFICIAL duo_client (PyPI `duo_client`) against the
duogate emulator, run as a real subprocess.

The emulator is started as

    $DUOGATE_BIN emulate --listen 127.0.0.1:0 --print-keys \
        --seed users=25,phones=30,admins=5,bypass_codes=12

(DUOGATE_BIN defaults to target/debug/duogate at the repository root). Its first stdout line is
one JSON object {"url", "admin_ikey", "admin_skey", "auth_ikey", "auth_skey"}. The clients are
the library's own, configured only through its public constructor: plain HTTP (`ca_certs='HTTP'`)
to 127.0.0.1 on the emulator's port. Nothing in duo_client is patched, so what is tested is the
library's own signing, encoding, paging and 429 backoff.
"""

import json
import os
import selectors
import ssl
import subprocess
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import duo_client
import pytest

REPO_ROOT = Path(__file__).resolve().parents[3]

SEED = {"users": 25, "phones": 30, "admins": 5, "bypass_codes": 12}
SIG_VERSIONS = [2, 5]
# Bound on every HTTP call the clients make, so an emulator that hangs fails a test instead of
# hanging the run (duo_client has no timeout by default).
CLIENT_TIMEOUT = 30
STARTUP_TIMEOUT = 30


def duogate_bin():
    path = Path(os.environ.get("DUOGATE_BIN", REPO_ROOT / "target" / "debug" / "duogate"))
    if not path.is_absolute():
        path = REPO_ROOT / path
    return path


class DuogateProcess:
    """One `duogate` subprocess whose first stdout line is a JSON object (kept as `.line`)."""

    what = "duogate"

    def __init__(self, argv):
        binary = duogate_bin()
        if not binary.exists():
            pytest.fail(f"{binary} does not exist: build it first (cargo build -p duogate) "
                        "or set DUOGATE_BIN", pytrace=False)
        self.argv = [str(binary), *argv]
        self._stderr = tempfile.TemporaryFile()
        self.proc = subprocess.Popen(self.argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                     stderr=self._stderr)
        try:
            raw = self._first_line()
            self.line = json.loads(raw)
        except Exception as exc:
            self.stop()
            raise AssertionError(f"{self.what} did not print its JSON line: {exc}\n"
                                 f"argv: {self.argv}\nstderr:\n{self.stderr()}") from None
        self.raw_line = raw
        # Keep draining stdout so the process can never block on a full pipe.
        threading.Thread(target=self._drain, daemon=True).start()

    def _first_line(self):
        sel = selectors.DefaultSelector()
        sel.register(self.proc.stdout, selectors.EVENT_READ)
        buf = b""
        deadline = time.monotonic() + STARTUP_TIMEOUT
        fd = self.proc.stdout.fileno()
        while b"\n" not in buf:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"no stdout line within {STARTUP_TIMEOUT}s")
            if not sel.select(timeout=left):
                continue
            chunk = os.read(fd, 4096)
            if not chunk:
                raise EOFError(f"stdout closed (exit status {self.proc.poll()})")
            buf += chunk
        sel.close()
        return buf.split(b"\n", 1)[0].decode()

    def _drain(self):
        try:
            while os.read(self.proc.stdout.fileno(), 65536):
                pass
        except OSError:
            pass

    def stderr(self):
        self._stderr.seek(0)
        return self._stderr.read().decode(errors="replace")

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def assert_alive(self):
        assert self.proc.poll() is None, \
            f"{self.what} exited with {self.proc.returncode}; stderr:\n{self.stderr()}"


class Emulator(DuogateProcess):
    """One `duogate emulate` subprocess and helpers to build official clients against it."""

    what = "emulator"

    def __init__(self, extra_args=()):
        seed = ",".join(f"{k}={v}" for k, v in SEED.items())
        super().__init__(["emulate", "--listen", "127.0.0.1:0", "--print-keys",
                          "--seed", seed, *extra_args])
        keys = self.line
        for field in ("url", "admin_ikey", "admin_skey", "auth_ikey", "auth_skey"):
            assert isinstance(keys.get(field), str) and keys[field], \
                f"keys line lacks {field!r}: {self.raw_line!r}"
        self.keys = keys
        self.url = keys["url"].rstrip("/")
        # With `--tls`, the line also names the CA to trust (and the URL is https).
        self.ca_file = keys.get("ca_file")
        parsed = urllib.parse.urlsplit(self.url)
        assert parsed.scheme == ("https" if self.ca_file else "http"), self.url
        assert parsed.hostname == "127.0.0.1", self.url
        self.host = parsed.hostname
        self.port = parsed.port

    # --- official clients -------------------------------------------------------------------

    def _client(self, cls, ikey, skey, sig_version, **kwargs):
        return cls(ikey=ikey, skey=skey, host=self.host, ca_certs=self.ca_file or "HTTP",
                   port=self.port,
                   sig_version=sig_version, timeout=CLIENT_TIMEOUT, **kwargs)

    def admin(self, sig_version, ikey=None, skey=None, **kwargs):
        return self._client(duo_client.Admin, ikey or self.keys["admin_ikey"],
                            skey or self.keys["admin_skey"], sig_version, **kwargs)

    def auth(self, sig_version, ikey=None, skey=None, **kwargs):
        return self._client(duo_client.Auth, ikey or self.keys["auth_ikey"],
                            skey or self.keys["auth_skey"], sig_version, **kwargs)

    # --- control API (unsigned, plain HTTP, loopback) ----------------------------------------

    def control(self, method, path, body=None, expect=(200, 201, 204)):
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.url + path, data=data, method=method)
        if data is not None:
            req.add_header("Content-Type", "application/json")
        try:
            context = ssl.create_default_context(cafile=self.ca_file) if self.ca_file else None
            with urllib.request.urlopen(req, timeout=CLIENT_TIMEOUT, context=context) as resp:
                status, raw = resp.status, resp.read()
        except urllib.error.HTTPError as err:
            status, raw = err.code, err.read()
        assert status in expect, f"{method} {path} {body!r} -> {status}: {raw[:500]!r}"
        return json.loads(raw) if raw.strip() else None

    def add_user(self, username, answer="approve", passcodes=None, phones=1):
        body = {"username": username, "answer": answer, "phones": phones}
        if passcodes is not None:
            body["passcodes"] = passcodes
        return self.control("POST", "/_emulator/users", body)


@pytest.fixture(scope="module")
def emulator():
    """A fresh seeded emulator per test module (tests within a module share its state)."""
    emu = Emulator()
    yield emu
    emu.stop()


@pytest.fixture
def make_emulator():
    """Factory for private emulators (for tests that rotate keys or inject faults)."""
    started = []

    def make(*extra_args):
        emu = Emulator(extra_args)
        started.append(emu)
        return emu

    yield make
    for emu in started:
        emu.stop()


@pytest.fixture(params=SIG_VERSIONS, ids=lambda v: f"sigv{v}")
def sig_version(request):
    return request.param


@pytest.fixture
def admin(emulator, sig_version):
    return emulator.admin(sig_version)


@pytest.fixture
def auth(emulator, sig_version):
    return emulator.auth(sig_version)


class DevService(DuogateProcess):
    """`duogate serve --dev` in a private data folder: the service (Vault, ONTAP and native
    dialects) with its in-process emulator. `.url` is the service, `.root_token` an admin token,
    `.admin_user`/`.admin_password` a Basic account, `.emulator` the emulator's keys line."""

    what = "duogate serve --dev"

    def __init__(self, extra_args=()):
        self._dir = tempfile.TemporaryDirectory(prefix="duogate-interop-")
        super().__init__(["serve", "--dev", "--listen", "127.0.0.1:0",
                          "--data-dir", self._dir.name, *extra_args])
        line = self.line
        for field in ("listen", "root_token", "admin_user", "admin_password", "emulator"):
            assert line.get(field), f"serve line lacks {field!r}: {self.raw_line!r}"
        # `http://…`, or `https://…` with `--dev-tls` (then `ca_file` names the CA to trust).
        self.url = line["url"]
        self.ca_file = line.get("ca_file")
        self.root_token = line["root_token"]
        self.admin_user = line["admin_user"]
        self.admin_password = line["admin_password"]
        self.emulator = line["emulator"]
        self.emulator_url = self.emulator["url"].rstrip("/")

    # The last line of the start-up banner. The banner shows the root token, the admin password
    # and the emulator's keys on purpose (ready-to-paste exports, like `vault server -dev`);
    # what follows is the service's log, where no secret may appear.
    STARTED = "==> duogate dev server started; log data will stream in below:"

    def log(self):
        """stderr after the start-up banner: what the service logged while serving."""
        text = self.stderr()
        _, marker, rest = text.partition(self.STARTED)
        assert marker, f"the start-up banner has no end line {self.STARTED!r}:\n{text}"
        return rest

    def emulator_control(self, method, path, body=None, expect=(200, 201, 204)):
        """The in-process emulator's control API (unsigned, loopback)."""
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.emulator_url + path, data=data, method=method)
        if data is not None:
            req.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(req, timeout=CLIENT_TIMEOUT) as resp:
                status, raw = resp.status, resp.read()
        except urllib.error.HTTPError as err:
            status, raw = err.code, err.read()
        assert status in expect, f"{method} {path} {body!r} -> {status}: {raw[:500]!r}"
        return json.loads(raw) if raw.strip() else None

    def stop(self):
        super().stop()
        self._dir.cleanup()


@pytest.fixture(scope="module")
def dev_service():
    """A fresh `duogate serve --dev` per test module."""
    service = DevService()
    yield service
    service.stop()
