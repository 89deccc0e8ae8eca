"""Secret-leak scan after a scripted run through every dialect (issue 13).

`serve --dev -vv` (trace logs) creates, through each dialect, objects carrying known secrets: a
Vault method's `secret_key`, a step-up method's, an ONTAP profile's `secret_key` (Basic auth), a
native connection's `skey`, a token, an account password and passcodes in checks; then runs
checks and reads. Each known secret is then looked for in four encodings (plain, URL-encoded,
base64, hex) in every response body and header seen, the service log, `/metrics`, the database
bytes (`duogate.db` and its `-wal`) and the output of `duogate token`/`tenant` commands. A token
the API returns on purpose is excluded from that one response only. Expected findings: none.
"""

import base64
import json
import os
import secrets
import subprocess
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

from conftest import DevService, duogate_bin

PROFILES = "/api/security/authentication/duo/profiles"


def encodings(secret):
    raw = secret.encode()
    return {
        "plain": raw,
        "url": urllib.parse.quote(secret, safe="").encode(),
        "base64": base64.b64encode(raw).rstrip(b"="),
        "hex": raw.hex().encode(),
        "HEX": raw.hex().upper().encode(),
    }


class Scan:
    def __init__(self, service):
        self.service = service
        self.seen = []  # (where, bytes, excluded secret or None)

    def record(self, where, data, allowed=None):
        self.seen.append((where, data, allowed))

    def http(self, method, path, body=None, auth="token", token=None, allowed=None):
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.service.url + path, data=data, method=method)
        if auth == "basic":
            creds = f"{self.service.admin_user}:{self.service.admin_password}".encode()
            req.add_header("Authorization", "Basic " + base64.b64encode(creds).decode())
        elif auth == "token":
            req.add_header("X-Vault-Token", token or self.service.root_token)
        if data is not None:
            req.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(req, timeout=30) as resp:
                status, raw, headers = resp.status, resp.read(), resp.headers
        except urllib.error.HTTPError as err:
            status, raw, headers = err.code, err.read(), err.headers
        head = "".join(f"{k}: {v}\n" for k, v in headers.items()).encode()
        self.record(f"{method} {path} headers", head, allowed)
        self.record(f"{method} {path} body", raw, allowed)
        try:
            return status, (json.loads(raw) if raw.strip() else None)
        except ValueError:
            return status, raw.decode(errors="replace")

    def cli(self, *argv, allowed=None):
        env = dict(os.environ, DUOGATE_ADDR=self.service.url,
                   DUOGATE_TOKEN=self.service.root_token)
        done = subprocess.run([str(duogate_bin()), *argv], env=env, capture_output=True,
                              timeout=60, stdin=subprocess.DEVNULL)
        assert done.returncode == 0, f"{argv}: {done.stderr.decode()}"
        self.record(f"duogate {' '.join(argv)}", done.stdout + done.stderr, allowed)
        return done.stdout.decode()


