"""Groups through the official duo_client Admin client (signature v2 and v5): create, read
(v1 and v2), modify, members, a user's groups, delete."""

import pytest


def test_group_lifecycle(admin, sig_version):
    group = admin.create_group(f"interop-v{sig_version}", desc="from duo_client",
                               status="bypass", push_enabled=False)
    assert group["status"] == "Bypass" and group["push_enabled"] is False
    group_id = group["group_id"]
    assert admin.get_group(group_id, api_version=2)["name"] == f"interop-v{sig_version}"
    changed = admin.modify_group(group_id, desc="changed")
    assert changed["desc"] == "changed"
    assert any(g["group_id"] == group_id for g in admin.get_groups())
    user = admin.add_user(f"grouped-v{sig_version}")
    assert admin.add_user_group(user["user_id"], group_id) == ""
    assert [u["user_id"] for u in admin.get_group_users(group_id)] == [user["user_id"]]
    assert [g["group_id"] for g in admin.get_user_groups(user["user_id"])] == [group_id]
    assert admin.get_user_by_id(user["user_id"])["groups"][0]["group_id"] == group_id
    assert admin.delete_user_group(user["user_id"], group_id) == ""
    assert admin.get_user_groups(user["user_id"]) == []
    assert admin.delete_group(group_id) == ""
    with pytest.raises(RuntimeError) as caught:
        admin.get_group(group_id, api_version=2)
    assert caught.value.status == 404


def test_group_names_are_unique_and_status_checked(admin, sig_version):
    admin.create_group(f"unique-v{sig_version}")
    with pytest.raises(RuntimeError) as caught:
        admin.create_group(f"unique-v{sig_version}")
    assert caught.value.data["message_detail"] == "name already exists"
    with pytest.raises(RuntimeError) as caught:
        admin.create_group(f"other-v{sig_version}", status="Active")
    assert caught.value.data["message_detail"] == "status"
