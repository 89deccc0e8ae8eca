//! The Universal Prompt (Web SDK v4 OIDC) at the wire level: the requests `duo_universal`
//! sends, built here by hand, in-process and over a plain-HTTP socket.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use axum::body::Body;
use axum::http::Request;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde_json::{Map, Value, json};

use duo_emulator::{Emulator, EmulatorConfig};
use duo_proto::Params;
use duo_proto::canon::{form_urldecode, form_urlencode};

use crate::support::{HOST, Reply, control, keys, now, send};

const HOST_HEADER: &str = "127.0.0.1:8443";
const REDIRECT_URI: &str = "https://app.example.com/duo-callback";
const STATE: &str = "statestatestatestatestatestatestate1";
const NONCE: &str = "noncenoncenoncenoncenoncenonce01";

/// An emulator whose wall clock the test moves (Unix seconds).
fn emulator_with_clock(seed: &str) -> (Emulator, Arc<AtomicI64>) {
    let clock = Arc::new(AtomicI64::new(now().as_second()));
    let reading = clock.clone();
    let emulator = Emulator::new(EmulatorConfig {
        clock: Arc::new(move || {
            jiff::Timestamp::from_second(reading.load(Ordering::SeqCst)).unwrap()
        }),
        ..crate::support::config(seed)
    })
    .unwrap();
    (emulator, clock)
}

fn sign(claims: &Value, secret: &str) -> String {
    jsonwebtoken::encode(
        &Header::new(Algorithm::HS512),
        claims,
        &EncodingKey::from_secret(secret.as_bytes()).unwrap(),
    )
    .unwrap()
}

/// A client assertion as `duo_universal` builds it (fractional `exp`, 36-character `jti`).
fn assertion_claims(endpoint: &str, jti: &str) -> Value {
    let k = keys();
    json!({
        "iss": k.oidc_client_id,
        "sub": k.oidc_client_id,
        "aud": format!("https://{HOST_HEADER}{endpoint}"),
        "exp": now().as_second() as f64 + 300.25,
        "jti": jti,
    })
}

fn assertion(endpoint: &str, jti: &str) -> String {
    sign(&assertion_claims(endpoint, jti), &keys().oidc_client_secret)
}

/// The `request` JWT of `create_auth_url`.
fn request_claims(username: &str) -> Value {
    let k = keys();
    json!({
        "scope": "openid",
        "redirect_uri": REDIRECT_URI,
        "client_id": k.oidc_client_id,
        "iss": k.oidc_client_id,
        "aud": format!("https://{HOST_HEADER}"),
        "exp": now().as_second() as f64 + 300.0,
        "state": STATE,
        "response_type": "code",
        "duo_uname": username,
        "use_duo_code_attribute": true,
    })
}

fn authorize_query(claims: &Value) -> String {
    let k = keys();
    let params = Params::new()
        .with("response_type", "code")
        .with("client_id", k.oidc_client_id)
        .with("request", sign(claims, &k.oidc_client_secret))
        .with("nonce", NONCE);
    form_urlencode(&params)
}

fn form_request(method: &str, path_and_query: &str, body: &str) -> Request<Body> {
    Request::builder()
        .method(method)
        .uri(path_and_query)
        .header("Host", HOST_HEADER)
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body(Body::from(body.to_string()))
        .unwrap()
}

async fn health_check(emu: &Emulator, assertion: &str) -> Reply {
    let body = form_urlencode(
        &Params::new()
            .with("client_assertion", assertion)
            .with("client_id", keys().oidc_client_id),
    );
    send(emu, form_request("POST", "/oauth/v1/health_check", &body)).await
}

/// `GET /oauth/v1/authorize` as a headless client (no `text/html` in `Accept`).
async fn authorize(emu: &Emulator, claims: &Value) -> Reply {
    let request = Request::builder()
        .uri(format!("/oauth/v1/authorize?{}", authorize_query(claims)))
        .header("Host", HOST_HEADER)
        .header("Accept", "*/*")
        .body(Body::empty())
        .unwrap();
    send(emu, request).await
}

