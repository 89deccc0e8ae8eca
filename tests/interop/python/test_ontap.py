"""The ONTAP dialect driven by NetApp's own client, `netapp-ontap` 9.19.1.0, against
`duogate serve --dev` (the `dev_service` fixture) over plain HTTP on the service's port.

How the client is made to speak plain HTTP to a custom port (read in the installed package,
`netapp_ontap/host_connection.py`): `HostConnection.__init__` takes `port=` (default 443) and
`scheme=` (default "https"), and builds every URL from `origin`, which is
`f"{scheme}://{host}:{port}"`. So

    HostConnection("127.0.0.1", port=PORT, scheme="http", username=U, password=P, verify=False)

talks to `http://127.0.0.1:PORT/api/...` with HTTP Basic. Exactly one authentication method may
be given; a token goes in `headers={"Authorization": "Bearer <token>"}` instead of a
username/password. `verify=False` only matters for https. Nothing in the client is patched;
`netapp_ontap.config.ENABLE_VALIDATIONS` is switched off only inside one test, to let an
out-of-range value reach the server (the client refuses it itself otherwise).

The profiles use the dev server's in-process Duo emulator (its Auth API keys and URL), so
`status` is a real `/auth/v2/check`. Every rejected request is followed by a check that the
stored profiles and groups (as `GET …?fields=*` shows them) are unchanged.
"""

import base64
import json
import re
import urllib.error
import urllib.request
import uuid

import pytest

import netapp_ontap.config
from netapp_ontap import HostConnection
from netapp_ontap.error import NetAppRestError
from netapp_ontap.resources import Duo, Duogroup, Svm

PROFILES = "/api/security/authentication/duo/profiles"
GROUPS = "/api/security/authentication/duo/groups"
BAD_KEY = "0123456789012345678901234567890123456789"
WRONG_KEY_STATUS = "Duo refused the request: 401 40103 Invalid signature in request credentials"


# --- plain HTTP helpers (for raw requests and state snapshots) --------------------------------

def http(service, method, path, body=None, auth="basic"):
    """One request to the service; answers (status, parsed JSON or None)."""
    data = None if body is None else (body if isinstance(body, bytes) else json.dumps(body).encode())
    req = urllib.request.Request(service.url + path, data=data, method=method)
    if auth == "basic":
        creds = f"{service.admin_user}:{service.admin_password}".encode()
        req.add_header("Authorization", "Basic " + base64.b64encode(creds).decode())
    elif auth == "token":
        req.add_header("X-Vault-Token", service.root_token)
    if data is not None:
        req.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            status, raw = resp.status, resp.read()
    except urllib.error.HTTPError as err:
        status, raw = err.code, err.read()
    return status, (json.loads(raw) if raw.strip() else None)


def snapshot(service):
    """Every stored profile and group, with every readable field."""
    status_p, profiles = http(service, "GET", PROFILES + "?fields=*")
    status_g, groups = http(service, "GET", GROUPS + "?fields=*")
    assert (status_p, status_g) == (200, 200)
    return {"profiles": profiles["records"], "groups": groups["records"]}


def new_svm(service):
    """A fresh tenant (SVM) through the native API; answers (name, uuid)."""
    name = "vs" + uuid.uuid4().hex[:10]
    status, body = http(service, "POST", "/v1/duogate/tenants", {"path": name}, auth="token")
    assert status == 201, body
    return name, body["id"]


def rejected(call):
    """Runs `call`, which must raise NetAppRestError; answers (status, error envelope)."""
    with pytest.raises(NetAppRestError) as info:
        call()
    error = info.value
    return error.status_code, (error.response_body or {}).get("error", {})


@pytest.fixture(scope="module")
def connection(dev_service):
    port = int(dev_service.url.rsplit(":", 1)[1])
    with HostConnection("127.0.0.1", port=port, scheme="http", username=dev_service.admin_user,
                        password=dev_service.admin_password, verify=False) as conn:
        yield conn


