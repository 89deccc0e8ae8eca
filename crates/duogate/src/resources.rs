//! Which columns each kind of Duo object shows in tables and CSV.
//!
//! JSON output is Duo's object as it came; tables show a summary that fits a terminal; CSV
//! shows every scalar field a spreadsheet would want, with lists joined by `;`.

use serde_json::Value;

/// How one column is read from an object.
#[derive(Debug, Clone, Copy)]
pub enum Cell {
    /// A top-level field as text.
    Field(&'static str),
    /// A Unix-seconds field as an RFC 3339 time (tables) or the number (CSV).
    Time(&'static str),
    /// Number of items of an array field.
    Count(&'static str),
    /// An array of strings, joined with `;`.
    Join(&'static str),
    /// A field of each object of an array, joined with `;`.
    JoinField(&'static str, &'static str),
    /// A field of a nested object.
    Nested(&'static str, &'static str),
}

/// A column: header and how to read it.
pub type Column = (&'static str, Cell);

/// A kind of Duo object.
#[derive(Debug)]
pub struct Resource {
    /// Plural noun for messages ("users").
    pub plural: &'static str,
    /// Table columns.
    pub table: &'static [Column],
    /// CSV columns.
    pub csv: &'static [Column],
}

/// Duo users.
pub const USERS: Resource = Resource {
    plural: "users",
    table: &[
        ("USER_ID", Cell::Field("user_id")),
        ("USERNAME", Cell::Field("username")),
        ("REALNAME", Cell::Field("realname")),
        ("EMAIL", Cell::Field("email")),
        ("STATUS", Cell::Field("status")),
        ("ENROLLED", Cell::Field("is_enrolled")),
        ("PHONES", Cell::Count("phones")),
        ("LAST_LOGIN", Cell::Time("last_login")),
    ],
    csv: &[
        ("user_id", Cell::Field("user_id")),
        ("username", Cell::Field("username")),
        ("realname", Cell::Field("realname")),
        ("firstname", Cell::Field("firstname")),
        ("lastname", Cell::Field("lastname")),
        ("email", Cell::Field("email")),
        ("status", Cell::Field("status")),
        ("is_enrolled", Cell::Field("is_enrolled")),
        ("alias1", Cell::Field("alias1")),
        ("alias2", Cell::Field("alias2")),
        ("alias3", Cell::Field("alias3")),
        ("alias4", Cell::Field("alias4")),
        ("notes", Cell::Field("notes")),
        ("created", Cell::Time("created")),
        ("last_login", Cell::Time("last_login")),
        ("phones", Cell::JoinField("phones", "phone_id")),
        ("groups", Cell::JoinField("groups", "name")),
    ],
};

/// Phones.
pub const PHONES: Resource = Resource {
    plural: "phones",
    table: &[
        ("PHONE_ID", Cell::Field("phone_id")),
        ("NUMBER", Cell::Field("number")),
        ("NAME", Cell::Field("name")),
        ("TYPE", Cell::Field("type")),
        ("PLATFORM", Cell::Field("platform")),
        ("ACTIVATED", Cell::Field("activated")),
        ("USERS", Cell::JoinField("users", "username")),
    ],
    csv: &[
        ("phone_id", Cell::Field("phone_id")),
        ("number", Cell::Field("number")),
        ("extension", Cell::Field("extension")),
        ("name", Cell::Field("name")),
        ("type", Cell::Field("type")),
        ("platform", Cell::Field("platform")),
        ("model", Cell::Field("model")),
        ("activated", Cell::Field("activated")),
        ("capabilities", Cell::Join("capabilities")),
        ("last_seen", Cell::Field("last_seen")),
        ("users", Cell::JoinField("users", "username")),
    ],
};

/// Administrators.
pub const ADMINS: Resource = Resource {
    plural: "administrators",
    table: &[
        ("ADMIN_ID", Cell::Field("admin_id")),
        ("NAME", Cell::Field("name")),
        ("EMAIL", Cell::Field("email")),
        ("PHONE", Cell::Field("phone")),
        ("ROLE", Cell::Field("role")),
        ("STATUS", Cell::Field("status")),
        ("LAST_LOGIN", Cell::Time("last_login")),
    ],
    csv: &[
        ("admin_id", Cell::Field("admin_id")),
        ("name", Cell::Field("name")),
        ("email", Cell::Field("email")),
        ("phone", Cell::Field("phone")),
        ("role", Cell::Field("role")),
        ("status", Cell::Field("status")),
        (
            "password_change_required",
            Cell::Field("password_change_required"),
        ),
        (
            "restricted_by_admin_units",
            Cell::Field("restricted_by_admin_units"),
        ),
        ("created", Cell::Time("created")),
        ("last_login", Cell::Time("last_login")),
    ],
};

/// Bypass codes' metadata.
pub const BYPASS_CODES: Resource = Resource {
    plural: "bypass codes",
    table: &[
        ("BYPASS_CODE_ID", Cell::Field("bypass_code_id")),
        ("USER", Cell::Nested("user", "username")),
        ("ADMIN_EMAIL", Cell::Field("admin_email")),
        ("CREATED", Cell::Time("created")),
        ("EXPIRATION", Cell::Time("expiration")),
        ("REUSE_COUNT", Cell::Field("reuse_count")),
    ],
    csv: &[
        ("bypass_code_id", Cell::Field("bypass_code_id")),
        ("user_id", Cell::Nested("user", "user_id")),
        ("username", Cell::Nested("user", "username")),
        ("admin_email", Cell::Field("admin_email")),
        ("created", Cell::Time("created")),
        ("expiration", Cell::Time("expiration")),
        ("reuse_count", Cell::Field("reuse_count")),
    ],
};

/// Groups.
pub const GROUPS: Resource = Resource {
    plural: "groups",
    table: &[
        ("GROUP_ID", Cell::Field("group_id")),
        ("NAME", Cell::Field("name")),
        ("STATUS", Cell::Field("status")),
        ("DESC", Cell::Field("desc")),
    ],
    csv: &[
        ("group_id", Cell::Field("group_id")),
        ("name", Cell::Field("name")),
        ("status", Cell::Field("status")),
        ("desc", Cell::Field("desc")),
        ("push_enabled", Cell::Field("push_enabled")),
        ("sms_enabled", Cell::Field("sms_enabled")),
        ("voice_enabled", Cell::Field("voice_enabled")),
        ("mobile_otp_enabled", Cell::Field("mobile_otp_enabled")),
    ],
};

/// A group's members.
pub const GROUP_MEMBERS: Resource = Resource {
    plural: "members",
    table: &[
        ("USER_ID", Cell::Field("user_id")),
        ("USERNAME", Cell::Field("username")),
    ],
    csv: &[
        ("user_id", Cell::Field("user_id")),
        ("username", Cell::Field("username")),
    ],
};

/// The outcome of `request-approval`.
pub const APPROVALS: Resource = Resource {
    plural: "approvals",
    table: &[
        ("TXID", Cell::Field("txid")),
        ("RESULT", Cell::Field("result")),
        ("STATUS", Cell::Field("status")),
        ("STATUS_MSG", Cell::Field("status_msg")),
    ],
    csv: &[
        ("txid", Cell::Field("txid")),
        ("result", Cell::Field("result")),
        ("status", Cell::Field("status")),
        ("status_msg", Cell::Field("status_msg")),
    ],
};

/// A Duo Mobile activation link.
pub const ACTIVATION_LINKS: Resource = Resource {
    plural: "activation links",
    table: &[
        ("ACTIVATION_URL", Cell::Field("activation_url")),
        ("VALID_SECS", Cell::Field("valid_secs")),
        ("INSTALLATION_URL", Cell::Field("installation_url")),
    ],
    csv: &[
        ("activation_url", Cell::Field("activation_url")),
        ("activation_barcode", Cell::Field("activation_barcode")),
        ("valid_secs", Cell::Field("valid_secs")),
        ("installation_url", Cell::Field("installation_url")),
    ],
};

/// `phones send-sms-activation`: the messages Duo texted.
pub const SMS_ACTIVATIONS: Resource = Resource {
    plural: "activation SMS",
    table: &[
        ("ACTIVATION_MSG", Cell::Field("activation_msg")),
        ("VALID_SECS", Cell::Field("valid_secs")),
        ("INSTALLATION_MSG", Cell::Field("installation_msg")),
    ],
    csv: &[
        ("activation_msg", Cell::Field("activation_msg")),
        ("activation_barcode", Cell::Field("activation_barcode")),
        ("valid_secs", Cell::Field("valid_secs")),
        ("installation_msg", Cell::Field("installation_msg")),
    ],
};

fn text(value: Option<&Value>) -> String {
    match value {
        None | Some(Value::Null) => String::new(),
        Some(Value::String(s)) => s.clone(),
        Some(other) => other.to_string(),
    }
}

/// Reads one cell. `human` renders times as RFC 3339 rather than Unix seconds.
pub fn cell(object: &Value, cell: Cell, human: bool) -> String {
    match cell {
        Cell::Field(name) => text(object.get(name)),
        Cell::Time(name) => match object.get(name).and_then(Value::as_i64) {
            Some(secs) if human => jiff::Timestamp::from_second(secs)
                .map(|t| t.strftime("%Y-%m-%d %H:%M:%SZ").to_string())
                .unwrap_or_else(|_| secs.to_string()),
            Some(secs) => secs.to_string(),
            None => text(object.get(name)),
        },
        Cell::Count(name) => object
            .get(name)
            .and_then(Value::as_array)
            .map(|a| a.len().to_string())
            .unwrap_or_default(),
        Cell::Join(name) => object
            .get(name)
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .map(|v| text(Some(v)))
                    .collect::<Vec<_>>()
                    .join(";")
            })
            .unwrap_or_default(),
        Cell::JoinField(name, field) => object
            .get(name)
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .map(|v| text(v.get(field)))
                    .collect::<Vec<_>>()
                    .join(";")
            })
            .unwrap_or_default(),
        Cell::Nested(name, field) => text(object.get(name).and_then(|o| o.get(field))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn cells_read_fields_times_and_lists() {
        let user = json!({"user_id": "DU1", "last_login": 0, "phones": [{"phone_id": "DP1"}, {"phone_id": "DP2"}],
                          "capabilities": ["push", "sms"], "user": {"username": "a"}, "alias1": null});
        assert_eq!(cell(&user, Cell::Field("user_id"), true), "DU1");
        assert_eq!(cell(&user, Cell::Field("alias1"), true), "");
        assert_eq!(
            cell(&user, Cell::Time("last_login"), true),
            "1970-01-01 00:00:00Z"
        );
        assert_eq!(cell(&user, Cell::Time("last_login"), false), "0");
        assert_eq!(cell(&user, Cell::Count("phones"), true), "2");
        assert_eq!(
            cell(&user, Cell::JoinField("phones", "phone_id"), true),
            "DP1;DP2"
        );
        assert_eq!(cell(&user, Cell::Join("capabilities"), true), "push;sms");
        assert_eq!(cell(&user, Cell::Nested("user", "username"), true), "a");
    }
}
