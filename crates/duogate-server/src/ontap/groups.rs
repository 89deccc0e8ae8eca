//! `security/authentication/duo/groups[/{owner.uuid}/{name}]`: the groups whose members Duo
//! asks (when any exist), each with users it skips.
//!
//! Stored as the owner tenant's integrations of kind `OntapGroup`, named by the group name
//! (unique per owner: a second group with the same name is 409 `1`).
//!
//! Wire choices (where `docs/ontap-dialect.md` leaves room):
//! - `name` is required on POST; `owner` defaults as for profiles (see [`super::svms`]). A
//!   group does not need its owner to have a profile.
//! - The name in the path is decoded as `netapp-ontap` encodes it (`quote_plus`): `+` is a
//!   space and `%XX` any byte, `%2F` included. `Location` and `_links.self` encode every byte
//!   but letters, digits and `-._~` as `%XX` (so `DOMAIN\Storage Admins` is
//!   `DOMAIN%5CStorage%20Admins`), which the client decodes back.
//! - Names compare exactly (case-sensitive), as stored.
//! - `excluded_users` is shown only when it holds a user (an empty list is unset, so it
//!   matches the `null` filter); PATCH replaces the whole list (`null` or `[]` empties it).
//! - Instance GET and `fields=*` show `owner`, `name`, `excluded_users`, `comment` and
//!   `_links`; a collection without `fields` shows `owner` and `name`.
//! - PATCH may repeat the path's `owner` and `name` in the body; other values are refused
//!   (400 `2`): renaming is not supported.

use super::extract::OntapBody;
use axum::extract::{OriginalUri, State};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::Response;
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use duogate_store::StoreError;
use duogate_store::integrations::{Integration, IntegrationKind, NewIntegration};
use duogate_store::tenants::Tenant;
use duogate_store::tokens::Role;

use super::error::OntapError;
use super::input::{BodyObject, Comment, ExcludedUsers, GroupName, clearable, text};
use super::profiles::same_owner;
use super::query::{Catalog, CollectionQuery, Field, InstanceQuery, Kind, WriteQuery};
use super::reply::{Links, created, done, hal};
use super::svms::{body_owner, owner_json, path_owner, svm_name, visible_objects};
use super::{audit, authorize, path_keys};
use crate::state::AppState;

/// The group collection's path.
pub(crate) const GROUPS_PATH: &str = "/api/security/authentication/duo/groups";

/// Bytes kept as they are in a path segment: RFC 3986 unreserved characters.
const SEGMENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// Body fields that are never input.
const READ_ONLY: &[&str] = &["_links"];

/// The readable fields of a group.
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
        Field {
            name: "name",
            kind: Kind::Text,
            identity: true,
        },
        Field {
            name: "excluded_users",
            kind: Kind::TextList,
            identity: false,
        },
        Field {
            name: "comment",
            kind: Kind::Text,
            identity: false,
        },
    ],
    write_only: &[],
    keys: &["owner.uuid", "name"],
};

/// A group's stored configuration.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub(crate) struct GroupConfig {
    /// Members who skip Duo.
    #[serde(default)]
    pub(crate) excluded_users: ExcludedUsers,
    /// Free text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) comment: Option<Comment>,
}

impl GroupConfig {
    /// The engine's rule for the group named `name`.
    pub(crate) fn rule(&self, name: &str) -> crate::engine::GroupRule {
        crate::engine::GroupRule {
            name: name.to_string(),
            excluded_users: self.excluded_users.as_slice().to_vec(),
        }
    }

    fn to_json(&self) -> Value {
        // Serialising strings cannot fail.
        serde_json::to_value(self).unwrap_or(Value::Null)
    }
}

/// The fields a POST or PATCH body sets (besides the keys).
#[derive(Debug, Default)]
struct GroupChanges {
    excluded_users: Option<ExcludedUsers>,
    comment: Option<Option<Comment>>,
}

