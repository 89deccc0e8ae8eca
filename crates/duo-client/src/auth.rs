//! Typed Auth API calls (`docs/duo-wire.md` §5).

use serde::de::DeserializeOwned;
use serde_json::{Map, Value, json};

use duo_proto::models::{AsyncAuth, AuthResponse, EnrollResponse, PreauthResponse, ServerTime};

use crate::client::DuoClient;
use crate::error::ClientError;

/// Who is authenticating: a username (or alias) or a Duo user id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Subject {
    /// `username` (aliases match too).
    Username(String),
    /// `user_id` (`DU…`).
    UserId(String),
}

impl Subject {
    fn put(&self, params: &mut Map<String, Value>) {
        match self {
            Self::Username(name) => params.insert("username".into(), json!(name)),
            Self::UserId(id) => params.insert("user_id".into(), json!(id)),
        };
    }
}

/// A preauth request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PreauthRequest {
    /// The user.
    pub subject: Subject,
    /// The user's IP address.
    pub ipaddr: Option<String>,
    /// The user's host name.
    pub hostname: Option<String>,
    /// Ask for the terminal menu (`text_prompt=1`, as duo_unix does): the answer's `prompt`.
    pub text_prompt: bool,
    /// Offer Verified Duo Push (`client_supports_verified_push=1`): the answer's `txid` and
    /// `verification_code`.
    pub client_supports_verified_push: bool,
    /// What the client does when Duo cannot be reached (`open` or `closed`; duo_unix sends
    /// its `failmode` this way). Informational for Duo.
    pub failmode: Option<String>,
}

impl PreauthRequest {
    /// A plain preauth for `subject`.
    pub fn new(subject: Subject) -> Self {
        Self {
            subject,
            ipaddr: None,
            hostname: None,
            text_prompt: false,
            client_supports_verified_push: false,
            failmode: None,
        }
    }
}

/// An auth request. `Debug` hides the passcode.
#[derive(Clone, PartialEq, Eq)]
pub struct AuthRequest {
    /// The user.
    pub subject: Subject,
    /// `auto`, `push`, `passcode`, `phone`, `sms`, or `prompt` (a choice from preauth's
    /// text menu, in [`AuthRequest::prompt`]).
    pub factor: String,
    /// Device id or `auto` (push, phone, sms, auto).
    pub device: Option<String>,
    /// The passcode (factor `passcode`). Never logged.
    pub passcode: Option<String>,
    /// URL-encoded key=value pairs shown in the push.
    pub pushinfo: Option<String>,
    /// The user's IP address.
    pub ipaddr: Option<String>,
    /// The user's host name.
    pub hostname: Option<String>,
    /// Label shown in Duo Mobile (`type`).
    pub kind: Option<String>,
    /// Username shown in the push.
    pub display_username: Option<String>,
    /// Return a txid at once instead of waiting for the answer.
    pub asynchronous: bool,
    /// With factor `prompt`: a factor name from preauth's `prompt.factors` (`push1`,
    /// `phone2`, …), or a passcode as typed. Never logged (it may be a passcode).
    pub prompt: Option<String>,
    /// Verified Duo Push: preauth's `txid`.
    pub txid: Option<String>,
}

impl AuthRequest {
    /// A push to the user's default device.
    pub fn push(subject: Subject) -> Self {
        Self {
            subject,
            factor: "push".into(),
            device: Some("auto".into()),
            passcode: None,
            pushinfo: None,
            ipaddr: None,
            hostname: None,
            kind: None,
            display_username: None,
            asynchronous: false,
            prompt: None,
            txid: None,
        }
    }

    /// A choice from preauth's text menu (`factor=prompt`): a factor name such as `push1`,
    /// or a passcode.
    pub fn prompt(subject: Subject, choice: impl Into<String>) -> Self {
        Self {
            factor: "prompt".into(),
            device: None,
            prompt: Some(choice.into()),
            ..Self::push(subject)
        }
    }

    /// A passcode check.
    pub fn passcode(subject: Subject, passcode: impl Into<String>) -> Self {
        Self {
            factor: "passcode".into(),
            device: None,
            passcode: Some(passcode.into()),
            ..Self::push(subject)
        }
    }
}

