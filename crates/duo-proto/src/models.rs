//! Typed Duo objects: what the Admin API returns for users, phones, administrators and bypass
//! codes, and what the Auth API answers.
//!
//! Shapes follow `docs/duo-wire.md` §4 "Object shapes" and §5. Every struct tolerates missing
//! fields (`#[serde(default)]`) and ignores unknown ones, because Duo adds fields over time; the
//! emulator serialises the same structs, so client and emulator agree on spelling.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// A group a user belongs to.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Group {
    /// `DG…` id.
    pub group_id: String,
    /// Group name.
    pub name: String,
    /// Description.
    pub desc: String,
    /// `Active`, `Bypass`, `Disabled`.
    pub status: String,
    /// Push allowed.
    pub push_enabled: bool,
    /// SMS allowed.
    pub sms_enabled: bool,
    /// Voice allowed.
    pub voice_enabled: bool,
    /// Duo Mobile passcodes allowed.
    pub mobile_otp_enabled: bool,
}

/// A hardware or software OTP token.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Token {
    /// `DH…` id.
    pub token_id: String,
    /// Token type (`h6`, `t6`, `yk`, …).
    #[serde(rename = "type")]
    pub kind: String,
    /// Serial number.
    pub serial: String,
    /// TOTP step, for TOTP tokens.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub totp_step: Option<u32>,
}

/// A Duo user.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct User {
    /// `DU…` id (20 characters).
    pub user_id: String,
    /// Login name.
    pub username: String,
    /// Full name.
    pub realname: String,
    /// Given name.
    pub firstname: String,
    /// Family name.
    pub lastname: String,
    /// E-mail address.
    pub email: String,
    /// Free-form notes.
    pub notes: String,
    /// First alias.
    pub alias1: Option<String>,
    /// Second alias.
    pub alias2: Option<String>,
    /// Third alias.
    pub alias3: Option<String>,
    /// Fourth alias.
    pub alias4: Option<String>,
    /// The non-empty aliases by name (`alias1` … `alias8`).
    pub aliases: BTreeMap<String, String>,
    /// `active`, `bypass`, `disabled`, `locked out`, `pending deletion`.
    pub status: String,
    /// Whether the user has a usable authentication device.
    pub is_enrolled: bool,
    /// Why the user is locked out, if they are.
    pub lockout_reason: Option<String>,
    /// Creation time, Unix seconds.
    pub created: i64,
    /// Last login, Unix seconds.
    pub last_login: Option<i64>,
    /// Last directory sync, Unix seconds.
    pub last_directory_sync: Option<i64>,
    /// Groups (absent when the user is embedded in another object).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub groups: Option<Vec<Group>>,
    /// Phones (absent when the user is embedded in another object).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub phones: Option<Vec<Phone>>,
    /// OTP tokens.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tokens: Option<Vec<Token>>,
    /// U2F tokens (opaque).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub u2ftokens: Option<Vec<serde_json::Value>>,
    /// WebAuthn credentials (opaque).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub webauthncredentials: Option<Vec<serde_json::Value>>,
}

/// A phone or other authentication device.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Phone {
    /// `DP…` id (20 characters).
    pub phone_id: String,
    /// E.164 number, possibly empty.
    pub number: String,
    /// Extension.
    pub extension: String,
    /// Display name.
    pub name: String,
    /// `Mobile`, `Landline`, `Unknown`, …
    #[serde(rename = "type")]
    pub kind: String,
    /// `Apple iOS`, `Google Android`, `Generic Smartphone`, …
    pub platform: String,
    /// Device model.
    pub model: String,
    /// Whether Duo Mobile is activated.
    pub activated: bool,
    /// Whether SMS passcodes were sent.
    pub sms_passcodes_sent: bool,
    /// Subset of `auto`, `push`, `sms`, `phone`, `mobile_otp`.
    pub capabilities: Vec<String>,
    /// `YYYY-MM-DDTHH:MM:SS`.
    pub last_seen: Option<String>,
    /// Seconds to wait before a call's first prompt.
    pub predelay: Option<String>,
    /// Seconds to wait after a call's prompt.
    pub postdelay: Option<String>,
    /// Disk encryption state.
    pub encrypted: String,
    /// Biometrics state.
    pub fingerprint: String,
    /// Screen lock state.
    pub screenlock: String,
    /// Tamper state.
    pub tampered: String,
    /// Users of this phone (only on the phone endpoints).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub users: Option<Vec<User>>,
}

