//! The enforcement engine against the in-process Duo emulator: every scripted answer under
//! both policies, the fail_mode matrix (faults before and after the auth phase), attempts,
//! groups, push deadlines, duo_unix's prompt choices and the progress of a waiting login
//! (Verified Push codes, call stages) on a paused clock.

mod support;

use std::time::Duration;

use serde_json::{Value, json};
use support::Duo;

use duogate_server::engine::{
    Attempt, Credential, Decision, Device, Factor, FactorChoice, FailMode, GroupRule, Limits,
    Outcome, Policy, Reason, UnixPolicy, decide, decide_reporting,
};

fn attempt(username: &str, credential: Credential) -> Attempt {
    Attempt {
        username: username.into(),
        ipaddr: Some("192.0.2.10".into()),
        credential,
        pushinfo: Some("from=duogate".into()),
        groups: Vec::new(),
    }
}

fn unix(fail_mode: FailMode, max_prompts: u8) -> Policy {
    Policy::Unix(UnixPolicy {
        is_enabled: true,
        fail_mode,
        auto_push: false,
        max_prompts,
        groups: Vec::new(),
    })
}

fn limits() -> Limits {
    Limits {
        call_timeout: Duration::from_secs(5),
        push_timeout: Duration::from_secs(30),
        poll_interval: Duration::from_millis(200),
        rate_limit_attempts: 7,
        check_deadline: Duration::from_secs(120),
    }
}

