"""The Vault dialect, judged by hvac 2.4.0 and by OpenBao 2.7.2 itself.

Two kinds of test:

1. `test_side_by_side_*`: one scenario (method CRUD and list, upsert, full-replace updates,
   the error catalogue, auth mounts, login enforcements and in-use delete refusal,
   namespaces and their visibility rules, access) runs step by step against `duogate serve
   --dev` and against a real `bao server -dev`, through hvac's RawAdapter. For every step the
   status code, the JSON shape (types instead of values; UUID keys as `<id>`) and the
   error texts (UUIDs as `<id>`) must be equal, except for the steps listed in
   `KNOWN_DIFFERENCES`, each with its reason; a listed difference that disappears fails the
   test too, so the list stays true.
2. `test_hvac_*`: hvac's own high-level calls (`write`, `read`, `list`, `delete`,
   `sys.create_namespace`, `sys.list_auth_methods`, …) against both servers must give the same
   Python results (dict, `requests.Response` on 204, `None` on 404, the same exception types),
   and every refused request must leave what was stored unchanged.
"""

import uuid

import hvac
import hvac.exceptions
import pytest
import requests

from vault_backends import Backend, OpenBao, observe

API_HOSTNAME = "api-deadbeef.duosecurity.com"
SKEY = "Zh5eGmUq9zpfQnyUIu5OL9iWoMMv5ZNmk3zLJ4Ep"
KEYS = {"secret_key": SKEY, "integration_key": "DIWJ8X6AEYOR5OMC6TQ1", "api_hostname": API_HOSTNAME}

# Steps whose answers differ on purpose, with the reason. The scenario checks that each listed
# step really differs.
KNOWN_DIFFERENCES = {
    "read duo without id": "OpenBao answers 400 'missing method ID'; Vault (and duogate) 405, "
                           "since the bare path only carries create and list "
                           "(docs/vault-dialect.md §2.1)",
    "invalid JSON body": "OpenBao says 'failed to decode JSON input: …'; duogate uses Vault's "
                         "'failed to parse JSON input: …' (same status)",
    "free-text push_info": "duogate refuses push_info that is not URL-encoded pairs at write "
                           "time (Duo would refuse the push: vault#17583); OpenBao stores it",
    "api_hostname not a host": "duogate validates api_hostname at write time; OpenBao stores "
                               "any string and fails at login",
    "delete namespace": "duogate deletes synchronously and answers status 'deleted'; OpenBao "
                        "answers 'in-progress' (same shape: checked as a value difference only)",
}


@pytest.fixture(scope="module")
def openbao():
    server = OpenBao()
    yield Backend("openbao", server.url, server.token, auth_type="userpass")
    server.stop()


@pytest.fixture(scope="module")
def duogate(dev_service):
    return Backend("duogate", dev_service.url, dev_service.root_token, auth_type="trusted")