/// A Duo administrator.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Admin {
    /// `DE…` id (20 characters).
    pub admin_id: String,
    /// Full name.
    pub name: String,
    /// E-mail address.
    pub email: String,
    /// Phone number.
    pub phone: String,
    /// `Owner`, `Administrator`, `Help Desk`, …
    pub role: String,
    /// `Active`, `Disabled`, `Expired`, `Pending Activation`.
    pub status: String,
    /// Whether the admin is restricted to their administrative units.
    pub restricted_by_admin_units: bool,
    /// Administrative units (opaque).
    pub admin_units: Vec<serde_json::Value>,
    /// Whether the admin must change their password at next login.
    pub password_change_required: bool,
    /// Creation time, Unix seconds.
    pub created: i64,
    /// Last login, Unix seconds.
    pub last_login: Option<i64>,
    /// Hardware token, if any (opaque).
    pub hardtoken: Option<serde_json::Value>,
    /// WebAuthn credentials (opaque).
    pub webauthncredentials: Vec<serde_json::Value>,
}

/// A bypass code's metadata. Duo never returns the code itself.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct BypassCode {
    /// `DB…` id.
    pub bypass_code_id: String,
    /// Who created it.
    pub admin_email: String,
    /// Creation time, Unix seconds.
    pub created: i64,
    /// Expiry, Unix seconds, or never.
    pub expiration: Option<i64>,
    /// Remaining uses, or unlimited.
    pub reuse_count: Option<i64>,
    /// The user it belongs to (without phones, groups or tokens).
    pub user: Option<User>,
}

/// `/auth/v2/ping` and `/auth/v2/check`: the server's time.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServerTime {
    /// Unix seconds.
    pub time: i64,
}

/// A device offered by preauth.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct AuthDevice {
    /// `DP…` id, or `auto`.
    pub device: String,
    /// `phone` or `token`.
    #[serde(rename = "type")]
    pub kind: String,
    /// Masked number.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub number: Option<String>,
    /// Name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Display name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    /// Factors it supports.
    pub capabilities: Vec<String>,
    /// Next SMS passcode's first digit, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sms_nextcode: Option<String>,
}

/// `/auth/v2/preauth`'s answer.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct PreauthResponse {
    /// `auth`, `allow`, `deny` or `enroll`.
    pub result: String,
    /// Message for the user.
    pub status_msg: String,
    /// Devices, when `result` is `auth`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub devices: Vec<AuthDevice>,
    /// Enrollment link, when `result` is `enroll`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub enroll_portal_url: Option<String>,
    /// The terminal menu, when asked for with `text_prompt=1` (duo_unix).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub prompt: Option<TextPrompt>,
    /// Verified Duo Push: the transaction `auth` must carry (`client_supports_verified_push=1`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub txid: Option<String>,
    /// Verified Duo Push: the code the user types into Duo Mobile.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub verification_code: Option<String>,
    /// Verified Duo Push: when `txid` stops being usable, Unix seconds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expiration: Option<i64>,
}

/// preauth's `prompt` (with `text_prompt=1`): a ready-to-print menu and what its choices mean.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct TextPrompt {
    /// The text a terminal shows (for `enroll`, the enrollment message with its link).
    pub text: String,
    /// Menu choices (`"1"`, `"2"`, …, and `"default"`) to factor names (`push1`, `phone1`,
    /// `sms1`, `verified_push1`, …) to send as `auth`'s `prompt`. Empty for `enroll`.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub factors: BTreeMap<String, String>,
}

/// `/auth/v2/auth` (synchronous) and `/auth/v2/auth_status` answers.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct AuthResponse {
    /// `allow`, `deny` or (status only) `waiting`.
    pub result: String,
    /// `allow`, `bypass`, `deny`, `fraud`, `locked_out`, `timeout`, `pushed`, `sent`, …
    pub status: String,
    /// Message for the user.
    pub status_msg: String,
    /// Remembered-device token, when enabled.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub trusted_device_token: Option<String>,
    /// Verified Duo Push: the code to type into Duo Mobile, while `waiting`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub verification_code: Option<String>,
}

/// `/auth/v2/auth` with `async=1`: a transaction id to poll.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AsyncAuth {
    /// Transaction id for `/auth/v2/auth_status`.
    pub txid: String,
}

/// `/auth/v2/enroll`'s answer.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct EnrollResponse {
    /// QR code image URL.
    pub activation_barcode: String,
    /// `duo://…` activation code.
    pub activation_code: String,
    /// Activation link.
    pub activation_url: String,
    /// Expiry, Unix seconds.
    pub expiration: i64,
    /// The new user's id.
    pub user_id: String,
    /// The new user's name.
    pub username: String,
}