fn expect(decision: &Decision, outcome: Outcome, reason: Reason, context: &str) {
    assert_eq!(
        (decision.outcome, decision.reason),
        (outcome, reason),
        "{context}: {decision:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn every_scripted_answer_gives_its_decision_under_both_policies() {
    let duo = Duo::start(Duration::from_secs(20)).await;
    let cases = [
        (
            "approve",
            Credential::Push,
            Outcome::Allow,
            Reason::Approved,
        ),
        ("deny", Credential::Push, Outcome::Deny, Reason::Denied),
        ("timeout", Credential::Push, Outcome::Deny, Reason::Timeout),
        ("fraud", Credential::Push, Outcome::Deny, Reason::Fraud),
        ("bypass", Credential::Push, Outcome::Allow, Reason::Bypass),
        (
            "not_enrolled",
            Credential::Push,
            Outcome::Deny,
            Reason::NotEnrolled,
        ),
        (
            "locked_out",
            Credential::Push,
            Outcome::Deny,
            Reason::LockedOut,
        ),
        (
            "deny",
            Credential::Passcode("123456".into()),
            Outcome::Allow,
            Reason::Approved,
        ),
        (
            "approve",
            Credential::Passcode("000000".into()),
            Outcome::Deny,
            Reason::Denied,
        ),
    ];
    for (index, (answer, credential, outcome, reason)) in cases.into_iter().enumerate() {
        let username = format!("user{index}-{answer}");
        duo.user(&username, answer, &["123456"]).await;
        let login = attempt(&username, credential.clone());
        for policy in [Policy::FailClosed, unix(FailMode::Safe, 1)] {
            let decision = decide(&duo.target(), &login, &policy, &limits()).await;
            expect(
                &decision,
                outcome,
                reason,
                &format!("{answer} {credential:?} {policy:?}"),
            );
        }
    }
}

#[tokio::test(start_paused = true)]
async fn vault_texts_name_what_failed() {
    let duo = Duo::start(Duration::from_secs(20)).await;
    duo.user("denier", "deny", &["123456"]).await;
    duo.user("newbie", "not_enrolled", &["123456"]).await;
    let denied = decide(
        &duo.target(),
        &attempt("denier", Credential::Push),
        &Policy::FailClosed,
        &limits(),
    )
    .await;
    assert!(
        denied.detail.starts_with("duo authentication failed: \""),
        "{denied:?}"
    );
    let enroll = decide(
        &duo.target(),
        &attempt("newbie", Credential::Push),
        &Policy::FailClosed,
        &limits(),
    )
    .await;
    assert!(enroll.detail.contains("\" - \""), "{enroll:?}");
    let mut wrong_key = duo.target();
    wrong_key.skey = "x".repeat(40).into();
    let refused = decide(
        &wrong_key,
        &attempt("denier", Credential::Push),
        &Policy::FailClosed,
        &limits(),
    )
    .await;
    expect(&refused, Outcome::Deny, Reason::Error, "wrong skey");
    assert!(
        refused
            .detail
            .starts_with("check against Duo failed; message (if given): "),
        "{refused:?}"
    );
    assert!(!refused.detail.contains(&"x".repeat(40)));
}

#[tokio::test(start_paused = true)]
async fn only_plain_failures_consume_prompts() {
    let duo = Duo::start(Duration::from_secs(20)).await;
    duo.user("denier", "deny", &["123456"]).await;
    duo.user("locked", "locked_out", &["123456"]).await;
    let denied = decide(
        &duo.target(),
        &attempt("denier", Credential::Push),
        &unix(FailMode::Safe, 3),
        &limits(),
    )
    .await;
    expect(&denied, Outcome::Deny, Reason::Denied, "three denials");
    assert_eq!(denied.attempts, 3);
    assert_eq!(duo.requests_to("/auth/v2/auth").await, 3);
    let locked = decide(
        &duo.target(),
        &attempt("locked", Credential::Push),
        &unix(FailMode::Safe, 3),
        &limits(),
    )
    .await;
    expect(&locked, Outcome::Deny, Reason::LockedOut, "locked out");
    assert_eq!(locked.attempts, 1);
    let wrong = decide(
        &duo.target(),
        &attempt("denier", Credential::Passcode("999999".into())),
        &unix(FailMode::Safe, 3),
        &limits(),
    )
    .await;
    assert_eq!(
        (wrong.outcome, wrong.attempts),
        (Outcome::Deny, 1),
        "a passcode is tried once"
    );
}

#[tokio::test(start_paused = true)]
async fn an_unanswered_push_ends_in_a_deny_at_the_deadline() {
    // Duo itself would wait an hour; the engine's deadline is 30 s.
    let duo = Duo::start(Duration::from_secs(3600)).await;
    duo.user("silent", "timeout", &["123456"]).await;
    let started = tokio::time::Instant::now();
    for policy in [Policy::FailClosed, unix(FailMode::Safe, 1)] {
        let decision = decide(
            &duo.target(),
            &attempt("silent", Credential::Push),
            &policy,
            &limits(),
        )
        .await;
        expect(
            &decision,
            Outcome::Deny,
            Reason::Timeout,
            &format!("{policy:?}"),
        );
    }
    let waited = started.elapsed();
    assert!(
        waited >= Duration::from_secs(60) && waited < Duration::from_secs(75),
        "{waited:?}"
    );
}

/// Faults that make Duo unusable, each applied to `path`.
fn unusable_faults(path: &str) -> Vec<(&'static str, Value)> {
    vec![
        ("down", json!({"kind": "down", "paths": [path]})),
        (
            "slow past the timeout",
            json!({"kind": "delay", "ms": 20_000, "paths": [path]}),
        ),
        (
            "5xx",
            json!({"kind": "status", "status": 503, "paths": [path]}),
        ),
        (
            "malformed JSON",
            json!({"kind": "malformed", "paths": [path]}),
        ),
    ]
}

async fn clear_faults(duo: &Duo) {
    duo.control("DELETE", "/_emulator/faults", Value::Null)
        .await;
}

#[tokio::test(start_paused = true)]
async fn preauth_trouble_follows_fail_mode_and_vault_always_denies() {
    let duo = Duo::start(Duration::from_secs(20)).await;
    duo.user("alice", "approve", &["123456"]).await;
    let login = attempt("alice", Credential::Push);
    for (name, fault) in unusable_faults("/auth/v2/preauth") {
        duo.control("POST", "/_emulator/faults", fault).await;
        let safe = decide(&duo.target(), &login, &unix(FailMode::Safe, 1), &limits()).await;
        expect(&safe, Outcome::Allow, Reason::FailSafe, name);
        let secure = decide(&duo.target(), &login, &unix(FailMode::Secure, 1), &limits()).await;
        expect(&secure, Outcome::Deny, Reason::FailSecure, name);
        let vault = decide(&duo.target(), &login, &Policy::FailClosed, &limits()).await;
        expect(&vault, Outcome::Deny, Reason::Error, name);
        clear_faults(&duo).await;
    }
    // 401 from a rotated key: fail_mode applies too.
    let old = duo.target();
    duo.control("POST", "/_emulator/keys/rotate", json!({}))
        .await;
    let safe = decide(&old, &login, &unix(FailMode::Safe, 1), &limits()).await;
    expect(&safe, Outcome::Allow, Reason::FailSafe, "rotated key");
    let secure = decide(&old, &login, &unix(FailMode::Secure, 1), &limits()).await;
    expect(&secure, Outcome::Deny, Reason::FailSecure, "rotated key");
    // A 429 storm outlasting the backoff ends the login in both modes (duo_unix: ABORT).
    duo.control(
        "POST",
        "/_emulator/faults",
        json!({"kind": "rate_limit", "every": 1, "paths": ["/auth/v2/preauth"]}),
    )
    .await;
    for mode in [FailMode::Safe, FailMode::Secure] {
        let decision = decide(&duo.target(), &login, &unix(mode, 1), &limits()).await;
        expect(&decision, Outcome::Deny, Reason::Error, "429 storm");
    }
}

#[tokio::test(start_paused = true)]
async fn auth_phase_trouble_denies_in_both_modes() {
    let duo = Duo::start(Duration::from_secs(20)).await;
    duo.user("alice", "approve", &["123456"]).await;
    let login = attempt("alice", Credential::Push);
    for path in ["/auth/v2/auth", "/auth/v2/auth_status"] {
        for (name, fault) in unusable_faults(path) {
            duo.control("POST", "/_emulator/faults", fault).await;
            for policy in [
                unix(FailMode::Safe, 3),
                unix(FailMode::Secure, 3),
                Policy::FailClosed,
            ] {
                let decision = decide(&duo.target(), &login, &policy, &limits()).await;
                assert_eq!(
                    decision.outcome,
                    Outcome::Deny,
                    "{path} {name} {policy:?}: {decision:?}"
                );
                assert!(
                    matches!(decision.reason, Reason::Error | Reason::Timeout),
                    "{path} {name}: {decision:?}"
                );
            }
            clear_faults(&duo).await;
        }
    }
}

#[tokio::test(start_paused = true)]
async fn disabled_profiles_groups_and_exclusions_skip_duo() {
    let duo = Duo::start(Duration::from_secs(20)).await;
    duo.user("alice", "deny", &["123456"]).await;
    let groups = vec![GroupRule {
        name: "ops".into(),
        excluded_users: vec!["bob".into()],
    }];
    let policy = |is_enabled| {
        Policy::Unix(UnixPolicy {
            is_enabled,
            fail_mode: FailMode::Secure,
            auto_push: false,
            max_prompts: 1,
            groups: groups.clone(),
        })
    };
    let mut outsider = attempt("carol", Credential::Push);
    outsider.groups = vec!["staff".into()];
    let mut excluded = attempt("bob", Credential::Push);
    excluded.groups = vec!["ops".into()];
    let mut member = attempt("alice", Credential::Push);
    member.groups = vec!["ops".into()];
    expect(
        &decide(&duo.target(), &member, &policy(false), &limits()).await,
        Outcome::Allow,
        Reason::Disabled,
        "disabled",
    );
    expect(
        &decide(&duo.target(), &outsider, &policy(true), &limits()).await,
        Outcome::Allow,
        Reason::NotInGroup,
        "outsider",
    );
    expect(
        &decide(&duo.target(), &excluded, &policy(true), &limits()).await,
        Outcome::Allow,
        Reason::Excluded,
        "excluded",
    );
    assert_eq!(
        duo.requests_to("/auth/v2/preauth").await,
        0,
        "none of those asked Duo"
    );
    expect(
        &decide(&duo.target(), &member, &policy(true), &limits()).await,
        Outcome::Deny,
        Reason::Denied,
        "member",
    );
}

#[tokio::test(start_paused = true)]
async fn auto_push_sends_the_default_factor() {
    let duo = Duo::start(Duration::from_secs(20)).await;
    duo.user("alice", "approve", &["123456"]).await;
    let policy = Policy::Unix(UnixPolicy {
        is_enabled: true,
        fail_mode: FailMode::Safe,
        auto_push: true,
        max_prompts: 1,
        groups: Vec::new(),
    });
    let decision = decide(
        &duo.target(),
        &attempt("alice", Credential::Push),
        &policy,
        &limits(),
    )
    .await;
    expect(&decision, Outcome::Allow, Reason::Approved, "auto push");
    let transactions = duo.transactions().await;
    assert_eq!(
        (
            transactions[0]["factor"].clone(),
            transactions[0]["choice"].clone()
        ),
        (json!("prompt"), json!("push1")),
        "preauth's default factor, as duo_unix sends it: {transactions:?}"
    );
    let log = duo.control("GET", "/_emulator/requests", Value::Null).await;
    let preauth = log
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["path"] == "/auth/v2/preauth")
        .unwrap()
        .clone();
    assert_eq!(preauth["params"]["text_prompt"], "1", "{preauth}");
    assert_eq!(preauth["params"]["failmode"], "open", "{preauth}");
    assert!(
        preauth["params"]
            .get("client_supports_verified_push")
            .is_none(),
        "no Verified Push without a progress channel: {preauth}"
    );
}

