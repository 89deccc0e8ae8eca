//! Typed Admin API calls for the connector's endpoints (`docs/duo-wire.md` §4).

use futures_util::{Stream, StreamExt as _};
use serde::de::DeserializeOwned;
use serde_json::{Map, Value, json};

use duo_proto::canon::path_segment;
use duo_proto::models::{Admin, BypassCode, Phone, User};
use duo_proto::paging::PagingMetadata;

use crate::client::DuoClient;
use crate::error::ClientError;

/// Fields of a user update; `None` fields are not sent.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UserUpdate {
    /// New username.
    pub username: Option<String>,
    /// Full name.
    pub realname: Option<String>,
    /// `active`, `disabled` or `bypass`.
    pub status: Option<String>,
    /// Notes.
    pub notes: Option<String>,
    /// E-mail.
    pub email: Option<String>,
    /// Given name.
    pub firstname: Option<String>,
    /// Family name.
    pub lastname: Option<String>,
    /// Alias 1 (empty clears it).
    pub alias1: Option<String>,
    /// Alias 2.
    pub alias2: Option<String>,
    /// Alias 3.
    pub alias3: Option<String>,
    /// Alias 4.
    pub alias4: Option<String>,
    /// Up to eight aliases as URL-encoded pairs (exclusive with alias1..4).
    pub aliases: Option<String>,
}

/// Fields of an administrator update. There is no password: Duo deprecated setting it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AdminUpdate {
    /// Full name.
    pub name: Option<String>,
    /// Phone number.
    pub phone: Option<String>,
    /// Require a password change at next login.
    pub password_change_required: Option<bool>,
    /// `Active` or `Disabled`.
    pub status: Option<String>,
    /// Role, e.g. `Help Desk`.
    pub role: Option<String>,
}

fn put(map: &mut Map<String, Value>, key: &str, value: &Option<String>) {
    if let Some(value) = value {
        map.insert(key.to_string(), json!(value));
    }
}

fn decode<T: DeserializeOwned>(value: Value) -> Result<T, ClientError> {
    serde_json::from_value(value).map_err(|e| ClientError::Malformed {
        status: 200,
        message: format!("unexpected object shape: {e}"),
    })
}

/// Admin API calls; get one with [`DuoClient::admin`].
#[derive(Debug, Clone, Copy)]
pub struct AdminApi<'a> {
    client: &'a DuoClient,
}

impl<'a> AdminApi<'a> {
    pub(crate) fn new(client: &'a DuoClient) -> Self {
        Self { client }
    }

    async fn list_page<T: DeserializeOwned>(
        &self,
        path: &str,
        limit: Option<u32>,
        offset: Option<u64>,
    ) -> Result<(Vec<T>, PagingMetadata), ClientError> {
        let mut params = Map::new();
        if let Some(limit) = limit {
            params.insert("limit".into(), json!(limit.to_string()));
        }
        if let Some(offset) = offset {
            params.insert("offset".into(), json!(offset.to_string()));
        }
        let answer = self.client.call("GET", path, &params).await?;
        Ok((
            decode(answer.response)?,
            answer.metadata.unwrap_or_default(),
        ))
    }

