"""Auth API v2 through the official duo_client Auth client (signature v2 form bodies and v5 JSON
bodies): ping, check, preauth, auth (sync and async) and auth_status, with users whose answers
are scripted through the emulator's control API."""

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