/// An emulator whose users answer `delay` after being asked.
async fn slow_duo(delay: Duration) -> Duo {
    Duo::start_with(duo_emulator::EmulatorConfig {
        answer_delay: delay,
        long_poll: Duration::from_secs(1),
        push_timeout: Duration::from_secs(20),
        ..duo_emulator::EmulatorConfig::default()
    })
    .await
}

#[tokio::test(start_paused = true)]
async fn a_verified_push_reports_its_code_while_it_waits() {
    let duo = slow_duo(Duration::from_secs(5)).await;
    duo.user("vera", "approve", &[]).await;
    let (sender, mut news) = tokio::sync::mpsc::unbounded_channel();
    let decision = decide_reporting(
        &duo.target(),
        &attempt("vera", Credential::Push),
        &unix(FailMode::Secure, 1),
        &limits(),
        Some(&sender),
    )
    .await;
    expect(&decision, Outcome::Allow, Reason::Approved, "verified push");
    drop(sender);
    let mut reports = Vec::new();
    while let Some(report) = news.recv().await {
        reports.push(report);
    }
    assert_eq!(reports.len(), 1, "one waiting stage: {reports:?}");
    let code = reports[0].verification_code.clone().expect("a code");
    assert_eq!(reports[0].status, "pushed");
    assert_eq!(
        reports[0].status_msg,
        format!("Please enter verification code {code} into Duo Mobile...")
    );
    let transactions = duo.transactions().await;
    assert_eq!(transactions[0]["choice"], "verified_push1");
    assert_eq!(transactions[0]["verification_code"], code.as_str());
}