def test_no_known_secret_appears_anywhere_after_a_run_through_every_dialect():
    service = DevService(extra_args=("-vv",))
    try:
        scan = Scan(service)
        emu = service.emulator
        passcode = "".join(secrets.choice("0123456789") for _ in range(12))
        password = "pw-" + secrets.token_urlsafe(24)
        service.emulator_control("POST", "/_emulator/users",
                                 {"username": "scanuser", "answer": "deny",
                                  "passcodes": [passcode]})

        # Vault: a method and a step-up method.
        status, created = scan.http("POST", "/v1/identity/mfa/method/duo", {
            "method_name": "corp", "api_hostname": emu["url"],
            "integration_key": emu["auth_ikey"], "secret_key": emu["auth_skey"]})
        assert status == 200, created
        method_id = created["data"]["method_id"]
        status, body = scan.http("POST", "/v1/sys/auth/plain", {"type": "trusted"})
        assert status == 204, body
        status, mounts = scan.http("GET", "/v1/sys/auth")
        accessor = mounts["data"]["plain/"]["accessor"]
        status, body = scan.http("POST", "/v1/sys/mfa/method/duo/sudo", {
            "mount_accessor": accessor, "api_hostname": emu["url"],
            "integration_key": emu["auth_ikey"], "secret_key": emu["auth_skey"]})
        assert status == 204, body

        # ONTAP: a profile through Basic auth.
        status, svms = scan.http("GET", "/api/svm/svms", auth="basic")
        assert status == 200, svms
        svm = svms["records"][0]["uuid"]
        status, body = scan.http("POST", PROFILES, {
            "owner": {"uuid": svm}, "api_host": emu["url"],
            "integration_key": emu["auth_ikey"], "secret_key": emu["auth_skey"]}, auth="basic")
        assert status in (200, 201), body

        # Native: a connection, a token, an account, checks.
        status, body = scan.http("PUT", "/v1/duogate/connections/scan", {
            "api_host": emu["url"], "ikey": emu["admin_ikey"], "skey": emu["admin_skey"]})
        assert status in (200, 201, 204), body
        # The token is shown once, on purpose, in this response only.
        probe = urllib.request.Request(service.url + "/v1/duogate/tokens",
                                       data=json.dumps({"role": "reader"}).encode(),
                                       method="POST")
        probe.add_header("X-Vault-Token", service.root_token)
        probe.add_header("Content-Type", "application/json")
        with urllib.request.urlopen(probe, timeout=30) as resp:
            raw = resp.read()
            made = json.loads(raw)
            api_token = made.get("token") or made.get("secret") or made["data"]["token"]
            scan.record("POST /v1/duogate/tokens body", raw, api_token)
            scan.record("POST /v1/duogate/tokens headers",
                        "".join(f"{k}: {v}\n" for k, v in resp.headers.items()).encode(),
                        api_token)
        status, body = scan.http("POST", "/v1/duogate/accounts",
                                 {"name": "scanner", "password": password, "role": "reader"})
        assert status in (200, 201, 204), body
        for factor_body in (
            {"method": "corp", "username": "scanuser", "passcode": passcode},
            {"method": "corp", "username": "scanuser", "passcode": passcode + "0"},
            {"method": "corp", "username": "asmith0001"},
        ):
            status, body = scan.http("POST", "/v1/duogate/check", factor_body)
            assert status == 200, body
        status, body = scan.http("POST", "/v1/duogate/connections/scan/actions/retrieve_users",
                                 {"limit": 1})
        assert status == 200, body

        # Reads through every dialect, as each kind of caller.
        for path in (f"/v1/identity/mfa/method/duo/{method_id}", "/v1/sys/mfa/method/duo/sudo",
                     "/v1/identity/mfa/method?list=true", "/v1/auth/token/lookup-self"):
            scan.http("GET", path)
            scan.http("GET", path, token=api_token)
        for path in (PROFILES + "?fields=*", "/api/security/authentication/duo/groups?fields=*"):
            scan.http("GET", path, auth="basic")
        for path in ("/v1/duogate/connections/scan", "/v1/duogate/accounts",
                     "/v1/duogate/tenants", "/v1/duogate/audit", "/v1/duogate/status"):
            scan.http("GET", path)
        status, body = scan.http("GET", "/metrics", auth=None)
        assert status == 200

        # The CLI: tokens and tenants.
        out = scan.cli("token", "create", "--role", "mfa")
        cli_token = next(w for w in out.replace('"', " ").split() if w.startswith("dg."))
        scan.seen[-1] = (scan.seen[-1][0], scan.seen[-1][1], cli_token)
        scan.cli("tenant", "create", "scan-tenant")
        scan.cli("tenant", "list")

        # The database, after the run (SQLite file and its write-ahead log).
        data_dir = Path(service.line["data_dir"])
        for name in ("duogate.db", "duogate.db-wal"):
            path = data_dir / name
            if path.exists():
                scan.record(name, path.read_bytes())
        log = service.log()
        scan.record("service log (-vv)", log.encode())

        known = {"vault/ontap secret_key": emu["auth_skey"],
                 "connection skey": emu["admin_skey"],
                 "api token": api_token, "cli token": cli_token,
                 "root token": service.root_token,
                 "admin password": service.admin_password,
                 "account password": password, "passcode": passcode}
        findings = []
        for where, data, allowed in scan.seen:
            for what, secret in known.items():
                if secret == allowed:
                    continue
                for enc, needle in encodings(secret).items():
                    if needle in data:
                        findings.append(f"{what} ({enc}) in {where}")
        sources = len(scan.seen)
        size = sum(len(d) for _, d, _ in scan.seen)
        print(f"secret scan: {len(known)} secrets x 5 encodings over {sources} sources "
              f"({size} bytes; log {len(log)} bytes); findings: {len(findings)}")
        assert not findings, "\n".join(findings)
        # The scan sees what it should: the database was read, the log is at debug/trace
        # level, and the scanner finds the one token shown on purpose where it was shown.
        assert any(where == "duogate.db" for where, _, _ in scan.seen)
        assert "DEBUG" in log or "TRACE" in log, log[:2000]
        shown = [d for w, d, a in scan.seen if w == "POST /v1/duogate/tokens body"]
        assert api_token.encode() in shown[0]
    finally:
        service.stop()