/// The `duo_code` and `state` of a 302.
fn redirected(reply: &Reply) -> (String, String) {
    assert_eq!(reply.status, 302, "{:?}", reply.body);
    let location = reply.headers["location"].to_str().unwrap();
    let (base, query) = location.split_once('?').unwrap();
    assert_eq!(base, REDIRECT_URI);
    let params = form_urldecode(query);
    (
        params.get("duo_code").unwrap().to_string(),
        params.get("state").unwrap().to_string(),
    )
}

/// `POST /oauth/v1/token` with the parameters in the query string, as `duo_universal` sends them.
async fn exchange(emu: &Emulator, code: &str, redirect_uri: &str, assertion: &str) -> Reply {
    let params = Params::new()
        .with("grant_type", "authorization_code")
        .with("code", code)
        .with("redirect_uri", redirect_uri)
        .with("client_id", keys().oidc_client_id)
        .with(
            "client_assertion_type",
            "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
        )
        .with("client_assertion", assertion);
    let uri = format!("/oauth/v1/token?{}", form_urlencode(&params));
    send(emu, form_request("POST", &uri, "")).await
}

/// The `id_token`'s claims, verified with the client secret as the SDK verifies them.
fn id_token_claims(reply: &Reply) -> Map<String, Value> {
    assert_eq!(reply.status, 200, "{:?}", reply.body);
    let k = keys();
    let mut validation = Validation::new(Algorithm::HS512);
    validation.set_audience(&[k.oidc_client_id.as_str()]);
    validation.set_issuer(&[format!("https://{HOST_HEADER}/oauth/v1/token")]);
    validation.validate_exp = false; // the emulator's clock is fixed in 2026-11-23
    validation.set_required_spec_claims(&["exp", "iat", "aud", "iss"]);
    let token = reply.body["id_token"].as_str().unwrap();
    jsonwebtoken::decode::<Map<String, Value>>(
        token,
        &DecodingKey::from_secret(k.oidc_client_secret.as_bytes()).unwrap(),
        &validation,
    )
    .unwrap()
    .claims
}

async fn add_user(emu: &Emulator, username: &str, answer: &str) -> Value {
    let reply = send(
        emu,
        control(
            "POST",
            "/_emulator/users",
            json!({"username": username, "answer": answer}),
        ),
    )
    .await;
    assert_eq!(reply.status, 200, "{:?}", reply.body);
    reply.body
}

async fn code_for(emu: &Emulator, username: &str) -> String {
    redirected(&authorize(emu, &request_claims(username)).await).0
}

#[tokio::test]
async fn the_whole_flow_allows_an_approving_user_with_duos_id_token() {
    let (emu, _) = emulator_with_clock("");
    let alice = add_user(&emu, "alice", "approve").await;

    let health = health_check(&emu, &assertion("/oauth/v1/health_check", "jti-health-1")).await;
    assert_eq!(health.status, 200, "{:?}", health.body);
    assert_eq!(
        health.body,
        json!({"stat": "OK", "response": {"timestamp": now().as_second()}})
    );

    let (code, state) = redirected(&authorize(&emu, &request_claims("alice")).await);
    assert_eq!(state, STATE);
    assert_eq!(code.len(), 32);

    let reply = exchange(
        &emu,
        &code,
        REDIRECT_URI,
        &assertion("/oauth/v1/token", "jti-token-1"),
    )
    .await;
    assert_eq!(reply.body["token_type"], "Bearer");
    assert_eq!(reply.body["expires_in"], 3600);
    assert!(reply.body["access_token"].as_str().unwrap().len() >= 32);
    let claims = id_token_claims(&reply);
    assert_eq!(claims["preferred_username"], "alice");
    assert_eq!(claims["sub"], "alice");
    assert_eq!(claims["nonce"], NONCE);
    assert_eq!(claims["iat"], now().as_second());
    assert_eq!(claims["exp"], now().as_second() + 3600);
    assert_eq!(
        claims["auth_result"],
        json!({"result": "allow", "status": "allow", "status_msg": "Login Successful"})
    );
    let context = &claims["auth_context"];
    assert_eq!(context["result"], "success");
    assert_eq!(context["reason"], "user_approved");
    assert_eq!(context["factor"], "duo_push");
    assert_eq!(context["event_type"], "authentication");
    assert_eq!(context["user"]["name"], "alice");
    assert_eq!(context["user"]["key"], alice["user_id"]);
    assert_eq!(context["application"]["key"], keys().oidc_client_id);
    assert_eq!(
        context["auth_device"]["key"],
        alice["phones"][0]["phone_id"]
    );
    assert_eq!(context["txid"].as_str().unwrap().len(), 36);
}

