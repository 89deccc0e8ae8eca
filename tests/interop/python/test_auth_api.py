"""Auth API v2 through the official duo_client Auth client (signature v2 form bodies and v5 JSON
bodies): ping, check, preauth, auth (sync and async) and auth_status, with users whose answers
are scripted through the emulator's control API; duo_unix's text prompt (`text_prompt=1`,
`factor=prompt`) and Verified Duo Push."""

import json
import time

import pytest

MAX_POLLS = 20


def wait_for_result(auth, txid):
    """Polls auth_status (a long poll) until it is no longer waiting; at most MAX_POLLS times."""
    seen = []
    for _ in range(MAX_POLLS):
        status = auth.auth_status(txid)
        seen.append(status)
        assert set(status) >= {"waiting", "success", "status", "status_msg"}
        if not status["waiting"]:
            return status
        time.sleep(0.1)
    pytest.fail(f"auth_status still waiting after {MAX_POLLS} polls: {seen[-3:]}")


@pytest.fixture(scope="module")
def seeded_user_with_phones(emulator):
    users = emulator.admin(5).get_users()
    with_phones = [u for u in users if u.get("phones") and u["status"] == "active"]
    assert with_phones, "no active seeded user has a phone"
    return with_phones[0]


def test_ping(auth):
    response = auth.ping()
    assert isinstance(response["time"], int)
    assert abs(response["time"] - time.time()) < 60


def test_check(auth):
    response = auth.check()
    assert isinstance(response["time"], int)
    assert abs(response["time"] - time.time()) < 60


def test_preauth_seeded_user(auth, seeded_user_with_phones):
    user = seeded_user_with_phones
    for response in (auth.preauth(username=user["username"]),
                     auth.preauth(user_id=user["user_id"])):
        assert response["result"] == "auth", response
        assert isinstance(response["status_msg"], str)
        devices = response["devices"]
        assert devices, response
        user_phone_ids = {p["phone_id"] for p in user["phones"]}
        for device in devices:
            assert device["device"] in user_phone_ids, (device, user_phone_ids)
            assert isinstance(device["capabilities"], list)


def test_preauth_unknown_user_is_enroll(auth, sig_version):
    response = auth.preauth(username=f"nobody-at-all-v{sig_version}")
    assert response["result"] == "enroll", response


@pytest.mark.parametrize("answer,result", [
    ("bypass", "allow"),
    ("not_enrolled", "enroll"),
    ("locked_out", "deny"),
    ("approve", "auth"),
])
def test_preauth_scripted_users(emulator, auth, sig_version, answer, result):
    username = f"pre-{answer}-v{sig_version}"
    emulator.add_user(username, answer=answer)
    response = auth.preauth(username=username)
    assert response["result"] == result, response
    assert isinstance(response["status_msg"], str)
    if result == "auth":
        assert len(response["devices"]) == 1, response


@pytest.mark.parametrize("answer,success,status", [
    ("approve", True, "allow"),
    ("deny", False, "deny"),
    ("fraud", False, "fraud"),
])
def test_async_push_then_auth_status(emulator, auth, sig_version, answer, success, status):
    username = f"push-{answer}-v{sig_version}"
    emulator.add_user(username, answer=answer, phones=1)
    started = auth.auth(factor="push", username=username, device="auto", async_txn=True)
    txid = started["txid"]
    assert isinstance(txid, str) and txid

    final = wait_for_result(auth, txid)
    assert final["success"] is success, final
    assert final["status"] == status, final
    assert final["status_msg"]


@pytest.mark.parametrize("answer,result", [("approve", "allow"), ("deny", "deny")])
def test_sync_push(emulator, auth, sig_version, answer, result):
    username = f"sync-{answer}-v{sig_version}"
    emulator.add_user(username, answer=answer, phones=1)
    response = auth.auth(factor="push", username=username, device="auto")
    assert response["result"] == result, response
    assert response["status"] == result, response


def test_passcode(emulator, auth, sig_version):
    username = f"passcode-v{sig_version}"
    emulator.add_user(username, answer="deny", passcodes=["123456"], phones=1)
    wrong = auth.auth(factor="passcode", username=username, passcode="654321")
    assert wrong["result"] == "deny", wrong
    right = auth.auth(factor="passcode", username=username, passcode="123456")
    assert right["result"] == "allow", right


def test_unanswered_push_times_out(make_emulator, sig_version):
    emu = make_emulator("--push-timeout", "1")
    emu.add_user("slowpoke", answer="timeout", phones=1)
    auth = emu.auth(sig_version)
    txid = auth.auth(factor="push", username="slowpoke", device="auto", async_txn=True)["txid"]
    final = wait_for_result(auth, txid)
    assert final["success"] is False, final
    assert final["status"] == "timeout", final


