"""The nine connector actions through the official duo_client Admin client, signature v2
(HMAC-SHA512, form bodies) and v5 (JSON bodies), against a seeded emulator
(25 users, 30 phones, 5 admins, 12 bypass codes)."""

import hashlib

import pytest

from conftest import SEED

# Each test that writes uses objects chosen by signature version so the two runs do not
# interfere.
PICK = {2: 0, 5: 1}


def walk_keys(value):
    """Every dict key anywhere inside a JSON value."""
    if isinstance(value, dict):
        for key, inner in value.items():
            yield key
            yield from walk_keys(inner)
    elif isinstance(value, list):
        for inner in value:
            yield from walk_keys(inner)


def assert_duo_id(value, prefix):
    assert isinstance(value, str) and len(value) == 20 and value.startswith(prefix), value


def all_users(admin):
    users = admin.get_users()
    assert len(users) == SEED["users"]
    return users


# --- 8. Retrieve users --------------------------------------------------------------------------

def test_get_users_one_page_with_limit_and_offset(admin):
    first = admin.get_users(limit=10, offset=0)
    last = admin.get_users(limit=10, offset=20)
    assert len(first) == 10
    assert len(last) == SEED["users"] - 20
    for user in first + last:
        assert_duo_id(user["user_id"], "DU")
        assert isinstance(user["username"], str) and user["username"]
    assert not {u["user_id"] for u in first} & {u["user_id"] for u in last}


def test_get_users_paging_metadata(admin):
    response, data = admin.api_call("GET", "/admin/v1/users", {"limit": "10", "offset": "10"})
    users, metadata = admin.parse_json_response_and_metadata(response, data)
    assert len(users) == 10
    assert metadata["total_objects"] == SEED["users"]
    assert metadata["next_offset"] == 20

    response, data = admin.api_call("GET", "/admin/v1/users", {"limit": "10", "offset": "20"})
    users, metadata = admin.parse_json_response_and_metadata(response, data)
    assert len(users) == 5
    assert metadata.get("next_offset") is None


def test_get_users_iterates_all_pages(admin, emulator, sig_version):
    users = admin.get_users()  # no limit: duo_client's iterator over every page (limit=100)
    ids = [u["user_id"] for u in users]
    assert len(ids) == SEED["users"]
    assert len(set(ids)) == SEED["users"]

    # A small page size makes the same iterator follow metadata.next_offset across 4 pages.
    small = emulator.admin(sig_version, paging_limit=7)
    paged_ids = [u["user_id"] for u in small.get_users()]
    assert len(paged_ids) == SEED["users"]
    assert sorted(paged_ids) == sorted(ids)


# --- 7. Retrieve user by id ---------------------------------------------------------------------

def test_get_user_by_id(admin):
    listed = admin.get_users(limit=5, offset=0)[3]
    user = admin.get_user_by_id(listed["user_id"])
    assert user["user_id"] == listed["user_id"]
    assert user["username"] == listed["username"]
    assert user["status"] in ("active", "bypass", "disabled", "locked out")


# --- 9. Update user -----------------------------------------------------------------------------

def test_update_user_then_reread(admin, sig_version):
    target = admin.get_users(limit=2, offset=0)[PICK[sig_version]]
    realname = f"Zoë Ångström v{sig_version}"  # non-ASCII: form encoding (v2) / JSON escapes (v5)
    email = f"zoe.v{sig_version}@example.com"
    updated = admin.update_user(target["user_id"], realname=realname, email=email,
                                status="disabled")
    assert updated["user_id"] == target["user_id"]
    assert updated["realname"] == realname
    assert updated["email"] == email
    assert updated["status"] == "disabled"

    reread = admin.get_user_by_id(target["user_id"])
    assert reread["realname"] == realname
    assert reread["email"] == email
    assert reread["status"] == "disabled"
    assert reread["username"] == target["username"]


# --- 5. Retrieve phones -------------------------------------------------------------------------

def test_get_phones(admin):
    phones = admin.get_phones()
    ids = [p["phone_id"] for p in phones]
    assert len(ids) == SEED["phones"]
    assert len(set(ids)) == SEED["phones"]
    for phone in phones:
        assert_duo_id(phone["phone_id"], "DP")
        assert isinstance(phone["users"], list)
    page = admin.get_phones(limit=5, offset=25)
    assert [p["phone_id"] for p in page] == ids[25:30]


# --- 6. Retrieve phones by user id --------------------------------------------------------------