@pytest.fixture
def duo_keys(dev_service):
    emulator = dev_service.emulator
    return {"api_host": emulator["url"], "integration_key": emulator["auth_ikey"],
            "secret_key": emulator["auth_skey"]}


@pytest.fixture(scope="module")
def cluster_uuid(dev_service, connection):
    found = [svm for svm in Svm.get_collection() if svm.name == "cluster"]
    assert len(found) == 1
    return found[0].uuid


# --- Duo (profiles) ---------------------------------------------------------------------------

def test_post_hydrates_the_svm_profile_with_fingerprint_and_status_but_no_secret(
        dev_service, connection, duo_keys):
    name, svm_uuid = new_svm(dev_service)
    profile = Duo(fail_mode="secure", max_prompts=2, auto_push=True, owner={"uuid": svm_uuid},
                  **duo_keys)
    profile.post(hydrate=True)  # POST (201 + Location), then GET <Location>?fields=*
    assert profile.owner.uuid == svm_uuid
    assert profile.owner.name == name
    assert re.fullmatch(r"[0-9a-f]{64}", profile.fingerprint)
    assert profile.status == "OK"

    fresh = Duo(**{"owner.uuid": svm_uuid})
    shown = fresh.get()
    assert (fresh.fail_mode, fresh.max_prompts, fresh.auto_push) == ("secure", 2, True)
    assert fresh.api_host == duo_keys["api_host"]
    assert fresh.integration_key == duo_keys["integration_key"]
    assert not hasattr(fresh, "secret_key")
    assert duo_keys["secret_key"] not in shown.http_response.text
    assert "secret_key" not in shown.http_response.json()


def test_post_without_owner_is_the_cluster_profile_and_a_second_one_is_409(
        dev_service, connection, duo_keys, cluster_uuid):
    profile = Duo(**duo_keys)
    profile.post()
    assert profile.owner.uuid == cluster_uuid

    before = snapshot(dev_service)
    status, error = rejected(lambda: Duo(comment="again", **duo_keys).post())
    assert (status, error.get("code"), error.get("target")) == (409, "1", "owner.uuid")
    assert snapshot(dev_service) == before

    Duo(**{"owner.uuid": cluster_uuid}).delete()


def test_post_with_return_records_answers_the_record(dev_service, connection, duo_keys):
    _, svm_uuid = new_svm(dev_service)
    response = Duo(owner={"uuid": svm_uuid}, comment="returned", **duo_keys).post(
        return_records=True)
    assert response.http_response.status_code == 201
    assert response.http_response.headers["Location"] == f"{PROFILES}/{svm_uuid}"
    body = response.http_response.json()
    assert body["num_records"] == 1
    record = body["records"][0]
    assert (record["owner"]["uuid"], record["comment"], record["status"]) == (
        svm_uuid, "returned", "OK")
    assert "secret_key" not in record
    assert duo_keys["secret_key"] not in response.http_response.text