def scenario(backend):
    """Runs the scenario; returns [(label, (status, shape, errors))] in order."""
    steps = []

    def step(label, method, path, body=None, **kwargs):
        response = backend.request(method, path, body, **kwargs)
        steps.append((label, observe(response)))
        return response

    def data(response):
        return response.json()["data"]

    step("list methods when none", "LIST", "identity/mfa/method/duo")
    step("list all types when none", "GET", "identity/mfa/method?list=True")
    created = step("create method", "POST", "identity/mfa/method/duo",
                   dict(KEYS, method_name="corp", push_info="from=vault", use_passcode=True,
                        mount_accessor="ignored"))
    method_id = data(created)["method_id"]
    step("read method", "GET", f"identity/mfa/method/duo/{method_id}")
    step("read method untyped", "GET", f"identity/mfa/method/{method_id}")
    step("list with LIST", "LIST", "identity/mfa/method/duo")
    step("list with ?list=true", "GET", "identity/mfa/method/duo?list=true")
    step("list with ?list=True", "GET", "identity/mfa/method/duo?list=True")
    step("list with a bad flag", "GET", "identity/mfa/method/duo?list=yes")
    step("list all types", "LIST", "identity/mfa/method")
    step("update full replace", "POST", f"identity/mfa/method/duo/{method_id}", dict(KEYS))
    step("read after full replace", "GET", f"identity/mfa/method/duo/{method_id}")
    step("update without keys", "POST", f"identity/mfa/method/duo/{method_id}",
         {"integration_key": "x"})
    step("update without integration_key", "POST", f"identity/mfa/method/duo/{method_id}",
         {"secret_key": "s"})
    step("update without api_hostname", "POST", f"identity/mfa/method/duo/{method_id}",
         {"secret_key": "s", "integration_key": "i"})
    step("update a bad bool", "POST", f"identity/mfa/method/duo/{method_id}",
         dict(KEYS, use_passcode="maybe"))
    step("update an unknown id", "POST", f"identity/mfa/method/duo/{uuid.uuid4()}", dict(KEYS))
    upsert = step("create with a taken name upserts", "POST", "identity/mfa/method/duo",
                  dict(KEYS, method_name="corp"))
    steps.append(("upsert keeps the id", (data(upsert)["method_id"] == method_id, None, None)))
    other = data(step("create a second method", "POST", "identity/mfa/method/duo",
                      dict(KEYS, method_name="other")))["method_id"]
    step("rename onto a taken name", "POST", f"identity/mfa/method/duo/{other}",
         dict(KEYS, method_name="corp"))
    step("read an uppercase id", "GET", f"identity/mfa/method/duo/{method_id.upper()}")
    step("read not-a-uuid", "GET", "identity/mfa/method/duo/not-a-uuid")
    step("read an unknown id", "GET", f"identity/mfa/method/duo/{uuid.uuid4()}")
    step("read duo without id", "GET", "identity/mfa/method/duo")
    step("patch", "PATCH", f"identity/mfa/method/duo/{method_id}", dict(KEYS),
         content_type="application/merge-patch+json")
    step("unknown verb", "FOO", f"identity/mfa/method/duo/{method_id}")
    # hvac strips trailing slashes, so this one goes through requests itself.
    trailing = requests.post(backend.url + "/v1/identity/mfa/method/duo/", json=KEYS,
                             headers={"X-Vault-Token": backend.token}, timeout=30)
    steps.append(("write with a trailing slash", observe(trailing)))
    step("invalid JSON body", "POST", "identity/mfa/method/duo", raw_body="{nope",
         content_type="application/json")
    step("form body", "POST", f"identity/mfa/method/duo/{other}",
         raw_body=f"secret_key={SKEY}&integration_key=DIX&api_hostname={API_HOSTNAME}",
         content_type="application/x-www-form-urlencoded")
    step("free-text push_info", "POST", f"identity/mfa/method/duo/{other}",
         dict(KEYS, push_info="sent from vault"))
    step("api_hostname not a host", "POST", f"identity/mfa/method/duo/{other}",
         dict(KEYS, api_hostname="not a host"))

    # Auth mounts and login enforcements.
    step("mount an auth method", "POST", "sys/auth/first", {"type": backend.auth_type})
    step("mount the same path again", "POST", "sys/auth/first", {"type": backend.auth_type})
    step("mount an unknown type", "POST", "sys/auth/second", {"type": "nosuch"})
    mounts = backend.request("GET", "sys/auth").json()["data"]
    accessor = mounts["first/"]["accessor"]
    steps.append(("mounts include token and first",
                  (sorted(mounts) == ["first/", "token/"], None, None)))
    enforcement = "identity/mfa/login-enforcement/e1"
    step("enforcement without method ids", "POST", enforcement,
         {"auth_method_accessors": [accessor]})
    step("enforcement with an unknown method", "POST", enforcement,
         {"mfa_method_ids": [str(uuid.uuid4())], "auth_method_accessors": [accessor]})
    step("enforcement with a bad accessor", "POST", enforcement,
         {"mfa_method_ids": [method_id], "auth_method_accessors": ["auth_nope_1234"]})
    step("enforcement with a bad type", "POST", enforcement,
         {"mfa_method_ids": [method_id], "auth_method_types": ["nosuch"]})
    step("enforcement with no selector", "POST", enforcement, {"mfa_method_ids": [method_id]})
    step("read enforcement before it exists", "GET", enforcement)
    step("list enforcements when none", "LIST", "identity/mfa/login-enforcement")
    step("write enforcement", "POST", enforcement,
         {"mfa_method_ids": method_id, "auth_method_accessors": [accessor]})
    step("read enforcement", "GET", enforcement)
    step("update enforcement by type", "POST", enforcement,
         {"mfa_method_ids": [method_id, other], "auth_method_types": [backend.auth_type]})
    step("read enforcement after update", "GET", enforcement)
    step("list enforcements", "LIST", "identity/mfa/login-enforcement")
    step("enforcement with a bad name", "POST", "identity/mfa/login-enforcement/-bad-",
         {"mfa_method_ids": [method_id], "auth_method_types": [backend.auth_type]})
    step("delete a method in use", "DELETE", f"identity/mfa/method/duo/{method_id}")
    step("method in use still reads", "GET", f"identity/mfa/method/duo/{method_id}")
    step("delete enforcement", "DELETE", enforcement)
    step("delete enforcement again", "DELETE", enforcement)
    step("delete method", "DELETE", f"identity/mfa/method/duo/{method_id}")
    step("delete method again", "DELETE", f"identity/mfa/method/duo/{method_id}")
    step("read deleted method", "GET", f"identity/mfa/method/duo/{method_id}")

    # Namespaces.
    step("list namespaces when none", "LIST", "sys/namespaces")
    step("create namespace", "POST", "sys/namespaces/ns1")
    step("create sibling namespace", "POST", "sys/namespaces/sib")
    step("create nested namespace", "POST", "sys/namespaces/ns2", namespace="ns1/")
    step("namespace name with a slash", "POST", "sys/namespaces/a/b")
    step("list namespaces", "LIST", "sys/namespaces")
    step("list nested namespaces", "LIST", "sys/namespaces", namespace="ns1")
    step("read namespace", "GET", "sys/namespaces/ns1")
    in_ns = data(step("create method by path prefix", "POST",
                      "ns1/identity/mfa/method/duo", dict(KEYS, method_name="corp")))["method_id"]
    step("read namespaced method", "GET", f"identity/mfa/method/duo/{in_ns}", namespace="ns1")
    step("root list leaves out the namespace's methods", "LIST", "identity/mfa/method/duo")
    step("namespace list includes ancestors", "LIST", "identity/mfa/method/duo", namespace="ns1")
    step("child reads the parent's method", "GET", f"identity/mfa/method/duo/{other}",
         namespace="ns1/ns2")
    step("root reads the child's method", "GET", f"identity/mfa/method/duo/{in_ns}")
    step("sibling cannot read", "GET", f"identity/mfa/method/duo/{in_ns}", namespace="sib")
    step("update from another namespace", "POST", f"identity/mfa/method/duo/{in_ns}",
         dict(KEYS))
    step("delete from another namespace", "DELETE", f"identity/mfa/method/duo/{in_ns}")
    step("enforcement in a sibling's namespace", "POST", enforcement,
         {"mfa_method_ids": [in_ns], "identity_entity_ids": ["x"]}, namespace="sib")
    step("unknown namespace", "LIST", "identity/mfa/method/duo", namespace="nope")
    step("delete nested namespace", "DELETE", "sys/namespaces/ns2", namespace="ns1")

    # Access.
    step("no token", "LIST", "identity/mfa/method/duo", token="")
    step("bad token", "LIST", "identity/mfa/method/duo", token="s.nope")
    step("no token on a write", "POST", "identity/mfa/method/duo", dict(KEYS), token="")
    step("path under no mount", "GET", "nosuch/thing")
    return steps


