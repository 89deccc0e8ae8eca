//! duo_unix's text-prompt protocol (`text_prompt=1`, `factor=prompt`), the waiting messages of
//! each factor, Verified Duo Push, and what is recorded, on a paused clock.

use std::time::Duration;

use serde_json::{Value, json};

use duo_emulator::Emulator;

use crate::support::{auth, config, control, emulator, ok, send};

/// An emulator whose users answer 4 s after being asked.
fn slow_emulator() -> Emulator {
    let mut cfg = config("");
    cfg.answer_delay = Duration::from_secs(4);
    Emulator::new(cfg).unwrap()
}

/// A user with one push-capable phone (and passcode 123456); answers the user object.
async fn user(emu: &Emulator, username: &str, extra: Value) -> Value {
    let mut body = json!({"username": username, "passcodes": ["123456"]});
    for (key, value) in extra.as_object().cloned().unwrap_or_default() {
        body[key] = value;
    }
    let reply = send(emu, control("POST", "/_emulator/users", body)).await;
    assert_eq!(reply.status, 200, "{:?}", reply.body);
    reply.body
}

/// Gives `user` a second phone that takes calls and SMS only; answers its id.
async fn add_call_and_sms_phone(emu: &Emulator, user: &Value, number: &str) -> String {
    let reply = send(
        emu,
        control(
            "POST",
            "/_emulator/phones",
            json!({"user_id": user["user_id"], "number": number, "capabilities": ["phone", "sms"]}),
        ),
    )
    .await;
    assert_eq!(reply.status, 200, "{:?}", reply.body);
    reply.body["phone_id"].as_str().unwrap().to_string()
}

fn masked_number(user: &Value, index: usize) -> String {
    let number = user["phones"][index]["number"].as_str().unwrap();
    format!("XXX-XXX-{}", &number[number.len() - 4..])
}

async fn preauth(emu: &Emulator, params: Value) -> Value {
    ok(emu, auth("POST", "/auth/v2/preauth", params)).await
}

async fn auth_call(emu: &Emulator, params: Value) -> Value {
    ok(emu, auth("POST", "/auth/v2/auth", params)).await
}

async fn poll(emu: &Emulator, txid: &str) -> Value {
    ok(
        emu,
        auth("GET", "/auth/v2/auth_status", json!({"txid": txid})),
    )
    .await
}

async fn transactions(emu: &Emulator) -> Vec<Value> {
    send(emu, control("GET", "/_emulator/transactions", Value::Null))
        .await
        .body
        .as_array()
        .unwrap()
        .clone()
}

/// Asserts a 400/40002 naming `detail`.
async fn refused(emu: &Emulator, params: Value, detail: &str) {
    let reply = send(emu, auth("POST", "/auth/v2/auth", params.clone())).await;
    assert_eq!(
        (
            reply.status,
            reply.body["code"].clone(),
            reply.body["message_detail"].clone()
        ),
        (400, json!(40002), json!(detail)),
        "{params}"
    );
}

#[tokio::test]
async fn the_menu_numbers_each_capability_of_a_single_phone() {
    let emu = emulator("");
    let pat = user(&emu, "pat", json!({})).await;
    let number = masked_number(&pat, 0);
    let pre = preauth(&emu, json!({"username": "pat", "text_prompt": "1"})).await;
    assert_eq!(pre["result"], "auth");
    assert_eq!(
        pre["prompt"]["text"],
        format!(
            "Duo two-factor login for pat\n\nEnter a passcode or select one of the following options:\n\n \
             1. Duo Push to {number}\n 2. Phone call to {number}\n 3. SMS passcodes to {number}\n\n\
             Passcode or option (1-3): "
        )
    );
    assert_eq!(
        pre["prompt"]["factors"],
        json!({"default": "push1", "1": "push1", "2": "phone1", "3": "sms1"})
    );
    assert!(pre.get("txid").is_none(), "no Verified Push unless asked");
    let plain = preauth(&emu, json!({"username": "pat"})).await;
    assert!(plain.get("prompt").is_none(), "no menu unless asked");
}

