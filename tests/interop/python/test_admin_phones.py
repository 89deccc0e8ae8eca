"""Phones through the official duo_client Admin client (signature v2 and v5): create, update,
activation link, dissociate and delete, with Duo's spellings and errors."""

import pytest


def test_phone_lifecycle(admin, sig_version):
    phone = admin.add_phone(number=f"+1555000{sig_version}999", type="mobile",
                            platform="apple ios", name="interop")
    assert phone["type"] == "Mobile" and phone["platform"] == "Apple iOS"
    assert phone["phone_id"].startswith("DP") and len(phone["phone_id"]) == 20
    updated = admin.update_phone(phone["phone_id"], name="renamed", predelay="2")
    assert updated["name"] == "renamed" and updated["predelay"] == "2"
    link = admin.create_activation_url(phone["phone_id"], valid_secs=3600, install=1)
    assert link["valid_secs"] == 3600 and "installation_url" in link
    user = admin.add_user(f"phone-owner-v{sig_version}")
    admin.add_user_phone(user["user_id"], phone["phone_id"])
    assert admin.delete_user_phone(user["user_id"], phone["phone_id"]) == ""
    assert admin.get_user_phones(user["user_id"]) == []
    assert admin.delete_phone(phone["phone_id"]) == ""
    with pytest.raises(RuntimeError) as caught:
        admin.get_phone_by_id(phone["phone_id"])
    assert caught.value.status == 404


def test_bad_phone_parameters_are_named(admin):
    with pytest.raises(RuntimeError) as caught:
        admin.add_phone(number="+15550001111", platform="nokia 3310")
    assert caught.value.data["code"] == 40002
    assert caught.value.data["message_detail"] == "platform"