#[tokio::test(start_paused = true)]
async fn a_chosen_call_reports_dialing_then_answered() {
    let duo = slow_duo(Duration::from_secs(4)).await;
    duo.user("kim", "approve", &[]).await;
    let (sender, mut news) = tokio::sync::mpsc::unbounded_channel();
    let choice = Credential::Choice(FactorChoice {
        factor: Factor::Phone,
        device: Device::Index(1),
    });
    let decision = decide_reporting(
        &duo.target(),
        &attempt("kim", choice),
        &unix(FailMode::Secure, 1),
        &limits(),
        Some(&sender),
    )
    .await;
    expect(&decision, Outcome::Allow, Reason::Approved, "a call");
    drop(sender);
    let mut statuses = Vec::new();
    while let Some(report) = news.recv().await {
        assert_eq!(report.verification_code, None);
        statuses.push(report.status);
    }
    assert_eq!(statuses, ["calling", "answered"]);
    assert_eq!(duo.transactions().await[0]["choice"], "phone1");
}

#[tokio::test(start_paused = true)]
async fn an_sms_choice_ends_the_login_without_retrying() {
    let duo = Duo::start(Duration::from_secs(20)).await;
    duo.user("pat", "approve", &[]).await;
    let choice = Credential::Choice(FactorChoice {
        factor: Factor::Sms,
        device: Device::Auto,
    });
    let decision = decide(
        &duo.target(),
        &attempt("pat", choice),
        &unix(FailMode::Safe, 3),
        &limits(),
    )
    .await;
    expect(&decision, Outcome::Deny, Reason::SmsSent, "sms");
    assert_eq!(decision.attempts, 1);
    assert_eq!(decision.status_msg, "New SMS passcodes sent.");
}