    fn stream<T: DeserializeOwned + 'a>(
        &self,
        path: &'a str,
    ) -> impl Stream<Item = Result<T, ClientError>> + 'a {
        self.client
            .items(path, Map::new(), None)
            .map(|item| item.and_then(decode))
    }

    async fn get<T: DeserializeOwned>(&self, path: &str) -> Result<T, ClientError> {
        decode(self.client.call("GET", path, &Map::new()).await?.response)
    }

    async fn post<T: DeserializeOwned>(
        &self,
        path: &str,
        params: Map<String, Value>,
    ) -> Result<T, ClientError> {
        decode(self.client.call("POST", path, &params).await?.response)
    }

    /// One page of users.
    pub async fn list_users(
        &self,
        limit: Option<u32>,
        offset: Option<u64>,
    ) -> Result<(Vec<User>, PagingMetadata), ClientError> {
        self.list_page("/admin/v1/users", limit, offset).await
    }

    /// Every user.
    pub fn users(&self) -> impl Stream<Item = Result<User, ClientError>> + 'a {
        self.stream("/admin/v1/users")
    }

    /// One user.
    pub async fn user(&self, user_id: &str) -> Result<User, ClientError> {
        self.get(&format!("/admin/v1/users/{}", path_segment(user_id)))
            .await
    }

    /// Changes a user; returns the updated user.
    pub async fn update_user(
        &self,
        user_id: &str,
        update: &UserUpdate,
    ) -> Result<User, ClientError> {
        let mut params = Map::new();
        put(&mut params, "username", &update.username);
        put(&mut params, "realname", &update.realname);
        put(&mut params, "status", &update.status);
        put(&mut params, "notes", &update.notes);
        put(&mut params, "email", &update.email);
        put(&mut params, "firstname", &update.firstname);
        put(&mut params, "lastname", &update.lastname);
        put(&mut params, "alias1", &update.alias1);
        put(&mut params, "alias2", &update.alias2);
        put(&mut params, "alias3", &update.alias3);
        put(&mut params, "alias4", &update.alias4);
        put(&mut params, "aliases", &update.aliases);
        self.post(
            &format!("/admin/v1/users/{}", path_segment(user_id)),
            params,
        )
        .await
    }

    /// One page of phones.
    pub async fn list_phones(
        &self,
        limit: Option<u32>,
        offset: Option<u64>,
    ) -> Result<(Vec<Phone>, PagingMetadata), ClientError> {
        self.list_page("/admin/v1/phones", limit, offset).await
    }

    /// Every phone.
    pub fn phones(&self) -> impl Stream<Item = Result<Phone, ClientError>> + 'a {
        self.stream("/admin/v1/phones")
    }

    /// Every phone of one user.
    pub async fn user_phones(&self, user_id: &str) -> Result<Vec<Phone>, ClientError> {
        let path = format!("/admin/v1/users/{}/phones", path_segment(user_id));
        let pages = self.client.items(&path, Map::new(), None);
        let items: Vec<Result<Value, ClientError>> = pages.collect().await;
        items
            .into_iter()
            .map(|item| item.and_then(decode))
            .collect()
    }

    /// Associates a phone with a user.
    pub async fn associate_phone(&self, user_id: &str, phone_id: &str) -> Result<(), ClientError> {
        let mut params = Map::new();
        params.insert("phone_id".into(), json!(phone_id));
        let path = format!("/admin/v1/users/{}/phones", path_segment(user_id));
        self.client.call("POST", &path, &params).await.map(|_| ())
    }

    /// One page of administrators.
    pub async fn list_admins(
        &self,
        limit: Option<u32>,
        offset: Option<u64>,
    ) -> Result<(Vec<Admin>, PagingMetadata), ClientError> {
        self.list_page("/admin/v1/admins", limit, offset).await
    }

    /// Every administrator.
    pub fn admins(&self) -> impl Stream<Item = Result<Admin, ClientError>> + 'a {
        self.stream("/admin/v1/admins")
    }

    /// Changes an administrator; returns the updated administrator.
    pub async fn modify_admin(
        &self,
        admin_id: &str,
        update: &AdminUpdate,
    ) -> Result<Admin, ClientError> {
        let mut params = Map::new();
        put(&mut params, "name", &update.name);
        put(&mut params, "phone", &update.phone);
        put(&mut params, "status", &update.status);
        put(&mut params, "role", &update.role);
        if let Some(flag) = update.password_change_required {
            params.insert("password_change_required".into(), json!(flag));
        }
        self.post(
            &format!("/admin/v1/admins/{}", path_segment(admin_id)),
            params,
        )
        .await
    }

    /// One page of bypass codes' metadata.
    pub async fn list_bypass_codes(
        &self,
        limit: Option<u32>,
        offset: Option<u64>,
    ) -> Result<(Vec<BypassCode>, PagingMetadata), ClientError> {
        self.list_page("/admin/v1/bypass_codes", limit, offset)
            .await
    }

    /// Every bypass code's metadata.
    pub fn bypass_codes(&self) -> impl Stream<Item = Result<BypassCode, ClientError>> + 'a {
        self.stream("/admin/v1/bypass_codes")
    }
}