def test_side_by_side_status_codes_and_shapes_match_openbao(duogate, openbao):
    ours = scenario(duogate)
    theirs = scenario(openbao)
    assert [label for label, _ in ours] == [label for label, _ in theirs]
    unexpected, vanished = [], []
    for (label, mine), (_, bao) in zip(ours, theirs):
        if label in KNOWN_DIFFERENCES:
            if mine == bao and label != "delete namespace":
                vanished.append(label)
            continue
        if mine != bao:
            unexpected.append(f"{label}:\n  duogate: {mine}\n  openbao: {bao}")
    assert not unexpected, "answers differ from OpenBao's:\n" + "\n".join(unexpected)
    assert not vanished, f"listed differences no longer differ: {vanished}"


def test_side_by_side_namespace_delete_differs_only_in_its_status_value(duogate, openbao):
    for backend, status in ((duogate, "deleted"), (openbao, "in-progress")):
        backend.request("POST", "sys/namespaces/gone")
        response = backend.request("DELETE", "sys/namespaces/gone")
        assert response.status_code == 200, (backend.name, response.text)
        assert response.json()["data"] == {"status": status}, backend.name


@pytest.fixture(params=["duogate", "openbao"])
def backend(request, duogate, openbao):
    return {"duogate": duogate, "openbao": openbao}[request.param]


