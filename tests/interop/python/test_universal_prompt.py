"""The Universal Prompt as Duo's own Web SDK v4 client sees it: the OFFICIAL `duo_universal`
(PyPI) against `duogate emulate --tls`, unpatched.

`duo_universal` only speaks https (`https://{host}/oauth/v1/...`), so these tests need the
emulator's `--tls`, whose `--print-keys` line names the CA to trust in `"ca_file"` (passed as
`duo_certs`, the SDK's own parameter). Without that flag (or without `ca_file`) they are skipped.

The user's decision is headless: the authorize URL is fetched without following the redirect
(`Accept` is not HTML, so the emulator answers 302 with `redirect_uri?duo_code=…&state=…`), or
handed to the control route `POST /_emulator/oauth/decide`.
"""

import subprocess
import urllib.parse

import pytest
import requests
from duo_universal.client import Client, DuoException

from conftest import Emulator, duogate_bin

REDIRECT_URI = "https://app.example.com/duo-callback"

# Duo's client secrets are 40 characters; PyJWT warns that HS512 would like 64. That is Duo's
# design, not the emulator's, so the warning is expected here.
pytestmark = pytest.mark.filterwarnings("ignore:The HMAC key is 40 bytes long")


def _emulate_has_tls():
    shown = subprocess.run([str(duogate_bin()), "emulate", "--help"], capture_output=True,
                           text=True, timeout=30)
    return "--tls" in shown.stdout


@pytest.fixture(scope="module")
def prompt_emulator():
    if not _emulate_has_tls():
        pytest.skip("duogate emulate has no --tls: duo_universal speaks only https")
    emu = Emulator(["--tls"])
    if not getattr(emu, "ca_file", None) or not emu.keys.get("ca_file"):
        emu.stop()
        pytest.skip("the --print-keys line has no ca_file to trust")
    for field in ("oidc_client_id", "oidc_client_secret"):
        assert emu.keys.get(field), f"keys line lacks {field!r}: {emu.raw_line!r}"
    yield emu
    emu.stop()


def _client(emu, redirect_uri=REDIRECT_URI):
    host = urllib.parse.urlsplit(emu.url).netloc
    return Client(emu.keys["oidc_client_id"], emu.keys["oidc_client_secret"], host,
                  redirect_uri, duo_certs=emu.keys["ca_file"])


def _prompt(emu, auth_url):
    """What a browser would do at the prompt: Duo redirects back with duo_code and state."""
    answer = requests.get(auth_url, allow_redirects=False, verify=emu.keys["ca_file"],
                          headers={"Accept": "application/json"}, timeout=30)
    assert answer.status_code == 302, (answer.status_code, answer.text)
    location = urllib.parse.urlsplit(answer.headers["Location"])
    assert f"{location.scheme}://{location.netloc}{location.path}" == REDIRECT_URI
    query = urllib.parse.parse_qs(location.query)
    return query["duo_code"][0], query["state"][0]


def test_health_check_answers_ok(prompt_emulator):
    answer = _client(prompt_emulator).health_check()
    assert answer["stat"] == "OK"
    assert isinstance(answer["response"]["timestamp"], int)


def test_an_approved_login_round_trips_with_state_and_nonce(prompt_emulator):
    prompt_emulator.add_user("up-alice", answer="approve")
    client = _client(prompt_emulator)
    state = client.generate_state()
    nonce = client.generate_state()
    auth_url = client.create_auth_url("up-alice", state, nonce=nonce)
    code, returned_state = _prompt(prompt_emulator, auth_url)
    assert returned_state == state
    token = client.exchange_authorization_code_for_2fa_result(code, "up-alice", nonce=nonce)
    assert token["preferred_username"] == "up-alice"
    assert token["auth_result"]["result"] == "allow"
    assert token["auth_result"]["status"] == "allow"
    assert token["auth_context"]["user"]["name"] == "up-alice"
    assert token["auth_context"]["application"]["key"] == prompt_emulator.keys["oidc_client_id"]


def test_a_denied_login_gives_a_deny_result(prompt_emulator):
    prompt_emulator.add_user("up-dora", answer="deny")
    client = _client(prompt_emulator)
    state = client.generate_state()
    code, _ = _prompt(prompt_emulator, client.create_auth_url("up-dora", state))
    token = client.exchange_authorization_code_for_2fa_result(code, "up-dora")
    assert token["auth_result"]["result"] == "deny"
    assert token["auth_context"]["reason"] == "user_denied"


def test_the_control_route_decides_headlessly_with_an_override(prompt_emulator):
    prompt_emulator.add_user("up-amy", answer="approve")
    client = _client(prompt_emulator)
    state = client.generate_state()
    auth_url = client.create_auth_url("up-amy", state)
    decided = prompt_emulator.control("POST", "/_emulator/oauth/decide",
                                      {"url": auth_url, "answer": "fraud"})
    assert decided["state"] == state and decided["result"] == "deny"
    token = client.exchange_authorization_code_for_2fa_result(decided["code"], "up-amy")
    assert token["auth_result"]["status"] == "fraud"


def test_a_code_is_good_for_one_exchange_and_one_redirect_uri(prompt_emulator):
    prompt_emulator.add_user("up-bob", answer="approve")
    client = _client(prompt_emulator)
    code, _ = _prompt(prompt_emulator, client.create_auth_url("up-bob", client.generate_state()))
    elsewhere = _client(prompt_emulator, redirect_uri="https://evil.example.com/cb")
    with pytest.raises(DuoException) as refused:
        elsewhere.exchange_authorization_code_for_2fa_result(code, "up-bob")
    assert "invalid_grant" in str(refused.value)
    client.exchange_authorization_code_for_2fa_result(code, "up-bob")
    with pytest.raises(DuoException) as reused:
        client.exchange_authorization_code_for_2fa_result(code, "up-bob")
    assert "invalid_grant" in str(reused.value)


def test_a_wrong_client_secret_is_refused(prompt_emulator):
    host = urllib.parse.urlsplit(prompt_emulator.url).netloc
    wrong = Client(prompt_emulator.keys["oidc_client_id"], "w" * 40, host, REDIRECT_URI,
                   duo_certs=prompt_emulator.keys["ca_file"])
    with pytest.raises(DuoException) as refused:
        wrong.health_check()
    assert "invalid_client" in str(refused.value)


def test_a_health_check_down_fault_fails_the_health_check(prompt_emulator):
    prompt_emulator.control("POST", "/_emulator/faults",
                            {"kind": "down", "paths": ["/oauth/v1/health_check"], "count": 1})
    try:
        with pytest.raises(DuoException):
            _client(prompt_emulator).health_check()
        assert _client(prompt_emulator).health_check()["stat"] == "OK"
    finally:
        prompt_emulator.control("DELETE", "/_emulator/faults")