def test_collections_fields_filters_paging_find_and_count(dev_service, connection, duo_keys):
    names = {}
    for fail_mode, prompts in [("secure", 1), ("secure", 3), ("safe", 2)]:
        name, svm_uuid = new_svm(dev_service)
        names[name] = svm_uuid
        Duo(owner={"uuid": svm_uuid}, fail_mode=fail_mode, max_prompts=prompts,
            comment="collection-test", **duo_keys).post()
    mine = {"comment": "collection-test"}

    keys_only = list(Duo.get_collection(**mine))
    assert sorted(d.owner.name for d in keys_only) == sorted(names)
    for d in keys_only:
        assert set(d.to_dict()) <= {"owner", "_links"}, d.to_dict()
        assert not hasattr(d, "fail_mode")

    paged = list(Duo.get_collection(fields="*", max_records=1, **mine))
    assert sorted(d.owner.name for d in paged) == sorted(names)
    assert all(d.status == "OK" and len(d.fingerprint) == 64 for d in paged)

    secure = list(Duo.get_collection(fields="fail_mode,max_prompts", fail_mode="secure",
                                     order_by="max_prompts desc", **mine))
    assert [d.max_prompts for d in secure] == [3, 1]
    assert all(not hasattr(d, "api_host") for d in secure)

    assert Duo.count_collection(**mine) == 3
    assert Duo.count_collection(fail_mode="safe", **mine) == 1
    assert Duo.count_collection(max_prompts=">1", **mine) == 2
    assert Duo.count_collection(is_enabled=True, **mine) == 3

    found = Duo.find(max_prompts=2, **mine)
    assert found.fail_mode == "safe" and found.owner.uuid in names.values()
    name = next(iter(names))
    by_owner = Duo.find(owner={"name": name})
    assert by_owner.owner.uuid == names[name]
    assert Duo.find(owner={"name": "no-such-svm"}) is None
    with pytest.raises(NetAppRestError):
        Duo.find(**mine)  # more than one


def test_patch_sends_changes_and_rechecks_status(dev_service, connection, duo_keys):
    _, svm_uuid = new_svm(dev_service)
    Duo(owner={"uuid": svm_uuid}, auto_push=True, **duo_keys).post()

    profile = Duo(**{"owner.uuid": svm_uuid})
    profile.get()
    profile.comment = "Testing"
    profile.auto_push = False
    profile.patch()
    again = Duo(**{"owner.uuid": svm_uuid})
    again.get()
    assert (again.comment, again.auto_push, again.max_prompts) == ("Testing", False, 1)

    blind = Duo(**{"owner.uuid": svm_uuid})
    blind.max_prompts = 3
    blind.patch()
    blind.get()
    assert (blind.max_prompts, blind.comment) == (3, "Testing")

    wrong = Duo(**{"owner.uuid": svm_uuid})
    wrong.secret_key = BAD_KEY
    wrong.patch()
    wrong.get()
    assert wrong.status == WRONG_KEY_STATUS
    assert wrong.fingerprint != again.fingerprint

    fixed = Duo(**{"owner.uuid": svm_uuid})
    fixed.secret_key = duo_keys["secret_key"]
    fixed.patch()
    fixed.get()
    assert (fixed.status, fixed.fingerprint) == ("OK", again.fingerprint)


def test_delete_then_get_is_404_entry_doesnt_exist(dev_service, connection, duo_keys):
    _, svm_uuid = new_svm(dev_service)
    Duo(owner={"uuid": svm_uuid}, **duo_keys).post()
    profile = Duo(**{"owner.uuid": svm_uuid})
    assert profile.delete().http_response.status_code == 200
    status, error = rejected(lambda: Duo(**{"owner.uuid": svm_uuid}).get())
    assert status == 404
    assert error == {"message": "entry doesn't exist", "code": "4", "target": "uuid"}
    before = snapshot(dev_service)
    status, _ = rejected(lambda: Duo(**{"owner.uuid": svm_uuid}).delete())
    assert status == 404
    assert snapshot(dev_service) == before


def test_wrong_skey_is_reported_in_status(dev_service, connection, duo_keys):
    _, svm_uuid = new_svm(dev_service)
    keys = dict(duo_keys, secret_key=BAD_KEY)
    profile = Duo(owner={"uuid": svm_uuid}, **keys)
    profile.post(hydrate=True)
    assert profile.status == WRONG_KEY_STATUS
    failing = list(Duo.get_collection(status="!OK", fields="status"))
    assert svm_uuid in [d.owner.uuid for d in failing]