impl std::fmt::Debug for AuthRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuthRequest")
            .field("subject", &self.subject)
            .field("factor", &self.factor)
            .field("device", &self.device)
            .field("passcode", &self.passcode.as_ref().map(|_| "[REDACTED]"))
            .field("pushinfo", &self.pushinfo)
            .field("ipaddr", &self.ipaddr)
            .field("hostname", &self.hostname)
            .field("kind", &self.kind)
            .field("display_username", &self.display_username)
            .field("asynchronous", &self.asynchronous)
            .field("prompt", &self.prompt.as_ref().map(|_| "[REDACTED]"))
            .field("txid", &self.txid)
            .finish()
    }
}

/// The answer to an auth request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthOutcome {
    /// Synchronous: the decision.
    Decided(AuthResponse),
    /// Asynchronous: poll this txid with `auth_status`.
    Pending(AsyncAuth),
}

fn decode<T: DeserializeOwned>(value: Value) -> Result<T, ClientError> {
    serde_json::from_value(value).map_err(|e| ClientError::Malformed {
        status: 200,
        message: format!("unexpected answer shape: {e}"),
    })
}

/// Auth API calls; get one with [`DuoClient::auth`].
#[derive(Debug, Clone, Copy)]
pub struct AuthApi<'a> {
    client: &'a DuoClient,
}

impl<'a> AuthApi<'a> {
    pub(crate) fn new(client: &'a DuoClient) -> Self {
        Self { client }
    }

    async fn call<T: DeserializeOwned>(
        &self,
        method: &str,
        path: &str,
        params: Map<String, Value>,
    ) -> Result<T, ClientError> {
        decode(self.client.call(method, path, &params).await?.response)
    }

    /// `/auth/v2/ping` (unsigned on Duo's side; signing it does no harm).
    pub async fn ping(&self) -> Result<ServerTime, ClientError> {
        self.call("GET", "/auth/v2/ping", Map::new()).await
    }

    /// `/auth/v2/check`: are the keys right?
    pub async fn check(&self) -> Result<ServerTime, ClientError> {
        self.call("GET", "/auth/v2/check", Map::new()).await
    }

    /// `/auth/v2/logo`: the account's logo image bytes. Like `duo_client`, an answer whose
    /// `Content-Type` starts with `image/` is the logo; anything else is read as an envelope
    /// (a FAIL envelope when no logo is set).
    pub async fn logo(&self) -> Result<Vec<u8>, ClientError> {
        let raw = self
            .client
            .call_raw("GET", "/auth/v2/logo", &Map::new())
            .await?;
        let is_image = raw
            .content_type
            .as_deref()
            .is_some_and(|kind| kind.trim_start().to_ascii_lowercase().starts_with("image/"));
        if raw.status == 200 && is_image {
            return Ok(raw.body);
        }
        let status = raw.status;
        crate::client::interpret(raw).and_then(|_| {
            Err(ClientError::Malformed {
                status,
                message: "expected an image, got a JSON answer".into(),
            })
        })
    }

    /// `/auth/v2/enroll`.
    pub async fn enroll(
        &self,
        username: Option<&str>,
        valid_secs: Option<u64>,
    ) -> Result<EnrollResponse, ClientError> {
        let mut params = Map::new();
        if let Some(username) = username {
            params.insert("username".into(), json!(username));
        }
        if let Some(secs) = valid_secs {
            params.insert("valid_secs".into(), json!(secs.to_string()));
        }
        self.call("POST", "/auth/v2/enroll", params).await
    }

    /// `/auth/v2/enroll_status`: `success`, `invalid` or `waiting`.
    pub async fn enroll_status(
        &self,
        user_id: &str,
        activation_code: &str,
    ) -> Result<String, ClientError> {
        let mut params = Map::new();
        params.insert("user_id".into(), json!(user_id));
        params.insert("activation_code".into(), json!(activation_code));
        self.call("POST", "/auth/v2/enroll_status", params).await
    }