def test_get_user_phones(admin):
    owned = [p for p in admin.get_phones() if p["users"]]
    assert owned, "no seeded phone is associated with a user"
    phone = owned[0]
    user_id = phone["users"][0]["user_id"]
    phones = admin.get_user_phones(user_id)
    assert phone["phone_id"] in [p["phone_id"] for p in phones]
    page = admin.get_user_phones(user_id, limit=1, offset=0)
    assert len(page) == 1


# --- 1. Associate phone with user ---------------------------------------------------------------

def test_add_user_phone(admin, sig_version):
    user = admin.get_users(limit=1, offset=5 + PICK[sig_version])[0]
    before = {p["phone_id"] for p in admin.get_user_phones(user["user_id"])}
    phone = next(p for p in admin.get_phones() if p["phone_id"] not in before)

    result = admin.add_user_phone(user["user_id"], phone["phone_id"])
    assert result == ""  # Duo answers an empty string for associations

    after = {p["phone_id"] for p in admin.get_user_phones(user["user_id"])}
    assert after == before | {phone["phone_id"]}
    again = next(p for p in admin.get_phones() if p["phone_id"] == phone["phone_id"])
    assert user["user_id"] in [u["user_id"] for u in again["users"]]


# --- 3. Retrieve administrators -----------------------------------------------------------------

def test_get_admins(admin):
    admins = admin.get_admins()
    ids = [a["admin_id"] for a in admins]
    assert len(ids) == SEED["admins"]
    assert len(set(ids)) == SEED["admins"]
    for a in admins:
        assert_duo_id(a["admin_id"], "DE")
        assert a["name"] and a["email"]
    assert [a["admin_id"] for a in admin.get_admins(limit=2, offset=1)] == ids[1:3]


# --- 2. Modify administrator --------------------------------------------------------------------

def test_update_admin(admin, sig_version):
    target = admin.get_admins()[1 + PICK[sig_version]]
    name = f"Interop Admin v{sig_version}"
    # duo_client 5.7.0 cannot send a Python bool under v1/v2 (normalize_params iterates it:
    # TypeError), so v2 sends the form value "true", as form-encoding callers do; v5 sends JSON
    # true. Either way Duo answers the boolean.
    required = True if sig_version == 5 else "true"
    updated = admin.update_admin(target["admin_id"], name=name, password_change_required=required)
    assert updated["admin_id"] == target["admin_id"]
    assert updated["name"] == name
    assert updated["password_change_required"] is True

    reread = next(a for a in admin.get_admins() if a["admin_id"] == target["admin_id"])
    assert reread["name"] == name
    assert reread["password_change_required"] is True
    assert reread["email"] == target["email"]


# --- 4. Retrieve bypass codes -------------------------------------------------------------------

def test_get_bypass_codes_never_returns_codes(admin):
    codes = admin.get_bypass_codes()
    ids = [c["bypass_code_id"] for c in codes]
    assert len(ids) == SEED["bypass_codes"]
    assert len(set(ids)) == SEED["bypass_codes"]
    keys = set(walk_keys(codes))
    assert "code" not in keys and "codes" not in keys, sorted(keys)
    for c in codes:
        assert_duo_id(c["user"]["user_id"], "DU")
    assert len(admin.get_bypass_codes(limit=5, offset=0)) == 5


# --- what the emulator saw ------------------------------------------------------------------------

def test_request_log_names_the_clients_signature_version(emulator, admin, sig_version):
    user_id = admin.get_users(limit=1, offset=4)[0]["user_id"]
    emulator.control("DELETE", "/_emulator/requests")
    admin.get_users(limit=1, offset=0)
    admin.update_user(user_id, notes="logged")
    log = emulator.control("GET", "/_emulator/requests")
    assert [(e["method"], e["path"], e["sig_version"], e["status"], e["outcome"]) for e in log] == [
        ("GET", "/admin/v1/users", sig_version, 200, "ok"),
        ("POST", "/admin/v1/users/" + user_id, sig_version, 200, "ok"),
    ], log


# --- v2 with HMAC-SHA1 --------------------------------------------------------------------------

def test_sig_v2_hmac_sha1(emulator):
    sha1 = emulator.admin(2, digestmod=hashlib.sha1)
    users = sha1.get_users(limit=3, offset=0)
    assert len(users) == 3
    updated = sha1.update_user(users[2]["user_id"], notes="signed with HMAC-SHA1")
    assert updated["notes"] == "signed with HMAC-SHA1"
    assert sha1.get_user_by_id(users[2]["user_id"])["notes"] == "signed with HMAC-SHA1"
    assert isinstance(emulator.auth(2, digestmod=hashlib.sha1).check()["time"], int)
