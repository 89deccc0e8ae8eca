//! `username_format` rendering.
//!
//! Login MFA uses Vault's identity templates (`docs/vault-dialect.md` §5.6):
//! `{{identity.entity.id}}`, `{{identity.entity.name}}`, `{{identity.entity.metadata.<key>}}`,
//! `{{identity.entity.aliases.<mount accessor>.{id,name,metadata.<key>}}}`,
//! `{{identity.groups.ids.<id>.id}}`, `{{time.now}}`; an empty format means the entity name.
//! Errors use Vault's texts. Step-up methods use simple substitution (§3): `{{alias.name}}`,
//! `{{entity.name}}`, `{{alias.metadata.<key>}}`, `{{entity.metadata.<key>}}`; unknown
//! placeholders stay as they are; an empty format means the alias name.

use std::collections::BTreeMap;

/// Who is logging in, as templates see them.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Identity {
    /// Entity id.
    pub entity_id: String,
    /// Entity name.
    pub entity_name: String,
    /// Entity metadata.
    pub entity_metadata: BTreeMap<String, String>,
    /// The alias's id on the login mount.
    pub alias_id: String,
    /// The alias's name (the login username).
    pub alias_name: String,
    /// The alias's metadata.
    pub alias_metadata: BTreeMap<String, String>,
    /// The login mount's accessor.
    pub mount_accessor: String,
    /// Group ids the entity is in.
    pub group_ids: Vec<String>,
}

const NO_VALUE: &str = "no value could be found for one of the template directives";

fn directive(identity: &Identity, name: &str) -> Result<String, String> {
    let parts: Vec<&str> = name.split('.').collect();
    let found = match parts.as_slice() {
        ["identity", "entity", "id"] => Some(identity.entity_id.clone()),
        ["identity", "entity", "name"] => Some(identity.entity_name.clone()),
        ["identity", "entity", "metadata", key] => identity.entity_metadata.get(*key).cloned(),
        ["identity", "entity", "aliases", accessor, rest @ ..] => {
            if *accessor != identity.mount_accessor {
                return Err("alias not found".into());
            }
            match rest {
                ["id"] => Some(identity.alias_id.clone()),
                ["name"] => Some(identity.alias_name.clone()),
                ["metadata", key] | ["custom_metadata", key] => {
                    identity.alias_metadata.get(*key).cloned()
                }
                _ => None,
            }
        }
        ["identity", "groups", "ids", id, "id"] => {
            if identity.group_ids.iter().any(|g| g == id) {
                Some((*id).to_string())
            } else {
                return Err(format!("entity is not a member of group {id:?}"));
            }
        }
        ["time", "now"] => Some(jiff::Timestamp::now().as_second().to_string()),
        _ => None,
    };
    found
        .filter(|v| !v.is_empty())
        .ok_or_else(|| NO_VALUE.to_string())
}

/// Renders a login-MFA `username_format`.
pub fn render_identity(format: &str, identity: &Identity) -> Result<String, String> {
    if format.is_empty() {
        return Ok(identity.entity_name.clone());
    }
    let mut out = String::new();
    let mut rest = format;
    while let Some(start) = rest.find("{{") {
        let before = &rest[..start];
        if before.contains("}}") {
            return Err("unbalanced templating characters".into());
        }
        out.push_str(before);
        let after = &rest[start + 2..];
        let end = after.find("}}").ok_or("unbalanced templating characters")?;
        let inner = &after[..end];
        if inner.contains("{{") {
            return Err("unbalanced templating characters".into());
        }
        out.push_str(&directive(identity, inner.trim())?);
        rest = &after[end + 2..];
    }
    if rest.contains("}}") {
        return Err("unbalanced templating characters".into());
    }
    out.push_str(rest);
    Ok(out)
}

/// Renders a step-up `username_format` (simple substitution).
pub fn render_simple(format: &str, identity: &Identity) -> String {
    if format.is_empty() {
        return identity.alias_name.clone();
    }
    let mut out = format
        .replace("{{alias.name}}", &identity.alias_name)
        .replace("{{entity.name}}", &identity.entity_name);
    for (key, value) in &identity.alias_metadata {
        out = out.replace(&format!("{{{{alias.metadata.{key}}}}}"), value);
    }
    for (key, value) in &identity.entity_metadata {
        out = out.replace(&format!("{{{{entity.metadata.{key}}}}}"), value);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn alice() -> Identity {
        Identity {
            entity_id: "e-1".into(),
            entity_name: "entity_1234abcd".into(),
            entity_metadata: [("team".to_string(), "ops".to_string())].into(),
            alias_id: "a-1".into(),
            alias_name: "alice".into(),
            alias_metadata: [("mail".to_string(), "alice@example.com".to_string())].into(),
            mount_accessor: "auth_trusted_1".into(),
            group_ids: vec!["g1".into()],
        }
    }

    #[test]
    fn identity_templates_render_like_vault() {
        let who = alice();
        assert_eq!(render_identity("", &who).unwrap(), "entity_1234abcd");
        assert_eq!(
            render_identity(
                "{{identity.entity.aliases.auth_trusted_1.name}}@example.com",
                &who
            )
            .unwrap(),
            "alice@example.com"
        );
        assert_eq!(
            render_identity("{{ identity.entity.metadata.team }}", &who).unwrap(),
            "ops"
        );
        assert_eq!(render_identity("plain", &who).unwrap(), "plain");
        assert_eq!(
            render_identity("{{alias.name}}", &who).unwrap_err(),
            NO_VALUE
        );
        assert_eq!(
            render_identity("{{identity.entity.aliases.other.name}}", &who).unwrap_err(),
            "alias not found"
        );
        assert_eq!(
            render_identity("x}}", &who).unwrap_err(),
            "unbalanced templating characters"
        );
        assert_eq!(
            render_identity("{{x", &who).unwrap_err(),
            "unbalanced templating characters"
        );
        assert_eq!(
            render_identity("{{identity.groups.ids.g2.id}}", &who).unwrap_err(),
            "entity is not a member of group \"g2\""
        );
    }

    #[test]
    fn step_up_substitution_leaves_unknown_placeholders() {
        let who = alice();
        assert_eq!(render_simple("", &who), "alice");
        assert_eq!(
            render_simple("{{alias.name}}-{{entity.metadata.team}}", &who),
            "alice-ops"
        );
        assert_eq!(
            render_simple("{{alias.metadata.mail}} {{nope}}", &who),
            "alice@example.com {{nope}}"
        );
    }
}