def test_invalid_input_is_refused_by_client_and_server_and_changes_nothing(
        dev_service, connection, duo_keys):
    _, svm_uuid = new_svm(dev_service)
    Duo(owner={"uuid": svm_uuid}, comment="stays", **duo_keys).post()
    before = snapshot(dev_service)

    # The client validates enums and ranges itself, before sending anything.
    with pytest.raises(NetAppRestError, match="max_prompts") as info:
        Duo(owner={"uuid": svm_uuid}, max_prompts=5, **duo_keys).post()
    assert info.value.status_code is None  # raised before any request

    # Sent anyway (client validation off), and sent raw, the server refuses them too.
    netapp_ontap.config.ENABLE_VALIDATIONS = False
    try:
        for field, value in [("max_prompts", 5), ("max_prompts", 0), ("fail_mode", "open")]:
            _, other_uuid = new_svm(dev_service)
            before = snapshot(dev_service)
            status, error = rejected(
                lambda: Duo(owner={"uuid": other_uuid}, **{field: value}, **duo_keys).post())
            assert (status, error.get("code"), error.get("target")) == (400, "2", field)
            patch = Duo(**{"owner.uuid": svm_uuid})
            setattr(patch, field, value)
            status, error = rejected(patch.patch)
            assert (status, error.get("code"), error.get("target")) == (400, "2", field)
            assert snapshot(dev_service) == before
    finally:
        netapp_ontap.config.ENABLE_VALIDATIONS = True

    for body, code, target in [
        (dict(duo_keys, owner={"uuid": svm_uuid}, max_prompts=5), "2", "max_prompts"),
        (dict(duo_keys, owner={"uuid": svm_uuid}, colour="red"), "262179", "colour"),
        ({"owner": {"uuid": svm_uuid}, "api_host": duo_keys["api_host"]}, "2",
         "integration_key"),
        (dict(duo_keys, owner={"uuid": str(uuid.uuid4())}), "2", "owner.uuid"),
    ]:
        status, answer = http(dev_service, "POST", PROFILES, body)
        assert (status, answer["error"]["code"], answer["error"].get("target")) == (
            400, code, target), answer
        assert duo_keys["secret_key"] not in json.dumps(answer)
    status, answer = http(dev_service, "POST", PROFILES, b"{not json")
    assert (status, answer["error"]["code"]) == (400, "2")
    assert snapshot(dev_service) == before


def test_bearer_tokens_work_and_bad_credentials_are_401(dev_service):
    port = int(dev_service.url.rsplit(":", 1)[1])
    with HostConnection("127.0.0.1", port=port, scheme="http", verify=False,
                        headers={"Authorization": f"Bearer {dev_service.root_token}"}):
        assert Duo.count_collection() >= 0
        assert any(svm.name == "cluster" for svm in Svm.get_collection())
    with HostConnection("127.0.0.1", port=port, scheme="http", username=dev_service.admin_user,
                        password="not-the-password", verify=False):
        status, error = rejected(lambda: list(Duo.get_collection()))
        assert (status, error.get("code")) == (401, "6")
        before_status, _ = http(dev_service, "GET", PROFILES)
        assert before_status == 200
        status, _ = rejected(
            lambda: Duo(api_host="api-x.duosecurity.com", integration_key="DIXXXXXXXXXXXXXXXXXX",
                        secret_key="s").post())
        assert status == 401


# --- Duogroup ---------------------------------------------------------------------------------