def stored_methods(client):
    listed = client.list("identity/mfa/method/duo")
    return {} if listed is None else listed["data"]["key_info"]


def test_hvac_method_crud_returns_what_vault_returns(backend):
    client = backend.hvac
    created = client.write("identity/mfa/method/duo", method_name="hvac-crud", **KEYS)
    assert isinstance(created, dict)
    method_id = created["data"]["method_id"]
    read = client.read(f"identity/mfa/method/duo/{method_id}")["data"]
    assert read["name"] == "hvac-crud" and read["type"] == "duo"
    assert "secret_key" not in read and "integration_key" not in read
    assert SKEY not in str(read)
    # Update is 204: hvac hands back the raw Response.
    updated = client.write(f"identity/mfa/method/duo/{method_id}", push_info="from=hvac", **KEYS)
    assert isinstance(updated, requests.Response) and updated.status_code == 204
    assert client.read(f"identity/mfa/method/duo/{method_id}")["data"]["pushinfo"] == "from=hvac"
    assert method_id in client.list("identity/mfa/method/duo")["data"]["keys"]
    assert client.delete(f"identity/mfa/method/duo/{method_id}") is None
    assert client.read(f"identity/mfa/method/duo/{method_id}") is None


def test_hvac_refused_writes_raise_and_change_nothing(backend):
    client = backend.hvac
    method_id = client.write("identity/mfa/method/duo", method_name="hvac-refused",
                             **KEYS)["data"]["method_id"]
    before = stored_methods(client)
    with pytest.raises(hvac.exceptions.InvalidRequest) as info:
        client.write(f"identity/mfa/method/duo/{method_id}", secret_key="s")
    assert info.value.errors == ["integration_key is empty"]
    with pytest.raises(hvac.exceptions.InvalidRequest):
        client.write(f"identity/mfa/method/duo/{method_id}", use_passcode="maybe", **KEYS)
    with pytest.raises(hvac.exceptions.InvalidPath):
        client.adapter.list("/v1/identity/mfa/login-enforcement")
    assert stored_methods(client) == before
    client.delete(f"identity/mfa/method/duo/{method_id}")


def test_hvac_enforcement_keeps_its_method_from_being_deleted(backend):
    client = backend.hvac
    path = f"hvac-{backend.auth_type}"
    client.sys.enable_auth_method(backend.auth_type, path=path)
    accessor = client.sys.list_auth_methods()["data"][f"{path}/"]["accessor"]
    method_id = client.write("identity/mfa/method/duo", method_name="hvac-enf",
                             **KEYS)["data"]["method_id"]
    written = client.write("identity/mfa/login-enforcement/hvac-enf",
                           mfa_method_ids=[method_id], auth_method_accessors=[accessor])
    assert isinstance(written, requests.Response) and written.status_code == 204
    enforcement = client.read("identity/mfa/login-enforcement/hvac-enf")["data"]
    assert enforcement["mfa_method_ids"] == [method_id]
    assert enforcement["auth_method_accessors"] == [accessor]
    before = stored_methods(client)
    with pytest.raises(hvac.exceptions.InternalServerError) as info:
        client.delete(f"identity/mfa/method/duo/{method_id}")
    assert info.value.errors == [
        "1 error occurred:\n\t* methodID is still used by an enforcement configuration "
        f"with ID: {enforcement['id']}\n\n"]
    assert stored_methods(client) == before
    client.delete("identity/mfa/login-enforcement/hvac-enf")
    client.delete(f"identity/mfa/method/duo/{method_id}")
    assert client.read(f"identity/mfa/method/duo/{method_id}") is None
    client.sys.disable_auth_method(path)


def test_hvac_namespaces_scope_what_a_client_sees(backend):
    client = backend.hvac
    client.sys.create_namespace("hvac-ns")
    assert "hvac-ns/" in client.sys.list_namespaces()["data"]["keys"]
    scoped = hvac.Client(url=backend.url, token=backend.token, namespace="hvac-ns", timeout=30)
    method_id = scoped.write("identity/mfa/method/duo", method_name="scoped",
                             **KEYS)["data"]["method_id"]
    read = scoped.read(f"identity/mfa/method/duo/{method_id}")["data"]
    assert read["namespace_path"] == "hvac-ns/"
    assert method_id in scoped.list("identity/mfa/method/duo")["data"]["keys"]
    assert method_id not in stored_methods(client)
    scoped.delete(f"identity/mfa/method/duo/{method_id}")
    client.sys.delete_namespace("hvac-ns")


