//! Every vector in `tests/data/duo-sign-vectors.json` (59 request-signing vectors, each checked
//! against the official clients) is checked here. The file is compiled into the test, so the
//! test reads nothing outside the repository.

use duo_proto::canon::{
    canon_json, canon_params, canon_params_raw_order, form_urldecode, sha512_hex,
    x_duo_headers_hash,
};
use duo_proto::date::parse_date;
use duo_proto::sign::prepare_request;
use duo_proto::verify::{VerifyError, VerifyRequest, verify};
use duo_proto::{Digest, Params, SigVersion, SignRequest};
use serde_json::Value;

fn vectors() -> Vec<Value> {
    serde_json::from_str(include_str!("data/duo-sign-vectors.json")).expect("vectors file is JSON")
}

fn params_of(v: &Value) -> Params {
    let mut params = Params::new();
    if let Some(map) = v.get("params").and_then(Value::as_object) {
        for (key, values) in map {
            for value in values.as_array().expect("params values are lists") {
                params.push(key.clone(), value.as_str().expect("string value"));
            }
        }
    }
    params
}

fn headers_of(v: &Value, field: &str) -> Vec<(String, String)> {
    v.get(field)
        .and_then(Value::as_object)
        .map(|m| {
            m.iter()
                .map(|(k, v)| (k.clone(), v.as_str().unwrap().to_string()))
                .collect()
        })
        .unwrap_or_default()
}

fn str_field<'a>(v: &'a Value, field: &str) -> &'a str {
    v.get(field).and_then(Value::as_str).unwrap_or("")
}

fn version_of(v: &Value) -> SigVersion {
    SigVersion::from_number(v["sig_version"].as_u64().unwrap() as u8).unwrap()
}

fn digest_of(v: &Value) -> Digest {
    match str_field(v, "digest") {
        "sha1" => Digest::Sha1,
        _ => Digest::Sha512,
    }
}

/// Checks one vector; returns a description of the mismatch, if any.
fn check(v: &Value) -> Result<(), String> {
    let id = str_field(v, "id");
    let kind = str_field(v, "kind");
    let params = params_of(v);
    let expect = |field: &str, actual: &str| -> Result<(), String> {
        match v.get(field).and_then(Value::as_str) {
            Some(expected) if expected != actual => Err(format!(
                "{id}: {field}\n  expected {expected:?}\n  actual   {actual:?}"
            )),
            _ => Ok(()),
        }
    };
    match kind {
        "canon_params" => expect("expected_canon_params", &canon_params(&params)),
        "canon_params_divergence" => {
            expect("expected_canon_params", &canon_params(&params))?;
            expect("node_duo_api_actual", &canon_params_raw_order(&params))
        }
        "canon_json" => expect("expected_body", &canon_json(&v["json_input"])),
        "body_hash" => expect(
            "expected_sha512_hex",
            &sha512_hex(str_field(v, "body").as_bytes()),
        ),
        "headers_hash" => {
            let headers = headers_of(v, "x_duo_headers");
            let hash = x_duo_headers_hash(headers.iter().map(|(k, v)| (k.as_str(), v.as_str())));
            expect("expected_sha512_hex", &hash)
        }
        "canonical_string" | "signature" | "wire_request" => {
            let headers = headers_of(v, "x_duo_headers");
            let header_refs: Vec<(&str, &str)> = headers
                .iter()
                .map(|(k, v)| (k.as_str(), v.as_str()))
                .collect();
            let request = SignRequest {
                version: version_of(v),
                digest: digest_of(v),
                method: str_field(v, "method"),
                host: str_field(v, "host"),
                path: str_field(v, "path"),
                date: str_field(v, "date"),
                params: &params,
                body: str_field(v, "body").as_bytes(),
                x_duo_headers: &header_refs,
            };
            expect("expected_canonical", &request.canonical())?;
            if let Some(h) = v.get("expected_headers_hash").and_then(Value::as_str) {
                let actual = x_duo_headers_hash(header_refs.iter().copied());
                if actual != h {
                    return Err(format!("{id}: headers hash {actual} != {h}"));
                }
            }
            let skey = str_field(v, "skey").as_bytes();
            if v.get("expected_hex_signature").is_some() {
                expect("expected_hex_signature", &request.hex_signature(skey))?;
            }
            if v.get("expected_authorization").is_some() {
                expect(
                    "expected_authorization",
                    &request.authorization(str_field(v, "ikey"), skey),
                )?;
            }
            if kind == "wire_request" {
                check_wire_layout(v, &params)?;
                check_verifies(v)?;
            } else if v.get("expected_authorization").is_some() {
                check_verifies(v)?;
            }
            Ok(())
        }
        other => Err(format!("{id}: unknown vector kind {other:?}")),
    }
}

