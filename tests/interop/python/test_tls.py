"""Unmodified clients over HTTPS, each told only to trust duogate's generated CA:

- hvac (`verify=<ca_file>`) and OpenBao's `bao` CLI (`VAULT_CACERT`) against
  `duogate serve --dev --dev-tls`;
- NetApp's `netapp-ontap` over its default scheme, https (`HostConnection(host, port=PORT,
  verify=<ca_file>)`: `verify` goes straight to the requests session, which takes a CA path);
- the official `duo_client` (`ca_certs=<ca_file>`) against `duogate emulate --tls`.

duo_client checks the certificate's name itself, against DNS entries only (see
`duo_client/https_wrapper.py`), so the generated certificate carries `127.0.0.1` both as an IP
address and as a DNS name; the `localhost` test shows the plain DNS case.
"""

import os
import subprocess
import tempfile

import duo_client
import hvac
import pytest
import requests
from netapp_ontap import HostConnection
from netapp_ontap.resources import Svm

from conftest import CLIENT_TIMEOUT, DevService, Emulator, REPO_ROOT

BAO = REPO_ROOT / ".venv" / "bin" / "bao"
SKEY = "Zh5eGmUq9zpfQnyUIu5OL9iWoMMv5ZNmk3zLJ4Ep"
KEYS = {"secret_key": SKEY, "integration_key": "DIWJ8X6AEYOR5OMC6TQ1",
        "api_hostname": "api-deadbeef.duosecurity.com"}


@pytest.fixture(scope="module")
def tls_service():
    service = DevService(["--dev-tls"])
    yield service
    service.stop()


@pytest.fixture(scope="module")
def tls_emulator():
    emulator = Emulator(["--tls"])
    yield emulator
    emulator.stop()


def port_of(url):
    return int(url.rsplit(":", 1)[1])


def test_serve_dev_tls_names_an_https_url_and_an_absolute_ca_file(tls_service):
    assert tls_service.url.startswith("https://127.0.0.1:"), tls_service.url
    assert tls_service.ca_file and os.path.isabs(tls_service.ca_file)
    with pytest.raises(requests.exceptions.SSLError):
        requests.get(tls_service.url + "/v1/sys/health", timeout=CLIENT_TIMEOUT)


def test_hvac_trusting_the_dev_ca_reads_health_and_manages_a_duo_method(tls_service):
    client = hvac.Client(url=tls_service.url, token=tls_service.root_token,
                         verify=tls_service.ca_file, timeout=CLIENT_TIMEOUT)
    health = client.sys.read_health_status(method="GET")
    assert health["initialized"] is True and health["sealed"] is False
    method_id = client.write("identity/mfa/method/duo", method_name="over-tls",
                             **KEYS)["data"]["method_id"]
    read = client.read(f"identity/mfa/method/duo/{method_id}")["data"]
    assert read["name"] == "over-tls" and SKEY not in str(read)
    assert method_id in client.list("identity/mfa/method/duo")["data"]["keys"]


def bao(service, *args):
    """Runs `bao ARGS` against the service with only VAULT_CACERT to trust its CA."""
    with tempfile.TemporaryDirectory(prefix="duogate-bao-home-") as home:
        env = {"PATH": os.environ.get("PATH", ""), "HOME": home,
               "VAULT_ADDR": service.url, "VAULT_TOKEN": service.root_token,
               "VAULT_CACERT": service.ca_file}
        return subprocess.run([str(BAO), *args], env=env, capture_output=True, text=True,
                              timeout=CLIENT_TIMEOUT)


def test_bao_cli_with_vault_cacert_lists_duo_methods(tls_service):
    client = hvac.Client(url=tls_service.url, token=tls_service.root_token,
                         verify=tls_service.ca_file, timeout=CLIENT_TIMEOUT)
    method_id = client.write("identity/mfa/method/duo", method_name="for-bao",
                             **KEYS)["data"]["method_id"]
    listed = bao(tls_service, "list", "-format=json", "identity/mfa/method/duo")
    assert listed.returncode == 0, listed.stderr
    assert method_id in listed.stdout
    health = bao(tls_service, "read", "-format=json", "sys/health")
    assert health.returncode == 0, health.stderr
    assert '"initialized": true' in health.stdout


def test_bao_status_with_vault_cacert(tls_service):
    status = bao(tls_service, "status", "-format=json")
    assert status.returncode == 0, status.stderr
    assert '"sealed": false' in status.stdout


def test_bao_without_the_ca_refuses_the_certificate(tls_service):
    with tempfile.TemporaryDirectory(prefix="duogate-bao-home-") as home:
        env = {"PATH": os.environ.get("PATH", ""), "HOME": home,
               "VAULT_ADDR": tls_service.url, "VAULT_TOKEN": tls_service.root_token}
        refused = subprocess.run([str(BAO), "list", "identity/mfa/method/duo"], env=env,
                                 capture_output=True, text=True, timeout=CLIENT_TIMEOUT)
    assert refused.returncode != 0
    assert "certificate" in refused.stderr, refused.stderr


def test_netapp_ontap_over_https_trusting_the_dev_ca_lists_svms(tls_service, monkeypatch):
    # requests lets REQUESTS_CA_BUNDLE / CURL_CA_BUNDLE override a session's CA path (and
    # netapp-ontap sets `verify` on its session), so a machine-wide bundle in the environment
    # would hide ours; an operator pointing netapp-ontap at a private CA has to unset them too.
    monkeypatch.delenv("REQUESTS_CA_BUNDLE", raising=False)
    monkeypatch.delenv("CURL_CA_BUNDLE", raising=False)
    with HostConnection("127.0.0.1", port=port_of(tls_service.url),
                        username=tls_service.admin_user, password=tls_service.admin_password,
                        verify=tls_service.ca_file):
        names = [svm.name for svm in Svm.get_collection()]
    assert "cluster" in names


def test_duo_client_trusting_the_emulator_ca_lists_users(tls_emulator):
    assert tls_emulator.url.startswith("https://")
    admin = duo_client.Admin(ikey=tls_emulator.keys["admin_ikey"],
                             skey=tls_emulator.keys["admin_skey"], host="127.0.0.1",
                             port=tls_emulator.port, ca_certs=tls_emulator.ca_file,
                             timeout=CLIENT_TIMEOUT)
    users = admin.get_users()
    assert len(users) == 25


def test_duo_client_by_localhost_and_through_the_fixture_helpers(tls_emulator):
    auth = duo_client.Auth(ikey=tls_emulator.keys["auth_ikey"],
                           skey=tls_emulator.keys["auth_skey"], host="localhost",
                           port=tls_emulator.port, ca_certs=tls_emulator.ca_file,
                           timeout=CLIENT_TIMEOUT)
    assert "time" in auth.check()
    # The fixture's own clients and control API follow the CA too.
    assert len(tls_emulator.admin(5).get_users()) == 25
    assert isinstance(tls_emulator.control("GET", "/_emulator/requests"), list)


def test_duo_client_with_its_pinned_roots_refuses_the_emulator(tls_emulator):
    admin = duo_client.Admin(ikey=tls_emulator.keys["admin_ikey"],
                             skey=tls_emulator.keys["admin_skey"], host="127.0.0.1",
                             port=tls_emulator.port, timeout=CLIENT_TIMEOUT)
    with pytest.raises(Exception) as refused:
        admin.get_users()
    assert "certificate" in str(refused.value).lower() or "ssl" in repr(refused.value).lower()