#[tokio::test]
async fn a_second_phone_counts_per_capability_and_groups_the_menu_by_factor() {
    let emu = emulator("");
    let kim = user(&emu, "kim", json!({})).await;
    let first = masked_number(&kim, 0);
    add_call_and_sms_phone(&emu, &kim, "+15555555678").await;
    let pre = preauth(&emu, json!({"username": "kim", "text_prompt": "1"})).await;
    assert_eq!(
        pre["prompt"]["text"],
        format!(
            "Duo two-factor login for kim\n\nEnter a passcode or select one of the following options:\n\n \
             1. Duo Push to {first}\n 2. Phone call to {first}\n 3. Phone call to XXX-XXX-5678\n \
             4. SMS passcodes to {first}\n 5. SMS passcodes to XXX-XXX-5678\n\n\
             Passcode or option (1-5): "
        )
    );
    assert_eq!(
        pre["prompt"]["factors"],
        json!({"default": "push1", "1": "push1", "2": "phone1", "3": "phone2", "4": "sms1", "5": "sms2"})
    );
    // A user whose only phone cannot take pushes defaults to a call.
    let caller = user(&emu, "caller", json!({"phones": 0})).await;
    add_call_and_sms_phone(&emu, &caller, "+15555550042").await;
    let pre = preauth(&emu, json!({"username": "caller", "text_prompt": "1"})).await;
    assert_eq!(
        pre["prompt"]["factors"],
        json!({"default": "phone1", "1": "phone1", "2": "sms1"})
    );
    // Passcodes only: nothing to choose.
    user(&emu, "tokens", json!({"phones": 0})).await;
    let pre = preauth(&emu, json!({"username": "tokens", "text_prompt": "1"})).await;
    assert_eq!(
        pre["prompt"],
        json!({"text": "Duo two-factor login for tokens\n\nEnter a passcode: "})
    );
}

#[tokio::test]
async fn enrollment_prompts_carry_the_enrollment_link() {
    let emu = emulator("");
    user(&emu, "newbie", json!({"answer": "not_enrolled"})).await;
    for username in ["newbie", "nobody-at-all"] {
        let pre = preauth(&emu, json!({"username": username, "text_prompt": "1"})).await;
        assert_eq!(pre["result"], "enroll", "{username}");
        let url = pre["enroll_portal_url"].as_str().unwrap();
        assert_eq!(
            pre["prompt"],
            json!({"text": format!("Please enroll at {url}")}),
            "{username}"
        );
    }
}

#[tokio::test(start_paused = true)]
async fn a_push_choice_waits_pushed_then_follows_the_script() {
    let emu = slow_emulator();
    user(&emu, "pat", json!({})).await;
    user(&emu, "dee", json!({"answer": "deny"})).await;
    for (username, choice, result, status) in [
        ("pat", "push1", "allow", "allow"),
        ("pat", "1", "allow", "allow"),
        ("dee", "push1", "deny", "deny"),
    ] {
        let txid = auth_call(
            &emu,
            json!({"username": username, "factor": "prompt", "prompt": choice, "async": "1"}),
        )
        .await["txid"]
            .as_str()
            .unwrap()
            .to_string();
        let at = tokio::time::Instant::now();
        assert_eq!(
            poll(&emu, &txid).await,
            json!({"result": "waiting", "status": "pushed", "status_msg": "Pushed a login request to your device..."}),
            "{choice}"
        );
        assert_eq!(
            at.elapsed(),
            Duration::ZERO,
            "the first poll answers at once"
        );
        let decided = poll(&emu, &txid).await;
        assert_eq!(at.elapsed(), Duration::from_secs(4), "then it long-polls");
        assert_eq!(
            (decided["result"].clone(), decided["status"].clone()),
            (json!(result), json!(status)),
            "{username} {choice}"
        );
        // Synchronously the same choice answers the decision after the delay.
        let at = tokio::time::Instant::now();
        let sync = auth_call(
            &emu,
            json!({"username": username, "factor": "prompt", "prompt": choice, "async": "0"}),
        )
        .await;
        assert_eq!(at.elapsed(), Duration::from_secs(4));
        assert_eq!(sync["result"], result, "{username} {choice}");
    }
    let recorded = transactions(&emu).await;
    assert_eq!(recorded[2]["choice"], "push1", "a number means its option");
    assert_eq!(recorded[2]["factor"], "prompt");
}