impl GroupChanges {
    fn take(body: &mut BodyObject) -> Result<Self, OntapError> {
        Ok(Self {
            excluded_users: body
                .take("excluded_users")
                .map(ExcludedUsers::parse)
                .transpose()?,
            comment: body
                .take("comment")
                .map(|v| clearable("comment", v, Comment::parse))
                .transpose()?,
        })
    }

    fn apply(self, config: &mut GroupConfig) {
        if let Some(users) = self.excluded_users {
            config.excluded_users = users;
        }
        if let Some(comment) = self.comment {
            config.comment = comment;
        }
    }

    fn names(&self) -> Vec<&'static str> {
        [
            ("excluded_users", self.excluded_users.is_some()),
            ("comment", self.comment.is_some()),
        ]
        .into_iter()
        .filter_map(|(name, set)| set.then_some(name))
        .collect()
    }
}

/// The instance path of a group.
fn self_href(tenant: &Tenant, name: &str) -> String {
    format!(
        "{GROUPS_PATH}/{}/{}",
        tenant.id,
        utf8_percent_encode(name, SEGMENT)
    )
}

/// The full record of a stored group.
fn record(tenant: &Tenant, stored: &Integration) -> Result<Value, OntapError> {
    let config: GroupConfig = serde_json::from_value(stored.config.clone())
        .map_err(|e| OntapError::from(StoreError::Invalid(format!("stored ONTAP group: {e}"))))?;
    let mut record = json!({
        "owner": owner_json(tenant),
        "name": stored.name,
        "_links": {"self": {"href": self_href(tenant, &stored.name)}},
    });
    if !config.excluded_users.as_slice().is_empty() {
        record["excluded_users"] = json!(config.excluded_users.as_slice());
    }
    if let Some(comment) = &config.comment {
        record["comment"] = json!(comment.as_str());
    }
    Ok(record)
}

/// The group the path names, or 404.
async fn find(
    state: &AppState,
    caller: &crate::access::Caller,
    uri: &Uri,
) -> Result<(Tenant, Integration), OntapError> {
    let [owner_uuid, name] = path_keys::<2>(uri)?;
    let tenant = path_owner(state, caller, &owner_uuid).await?;
    let stored = state
        .store
        .integration_named(&tenant.id, IntegrationKind::OntapGroup, &name)
        .await?;
    Ok((tenant, stored))
}

/// `GET …/groups`.
pub(super) async fn list(
    State(state): State<AppState>,
    headers: HeaderMap,
    OriginalUri(uri): OriginalUri,
) -> Result<Response, OntapError> {
    let caller = authorize(&state, &headers, Role::Reader).await?;
    let query = CollectionQuery::parse(&CATALOG, uri.query())?;
    let records = visible_objects(&state, &caller, IntegrationKind::OntapGroup)
        .await?
        .iter()
        .map(|(tenant, stored)| record(tenant, stored))
        .collect::<Result<Vec<_>, _>>()?;
    let body = query.respond(&CATALOG, records, GROUPS_PATH);
    Ok(hal(StatusCode::OK, &body, Links::from_headers(&headers)))
}

/// `POST …/groups`.
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
    let name = body
        .take("name")
        .map(GroupName::parse)
        .transpose()?
        .ok_or_else(|| OntapError::invalid("name", "The field \"name\" is required."))?;
    let changes = GroupChanges::take(&mut body)?;
    body.finish()?;
    let fields = changes.names();
    let tenant = body_owner(&state, &caller, owner.as_ref()).await?;
    let mut config = GroupConfig::default();
    changes.apply(&mut config);
    let stored = state
        .store
        .create_integration(NewIntegration {
            tenant_id: tenant.id.clone(),
            kind: IntegrationKind::OntapGroup,
            name: name.as_str().to_string(),
            config: config.to_json(),
            secret: None,
        })
        .await
        .map_err(|e| match e {
            StoreError::Conflict(_) => OntapError::duplicate(
                "name",
                format!(
                    "duplicate entry: SVM \"{}\" already has a Duo group \"{}\".",
                    svm_name(&tenant),
                    name.as_str()
                ),
            ),
            other => other.into(),
        })?;
    audit(
        &state,
        &caller,
        "ontap.group.create",
        &format!("{}/{}", svm_name(&tenant), name.as_str()),
        json!({"owner_uuid": tenant.id, "fields": fields}),
    )
    .await?;
    let body = if query.return_records {
        json!({"num_records": 1, "records": [record(&tenant, &stored)?]})
    } else {
        json!({})
    };
    Ok(created(
        &self_href(&tenant, &stored.name),
        &body,
        Links::from_headers(&headers),
    ))
}

