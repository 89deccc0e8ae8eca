//! `security/authentication/duo/profiles[/{owner.uuid}]`: one Duo profile per owner (SVM).
//!
//! Stored as the owner tenant's integration of kind `OntapProfile` named `duo`, so a second
//! profile for an owner is refused by the store's unique constraint (409 `1`). The secret key is
//! sealed by the store; the stored configuration ([`ProfileConfig`]) uses ONTAP's field names
//! and holds the last `status`.
//!
//! Wire choices (where `docs/ontap-dialect.md` leaves room):
//! - Defaults on POST: `is_enabled` true, `auto_push` false, `push_info` false, `fail_mode`
//!   `safe`, `max_prompts` 1; `api_host`, `integration_key` and `secret_key` are required
//!   (400 `2`, `The field "…" is required.`).
//! - Instance GET and `fields=*` show: `owner` (`uuid`, `name`, `_links`), `api_host`,
//!   `integration_key`, `fingerprint` (SHA-256 of the secret key, lower-case hex), `is_enabled`,
//!   `auto_push`, `push_info`, `fail_mode`, `max_prompts`, `http_proxy` and `comment` (only when
//!   set), `status` (see [`super::status`]) and `_links`. Never `secret_key`.
//! - PATCH may repeat the path's owner in the body; naming another owner is refused (400 `2`).
//!   An empty PATCH body `{}` changes nothing but re-checks `status`.
//! - Deleting a profile leaves the owner's Duo groups in place.

use super::extract::OntapBody;
use axum::extract::{OriginalUri, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use secrecy::SecretString;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use duogate_store::StoreError;
use duogate_store::integrations::{Integration, IntegrationKind, NewIntegration};
use duogate_store::tenants::Tenant;
use duogate_store::tokens::Role;

use super::error::OntapError;
use super::input::{
    BodyObject, Comment, DuoApiHost, FailMode, HttpProxy, IntegrationKey, MaxPrompts, OwnerRef,
    boolean, clearable, secret_key,
};
use super::query::{Catalog, CollectionQuery, Field, InstanceQuery, Kind, WriteQuery};
use super::reply::{Links, created, done, hal};
use super::status::check;
use super::svms::{body_owner, owner_json, path_owner, svm_name, visible_objects};
use super::{audit, authorize, path_keys};
use crate::engine::DuoTarget;
use crate::engine::{FailMode as EngineFailMode, GroupRule, Policy, UnixPolicy};
use crate::state::AppState;

/// The profile collection's path.
pub(crate) const PROFILES_PATH: &str = "/api/security/authentication/duo/profiles";

/// The store name of an owner's one profile.
const STORE_NAME: &str = "duo";

/// Body fields that are never input.
const READ_ONLY: &[&str] = &["fingerprint", "status", "_links"];

const fn field(name: &'static str, kind: Kind) -> Field {
    Field {
        name,
        kind,
        identity: false,
    }
}

/// The readable fields of a profile.
pub(crate) const CATALOG: Catalog = Catalog {
    fields: &[
        Field {
            name: "owner.uuid",
            kind: Kind::Text,
            identity: true,
        },
        Field {
            name: "owner.name",
            kind: Kind::Text,
            identity: true,
        },
        field("api_host", Kind::Text),
        field("integration_key", Kind::Text),
        field("fingerprint", Kind::Text),
        field("is_enabled", Kind::Boolean),
        field("auto_push", Kind::Boolean),
        field("push_info", Kind::Boolean),
        field("fail_mode", Kind::Enum(FailMode::VALUES)),
        field("max_prompts", Kind::Integer),
        field("http_proxy", Kind::Text),
        field("comment", Kind::Text),
        field("status", Kind::Text),
    ],
    write_only: &["secret_key"],
    keys: &["owner.uuid"],
};

/// A profile's stored, non-secret configuration (ONTAP's field names).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct ProfileConfig {
    /// Duo API host.
    pub(crate) api_host: DuoApiHost,
    /// Duo integration key.
    pub(crate) integration_key: IntegrationKey,
    /// Whether Duo is asked at all.
    pub(crate) is_enabled: bool,
    /// Send the default factor without a menu.
    pub(crate) auto_push: bool,
    /// Add context to pushes.
    pub(crate) push_info: bool,
    /// What happens when Duo cannot be used.
    pub(crate) fail_mode: FailMode,
    /// Attempts, 1–3.
    pub(crate) max_prompts: MaxPrompts,
    /// Proxy to reach Duo through.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) http_proxy: Option<HttpProxy>,
    /// Free text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) comment: Option<Comment>,
    /// The last check's result (`OK` or an error text).
    pub(crate) status: String,
}