#[tokio::test(start_paused = true)]
async fn an_unusable_configuration_follows_fail_mode() {
    let duo = Duo::start(Duration::from_secs(20)).await;
    let mut broken = duo.target();
    broken.allow_plain_http = false;
    let login = attempt("alice", Credential::Push);
    expect(
        &decide(&broken, &login, &unix(FailMode::Safe, 1), &limits()).await,
        Outcome::Allow,
        Reason::FailSafe,
        "safe",
    );
    expect(
        &decide(&broken, &login, &unix(FailMode::Secure, 1), &limits()).await,
        Outcome::Deny,
        Reason::FailSecure,
        "secure",
    );
    expect(
        &decide(&broken, &login, &Policy::FailClosed, &limits()).await,
        Outcome::Deny,
        Reason::Error,
        "vault",
    );
}

#[tokio::test(start_paused = true)]
async fn a_429_with_retry_after_is_waited_out_for_exactly_that_long() {
    let duo = Duo::start(Duration::from_secs(20)).await;
    duo.user("alice", "approve", &[]).await;
    let login = attempt("alice", Credential::Push);
    let started = tokio::time::Instant::now();
    let clean = decide(&duo.target(), &login, &Policy::FailClosed, &limits()).await;
    expect(&clean, Outcome::Allow, Reason::Approved, "no 429");
    let baseline = started.elapsed();

    // Two 429s asking for 5 s each (the Auth API sends Retry-After), then Duo answers.
    duo.control(
        "POST",
        "/_emulator/faults",
        json!({"kind": "rate_limit", "paths": ["/auth/v2/preauth"], "count": 2, "retry_after": 5}),
    )
    .await;
    let started = tokio::time::Instant::now();
    let decision = decide(&duo.target(), &login, &Policy::FailClosed, &limits()).await;
    expect(
        &decision,
        Outcome::Allow,
        Reason::Approved,
        "after two 429s",
    );
    let waited = started.elapsed().saturating_sub(baseline);
    assert!(
        waited >= Duration::from_secs(10) && waited < Duration::from_millis(10_500),
        "waited {waited:?} beyond the baseline {baseline:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn a_whole_check_is_cut_at_its_deadline_following_fail_mode_only_before_the_auth_phase() {
    let duo = Duo::start(Duration::from_secs(3600)).await;
    duo.user("alice", "approve", &["123456"]).await;
    duo.user("silent", "timeout", &["123456"]).await;
    // A 429 storm on preauth, each asking for 30 s: riding it out would take three minutes.
    duo.control(
        "POST",
        "/_emulator/faults",
        json!({"kind": "rate_limit", "every": 1, "paths": ["/auth/v2/preauth"], "retry_after": 30}),
    )
    .await;
    let capped = Limits {
        check_deadline: Duration::from_secs(20),
        ..limits()
    };
    let login = attempt("alice", Credential::Push);
    let cases = [
        (Policy::FailClosed, Outcome::Deny, Reason::Timeout),
        (unix(FailMode::Safe, 1), Outcome::Allow, Reason::FailSafe),
        (unix(FailMode::Secure, 1), Outcome::Deny, Reason::FailSecure),
    ];
    for (policy, outcome, reason) in cases {
        let started = tokio::time::Instant::now();
        let decision = decide(&duo.target(), &login, &policy, &capped).await;
        expect(&decision, outcome, reason, &format!("429 storm {policy:?}"));
        assert!(
            started.elapsed() <= Duration::from_secs(21),
            "{:?}",
            started.elapsed()
        );
    }
    clear_faults(&duo).await;
    // Once `auth` is sent, the deadline denies whatever fail_mode says (the push deadline,
    // 30 s, is later than the check's, 20 s).
    let started = tokio::time::Instant::now();
    let decision = decide(
        &duo.target(),
        &attempt("silent", Credential::Push),
        &unix(FailMode::Safe, 3),
        &capped,
    )
    .await;
    expect(&decision, Outcome::Deny, Reason::Timeout, "after auth");
    assert!(started.elapsed() <= Duration::from_secs(21));
}