# --- duo_unix's text prompt and Verified Duo Push ------------------------------------------------
# duo_client's Auth.preauth() has no text_prompt parameter and Auth.auth() no prompt parameter,
# so those calls go through the library's own signed json_api_call, as duo_unix would send them.


def prompt_preauth(auth, username, **extra):
    params = {"username": username, "text_prompt": "1", **extra}
    return auth.json_api_call("POST", "/auth/v2/preauth", params)


def prompt_auth(auth, username, choice, async_txn=False, **extra):
    params = {"username": username, "factor": "prompt", "prompt": choice,
              "async": "1" if async_txn else "0", **extra}
    return auth.json_api_call("POST", "/auth/v2/auth", params)


def test_text_prompt_menu(emulator, auth, sig_version):
    username = f"prompt-menu-v{sig_version}"
    emulator.add_user(username, answer="approve", passcodes=["123456"], phones=1)
    response = prompt_preauth(auth, username, failmode="closed", hostname="bastion.example.com")
    assert response["result"] == "auth", response
    text = response["prompt"]["text"]
    assert text.startswith(f"Duo two-factor login for {username}\n\n"
                           "Enter a passcode or select one of the following options:\n\n"), text
    assert " 1. Duo Push to XXX-XXX-" in text and " 2. Phone call to XXX-XXX-" in text, text
    assert " 3. SMS passcodes to XXX-XXX-" in text, text
    assert text.endswith("\n\nPasscode or option (1-3): "), text
    assert response["prompt"]["factors"] == {
        "default": "push1", "1": "push1", "2": "phone1", "3": "sms1"}, response


def test_text_prompt_for_enrollment(auth, sig_version):
    response = prompt_preauth(auth, f"prompt-nobody-v{sig_version}")
    assert response["result"] == "enroll", response
    assert response["prompt"]["text"] == f"Please enroll at {response['enroll_portal_url']}"


@pytest.mark.parametrize("choice,result,status", [
    ("push1", "allow", "allow"),
    ("2", "allow", "allow"),
    ("phone1", "allow", "allow"),
    ("sms1", "deny", "sent"),
    ("123456", "allow", "allow"),
    ("654321", "deny", "deny"),
])
def test_prompt_choices_sync_and_async(emulator, auth, sig_version, choice, result, status):
    label = "typed" if len(choice) > 2 and choice.isdigit() else choice  # never the passcode
    username = f"prompt-{label}-{result}-v{sig_version}"
    emulator.add_user(username, answer="approve", passcodes=["123456"], phones=1)
    extra = {"ipaddr": "192.0.2.5", "hostname": "bastion.example.com",
             "pushinfo": "Server+IP=10.0.0.1&Command="}
    sync = prompt_auth(auth, username, choice, **extra)
    assert (sync["result"], sync["status"]) == (result, status), sync
    txid = prompt_auth(auth, username, choice, async_txn=True, **extra)["txid"]
    final = wait_for_result(auth, txid)
    assert final["success"] is (result == "allow"), final
    assert final["status"] == status, final
    recorded = [t for t in emulator.control("GET", "/_emulator/transactions")
                if t["username"] == username]
    assert len(recorded) == 2, recorded
    for transaction in recorded:
        assert transaction["factor"] == "prompt", transaction
        assert transaction["hostname"] == "bastion.example.com", transaction
        assert transaction["pushinfo"] == "Server+IP=10.0.0.1&Command=", transaction
    assert "123456" not in json.dumps(recorded) and "654321" not in json.dumps(recorded)


@pytest.mark.parametrize("typed,success", [("correct", True), ("wrong", False)])
def test_verified_push(emulator, auth, sig_version, typed, success):
    username = f"verified-{typed}-v{sig_version}"
    emulator.add_user(username, answer="approve", phones=1)
    emulator.control("POST", "/_emulator/users", {"username": username, "verified_push": typed})
    pre = auth.preauth(username=username, client_supports_verified_push="1")
    assert pre["result"] == "auth", pre
    txid, code = pre["txid"], pre["verification_code"]
    assert code.isdigit() and len(code) == 3, pre
    with pytest.raises(RuntimeError, match="txid"):
        prompt_auth(auth, username, "verified_push1")
    started = auth.auth(factor="push", username=username, device="auto", async_txn=True,
                        txid=txid)
    assert started["txid"] == txid, started
    final = wait_for_result(auth, txid)
    assert final["success"] is success, final
    if not success:
        assert "verification code" in final["status_msg"], final