/// The fields a POST or PATCH body sets.
#[derive(Debug, Default)]
struct ProfileChanges {
    api_host: Option<DuoApiHost>,
    integration_key: Option<IntegrationKey>,
    secret_key: Option<SecretString>,
    is_enabled: Option<bool>,
    auto_push: Option<bool>,
    push_info: Option<bool>,
    fail_mode: Option<FailMode>,
    max_prompts: Option<MaxPrompts>,
    http_proxy: Option<Option<HttpProxy>>,
    comment: Option<Option<Comment>>,
}

impl ProfileChanges {
    /// Takes every profile field from `body`.
    fn take(body: &mut BodyObject, allow_plain_http: bool) -> Result<Self, OntapError> {
        Ok(Self {
            api_host: body
                .take("api_host")
                .map(|v| DuoApiHost::parse(v, allow_plain_http))
                .transpose()?,
            integration_key: body
                .take("integration_key")
                .map(IntegrationKey::parse)
                .transpose()?,
            secret_key: body.take("secret_key").map(secret_key).transpose()?,
            is_enabled: body
                .take("is_enabled")
                .map(|v| boolean("is_enabled", v))
                .transpose()?,
            auto_push: body
                .take("auto_push")
                .map(|v| boolean("auto_push", v))
                .transpose()?,
            push_info: body
                .take("push_info")
                .map(|v| boolean("push_info", v))
                .transpose()?,
            fail_mode: body.take("fail_mode").map(FailMode::parse).transpose()?,
            max_prompts: body
                .take("max_prompts")
                .map(MaxPrompts::parse)
                .transpose()?,
            http_proxy: body
                .take("http_proxy")
                .map(|v| clearable("http_proxy", v, HttpProxy::parse))
                .transpose()?,
            comment: body
                .take("comment")
                .map(|v| clearable("comment", v, Comment::parse))
                .transpose()?,
        })
    }

    /// The names of the fields set (for the audit log; never values).
    fn names(&self) -> Vec<&'static str> {
        [
            ("api_host", self.api_host.is_some()),
            ("integration_key", self.integration_key.is_some()),
            ("secret_key", self.secret_key.is_some()),
            ("is_enabled", self.is_enabled.is_some()),
            ("auto_push", self.auto_push.is_some()),
            ("push_info", self.push_info.is_some()),
            ("fail_mode", self.fail_mode.is_some()),
            ("max_prompts", self.max_prompts.is_some()),
            ("http_proxy", self.http_proxy.is_some()),
            ("comment", self.comment.is_some()),
        ]
        .into_iter()
        .filter_map(|(name, set)| set.then_some(name))
        .collect()
    }
}

fn required<T>(name: &str, value: Option<T>) -> Result<T, OntapError> {
    value.ok_or_else(|| OntapError::invalid(name, format!("The field \"{name}\" is required.")))
}

impl ProfileConfig {
    /// A new profile from a POST body's fields (with ONTAP's defaults), and its secret key.
    fn create(changes: ProfileChanges) -> Result<(Self, SecretString), OntapError> {
        let config = Self {
            api_host: required("api_host", changes.api_host)?,
            integration_key: required("integration_key", changes.integration_key)?,
            is_enabled: changes.is_enabled.unwrap_or(true),
            auto_push: changes.auto_push.unwrap_or(false),
            push_info: changes.push_info.unwrap_or(false),
            fail_mode: changes.fail_mode.unwrap_or(FailMode::Safe),
            max_prompts: changes.max_prompts.unwrap_or(MaxPrompts::DEFAULT),
            http_proxy: changes.http_proxy.flatten(),
            comment: changes.comment.flatten(),
            status: String::new(),
        };
        Ok((config, required("secret_key", changes.secret_key)?))
    }

    /// Applies a PATCH body's fields; answers the new secret key, if one was given.
    fn apply(&mut self, changes: ProfileChanges) -> Option<SecretString> {
        if let Some(v) = changes.api_host {
            self.api_host = v;
        }
        if let Some(v) = changes.integration_key {
            self.integration_key = v;
        }
        if let Some(v) = changes.is_enabled {
            self.is_enabled = v;
        }
        if let Some(v) = changes.auto_push {
            self.auto_push = v;
        }
        if let Some(v) = changes.push_info {
            self.push_info = v;
        }
        if let Some(v) = changes.fail_mode {
            self.fail_mode = v;
        }
        if let Some(v) = changes.max_prompts {
            self.max_prompts = v;
        }
        if let Some(v) = changes.http_proxy {
            self.http_proxy = v;
        }
        if let Some(v) = changes.comment {
            self.comment = v;
        }
        changes.secret_key
    }

    /// Where the profile's Duo is, for the engine and the `status` check.
    pub(crate) fn target(&self, secret_key: SecretString, allow_plain_http: bool) -> DuoTarget {
        DuoTarget {
            api_host: self.api_host.as_str().to_string(),
            ikey: self.integration_key.as_str().to_string(),
            skey: secret_key,
            allow_plain_http,
            proxy: self.http_proxy.as_ref().map(HttpProxy::url),
        }
    }