#[tokio::test]
async fn scripted_denials_and_the_control_override_give_deny_tokens() {
    let (emu, _) = emulator_with_clock("");
    add_user(&emu, "dora", "deny").await;
    add_user(&emu, "fred", "fraud").await;
    add_user(&emu, "amy", "approve").await;
    let cases = [
        ("dora", "deny", "user_denied"),
        ("fred", "fraud", "user_marked_fraud"),
        ("ghost", "deny", "deny_unenrolled_user"),
    ];
    for (i, (username, status, reason)) in cases.into_iter().enumerate() {
        let code = code_for(&emu, username).await;
        let reply = exchange(
            &emu,
            &code,
            REDIRECT_URI,
            &assertion("/oauth/v1/token", &format!("jti-deny-{i}")),
        )
        .await;
        let claims = id_token_claims(&reply);
        assert_eq!(claims["auth_result"]["result"], "deny", "{username}");
        assert_eq!(claims["auth_result"]["status"], status, "{username}");
        assert_eq!(claims["auth_context"]["reason"], reason, "{username}");
    }

    // The control route runs the same URL headlessly, here overriding amy's script once.
    let url = format!(
        "https://{HOST_HEADER}/oauth/v1/authorize?{}",
        authorize_query(&request_claims("amy"))
    );
    let decided = send(
        &emu,
        control(
            "POST",
            "/_emulator/oauth/decide",
            json!({"url": url, "answer": "deny"}),
        ),
    )
    .await;
    assert_eq!(decided.status, 200, "{:?}", decided.body);
    assert_eq!(decided.body["result"], "deny");
    assert_eq!(decided.body["state"], STATE);
    let code = decided.body["code"].as_str().unwrap();
    assert_eq!(
        decided.body["location"],
        format!("{REDIRECT_URI}?duo_code={code}&state={STATE}")
    );
    let reply = exchange(
        &emu,
        code,
        REDIRECT_URI,
        &assertion("/oauth/v1/token", "jti-override"),
    )
    .await;
    assert_eq!(id_token_claims(&reply)["auth_result"]["status"], "deny");
    // The override was for that prompt only.
    let code = code_for(&emu, "amy").await;
    let reply = exchange(
        &emu,
        &code,
        REDIRECT_URI,
        &assertion("/oauth/v1/token", "jti-after-override"),
    )
    .await;
    assert_eq!(id_token_claims(&reply)["auth_result"]["result"], "allow");
}

#[tokio::test]
async fn a_code_is_exchanged_once_and_only_with_its_redirect_uri() {
    let (emu, _) = emulator_with_clock("");
    add_user(&emu, "alice", "approve").await;
    let code = code_for(&emu, "alice").await;

    let wrong = exchange(
        &emu,
        &code,
        "https://evil.example.com/cb",
        &assertion("/oauth/v1/token", "jti-wrong-uri"),
    )
    .await;
    assert_eq!(wrong.status, 400);
    assert_eq!(wrong.body["error"], "invalid_grant");

    // The refusal changed nothing: the code and that assertion's jti are still good.
    let first = exchange(
        &emu,
        &code,
        REDIRECT_URI,
        &assertion("/oauth/v1/token", "jti-wrong-uri"),
    )
    .await;
    assert_eq!(first.status, 200, "{:?}", first.body);

    let again = exchange(
        &emu,
        &code,
        REDIRECT_URI,
        &assertion("/oauth/v1/token", "jti-second"),
    )
    .await;
    assert_eq!(again.status, 400);
    assert_eq!(again.body["error"], "invalid_grant");
    let unknown = exchange(
        &emu,
        "nosuchcodenosuchcodenosuchcode00",
        REDIRECT_URI,
        &assertion("/oauth/v1/token", "jti-unknown"),
    )
    .await;
    assert_eq!(unknown.body["error"], "invalid_grant");
}