def test_groups_post_get_patch_collection_find_count_delete(dev_service, connection):
    svm_name, svm_uuid = new_svm(dev_service)
    name = "DOMAIN\\Storage Admins"
    group = Duogroup(name=name, excluded_users=["u1"], owner={"uuid": svm_uuid},
                     comment="storage")
    response = group.post()
    assert response.http_response.status_code == 201
    assert (group.owner.uuid, group.name) == (svm_uuid, name)

    fetched = Duogroup(name=name, **{"owner.uuid": svm_uuid})
    fetched.get()
    assert (fetched.excluded_users, fetched.comment, fetched.owner.name) == (
        ["u1"], "storage", svm_name)

    fetched.excluded_users = ["u1", "u2"]
    fetched.comment = "Testing"
    fetched.patch()
    again = Duogroup(name=name, **{"owner.uuid": svm_uuid})
    again.get()
    assert (again.excluded_users, again.comment) == (["u1", "u2"], "Testing")

    odd = Duogroup(name="a/b+c d", owner={"uuid": svm_uuid})
    odd.post(return_records=True)
    odd_again = Duogroup(name="a/b+c d", **{"owner.uuid": svm_uuid})
    odd_again.get()
    assert odd_again.name == "a/b+c d"

    mine = {"owner.uuid": svm_uuid}
    assert Duogroup.count_collection(**mine) == 2
    keys_only = list(Duogroup.get_collection(**mine))
    assert sorted(g.name for g in keys_only) == sorted([name, "a/b+c d"])
    assert all(not hasattr(g, "comment") for g in keys_only)
    with_user = list(Duogroup.get_collection(fields="*", excluded_users="u2", **mine))
    assert [g.name for g in with_user] == [name]
    found = Duogroup.find(name="domain*", **mine)
    assert found.comment == "Testing"
    assert Duogroup.find(owner={"name": svm_name}, name="a/b+c d").name == "a/b+c d"

    before = snapshot(dev_service)
    status, error = rejected(
        lambda: Duogroup(name=name, owner={"name": svm_name}).post())
    assert (status, error.get("code"), error.get("target")) == (409, "1", "name")
    status, answer = http(dev_service, "POST", GROUPS, {"owner": {"uuid": svm_uuid}})
    assert (status, answer["error"]["code"], answer["error"]["target"]) == (400, "2", "name")
    status, answer = http(dev_service, "POST", GROUPS,
                          {"owner": {"uuid": svm_uuid}, "name": "g", "members": ["x"]})
    assert (status, answer["error"]["code"]) == (400, "262179")
    status, error = rejected(
        lambda: Duogroup(name="missing", **{"owner.uuid": svm_uuid}).get())
    assert (status, error.get("code")) == (404, "4")
    assert snapshot(dev_service) == before

    for group_name in [name, "a/b+c d"]:
        Duogroup(name=group_name, **{"owner.uuid": svm_uuid}).delete()
    assert Duogroup.count_collection(**mine) == 0


def test_a_profile_and_groups_written_by_netapp_ontap_are_enforced_by_check(
        dev_service, connection, duo_keys):
    """What netapp-ontap configures is what the engine enforces: duo_unix's fail_mode, groups
    and excluded users, through the native `check`."""
    svm_name, svm_uuid = new_svm(dev_service)
    Duo(owner={"uuid": svm_uuid}, fail_mode="secure", **duo_keys).post()
    Duogroup(owner={"uuid": svm_uuid}, name="ops", excluded_users=["olga"]).post()
    dev_service.emulator_control("POST", "/_emulator/users",
                                 {"username": "oscar", "answer": "approve"})
    dev_service.emulator_control("POST", "/_emulator/users",
                                 {"username": "olivia", "answer": "deny"})

    def check(username, groups):
        status, body = http(dev_service, "POST", "/v1/duogate/check",
                            {"profile": svm_name, "username": username, "groups": groups},
                            auth="token")
        assert status == 200, body
        return body["result"], body["reason"]

    assert check("oscar", ["ops"]) == ("allow", "approved")
    assert check("olivia", ["ops"]) == ("deny", "denied")
    assert check("olga", ["ops"]) == ("allow", "excluded")
    assert check("ned", ["staff"]) == ("allow", "not_in_group")
    # Disabled through the client: Duo is skipped for everyone.
    profile = Duo(owner={"uuid": svm_uuid})
    profile.is_enabled = False
    profile.patch()
    assert check("olivia", ["ops"]) == ("allow", "disabled")


def test_no_secret_key_reaches_the_service_log(dev_service, duo_keys):
    """Runs last in this module: after every test above has sent secret keys."""
    dev_service.assert_alive()
    log = dev_service.log()
    for secret in (duo_keys["secret_key"], BAD_KEY):
        assert secret not in log
