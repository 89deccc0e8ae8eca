//! The native API's OpenAPI document is a golden file (`src/native/openapi.json`): it must be
//! what the server serves, name exactly the routes `native::router` has (with their verbs), and
//! describe what those routes answer.

mod support;

use std::collections::BTreeSet;

use serde_json::Value;

use duogate_server::{AppState, ServiceSettings, native};

const ROUTER_SOURCE: &str = include_str!("../src/native/mod.rs");

fn document() -> Value {
    serde_json::from_str(native::OPENAPI).expect("openapi.json is JSON")
}

/// (method, path) pairs the document describes.
fn documented() -> BTreeSet<(String, String)> {
    let doc = document();
    let mut operations = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for method in item.as_object().unwrap().keys() {
            operations.insert((method.to_uppercase(), path.clone()));
        }
    }
    operations
}

/// (method, path) pairs routed in `native::router`, read from its source: each
/// `.route("/p", get(a).post(b))` up to the next `.route(` or `.fallback(`.
fn routed() -> BTreeSet<(String, String)> {
    let start = ROUTER_SOURCE.find("pub fn router()").expect("router fn");
    let body = &ROUTER_SOURCE[start..];
    let end = body
        .find(".fallback(")
        .expect("router ends with a fallback");
    let mut operations = BTreeSet::new();
    for chunk in body[..end].split(".route(").skip(1) {
        let path = chunk.split('"').nth(1).expect("route path literal");
        let path = path.replace("{*", "{");
        for verb in ["get", "post", "put", "delete", "patch"] {
            let called =
                chunk.contains(&format!("{verb}(")) || chunk.contains(&format!(".{verb}("));
            if called {
                operations.insert((verb.to_uppercase(), path.clone()));
            }
        }
    }
    operations
}

#[test]
fn the_document_names_exactly_the_routed_operations() {
    let routed = routed();
    assert!(routed.len() >= 15, "parsed too few routes: {routed:?}");
    let documented = documented();
    let undocumented: Vec<_> = routed.difference(&documented).collect();
    let phantom: Vec<_> = documented.difference(&routed).collect();
    assert!(
        undocumented.is_empty(),
        "routed but not in openapi.json: {undocumented:?}"
    );
    assert!(
        phantom.is_empty(),
        "in openapi.json but not routed: {phantom:?}"
    );
}

#[test]
fn every_reference_resolves_and_every_operation_has_an_id() {
    let doc = document();
    assert_eq!(doc["openapi"], "3.1.0");
    let text = native::OPENAPI;
    for piece in text.split("\"$ref\": \"#/components/schemas/").skip(1) {
        let name = piece.split('"').next().unwrap();
        assert!(
            doc["components"]["schemas"][name].is_object(),
            "dangling $ref {name}"
        );
    }
    let mut ids = BTreeSet::new();
    for item in doc["paths"].as_object().unwrap().values() {
        for operation in item.as_object().unwrap().values() {
            let id = operation["operationId"].as_str().expect("operationId");
            assert!(ids.insert(id.to_string()), "duplicate operationId {id}");
        }
    }
}

async fn call(state: &AppState, method: &str, path: &str, token: Option<&str>) -> (u16, Value) {
    let headers: Vec<(&str, &str)> = token.map(|t| ("x-vault-token", t)).into_iter().collect();
    let body = (method != "GET" && method != "DELETE").then(|| serde_json::json!({}));
    support::send(state, method, &format!("/v1/duogate{path}"), &headers, body).await
}

#[tokio::test]
async fn the_served_document_is_the_golden_file_and_every_operation_is_routed() {
    let (store, root, _dir) = support::store_with_root().await;
    let state = AppState::new(store, ServiceSettings::default());

    let (status, served) = call(&state, "GET", "/openapi.json", None).await;
    assert_eq!(status, 200);
    assert_eq!(served, document());

    let doc = document();
    for (method, path) in documented() {
        let concrete = path
            .replace("{path}", "no-such-tenant")
            .replace("{accessor}", "no-such-accessor")
            .replace("{name}", "no-such-name")
            .replace("{action}", "retrieve_users");
        let operation = &doc["paths"][&path][method.to_lowercase()];
        let (status, body) = call(&state, &method, &concrete, Some(&root)).await;
        let fell_through = status == 404 && body["error"]["message"] == "no such endpoint";
        assert!(
            !fell_through && status != 405,
            "{method} {path} is not routed ({status})"
        );
        assert!(
            operation["responses"][status.to_string()].is_object(),
            "{method} {path} answered {status}, which the document does not list: {body}"
        );
        let secured = operation.get("security") != Some(&Value::Array(vec![]));
        if secured {
            let (status, body) = call(&state, &method, &concrete, None).await;
            assert_eq!(status, 401, "{method} {path} without a token: {body}");
        }
    }
}

#[test]
fn the_action_enum_is_the_catalogue() {
    let doc = document();
    let parameters = doc["paths"]["/connections/{name}/actions/{action}"]["post"]["parameters"]
        .as_array()
        .or_else(|| doc["paths"]["/connections/{name}/actions/{action}"]["parameters"].as_array())
        .expect("the action route has parameters")
        .clone();
    let action = parameters
        .iter()
        .find(|p| p["name"] == "action")
        .expect("an action parameter");
    let documented: Vec<&str> = action["schema"]["enum"]
        .as_array()
        .expect("an enum of actions")
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    let catalogue: Vec<&str> = duo_client::actions::ACTIONS
        .iter()
        .map(|a| a.name)
        .collect();
    assert_eq!(documented, catalogue);
}