#[tokio::test]
async fn a_code_expires_a_minute_after_the_prompt() {
    let (emu, clock) = emulator_with_clock("");
    add_user(&emu, "alice", "approve").await;
    let code = code_for(&emu, "alice").await;
    clock.fetch_add(61, Ordering::SeqCst);
    let mut claims = assertion_claims("/oauth/v1/token", "jti-late");
    claims["exp"] = json!(now().as_second() + 61 + 300);
    let late = exchange(
        &emu,
        &code,
        REDIRECT_URI,
        &sign(&claims, &keys().oidc_client_secret),
    )
    .await;
    assert_eq!(late.status, 400);
    assert_eq!(late.body["error"], "invalid_grant");
}

#[tokio::test]
async fn assertion_ids_are_single_use() {
    let (emu, _) = emulator_with_clock("");
    let once = assertion("/oauth/v1/health_check", "jti-once");
    assert_eq!(health_check(&emu, &once).await.status, 200);
    let replay = health_check(&emu, &once).await;
    assert_eq!(replay.status, 400);
    assert_eq!(replay.body["stat"], "FAIL");
    assert_eq!(replay.body["code"], 40002);
    assert_eq!(replay.body["message"], "invalid_client");
    assert!(
        replay.body["message_detail"]
            .as_str()
            .unwrap()
            .contains("jti"),
        "{:?}",
        replay.body
    );
    assert_eq!(replay.body["timestamp"], now().as_second());
}

#[tokio::test]
async fn bad_signatures_clients_and_audiences_are_refused() {
    let (emu, _) = emulator_with_clock("");
    add_user(&emu, "alice", "approve").await;
    let claims = assertion_claims("/oauth/v1/health_check", "jti-bad");
    let forged = sign(&claims, "wrongsecretwrongsecretwrongsecretwrong01");
    let reply = health_check(&emu, &forged).await;
    assert_eq!(
        (reply.status, reply.body["message"].clone()),
        (400, json!("invalid_client"))
    );

    let mut wrong_aud = claims.clone();
    wrong_aud["aud"] = json!(format!("https://{HOST_HEADER}/oauth/v1/token"));
    let reply = health_check(&emu, &sign(&wrong_aud, &keys().oidc_client_secret)).await;
    assert_eq!(reply.status, 400, "an assertion for the token endpoint");

    let mut wrong_iss = claims.clone();
    wrong_iss["iss"] = json!("DIXXXXXXXXXXXXXXXXXX");
    let reply = health_check(&emu, &sign(&wrong_iss, &keys().oidc_client_secret)).await;
    assert_eq!(reply.status, 400);

    // The host without its port is the same audience (clients differ, as with signatures).
    let mut bare = claims.clone();
    bare["aud"] = json!(format!("https://{HOST}/oauth/v1/health_check"));
    let reply = health_check(&emu, &sign(&bare, &keys().oidc_client_secret)).await;
    assert_eq!(reply.status, 200, "{:?}", reply.body);

    // A request JWT signed with another secret never reaches a decision.
    let k = keys();
    let params = Params::new()
        .with("response_type", "code")
        .with("client_id", k.oidc_client_id)
        .with(
            "request",
            sign(
                &request_claims("alice"),
                "wrongsecretwrongsecretwrongsecretwrong01",
            ),
        );
    let request = Request::builder()
        .uri(format!("/oauth/v1/authorize?{}", form_urlencode(&params)))
        .header("Host", HOST_HEADER)
        .body(Body::empty())
        .unwrap();
    let reply = send(&emu, request).await;
    assert_eq!(reply.status, 400);
    assert_eq!(reply.body["error"], "invalid_request");

    // A wrong client_id at the token endpoint.
    let code = code_for(&emu, "alice").await;
    let params = Params::new()
        .with("grant_type", "authorization_code")
        .with("code", code.as_str())
        .with("redirect_uri", REDIRECT_URI)
        .with("client_id", "DIXXXXXXXXXXXXXXXXXX")
        .with(
            "client_assertion_type",
            "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
        )
        .with("client_assertion", assertion("/oauth/v1/token", "jti-x"));
    let uri = format!("/oauth/v1/token?{}", form_urlencode(&params));
    let reply = send(&emu, form_request("POST", &uri, "")).await;
    assert_eq!(reply.body["error"], "invalid_client");
}