/// `prepare_request` lays the request out exactly as duo_client put it on the wire.
fn check_wire_layout(v: &Value, params: &Params) -> Result<(), String> {
    let id = str_field(v, "id");
    let version = version_of(v);
    let method = str_field(v, "method");
    let object = if matches!(method, "POST" | "PUT" | "PATCH") && version.uses_json_body() {
        serde_json::from_str::<Value>(str_field(v, "body"))
            .map_err(|e| format!("{id}: body is not JSON: {e}"))?
            .as_object()
            .cloned()
            .unwrap_or_default()
    } else {
        let mut map = serde_json::Map::new();
        for (k, val) in params.iter() {
            map.insert(k.to_string(), Value::String(val.to_string()));
        }
        map
    };
    let prepared = prepare_request(
        version,
        digest_of(v),
        method,
        str_field(v, "host"),
        str_field(v, "path"),
        &object,
        str_field(v, "date"),
        str_field(v, "ikey"),
        str_field(v, "skey").as_bytes(),
    );
    let wire_headers = headers_of(v, "wire_headers");
    let wire = |name: &str| {
        wire_headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    };
    let mismatch = |what: &str, expected: &str, actual: &str| {
        Err(format!(
            "{id}: {what}\n  expected {expected:?}\n  actual   {actual:?}"
        ))
    };
    if prepared.path_and_query != str_field(v, "wire_uri") {
        return mismatch(
            "wire_uri",
            str_field(v, "wire_uri"),
            &prepared.path_and_query,
        );
    }
    let body = String::from_utf8(prepared.body.clone()).unwrap();
    if let Some(expected) = v.get("wire_body").and_then(Value::as_str)
        && body != expected
    {
        return mismatch("wire_body", expected, &body);
    }
    if wire("Content-type") != prepared.content_type {
        return mismatch(
            "Content-type",
            wire("Content-type").unwrap_or("none"),
            prepared.content_type.unwrap_or("none"),
        );
    }
    if Some(prepared.authorization.as_str()) != wire("Authorization") {
        return mismatch(
            "Authorization",
            wire("Authorization").unwrap_or(""),
            &prepared.authorization,
        );
    }
    Ok(())
}

/// The verifier accepts the vector's request (and refuses it with a wrong key).
fn check_verifies(v: &Value) -> Result<(), String> {
    let id = str_field(v, "id");
    let date_text = str_field(v, "date");
    let Some(now) = parse_date(date_text) else {
        return Ok(()); // some canonical vectors use dates no server would accept
    };
    let version = version_of(v);
    let method = str_field(v, "method");
    let (path, query) = match v.get("wire_uri").and_then(Value::as_str) {
        Some(uri) => {
            let (p, q) = uri.split_once('?').unwrap_or((uri, ""));
            (p.to_string(), form_urldecode(q))
        }
        None if version.uses_json_body() || !matches!(method, "POST" | "PUT" | "PATCH") => {
            (str_field(v, "path").to_string(), params_of(v))
        }
        None => (str_field(v, "path").to_string(), Params::new()),
    };
    let body_text = v
        .get("wire_body")
        .and_then(Value::as_str)
        .unwrap_or(str_field(v, "body"));
    let form =
        (!version.uses_json_body() && matches!(method, "POST" | "PUT" | "PATCH")).then(|| match v
            .get("wire_body")
            .and_then(Value::as_str)
        {
            Some(b) => form_urldecode(b),
            None => params_of(v),
        });
    let authorization = str_field(v, "expected_authorization").to_string();
    let mut headers = headers_of(v, "x_duo_headers");
    if !headers
        .iter()
        .any(|(k, _)| k.eq_ignore_ascii_case("x-duo-date"))
    {
        headers.push(("Date".into(), date_text.into()));
    }
    headers.push(("Authorization".into(), authorization));
    // The host as a client with `port=` sends it: with a port the signature does not cover.
    headers.push(("Host".into(), format!("{}:8443", str_field(v, "host"))));
    let refs: Vec<(&str, &str)> = headers
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let request = VerifyRequest {
        method,
        path: &path,
        configured_host: None,
        query: &query,
        form: form.as_ref(),
        body: body_text.as_bytes(),
        headers: &refs,
    };
    let skey = str_field(v, "skey");
    let verified = verify(&request, |_| Some(skey.as_bytes()), now, 300)
        .map_err(|e| format!("{id}: verifier refused a valid request: {e}"))?;
    let expected_version = if version == SigVersion::V1 {
        SigVersion::V1
    } else {
        version
    };
    if verified.version != expected_version {
        return Err(format!(
            "{id}: verified as {:?}, signed as {version:?}",
            verified.version
        ));
    }
    let wrong = format!("{skey}x");
    match verify(&request, |_| Some(wrong.as_bytes()), now, 300) {
        Err(VerifyError::InvalidSignature) => Ok(()),
        other => Err(format!("{id}: wrong skey gave {other:?}")),
    }
}