    /// duo_unix's rules as this profile and its owner's Duo groups set them.
    pub(crate) fn policy(&self, groups: Vec<GroupRule>) -> Policy {
        Policy::Unix(UnixPolicy {
            is_enabled: self.is_enabled,
            fail_mode: match self.fail_mode {
                FailMode::Safe => EngineFailMode::Safe,
                FailMode::Secure => EngineFailMode::Secure,
            },
            auto_push: self.auto_push,
            max_prompts: self.max_prompts.get(),
            groups,
        })
    }

    /// `pushinfo` for pushes: with `push_info` on, where the request came from.
    pub(crate) fn pushinfo(&self) -> Option<String> {
        self.push_info.then(|| "from=duogate".to_string())
    }

    fn to_json(&self) -> Value {
        // Serialising plain strings, booleans and integers cannot fail.
        serde_json::to_value(self).unwrap_or(Value::Null)
    }
}

/// The instance path of `tenant`'s profile.
fn self_href(tenant: &Tenant) -> String {
    format!("{PROFILES_PATH}/{}", tenant.id)
}

/// The full record of a stored profile.
fn record(tenant: &Tenant, stored: &Integration) -> Result<Value, OntapError> {
    let config: ProfileConfig = serde_json::from_value(stored.config.clone())
        .map_err(|e| OntapError::from(StoreError::Invalid(format!("stored ONTAP profile: {e}"))))?;
    let mut record = json!({
        "owner": owner_json(tenant),
        "api_host": config.api_host.as_str(),
        "integration_key": config.integration_key.as_str(),
        "fingerprint": stored.secret_fingerprint,
        "is_enabled": config.is_enabled,
        "auto_push": config.auto_push,
        "push_info": config.push_info,
        "fail_mode": config.fail_mode,
        "max_prompts": config.max_prompts.get(),
        "status": config.status,
        "_links": {"self": {"href": self_href(tenant)}},
    });
    if let Some(proxy) = &config.http_proxy {
        record["http_proxy"] = json!(proxy.as_str());
    }
    if let Some(comment) = &config.comment {
        record["comment"] = json!(comment.as_str());
    }
    Ok(record)
}

/// `tenant`'s profile, or 404.
async fn find(state: &AppState, tenant: &Tenant) -> Result<Integration, OntapError> {
    Ok(state
        .store
        .integration_named(&tenant.id, IntegrationKind::OntapProfile, STORE_NAME)
        .await?)
}

/// `GET …/profiles`.
pub(super) async fn list(
    State(state): State<AppState>,
    headers: HeaderMap,
    OriginalUri(uri): OriginalUri,
) -> Result<Response, OntapError> {
    let caller = authorize(&state, &headers, Role::Reader).await?;
    let query = CollectionQuery::parse(&CATALOG, uri.query())?;
    let records = visible_objects(&state, &caller, IntegrationKind::OntapProfile)
        .await?
        .iter()
        .map(|(tenant, stored)| record(tenant, stored))
        .collect::<Result<Vec<_>, _>>()?;
    let body = query.respond(&CATALOG, records, PROFILES_PATH);
    Ok(hal(StatusCode::OK, &body, Links::from_headers(&headers)))
}

/// `POST …/profiles`.
pub(super) async fn create(
    State(state): State<AppState>,
    headers: HeaderMap,
    OriginalUri(uri): OriginalUri,
    OntapBody(body): OntapBody,
) -> Result<Response, OntapError> {
    let caller = authorize(&state, &headers, Role::Admin).await?;
    let query = WriteQuery::parse_post(uri.query())?;
    let mut body = BodyObject::parse(&body)?;
    body.refuse_read_only(READ_ONLY)?;
    let owner = body.take_owner()?;
    let changes = ProfileChanges::take(&mut body, state.settings.allow_plain_http_duo)?;
    body.finish()?;
    let fields = changes.names();
    let (mut config, secret) = ProfileConfig::create(changes)?;
    let tenant = body_owner(&state, &caller, owner.as_ref()).await?;
    config.status = check(
        &state,
        &config.target(secret.clone(), state.settings.allow_plain_http_duo),
    )
    .await;
    let stored = state
        .store
        .create_integration(NewIntegration {
            tenant_id: tenant.id.clone(),
            kind: IntegrationKind::OntapProfile,
            name: STORE_NAME.into(),
            config: config.to_json(),
            secret: Some(secret),
        })
        .await
        .map_err(|e| match e {
            StoreError::Conflict(_) => OntapError::duplicate(
                "owner.uuid",
                format!(
                    "duplicate entry: SVM \"{}\" already has a Duo profile.",
                    svm_name(&tenant)
                ),
            ),
            other => other.into(),
        })?;
    audit(
        &state,
        &caller,
        "ontap.profile.create",
        &svm_name(&tenant),
        json!({"owner_uuid": tenant.id, "fields": fields}),
    )
    .await?;
    let body = if query.return_records {
        json!({"num_records": 1, "records": [record(&tenant, &stored)?]})
    } else {
        json!({})
    };
    Ok(created(
        &self_href(&tenant),
        &body,
        Links::from_headers(&headers),
    ))
}