#[tokio::test]
async fn skewed_clocks_beyond_the_max_skew_are_refused() {
    let (emu, clock) = emulator_with_clock("");
    add_user(&emu, "alice", "approve").await;
    let secret = keys().oidc_client_secret;

    // The client's clock is 10 minutes behind: its assertion expired 5 minutes ago.
    let mut behind = assertion_claims("/oauth/v1/health_check", "jti-behind");
    behind["exp"] = json!(now().as_second() - 301);
    let reply = health_check(&emu, &sign(&behind, &secret)).await;
    assert_eq!(reply.status, 400);
    assert!(
        reply.body["message_detail"]
            .as_str()
            .unwrap()
            .contains("exp")
    );
    // Within the skew window it is still accepted.
    behind["exp"] = json!(now().as_second() - 299);
    assert_eq!(
        health_check(&emu, &sign(&behind, &secret)).await.status,
        200
    );

    // The client's clock is ahead: `iat` in the future, or `exp` too far away.
    let mut ahead = assertion_claims("/oauth/v1/health_check", "jti-ahead");
    ahead["iat"] = json!(now().as_second() + 301);
    assert_eq!(health_check(&emu, &sign(&ahead, &secret)).await.status, 400);
    let mut far = assertion_claims("/oauth/v1/health_check", "jti-far");
    far["exp"] = json!(now().as_second() + 300 + 301);
    assert_eq!(health_check(&emu, &sign(&far, &secret)).await.status, 400);

    // The emulator's own clock moving on expires the authorize request JWT too.
    let claims = request_claims("alice");
    clock.fetch_add(601, Ordering::SeqCst);
    let reply = authorize(&emu, &claims).await;
    assert_eq!(reply.status, 400);
    assert_eq!(reply.body["error"], "invalid_request");
}

#[tokio::test]
async fn authorize_checks_state_and_redirect_uri_and_serves_browsers_a_page() {
    let (emu, _) = emulator_with_clock("");
    add_user(&emu, "alice", "approve").await;
    let mut short_state = request_claims("alice");
    short_state["state"] = json!("short");
    assert_eq!(authorize(&emu, &short_state).await.status, 400);
    let mut no_redirect = request_claims("alice");
    no_redirect["redirect_uri"] = json!("javascript:alert(1)");
    assert_eq!(authorize(&emu, &no_redirect).await.status, 400);
    let mut no_openid = request_claims("alice");
    no_openid["scope"] = json!("profile");
    assert_eq!(authorize(&emu, &no_openid).await.status, 400);

    // `use_duo_code_attribute: false` redirects with `code=`.
    let mut plain_code = request_claims("alice");
    plain_code["use_duo_code_attribute"] = json!(false);
    let reply = authorize(&emu, &plain_code).await;
    let location = reply.headers["location"].to_str().unwrap();
    assert!(location.contains("?code="), "{location}");

    let request = Request::builder()
        .uri(format!(
            "/oauth/v1/authorize?{}",
            authorize_query(&request_claims("alice"))
        ))
        .header("Host", HOST_HEADER)
        .header("Accept", "text/html,application/xhtml+xml,*/*;q=0.8")
        .body(Body::empty())
        .unwrap();
    let page = send(&emu, request).await;
    assert_eq!(page.status, 200);
    assert!(page.content_type.starts_with("text/html"));
    let html = page.body.as_str().unwrap();
    assert!(html.contains("alice") && html.contains("allow"), "{html}");
    assert!(
        html.contains(&format!("{REDIRECT_URI}?duo_code=")),
        "{html}"
    );
}

