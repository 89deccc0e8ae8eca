"""The logs through the official duo_client Admin client (signature v2 and v5): the
authentication log v2 with its two-value next_offset, the administrator log, the telephony
and activity logs, and Duo's two-minute hold-back."""

import time

import pytest


def now_ms():
    return int(time.time() * 1000)


@pytest.fixture(scope="module")
def injected(emulator):
    """Five authentication entries 10 minutes ago (one a second), two just now (held back),
    and three administrator entries 10 minutes ago."""
    base = now_ms() - 600_000
    txids = []
    for i in range(5):
        entry = emulator.control("POST", "/_emulator/logs/authentication", {
            "username": f"user{i}", "timestamp_ms": base + i * 1000,
            "result": "denied" if i % 2 else "success"})
        txids.append(entry["txid"])
    for _ in range(2):
        emulator.control("POST", "/_emulator/logs/authentication",
                         {"username": "recent", "timestamp_ms": now_ms()})
    for i, action in enumerate(["user_create", "user_update", "user_delete"]):
        emulator.control("POST", "/_emulator/logs/administrator", {
            "action": action, "object": "jo", "timestamp_ms": base + i * 1000})
    return base, txids


def test_authentication_log_v2_pages_with_next_offset(admin, injected):
    base, txids = injected
    seen = []
    # duo_client sends GET parameters as given and cannot encode an int: limit is a string.
    kwargs = {"mintime": base - 1000, "maxtime": now_ms(), "limit": "2", "sort": "ts:asc"}
    while True:
        page = admin.get_authentication_log(api_version=2, **kwargs)
        assert page["metadata"]["total_objects"] == 5
        seen += [e["txid"] for e in page["authlogs"]]
        for entry in page["authlogs"]:
            assert entry["eventtype"] == "authentication"  # added by duo_client
            assert entry["user"]["name"].startswith("user")
        next_offset = page["metadata"].get("next_offset")
        if not next_offset:
            break
        assert len(next_offset) == 2
        kwargs["next_offset"] = next_offset
    assert seen == txids, "every settled entry once, oldest first; the recent ones held back"


def test_authentication_log_v2_filters_and_defaults(admin, injected):
    base, _ = injected
    denied = admin.get_authentication_log(api_version=2, mintime=base - 1000,
                                          maxtime=now_ms(), results=["denied"])
    assert [e["result"] for e in denied["authlogs"]] == ["denied", "denied"]
    # duo_client's defaults: the last day, newest first.
    recent = admin.get_authentication_log(api_version=2)
    stamps = [e["timestamp"] for e in recent["authlogs"]]
    assert len(stamps) == 5 and stamps == sorted(stamps, reverse=True)


def test_authentication_log_v2_refuses_a_mintime_older_than_180_days(admin):
    old = now_ms() - 181 * 86_400_000
    with pytest.raises(RuntimeError) as caught:
        admin.get_authentication_log(api_version=2, mintime=old, maxtime=now_ms())
    assert caught.value.status == 400
    assert caught.value.data["code"] == 40002
    assert caught.value.data["message_detail"] == "mintime must be within the past 180 days"


def test_administrator_log_from_mintime(admin, injected):
    base, _ = injected
    entries = admin.get_administrator_log(mintime=base // 1000 + 1)
    assert [e["action"] for e in entries] == ["user_update", "user_delete"]
    assert all(e["eventtype"] == "administrator" for e in entries)
    assert admin.get_administrator_log()  # duo_client's default mintime=0 reads from 180 days ago


def test_telephony_and_activity_logs_answer_items(admin, injected):
    base, _ = injected
    telephony = admin.get_telephony_log(mintime=base, api_version=2, maxtime=now_ms())
    assert telephony["items"] == []
    assert telephony["metadata"]["total_objects"] == {"relation": "eq", "value": 0}
    activity = admin.get_activity_logs(mintime=base - 1000, maxtime=now_ms())
    assert [i["action"] for i in activity["items"]] == \
        ["user_delete", "user_update", "user_create"]