/// `GET …/groups/{owner.uuid}/{name}`.
pub(super) async fn read(
    State(state): State<AppState>,
    headers: HeaderMap,
    OriginalUri(uri): OriginalUri,
) -> Result<Response, OntapError> {
    let caller = authorize(&state, &headers, Role::Reader).await?;
    let query = InstanceQuery::parse(&CATALOG, uri.query())?;
    let (tenant, stored) = find(&state, &caller, &uri).await?;
    let body = query.render(&CATALOG, &record(&tenant, &stored)?);
    Ok(hal(StatusCode::OK, &body, Links::from_headers(&headers)))
}

/// `PATCH …/groups/{owner.uuid}/{name}`.
pub(super) async fn update(
    State(state): State<AppState>,
    headers: HeaderMap,
    OriginalUri(uri): OriginalUri,
    OntapBody(body): OntapBody,
) -> Result<Response, OntapError> {
    let caller = authorize(&state, &headers, Role::Admin).await?;
    WriteQuery::parse_change(uri.query())?;
    let (tenant, stored) = find(&state, &caller, &uri).await?;
    let mut body = BodyObject::parse(&body)?;
    body.refuse_read_only(READ_ONLY)?;
    let owner = body.take_owner()?;
    let name = body.take("name").map(|v| text("name", v)).transpose()?;
    let changes = GroupChanges::take(&mut body)?;
    body.finish()?;
    same_owner(owner.as_ref(), &tenant)?;
    if name.as_deref().is_some_and(|given| given != stored.name) {
        return Err(OntapError::invalid(
            "name",
            "The name cannot be changed: it is part of the object's path.",
        ));
    }
    let fields = changes.names();
    let mut config: GroupConfig = serde_json::from_value(stored.config.clone())
        .map_err(|e| OntapError::from(StoreError::Invalid(format!("stored ONTAP group: {e}"))))?;
    changes.apply(&mut config);
    state
        .store
        .update_integration(&stored.id, config.to_json(), None)
        .await?;
    audit(
        &state,
        &caller,
        "ontap.group.update",
        &format!("{}/{}", svm_name(&tenant), stored.name),
        json!({"owner_uuid": tenant.id, "fields": fields}),
    )
    .await?;
    Ok(done())
}

/// `DELETE …/groups/{owner.uuid}/{name}` (any body is ignored).
pub(super) async fn remove(
    State(state): State<AppState>,
    headers: HeaderMap,
    OriginalUri(uri): OriginalUri,
) -> Result<Response, OntapError> {
    let caller = authorize(&state, &headers, Role::Admin).await?;
    WriteQuery::parse_change(uri.query())?;
    let (tenant, stored) = find(&state, &caller, &uri).await?;
    state.store.delete_integration(&stored.id).await?;
    audit(
        &state,
        &caller,
        "ontap.group.delete",
        &format!("{}/{}", svm_name(&tenant), stored.name),
        json!({"owner_uuid": tenant.id}),
    )
    .await?;
    Ok(done())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn self_links_encode_every_reserved_byte() {
        let tenant = Tenant {
            id: "u".into(),
            path: duogate_store::tenants::TenantPath::root(),
            created_at: 0,
        };
        assert_eq!(
            self_href(&tenant, "DOMAIN\\Storage Admins"),
            format!("{GROUPS_PATH}/u/DOMAIN%5CStorage%20Admins")
        );
        assert_eq!(
            self_href(&tenant, "a/b+c~d"),
            format!("{GROUPS_PATH}/u/a%2Fb%2Bc~d")
        );
    }
}