#[test]
fn all_59_signing_vectors_hold() {
    let vectors = vectors();
    assert_eq!(vectors.len(), 59, "the vectors file should hold 59 vectors");
    let failures: Vec<String> = vectors.iter().filter_map(|v| check(v).err()).collect();
    assert!(
        failures.is_empty(),
        "{} of {} vectors failed:\n{}",
        failures.len(),
        vectors.len(),
        failures.join("\n")
    );
}

#[test]
fn verifier_rejects_skewed_dates_and_unknown_keys() {
    let now = parse_date("Tue, 21 Aug 2012 17:29:18 -0000").unwrap();
    let params = Params::new().with("username", "alice");
    let sign = SignRequest {
        version: SigVersion::V2,
        digest: Digest::Sha512,
        method: "GET",
        host: "api.example.com",
        path: "/auth/v2/check",
        date: "Tue, 21 Aug 2012 17:29:18 -0000",
        params: &params,
        body: b"",
        x_duo_headers: &[],
    };
    let auth = sign.authorization("DIKEY", b"secret");
    let headers = [
        ("Date", "Tue, 21 Aug 2012 17:29:18 -0000"),
        ("Authorization", auth.as_str()),
        ("Host", "api.example.com"),
    ];
    let request = VerifyRequest {
        method: "GET",
        path: "/auth/v2/check",
        configured_host: None,
        query: &params,
        form: None,
        body: b"",
        headers: &headers,
    };
    assert!(verify(&request, |_| Some(b"secret"), now, 300).is_ok());
    let later = now
        .checked_add(jiff::SignedDuration::from_secs(301))
        .unwrap();
    assert!(matches!(
        verify(&request, |_| Some(b"secret"), later, 300),
        Err(VerifyError::SkewedTimestamp { skew_secs: 301, .. })
    ));
    assert_eq!(
        verify(&request, |_| None::<&[u8]>, now, 300),
        Err(VerifyError::UnknownIntegrationKey)
    );
    let configured = VerifyRequest {
        configured_host: Some("other.example.com"),
        ..request
    };
    assert_eq!(
        verify(&configured, |_| Some(b"secret"), now, 300),
        Err(VerifyError::InvalidSignature)
    );
    let no_date = [
        ("Authorization", auth.as_str()),
        ("Host", "api.example.com"),
    ];
    let undated = VerifyRequest {
        headers: &no_date,
        ..request
    };
    assert_eq!(
        verify(&undated, |_| Some(b"secret"), now, 300),
        Err(VerifyError::MissingTimestamp)
    );
    let no_auth = [("Date", "Tue, 21 Aug 2012 17:29:18 -0000")];
    let anonymous = VerifyRequest {
        headers: &no_auth,
        ..request
    };
    assert_eq!(
        verify(&anonymous, |_| Some(b"secret"), now, 300),
        Err(VerifyError::MissingCredentials)
    );
}