/// `GET …/profiles/{owner.uuid}`.
pub(super) async fn read(
    State(state): State<AppState>,
    headers: HeaderMap,
    OriginalUri(uri): OriginalUri,
) -> Result<Response, OntapError> {
    let caller = authorize(&state, &headers, Role::Reader).await?;
    let query = InstanceQuery::parse(&CATALOG, uri.query())?;
    let tenant = path_owner(&state, &caller, &path_keys::<1>(&uri)?[0]).await?;
    let stored = find(&state, &tenant).await?;
    let body = query.render(&CATALOG, &record(&tenant, &stored)?);
    Ok(hal(StatusCode::OK, &body, Links::from_headers(&headers)))
}

/// Refuses a PATCH body's `owner` unless it is the path's owner.
pub(crate) fn same_owner(owner: Option<&OwnerRef>, tenant: &Tenant) -> Result<(), OntapError> {
    let Some(owner) = owner else {
        return Ok(());
    };
    let uuid_matches = owner.uuid.as_deref().is_none_or(|given| {
        uuid::Uuid::parse_str(given.trim()).is_ok_and(|u| u.hyphenated().to_string() == tenant.id)
    });
    let name_matches = owner
        .name
        .as_deref()
        .is_none_or(|given| given == svm_name(tenant));
    if uuid_matches && name_matches {
        Ok(())
    } else {
        Err(OntapError::invalid(
            "owner",
            "The owner cannot be changed: it is part of the object's path.",
        ))
    }
}

/// `PATCH …/profiles/{owner.uuid}`.
pub(super) async fn update(
    State(state): State<AppState>,
    headers: HeaderMap,
    OriginalUri(uri): OriginalUri,
    OntapBody(body): OntapBody,
) -> Result<Response, OntapError> {
    let caller = authorize(&state, &headers, Role::Admin).await?;
    WriteQuery::parse_change(uri.query())?;
    let tenant = path_owner(&state, &caller, &path_keys::<1>(&uri)?[0]).await?;
    let stored = find(&state, &tenant).await?;
    let mut body = BodyObject::parse(&body)?;
    body.refuse_read_only(READ_ONLY)?;
    let owner = body.take_owner()?;
    let changes = ProfileChanges::take(&mut body, state.settings.allow_plain_http_duo)?;
    body.finish()?;
    same_owner(owner.as_ref(), &tenant)?;
    let fields = changes.names();
    let mut config: ProfileConfig = serde_json::from_value(stored.config.clone())
        .map_err(|e| OntapError::from(StoreError::Invalid(format!("stored ONTAP profile: {e}"))))?;
    let new_secret = config.apply(changes);
    let secret = match &new_secret {
        Some(secret) => secret.clone(),
        None => state
            .store
            .integration_secret(&stored.id)
            .await?
            .ok_or_else(|| {
                OntapError::from(StoreError::Invalid(
                    "stored ONTAP profile has no secret key".into(),
                ))
            })?,
    };
    config.status = check(
        &state,
        &config.target(secret.clone(), state.settings.allow_plain_http_duo),
    )
    .await;
    state
        .store
        .update_integration(&stored.id, config.to_json(), new_secret)
        .await?;
    audit(
        &state,
        &caller,
        "ontap.profile.update",
        &svm_name(&tenant),
        json!({"owner_uuid": tenant.id, "fields": fields}),
    )
    .await?;
    Ok(done())
}

/// `DELETE …/profiles/{owner.uuid}` (any body is ignored).
pub(super) async fn remove(
    State(state): State<AppState>,
    headers: HeaderMap,
    OriginalUri(uri): OriginalUri,
) -> Result<Response, OntapError> {
    let caller = authorize(&state, &headers, Role::Admin).await?;
    WriteQuery::parse_change(uri.query())?;
    let tenant = path_owner(&state, &caller, &path_keys::<1>(&uri)?[0]).await?;
    let stored = find(&state, &tenant).await?;
    state.store.delete_integration(&stored.id).await?;
    audit(
        &state,
        &caller,
        "ontap.profile.delete",
        &svm_name(&tenant),
        json!({"owner_uuid": tenant.id}),
    )
    .await?;
    Ok(done())
}