#[tokio::test(start_paused = true)]
async fn a_call_reports_dialing_then_answered_then_the_decision() {
    let emu = slow_emulator();
    let kim = user(&emu, "kim", json!({})).await;
    let second = add_call_and_sms_phone(&emu, &kim, "+15555555678").await;
    let txid = auth_call(
        &emu,
        json!({"username": "kim", "factor": "prompt", "prompt": "phone2", "async": "1"}),
    )
    .await["txid"]
        .as_str()
        .unwrap()
        .to_string();
    let at = tokio::time::Instant::now();
    let mut seen = Vec::new();
    for _ in 0..3 {
        let answer = poll(&emu, &txid).await;
        seen.push((
            at.elapsed().as_secs(),
            answer["result"].as_str().unwrap().to_string(),
            answer["status"].as_str().unwrap().to_string(),
            answer["status_msg"].as_str().unwrap().to_string(),
        ));
    }
    let row = |secs: u64, result: &str, status: &str, msg: &str| {
        (
            secs,
            result.to_string(),
            status.to_string(),
            msg.to_string(),
        )
    };
    assert_eq!(
        seen,
        [
            row(0, "waiting", "calling", "Dialing XXX-XXX-5678..."),
            row(
                2,
                "waiting",
                "answered",
                "Answered. Press any key on your phone to log in."
            ),
            row(4, "allow", "allow", "Success. Logging you in..."),
        ]
    );
    let recorded = transactions(&emu).await;
    assert_eq!(
        recorded[0]["device"],
        second.as_str(),
        "phone2 is the second phone"
    );
    assert_eq!(recorded[0]["choice"], "phone2");
    // Duo's own spelling: factor=phone on that device, synchronously.
    let sync = auth_call(
        &emu,
        json!({"username": "kim", "factor": "phone", "device": second}),
    )
    .await;
    assert_eq!(sync["status"], "allow");
    // factor=auto for a user whose only phone takes calls places a call.
    let caller = user(&emu, "caller", json!({"phones": 0})).await;
    add_call_and_sms_phone(&emu, &caller, "+15555550042").await;
    let txid = auth_call(
        &emu,
        json!({"username": "caller", "factor": "auto", "device": "auto", "async": "1"}),
    )
    .await["txid"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(
        poll(&emu, &txid).await["status_msg"],
        "Dialing XXX-XXX-0042..."
    );
}

#[tokio::test(start_paused = true)]
async fn an_sms_choice_denies_at_once_with_new_passcodes_sent() {
    let emu = slow_emulator();
    user(&emu, "pat", json!({})).await;
    let expected =
        json!({"result": "deny", "status": "sent", "status_msg": "New SMS passcodes sent."});
    for choice in ["sms1", "3"] {
        let at = tokio::time::Instant::now();
        let sync = auth_call(
            &emu,
            json!({"username": "pat", "factor": "prompt", "prompt": choice}),
        )
        .await;
        assert_eq!(at.elapsed(), Duration::ZERO);
        assert_eq!(sync, expected, "{choice}");
    }
    let txid = auth_call(
        &emu,
        json!({"username": "pat", "factor": "prompt", "prompt": "sms1", "async": "1"}),
    )
    .await["txid"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(poll(&emu, &txid).await, expected);
}

#[tokio::test]
async fn a_passcode_typed_at_the_prompt_is_checked_and_never_recorded() {
    let emu = emulator("");
    user(&emu, "pat", json!({})).await;
    let right = auth_call(
        &emu,
        json!({"username": "pat", "factor": "prompt", "prompt": "123456"}),
    )
    .await;
    assert_eq!(right["result"], "allow");
    let wrong = auth_call(
        &emu,
        json!({"username": "pat", "factor": "prompt", "prompt": "999999"}),
    )
    .await;
    assert_eq!(
        (wrong["result"].clone(), wrong["status_msg"].clone()),
        (
            json!("deny"),
            json!("Incorrect passcode. Please try again.")
        )
    );
    // A number beyond the menu, or with a leading zero, is a passcode too.
    for typed in ["7", "01"] {
        let answer = auth_call(
            &emu,
            json!({"username": "pat", "factor": "prompt", "prompt": typed}),
        )
        .await;
        assert_eq!(
            answer["status_msg"],
            "Incorrect passcode. Please try again."
        );
    }
    let recorded = transactions(&emu).await;
    assert_eq!(recorded[0]["choice"], "passcode");
    let log = send(&emu, control("GET", "/_emulator/requests", Value::Null))
        .await
        .body;
    let everything = format!("{recorded:?} {log}");
    assert!(
        !everything.contains("123456") && !everything.contains("999999"),
        "a passcode was recorded: {everything}"
    );
}

#[tokio::test]
async fn bad_prompt_choices_are_refused_naming_the_parameter() {
    let emu = emulator("");
    user(&emu, "pat", json!({})).await;
    refused(
        &emu,
        json!({"username": "pat", "factor": "prompt"}),
        "prompt",
    )
    .await;
    for choice in ["push2", "phone0", "sms9", "push"] {
        refused(
            &emu,
            json!({"username": "pat", "factor": "prompt", "prompt": choice}),
            "prompt",
        )
        .await;
    }
    assert!(transactions(&emu).await.is_empty(), "nothing was recorded");
}

#[tokio::test(start_paused = true)]
async fn verified_push_needs_the_preauth_txid_and_shows_the_code_while_waiting() {
    let emu = slow_emulator();
    user(&emu, "vera", json!({})).await;
    let pre = preauth(
        &emu,
        json!({"username": "vera", "text_prompt": "1", "client_supports_verified_push": "1"}),
    )
    .await;
    assert_eq!(
        pre["prompt"]["factors"],
        json!({"default": "verified_push1", "1": "verified_push1", "2": "phone1", "3": "sms1"})
    );
    let txid = pre["txid"].as_str().unwrap().to_string();
    let code = pre["verification_code"].as_str().unwrap().to_string();
    assert!(
        code.len() == 3 && code.chars().all(|c| c.is_ascii_digit()),
        "{code}"
    );
    assert_eq!(pre["expiration"], crate::support::now().as_second() + 300);
    let choose =
        json!({"username": "vera", "factor": "prompt", "prompt": "verified_push1", "async": "1"});
    refused(&emu, choose.clone(), "txid").await;
    let mut wrong = choose.clone();
    wrong["txid"] = json!("not-the-preauth-txid");
    refused(&emu, wrong, "txid").await;
    assert!(
        transactions(&emu).await.is_empty(),
        "refused calls record nothing"
    );
    let mut with_txid = choose.clone();
    with_txid["txid"] = json!(txid);
    let started = auth_call(&emu, with_txid.clone()).await;
    assert_eq!(
        started["txid"],
        txid.as_str(),
        "the transaction keeps the preauth txid"
    );
    assert_eq!(
        poll(&emu, &txid).await,
        json!({"result": "waiting", "status": "pushed", "verification_code": code,
               "status_msg": format!("Please enter verification code {code} into Duo Mobile...")})
    );
    assert_eq!(
        poll(&emu, &txid).await,
        json!({"result": "allow", "status": "allow", "status_msg": "Success. Logging you in..."})
    );
    refused(&emu, with_txid, "txid").await;
    // Another user cannot use vera's txid.
    user(&emu, "eve", json!({})).await;
    let pre = preauth(
        &emu,
        json!({"username": "vera", "client_supports_verified_push": "1"}),
    )
    .await;
    refused(
        &emu,
        json!({"username": "eve", "factor": "push", "device": "auto", "txid": pre["txid"]}),
        "txid",
    )
    .await;
    // Duo's API spelling: factor=push with the txid, synchronously.
    let decided = auth_call(
        &emu,
        json!({"username": "vera", "factor": "push", "device": "auto", "txid": pre["txid"]}),
    )
    .await;
    assert_eq!(decided["result"], "allow");
}

#[tokio::test(start_paused = true)]
async fn a_wrong_verification_code_denies_with_the_reason() {
    let emu = slow_emulator();
    user(&emu, "vic", json!({"verified_push": "wrong"})).await;
    let pre = preauth(
        &emu,
        json!({"username": "vic", "client_supports_verified_push": "1"}),
    )
    .await;
    let decided = auth_call(
        &emu,
        json!({"username": "vic", "factor": "prompt", "prompt": "1", "txid": pre["txid"]}),
    )
    .await;
    assert_eq!(
        decided,
        json!({"result": "deny", "status": "deny",
               "status_msg": "Incorrect verification code entered. Login request denied."})
    );
    let bad = send(
        &emu,
        control(
            "POST",
            "/_emulator/users",
            json!({"username": "vic", "verified_push": "maybe"}),
        ),
    )
    .await;
    assert_eq!(bad.status, 400);
    // Without a push-capable phone there is nothing to verify.
    let caller = user(&emu, "caller", json!({"phones": 0})).await;
    add_call_and_sms_phone(&emu, &caller, "+15555550042").await;
    let pre = preauth(
        &emu,
        json!({"username": "caller", "client_supports_verified_push": "1", "text_prompt": "1"}),
    )
    .await;
    assert!(pre.get("txid").is_none(), "{pre}");
    assert_eq!(pre["prompt"]["factors"]["default"], "phone1");
}

#[tokio::test]
async fn failmode_hostname_ipaddr_and_pushinfo_are_recorded() {
    let emu = emulator("");
    user(&emu, "pat", json!({})).await;
    preauth(
        &emu,
        json!({"username": "pat", "text_prompt": "1", "failmode": "closed", "hostname": "bastion.example.com", "ipaddr": "192.0.2.9"}),
    )
    .await;
    auth_call(
        &emu,
        json!({"username": "pat", "factor": "prompt", "prompt": "push1", "async": "1", "failmode": "open",
               "hostname": "bastion.example.com", "ipaddr": "192.0.2.9", "pushinfo": "Server+IP=10.0.0.1&Command="}),
    )
    .await;
    let recorded = transactions(&emu).await;
    for (field, value) in [
        ("failmode", "open"),
        ("hostname", "bastion.example.com"),
        ("ipaddr", "192.0.2.9"),
        ("pushinfo", "Server+IP=10.0.0.1&Command="),
    ] {
        assert_eq!(recorded[0][field], value, "{field}");
    }
    let log = send(&emu, control("GET", "/_emulator/requests", Value::Null))
        .await
        .body;
    let preauth_entry = log
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["path"] == "/auth/v2/preauth")
        .unwrap()
        .clone();
    assert_eq!(
        preauth_entry["params"],
        json!({"username": "pat", "text_prompt": "1", "failmode": "closed",
               "hostname": "bastion.example.com", "ipaddr": "192.0.2.9"})
    );
    let bad = send(
        &emu,
        auth(
            "POST",
            "/auth/v2/preauth",
            json!({"username": "pat", "failmode": "sideways"}),
        ),
    )
    .await;
    assert_eq!(bad.body["message_detail"], "failmode");
}

#[tokio::test(start_paused = true)]
async fn the_control_api_answers_a_waiting_push_and_wakes_its_waiters() {
    let emu = emulator("");
    user(&emu, "sleepy", json!({"answer": "timeout"})).await;
    let pending = {
        let emu = emu.clone();
        tokio::spawn(async move {
            let at = tokio::time::Instant::now();
            let answer = auth_call(
                &emu,
                json!({"username": "sleepy", "factor": "push", "device": "auto"}),
            )
            .await;
            (answer, at.elapsed())
        })
    };
    while transactions(&emu).await.is_empty() {
        tokio::task::yield_now().await;
    }
    let answered = send(
        &emu,
        control(
            "POST",
            "/_emulator/transactions/answer",
            json!({"username": "sleepy", "answer": "approve"}),
        ),
    )
    .await;
    assert_eq!(answered.status, 200, "{:?}", answered.body);
    assert_eq!(answered.body["answered"].as_array().unwrap().len(), 1);
    let (answer, waited) = pending.await.unwrap();
    assert_eq!(answer["result"], "allow");
    assert!(
        waited < Duration::from_secs(60),
        "woken before the push timeout"
    );
    let refused = send(
        &emu,
        control(
            "POST",
            "/_emulator/transactions/answer",
            json!({"username": "sleepy", "answer": "bypass"}),
        ),
    )
    .await;
    assert_eq!(refused.status, 400);
}
