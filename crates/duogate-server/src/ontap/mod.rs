//! The ONTAP dialect under `/api/`: Duo profiles and groups as ONTAP 9.14+ serves them
//! (`docs/ontap-dialect.md` §1–2, §6), well enough for NetApp's `netapp-ontap` client, and the SVMs
//! (tenants) they belong to.
//!
//! | route | role | what |
//! |---|---|---|
//! | `GET security/authentication/duo/profiles` | reader | collection: identity fields by default, `fields`, filters, `order_by`, `max_records` + `_links.next`, `return_records` |
//! | `POST security/authentication/duo/profiles` | admin | 201 + `Location: /api/…/profiles/<owner.uuid>`, body `{}` (or `{num_records: 1, records}` with `return_records=true`); 409 for a second profile of an owner |
//! | `GET security/authentication/duo/profiles/{owner.uuid}` | reader | the profile (common fields; `fields`), never `secret_key` |
//! | `PATCH security/authentication/duo/profiles/{owner.uuid}` | admin | 200 `{}` |
//! | `DELETE security/authentication/duo/profiles/{owner.uuid}` | admin | 200 `{}` |
//! | `GET security/authentication/duo/groups` | reader | collection, as for profiles |
//! | `POST security/authentication/duo/groups` | admin | 201 + `Location: /api/…/groups/<owner.uuid>/<name>` |
//! | `GET/PATCH/DELETE security/authentication/duo/groups/{owner.uuid}/{name}` | reader / admin / admin | as for profiles |
//! | `GET svm/svms`, `GET svm/svms/{uuid}` | reader | the tenants as SVMs (`uuid`, `name`) |
//!
//! Access: a token (`Authorization: Bearer`, or `X-Vault-Token`) or an account
//! (`Authorization: Basic`). Missing or wrong credentials are 401 in ONTAP's envelope before
//! anything else is looked at; the `mfa` role may use nothing here (403); `reader` may only
//! GET (and never sees a secret: none is ever shown); a caller bound to a tenant sees and
//! writes only that tenant's SVM and objects, and anything else answers exactly as if it did
//! not exist. Every write is audited (field names, never values).
//!
//! Every other method on these routes (e.g. PATCH or DELETE on a collection, or POST with
//! `{"records": […]}`, which is refused as an unexpected argument) is not supported: 405 `3`
//! or 400. Other paths under `/api` are 404 `3` `API not found`.
//!
//! # Layout
//!
//! - [`error`]: [`OntapError`], the one error mapping (codes and statuses).
//! - `reply`: response headers and HAL/JSON bodies.
//! - `query`: `fields`, filters, `order_by`, paging, `return_records` (wire choices there).
//! - `input`: request bodies and the validated field types (wire choices there).
//! - `profiles`, `groups`, `svms`: the resources (wire choices in each).
//! - `status`: the profile `status` check and its background refresh ([`refresh_statuses`],
//!   [`spawn_status_refresher`]).

pub mod error;
mod extract;
pub(crate) mod groups;
mod input;
pub(crate) mod profiles;
mod query;
mod reply;
mod status;
mod svms;

use axum::http::{HeaderMap, Uri};
use axum::routing::get;
use serde_json::Value;

use duogate_store::tokens::Role;

pub use error::OntapError;
pub use status::{refresh_statuses, spawn_status_refresher};

use crate::access::{Caller, authenticate};
use crate::state::AppState;

/// Every row of [`router`]'s table (paths relative to `/api`).
pub const ROUTES: &[crate::routes::RouteSpec] = {
    use crate::routes::{Access::*, row};
    &[
        row(
            "GET",
            "/security/authentication/duo/profiles",
            Needs(Role::Reader),
        ),
        row(
            "POST",
            "/security/authentication/duo/profiles",
            Needs(Role::Admin),
        ),
        row(
            "GET",
            "/security/authentication/duo/profiles/{owner_uuid}",
            Needs(Role::Reader),
        ),
        row(
            "PATCH",
            "/security/authentication/duo/profiles/{owner_uuid}",
            Needs(Role::Admin),
        ),
        row(
            "DELETE",
            "/security/authentication/duo/profiles/{owner_uuid}",
            Needs(Role::Admin),
        ),
        row(
            "GET",
            "/security/authentication/duo/groups",
            Needs(Role::Reader),
        ),
        row(
            "POST",
            "/security/authentication/duo/groups",
            Needs(Role::Admin),
        ),
        row(
            "GET",
            "/security/authentication/duo/groups/{owner_uuid}/{name}",
            Needs(Role::Reader),
        ),
        row(
            "PATCH",
            "/security/authentication/duo/groups/{owner_uuid}/{name}",
            Needs(Role::Admin),
        ),
        row(
            "DELETE",
            "/security/authentication/duo/groups/{owner_uuid}/{name}",
            Needs(Role::Admin),
        ),
        row("GET", "/svm/svms", Needs(Role::Reader)),
        row("GET", "/svm/svms/{uuid}", Needs(Role::Reader)),
    ]
};