#[tokio::test]
async fn a_health_check_down_fault_fails_the_health_check_only() {
    let (emu, _) = emulator_with_clock("");
    let fault = send(
        &emu,
        control(
            "POST",
            "/_emulator/faults",
            json!({"kind": "down", "paths": ["/oauth/v1/health_check"], "count": 1}),
        ),
    )
    .await;
    assert_eq!(fault.status, 201);
    let down = health_check(&emu, &assertion("/oauth/v1/health_check", "jti-down")).await;
    assert_eq!(down.status, 503);
    let up = health_check(&emu, &assertion("/oauth/v1/health_check", "jti-down")).await;
    assert_eq!(up.status, 200, "the fault spent nothing: {:?}", up.body);
    let log = crate::support::ok_control(&emu, "GET", "/_emulator/requests").await;
    let outcomes: Vec<&str> = log
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["path"] == "/oauth/v1/health_check")
        .map(|e| e["outcome"].as_str().unwrap())
        .collect();
    assert_eq!(outcomes, ["fault:down", "ok"]);
}

#[tokio::test]
async fn the_flow_works_over_plain_http_on_a_socket() {
    let (emu, _) = emulator_with_clock("");
    add_user(&emu, "alice", "approve").await;
    let served = crate::support::Served::start(&emu).await;
    let host = format!("127.0.0.1:{}", served.port);
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let k = keys();
    let for_host = |endpoint: &str, jti: &str| {
        let mut claims = assertion_claims(endpoint, jti);
        claims["aud"] = json!(format!("https://{host}{endpoint}"));
        sign(&claims, &k.oidc_client_secret)
    };

    let health: Value = http
        .post(format!("{}/oauth/v1/health_check", served.url))
        .form(&[
            (
                "client_assertion",
                for_host("/oauth/v1/health_check", "s-1"),
            ),
            ("client_id", k.oidc_client_id.clone()),
        ])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(health["stat"], "OK");

    let mut request = request_claims("alice");
    request["aud"] = json!(format!("https://{host}"));
    let response = http
        .get(format!(
            "{}/oauth/v1/authorize?{}",
            served.url,
            authorize_query(&request)
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 302);
    let location = response.headers()["location"].to_str().unwrap().to_string();
    let params = form_urldecode(location.split_once('?').unwrap().1);
    let code = params.get("duo_code").unwrap();

    let token: Value = http
        .post(format!("{}/oauth/v1/token", served.url))
        .query(&[
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", REDIRECT_URI),
            ("client_id", &k.oidc_client_id),
            (
                "client_assertion_type",
                "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
            ),
            ("client_assertion", &for_host("/oauth/v1/token", "s-2")),
        ])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let mut validation = Validation::new(Algorithm::HS512);
    validation.set_audience(&[k.oidc_client_id.as_str()]);
    validation.set_issuer(&[format!("https://{host}/oauth/v1/token")]);
    validation.validate_exp = false;
    let claims = jsonwebtoken::decode::<Map<String, Value>>(
        token["id_token"].as_str().unwrap(),
        &DecodingKey::from_secret(k.oidc_client_secret.as_bytes()).unwrap(),
        &validation,
    )
    .unwrap()
    .claims;
    assert_eq!(claims["auth_result"]["result"], "allow");
    served.stop().await;
}

#[tokio::test]
async fn a_down_fault_on_a_socket_drops_the_universal_prompt_connection_without_an_answer() {
    let (emu, _) = emulator_with_clock("");
    let fault = send(
        &emu,
        control(
            "POST",
            "/_emulator/faults",
            json!({"kind": "down", "paths": ["/oauth/v1/health_check"], "count": 1}),
        ),
    )
    .await;
    assert_eq!(fault.status, 201);
    let served = crate::support::Served::start(&emu).await;
    let k = keys();
    let answer = reqwest::Client::new()
        .post(format!("{}/oauth/v1/health_check", served.url))
        .form(&[
            (
                "client_assertion",
                assertion("/oauth/v1/health_check", "jti-socket-down"),
            ),
            ("client_id", k.oidc_client_id.clone()),
        ])
        .send()
        .await;
    assert!(
        answer.is_err(),
        "Duo being down means no HTTP answer at all: {answer:?}"
    );
}
