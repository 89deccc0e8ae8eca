"""Phones through the official duo_client Admin client (signature v2 and v5): create, update,
activation link and SMS, dissociate and delete, with Duo's spellings and errors."""

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


def test_send_sms_activation_to_phone_texts_a_mobile_and_the_emulator_records_it(
        emulator, admin, sig_version):
    phone = admin.add_phone(number=f"+1555100{sig_version}888", type="mobile",
                            platform="google android")
    sent = admin.send_sms_activation_to_phone(
        phone["phone_id"], valid_secs=3600, install=1,
        installation_msg="Install: <insturl>", activation_msg="Activate: <acturl>")
    assert sent["valid_secs"] == 3600
    assert sent["activation_msg"].startswith("Activate: ") and "/activate/" in sent["activation_msg"]
    assert sent["installation_msg"].startswith("Install: ")
    assert "activation_barcode" in sent
    recorded = [s for s in emulator.control("GET", "/_emulator/sms")
                if s["phone_id"] == phone["phone_id"]]
    assert len(recorded) == 1
    assert recorded[0]["messages"] == [sent["installation_msg"], sent["activation_msg"]]
    assert recorded[0]["expiration"] - recorded[0]["sent"] == 3600


def test_send_sms_activation_to_phone_refuses_what_duo_refuses(emulator, admin, sig_version):
    landline = admin.add_phone(number=f"+1555200{sig_version}777", type="landline")
    mobile = admin.add_phone(number=f"+1555300{sig_version}666", type="mobile",
                             platform="apple ios")
    before = len(emulator.control("GET", "/_emulator/sms"))
    for call, detail in [
        (lambda: admin.send_sms_activation_to_phone(landline["phone_id"]), "type"),
        (lambda: admin.send_sms_activation_to_phone(mobile["phone_id"],
                                                    activation_msg="no link"), "activation_msg"),
        (lambda: admin.send_sms_activation_to_phone(mobile["phone_id"], install=1,
                                                    installation_msg="no link"),
         "installation_msg"),
    ]:
        with pytest.raises(RuntimeError) as caught:
            call()
        assert caught.value.status == 400
        assert caught.value.data["code"] == 40002
        assert caught.value.data["message_detail"] == detail
    assert len(emulator.control("GET", "/_emulator/sms")) == before