/// The ONTAP routes, to be nested under `/api`.
pub fn router() -> axum::Router<AppState> {
    let not_allowed = || async { OntapError::method_not_allowed() };
    axum::Router::new()
        .route(
            "/security/authentication/duo/profiles",
            get(profiles::list)
                .post(profiles::create)
                .fallback(not_allowed),
        )
        .route(
            "/security/authentication/duo/profiles/{owner_uuid}",
            get(profiles::read)
                .patch(profiles::update)
                .delete(profiles::remove)
                .fallback(not_allowed),
        )
        .route(
            "/security/authentication/duo/groups",
            get(groups::list).post(groups::create).fallback(not_allowed),
        )
        .route(
            "/security/authentication/duo/groups/{owner_uuid}/{name}",
            get(groups::read)
                .patch(groups::update)
                .delete(groups::remove)
                .fallback(not_allowed),
        )
        .route("/svm/svms", get(svms::list).fallback(not_allowed))
        .route("/svm/svms/{uuid}", get(svms::read).fallback(not_allowed))
        .fallback(|| async { OntapError::api_not_found() })
}

/// The authenticated caller, when its role allows `role`.
pub(crate) async fn authorize(
    state: &AppState,
    headers: &HeaderMap,
    role: Role,
) -> Result<Caller, OntapError> {
    let caller = authenticate(state, headers).await??;
    caller.require(role)?;
    Ok(caller)
}

/// The last `N` segments of the request path (the object's keys), decoded as `netapp-ontap`
/// encodes keys (`quote_plus`: `+` is a space, `%XX` a byte, `%2F` included). They are read from
/// the raw path because axum's own path extraction has already turned `%2B` into `+`.
pub(crate) fn path_keys<const N: usize>(uri: &Uri) -> Result<[String; N], OntapError> {
    let segments: Vec<&str> = uri.path().rsplitn(N + 1, '/').take(N).collect();
    let mut keys: [String; N] = std::array::from_fn(|_| String::new());
    if segments.len() != N {
        return Err(OntapError::api_not_found());
    }
    for (key, raw) in keys.iter_mut().rev().zip(segments) {
        *key = percent_encoding::percent_decode_str(&raw.replace('+', " "))
            .decode_utf8()
            .map(|decoded| decoded.into_owned())
            .map_err(|_| OntapError::not_found())?;
    }
    Ok(keys)
}

/// Appends an audit entry; a failure to audit fails the request.
pub(crate) async fn audit(
    state: &AppState,
    caller: &Caller,
    action: &str,
    target: &str,
    detail: Value,
) -> Result<(), OntapError> {
    Ok(caller.audit(&state.store, action, target, detail).await?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn path_keys_decode_plus_as_space_and_keep_encoded_slashes_inside_a_key() {
        let uri: Uri = "/api/security/authentication/duo/groups/u-1/DOMAIN%5CStorage+Admins"
            .parse()
            .unwrap();
        let [owner, name] = path_keys::<2>(&uri).unwrap();
        assert_eq!(
            (owner.as_str(), name.as_str()),
            ("u-1", "DOMAIN\\Storage Admins")
        );
        let odd: Uri = "/api/g/u/a%2Fb%2Bc".parse().unwrap();
        assert_eq!(path_keys::<1>(&odd).unwrap(), ["a/b+c".to_string()]);
        let invalid: Uri = "/api/g/u/%FF".parse().unwrap();
        assert_eq!(path_keys::<1>(&invalid).unwrap_err().code, "4");
    }
}