def test_hvac_reads_health_and_refuses_without_a_token(backend):
    health = backend.hvac.sys.read_health_status(method="GET")
    assert health["initialized"] is True and health["sealed"] is False
    anonymous = hvac.Client(url=backend.url, timeout=30)
    with pytest.raises(hvac.exceptions.Forbidden) as info:
        anonymous.list("identity/mfa/method/duo")
    assert info.value.errors == ["permission denied"]


def test_hvac_two_phase_login_against_duogate(duogate, dev_service):
    """hvac logs in through a `trusted` mount, gets `mfa_requirement`, validates with a push
    that the emulator's user approves, and the new token describes itself (lookup-self).
    OpenBao has no `trusted` auth method, so this runs against duogate only."""
    client = duogate.hvac
    dev_service.emulator_control("POST", "/_emulator/users",
                                 {"username": "hvac-alice", "answer": "approve"})
    dev_service.emulator_control("POST", "/_emulator/users",
                                 {"username": "hvac-bob", "answer": "deny", "passcodes": ["135790"]})
    client.sys.enable_auth_method("trusted", path="apps")
    accessor = client.sys.list_auth_methods()["data"]["apps/"]["accessor"]
    emulator = dev_service.emulator
    method_id = client.write(
        "identity/mfa/method/duo", method_name="hvac-login", api_hostname=emulator["url"],
        integration_key=emulator["auth_ikey"], secret_key=emulator["auth_skey"],
        username_format="{{identity.entity.aliases.%s.name}}" % accessor)["data"]["method_id"]
    client.write("identity/mfa/login-enforcement/hvac-login", mfa_method_ids=[method_id],
                 auth_method_accessors=[accessor])
    # The application's own token has the mfa role.
    mfa_token = requests.post(dev_service.url + "/v1/duogate/tokens", json={"role": "mfa"},
                              headers={"X-Vault-Token": dev_service.root_token},
                              timeout=30).json()["token"]
    app = hvac.Client(url=duogate.url, token=mfa_token, timeout=60)

    first = app.write("auth/apps/login", username="hvac-alice")
    requirement = first["auth"]["mfa_requirement"]
    assert first["auth"]["client_token"] == ""
    assert requirement["mfa_constraints"]["hvac-login"]["any"][0]["id"] == method_id
    user = hvac.Client(url=duogate.url, timeout=60)
    done = user.adapter.login("/v1/sys/mfa/validate", json={
        "mfa_request_id": requirement["mfa_request_id"], "mfa_payload": {method_id: [""]}})
    assert done["auth"]["client_token"] == user.token and user.token.startswith("dg.")
    me = user.lookup_token()["data"]
    assert me["display_name"] == "apps-hvac-alice" and me["policies"] == ["default"]
    assert me["entity_id"] == done["auth"]["entity_id"]

    # A denied push keeps the request; a passcode then completes it.
    second = app.write("auth/apps/login", username="hvac-bob")["auth"]["mfa_requirement"]
    with pytest.raises(hvac.exceptions.Forbidden) as info:
        user.write("sys/mfa/validate", mfa_request_id=second["mfa_request_id"],
                   mfa_payload={"hvac-login": []})
    assert info.value.errors[0].startswith("failed to satisfy enforcement hvac-login. error: ")
    retried = user.write("sys/mfa/validate", mfa_request_id=second["mfa_request_id"],
                         mfa_payload={"hvac-login": ["passcode=135790"]})
    assert retried["auth"]["client_token"].startswith("dg.")
    with pytest.raises(hvac.exceptions.InvalidRequest) as info:
        user.write("sys/mfa/validate", mfa_request_id=second["mfa_request_id"],
                   mfa_payload={"hvac-login": []})
    assert info.value.errors == ["invalid request ID"]


def test_no_secret_reaches_the_service_log(duogate, dev_service):
    """Runs last in this module: every test above sent secret keys, tokens and passcodes."""
    dev_service.assert_alive()
    log = dev_service.log()
    for secret in (SKEY, dev_service.emulator["auth_skey"], dev_service.root_token, "135790"):
        assert secret not in log, f"a secret reached the log: {secret[:4]}…"
