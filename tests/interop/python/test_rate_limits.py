"""Duo's limits as the official duo_client meets them: `duogate emulate --rate-limits` budgets
(429 with Retry-After on the Auth API, without on the Admin API), ridden out by the client's own
backoff, and the object limit on phone associations."""

import time

import duo_client.client
import requests

from interop_helpers import expect_duo_error


class SleepRecorder:
    def __init__(self):
        self.waits = []

    def __call__(self, seconds):
        self.waits.append(seconds)
        time.sleep(seconds)


def test_auth_budgets_answer_429_and_the_client_rides_them_out(make_emulator, monkeypatch):
    emu = make_emulator("--rate-limits", "/auth/v2/check=1/s")
    auth = emu.auth(5)
    recorder = SleepRecorder()
    monkeypatch.setattr(duo_client.client, "sleep", recorder)
    emu.control("DELETE", "/_emulator/requests")
    auth.check()
    auth.check()  # within the same second: 429, then the client's 1 s backoff
    assert len(recorder.waits) >= 1, recorder.waits
    log = [e for e in emu.control("GET", "/_emulator/requests") if e["path"] == "/auth/v2/check"]
    assert (429, "fail:42901") in [(e["status"], e["outcome"]) for e in log], log
    assert log[-1]["status"] == 200


def test_a_429_says_retry_after_on_the_auth_api_only(make_emulator):
    emu = make_emulator("--rate-limits", "/auth/v2/check=0/min,/admin/v1/users=0/min")
    auth = emu.auth(5)
    auth._MAX_BACKOFF_WAIT_SECS = 0  # the client's own knob: give up after the first 429
    expect_duo_error(auth.check, 429, 42901)
    admin = emu.admin(5)
    admin._MAX_BACKOFF_WAIT_SECS = 0
    expect_duo_error(lambda: admin.get_users(limit=1), 429, 42901)
    # duo_client does not show headers; a fault on a path both APIs share shows them raw.
    emu.control("POST", "/_emulator/faults", {"kind": "rate_limit", "retry_after": 3})
    try:
        on_auth = requests.get(emu.url + "/auth/v2/check", timeout=30)
        on_admin = requests.get(emu.url + "/admin/v1/users", timeout=30)
    finally:
        emu.control("DELETE", "/_emulator/faults")
    assert on_auth.status_code == 429 and on_auth.headers.get("Retry-After") == "3"
    assert on_admin.status_code == 429 and "Retry-After" not in on_admin.headers


def test_a_users_hundred_and_first_phone_is_refused(emulator):
    user = emulator.add_user("rl-many-phones", phones=100)
    phone = emulator.control("POST", "/_emulator/phones", {})
    admin = emulator.admin(5)
    err = expect_duo_error(lambda: admin.add_user_phone(user["user_id"], phone["phone_id"]),
                           400, 40002)
    assert "100 phones" in err.data.get("message_detail", ""), err.data
    assert len(admin.get_user_phones(user["user_id"], limit=500)) == 100
