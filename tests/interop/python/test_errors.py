"""Failures as the official duo_client sees them: bad credentials, wrong integration type,
unknown objects, a 429 storm ridden out by the client's own backoff, and key rotation."""

import hashlib
import time

import duo_client.client
import pytest

from interop_helpers import expect_duo_error

WRONG_SKEY = "x" * 40
UNKNOWN_IKEY = "DIXXXXXXXXXXXXXXXXXX"


def test_wrong_skey_is_40103(emulator, sig_version):
    admin = emulator.admin(sig_version, skey=WRONG_SKEY)
    expect_duo_error(lambda: admin.get_users(limit=1), 401, 40103)
    expect_duo_error(lambda: admin.update_user(admin_user_id(emulator), notes="nope"), 401, 40103)
    auth = emulator.auth(sig_version, skey=WRONG_SKEY)
    expect_duo_error(auth.check, 401, 40103)
    expect_duo_error(lambda: auth.preauth(username="anyone"), 401, 40103)


def test_wrong_skey_with_sha1_is_40103(emulator):
    admin = emulator.admin(2, skey=WRONG_SKEY, digestmod=hashlib.sha1)
    expect_duo_error(lambda: admin.get_users(limit=1), 401, 40103)


def test_other_integrations_skey_is_40103(emulator, sig_version):
    # The Auth integration's secret with the Admin integration's ikey.
    admin = emulator.admin(sig_version, skey=emulator.keys["auth_skey"])
    expect_duo_error(lambda: admin.get_users(limit=1), 401, 40103)


def test_unknown_ikey_is_40102(emulator, sig_version):
    admin = emulator.admin(sig_version, ikey=UNKNOWN_IKEY)
    expect_duo_error(lambda: admin.get_users(limit=1), 401, 40102)
    auth = emulator.auth(sig_version, ikey=UNKNOWN_IKEY)
    expect_duo_error(auth.check, 401, 40102)


def test_admin_keys_on_auth_api_are_40301(emulator, sig_version):
    auth = emulator.auth(sig_version, ikey=emulator.keys["admin_ikey"],
                         skey=emulator.keys["admin_skey"])
    expect_duo_error(auth.check, 403, 40301)


def test_auth_keys_on_admin_api_are_40301(emulator, sig_version):
    admin = emulator.admin(sig_version, ikey=emulator.keys["auth_ikey"],
                           skey=emulator.keys["auth_skey"])
    expect_duo_error(lambda: admin.get_users(limit=1), 403, 40301)


def admin_user_id(emulator):
    return emulator.admin(5).get_users(limit=1)[0]["user_id"]


def test_unknown_user_is_40401(emulator, sig_version):
    admin = emulator.admin(sig_version)
    missing = "DUXXXXXXXXXXXXXXXXXX"
    expect_duo_error(lambda: admin.get_user_by_id(missing), 404, 40401)
    expect_duo_error(lambda: admin.update_user(missing, realname="Nobody"), 404, 40401)
    expect_duo_error(lambda: admin.get_user_phones(missing), 404, 40401)


def test_unknown_admin_is_40401(emulator, sig_version):
    admin = emulator.admin(sig_version)
    expect_duo_error(lambda: admin.update_admin("DEXXXXXXXXXXXXXXXXXX", name="Nobody"), 404, 40401)


class SleepRecorder:
    """Stands in for the `sleep` duo_client's backoff loop calls: records each wait, then
    really sleeps it, so the client's own retry schedule is what runs."""

    def __init__(self, real_sleep):
        self.waits = []
        self.real_sleep = real_sleep

    def __call__(self, seconds):
        self.waits.append(seconds)
        self.real_sleep(seconds)


def test_rate_limit_storm_is_ridden_out(make_emulator, monkeypatch, sig_version):
    emu = make_emulator()
    admin = emu.admin(sig_version)
    recorder = SleepRecorder(time.sleep)
    monkeypatch.setattr(duo_client.client, "sleep", recorder)

    emu.control("POST", "/_emulator/faults", {"kind": "rate_limit", "every": 2})
    emu.control("DELETE", "/_emulator/requests")
    try:
        # Requests 1, 2(429), 3: the second call is answered 429 once and retried.
        first = admin.get_users(limit=3, offset=0)
        second = admin.get_users(limit=3, offset=3)
    finally:
        emu.control("DELETE", "/_emulator/faults")
    assert len(first) == 3 and len(second) == 3
    assert len(recorder.waits) == 1, recorder.waits
    assert 1.0 <= recorder.waits[0] <= 2.0  # the client's first backoff: 1 s + jitter
    log = [e for e in emu.control("GET", "/_emulator/requests") if e["path"] == "/admin/v1/users"]
    assert [(e["status"], e["outcome"]) for e in log] == \
        [(200, "ok"), (429, "fault:rate_limit"), (200, "ok")], log

    recorder.waits.clear()
    assert len(admin.get_users(limit=3, offset=0)) == 3
    assert len(admin.get_users(limit=3, offset=3)) == 3
    assert recorder.waits == []  # faults cleared: no more 429s


def test_rate_limit_answer_is_42901(make_emulator, sig_version):
    emu = make_emulator()
    admin = emu.admin(sig_version)
    admin._MAX_BACKOFF_WAIT_SECS = 0  # the client's own knob: give up after the first 429
    emu.control("POST", "/_emulator/faults", {"kind": "rate_limit", "every": 1})
    expect_duo_error(lambda: admin.get_users(limit=1), 429, 42901)
    emu.control("DELETE", "/_emulator/faults")
    assert len(admin.get_users(limit=1)) == 1


def test_key_rotation(make_emulator, sig_version):
    emu = make_emulator()
    old = dict(emu.keys)
    assert len(emu.admin(sig_version).get_users(limit=1)) == 1

    new = emu.control("POST", "/_emulator/keys/rotate")
    for field in ("admin_ikey", "admin_skey", "auth_ikey", "auth_skey"):
        assert isinstance(new[field], str) and new[field], new
    # Secret keys change; integration keys stay, so the old secrets fail as bad signatures.
    assert new["admin_ikey"] == old["admin_ikey"] and new["auth_ikey"] == old["auth_ikey"], new
    assert new["admin_skey"] != old["admin_skey"]
    assert new["auth_skey"] != old["auth_skey"]

    stale_admin = emu.admin(sig_version, skey=old["admin_skey"])
    expect_duo_error(lambda: stale_admin.get_users(limit=1), 401, 40103)
    stale_auth = emu.auth(sig_version, skey=old["auth_skey"])
    expect_duo_error(stale_auth.check, 401, 40103)

    fresh_admin = emu.admin(sig_version, ikey=new["admin_ikey"], skey=new["admin_skey"])
    assert len(fresh_admin.get_users(limit=1)) == 1
    fresh_auth = emu.auth(sig_version, ikey=new["auth_ikey"], skey=new["auth_skey"])
    assert isinstance(fresh_auth.check()["time"], int)