    /// `/auth/v2/preauth`.
    pub async fn preauth(&self, request: &PreauthRequest) -> Result<PreauthResponse, ClientError> {
        let mut params = Map::new();
        request.subject.put(&mut params);
        if let Some(ip) = &request.ipaddr {
            params.insert("ipaddr".into(), json!(ip));
        }
        if let Some(host) = &request.hostname {
            params.insert("hostname".into(), json!(host));
        }
        if request.text_prompt {
            params.insert("text_prompt".into(), json!("1"));
        }
        if request.client_supports_verified_push {
            params.insert("client_supports_verified_push".into(), json!("1"));
        }
        if let Some(failmode) = &request.failmode {
            params.insert("failmode".into(), json!(failmode));
        }
        self.call("POST", "/auth/v2/preauth", params).await
    }

    /// `/auth/v2/auth`. `async` is sent as `"1"` or `"0"`, as `duo_client` does.
    ///
    /// A synchronous push or phone call blocks until the user answers (Duo gives up after
    /// about 60 s), and the client's timeout applies to it like to any call: either configure a
    /// timeout above that, or set `asynchronous` and poll [`AuthApi::auth_status`].
    pub async fn auth(&self, request: &AuthRequest) -> Result<AuthOutcome, ClientError> {
        let mut params = Map::new();
        request.subject.put(&mut params);
        params.insert("factor".into(), json!(request.factor));
        for (key, value) in [
            ("device", &request.device),
            ("passcode", &request.passcode),
            ("pushinfo", &request.pushinfo),
            ("ipaddr", &request.ipaddr),
            ("hostname", &request.hostname),
            ("type", &request.kind),
            ("display_username", &request.display_username),
            ("prompt", &request.prompt),
            ("txid", &request.txid),
        ] {
            if let Some(value) = value {
                params.insert(key.into(), json!(value));
            }
        }
        // duo_client always sends async as the string "0" or "1".
        params.insert(
            "async".into(),
            json!(if request.asynchronous { "1" } else { "0" }),
        );
        let response = self
            .client
            .call("POST", "/auth/v2/auth", &params)
            .await?
            .response;
        if request.asynchronous {
            decode(response).map(AuthOutcome::Pending)
        } else {
            decode(response).map(AuthOutcome::Decided)
        }
    }

    /// Asks a user to approve (the connector's `request_approval`): sends `request` (a push,
    /// usually [`AuthRequest::push`]) asynchronously, then polls `auth_status` (which Duo
    /// long-polls) until the answer is no longer `waiting`. Returns the txid and the decision;
    /// [`ClientError::Timeout`] when `wait` passes first (Duo itself gives up after about a
    /// minute and answers `timeout`).
    pub async fn request_approval(
        &self,
        request: &AuthRequest,
        wait: std::time::Duration,
    ) -> Result<(String, AuthResponse), ClientError> {
        let deadline = tokio::time::Instant::now() + wait;
        let asynchronous = AuthRequest {
            asynchronous: true,
            ..request.clone()
        };
        let txid = match self.auth(&asynchronous).await? {
            AuthOutcome::Pending(pending) => pending.txid,
            AuthOutcome::Decided(decided) => return Ok((String::new(), decided)),
        };
        loop {
            let poll = tokio::time::timeout_at(deadline, self.auth_status(&txid)).await;
            let status = match poll {
                Ok(status) => status?,
                Err(_) => return Err(ClientError::Timeout { after: wait }),
            };
            if status.result != "waiting" {
                return Ok((txid, status));
            }
            if tokio::time::Instant::now() >= deadline {
                return Err(ClientError::Timeout { after: wait });
            }
        }
    }

    /// `/auth/v2/auth_status` (Duo long-polls until the status changes).
    pub async fn auth_status(&self, txid: &str) -> Result<AuthResponse, ClientError> {
        let mut params = Map::new();
        params.insert("txid".into(), json!(txid));
        self.call("GET", "/auth/v2/auth_status", params).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_hides_the_passcode() {
        let request = AuthRequest::passcode(Subject::UserId("DU1".into()), "918273");
        let shown = format!("{request:?} {request:#?}");
        assert!(!shown.contains("918273"), "{shown}");
        assert!(shown.contains("REDACTED"), "{shown}");
        let typed = AuthRequest::prompt(Subject::UserId("DU1".into()), "918273");
        assert!(!format!("{typed:?}").contains("918273"), "{typed:?}");
    }
}
