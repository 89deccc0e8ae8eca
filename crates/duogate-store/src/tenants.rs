//! Tenants: at once Vault namespaces (`a/b/`) and ONTAP owners (SVMs). The root tenant has
//! the empty path and always exists.

use sqlx::Row as _;

use crate::Store;
use crate::error::StoreError;

/// A tenant path: empty for the root, else `segment/` repeated; segments are 1–64 characters
/// of letters, digits, `-` and `_`. Parsed once at the edge; Vault writes paths with or without
/// the trailing slash, and both parse to the same value.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TenantPath(String);

impl TenantPath {
    /// The root tenant.
    pub fn root() -> Self {
        Self(String::new())
    }

    /// Parses `a`, `a/`, `a/b`, `/a/b/`; refuses empty or malformed segments.
    pub fn parse(text: &str) -> Result<Self, StoreError> {
        let trimmed = text.trim().trim_matches('/');
        if trimmed.is_empty() {
            return Ok(Self::root());
        }
        let mut path = String::new();
        for segment in trimmed.split('/') {
            let valid = (1..=64).contains(&segment.len())
                && segment
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
            if !valid {
                return Err(StoreError::Invalid(format!(
                    "tenant path {text:?}: segments are 1-64 letters, digits, '-' or '_'"
                )));
            }
            path.push_str(segment);
            path.push('/');
        }
        Ok(Self(path))
    }

    /// The path as stored (`""` or `a/b/`).
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether this path is `other` or one of its ancestors (the root is everyone's).
    pub fn is_same_or_ancestor_of(&self, other: &TenantPath) -> bool {
        other.0.starts_with(&self.0)
    }

    /// The parent path (`None` for the root).
    pub fn parent(&self) -> Option<TenantPath> {
        if self.0.is_empty() {
            return None;
        }
        let inner = self.0.trim_end_matches('/');
        Some(match inner.rsplit_once('/') {
            Some((parent, _)) => Self(format!("{parent}/")),
            None => Self::root(),
        })
    }
}

/// A stored tenant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tenant {
    /// UUID (the ONTAP owner uuid).
    pub id: String,
    /// Path.
    pub path: TenantPath,
    /// Unix seconds.
    pub created_at: i64,
}

fn tenant_from(row: &sqlx::any::AnyRow) -> Result<Tenant, StoreError> {
    Ok(Tenant {
        id: row.try_get("id")?,
        path: TenantPath(row.try_get("path")?),
        created_at: row.try_get("created_at")?,
    })
}

impl Store {
    /// The root tenant (created by [`Store::connect`]).
    pub async fn root_tenant(&self) -> Result<Tenant, StoreError> {
        self.tenant(&TenantPath::root()).await
    }

    pub(crate) async fn ensure_root_tenant(&self) -> Result<(), StoreError> {
        match self.tenant(&TenantPath::root()).await {
            Ok(_) => Ok(()),
            Err(StoreError::NotFound) => match self.insert_tenant(&TenantPath::root()).await {
                Ok(_) | Err(StoreError::Conflict(_)) => Ok(()),
                Err(e) => Err(e),
            },
            Err(e) => Err(e),
        }
    }

    async fn insert_tenant(&self, path: &TenantPath) -> Result<Tenant, StoreError> {
        let tenant = Tenant {
            id: uuid::Uuid::now_v7().to_string(),
            path: path.clone(),
            created_at: self.now(),
        };
        sqlx::query("INSERT INTO tenants (id, path, created_at) VALUES ($1, $2, $3)")
            .bind(&tenant.id)
            .bind(tenant.path.as_str())
            .bind(tenant.created_at)
            .execute(&self.pool)
            .await
            .map_err(|e| self.conflict(e, format!("tenant {:?}", path.as_str())))?;
        Ok(tenant)
    }

    /// Creates a tenant; its parent must exist.
    pub async fn create_tenant(&self, path: &TenantPath) -> Result<Tenant, StoreError> {
        let Some(parent) = path.parent() else {
            return Err(StoreError::Conflict("the root tenant".into()));
        };
        if let Err(StoreError::NotFound) = self.tenant(&parent).await {
            return Err(StoreError::Invalid(format!(
                "tenant path {:?}: parent {:?} does not exist",
                path.as_str(),
                parent.as_str()
            )));
        }
        self.insert_tenant(path).await
    }

    /// The tenant at `path`.
    pub async fn tenant(&self, path: &TenantPath) -> Result<Tenant, StoreError> {
        let _timer = self.time_operation("tenant");
        let row = sqlx::query("SELECT id, path, created_at FROM tenants WHERE path = $1")
            .bind(path.as_str())
            .fetch_optional(&self.pool)
            .await?
            .ok_or(StoreError::NotFound)?;
        tenant_from(&row)
    }

    /// The tenant at `path` and its existing ancestors, the root first.
    pub async fn lineage(&self, path: &TenantPath) -> Result<Vec<Tenant>, StoreError> {
        let mut lineage = Vec::new();
        let mut next = Some(path.clone());
        while let Some(current) = next {
            match self.tenant(&current).await {
                Ok(tenant) => lineage.push(tenant),
                Err(StoreError::NotFound) => {}
                Err(other) => return Err(other),
            }
            next = current.parent();
        }
        lineage.reverse();
        Ok(lineage)
    }

    /// The tenant with this id.
    pub async fn tenant_by_id(&self, id: &str) -> Result<Tenant, StoreError> {
        let _timer = self.time_operation("tenant_by_id");
        let row = sqlx::query("SELECT id, path, created_at FROM tenants WHERE id = $1")
            .bind(id)
            .fetch_optional(&self.pool)
            .await?
            .ok_or(StoreError::NotFound)?;
        tenant_from(&row)
    }

    /// Every tenant, by path.
    pub async fn list_tenants(&self) -> Result<Vec<Tenant>, StoreError> {
        let rows = sqlx::query("SELECT id, path, created_at FROM tenants ORDER BY path")
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(tenant_from).collect()
    }

    /// Deletes a tenant that has no child tenants or integrations (else `Conflict`), with its
    /// tokens. The checks and the delete run in one transaction.
    pub async fn delete_tenant(&self, path: &TenantPath) -> Result<(), StoreError> {
        self.delete_tenant_inner(path, false).await
    }

    /// Deletes a tenant with its integrations and tokens, as Vault deletes a namespace with
    /// its contents; `Conflict` while it has child tenants. One transaction.
    pub async fn delete_tenant_and_contents(&self, path: &TenantPath) -> Result<(), StoreError> {
        self.delete_tenant_inner(path, true).await
    }

    async fn delete_tenant_inner(
        &self,
        path: &TenantPath,
        with_contents: bool,
    ) -> Result<(), StoreError> {
        if path.as_str().is_empty() {
            return Err(StoreError::Conflict(
                "the root tenant cannot be deleted".into(),
            ));
        }
        let mut tx = self.pool.begin().await?;
        let id: String = sqlx::query_scalar("SELECT id FROM tenants WHERE path = $1")
            .bind(path.as_str())
            .fetch_optional(&mut *tx)
            .await?
            .ok_or(StoreError::NotFound)?;
        // Prefix match in Rust: LIKE would treat '_' in a segment as a wildcard.
        let paths: Vec<String> = sqlx::query_scalar("SELECT path FROM tenants")
            .fetch_all(&mut *tx)
            .await?;
        let children = paths
            .iter()
            .filter(|p| p.starts_with(path.as_str()) && p.as_str() != path.as_str())
            .count();
        let integrations: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM integrations WHERE tenant_id = $1")
                .bind(&id)
                .fetch_one(&mut *tx)
                .await?;
        if children > 0 || (integrations > 0 && !with_contents) {
            return Err(StoreError::Conflict(format!(
                "tenant {:?} still has {children} child tenants and {integrations} integrations",
                path.as_str()
            )));
        }
        sqlx::query("DELETE FROM integrations WHERE tenant_id = $1")
            .bind(&id)
            .execute(&mut *tx)
            .await?;
        for table in ["tokens", "accounts"] {
            sqlx::query(sqlx::AssertSqlSafe(format!(
                "DELETE FROM {table} WHERE tenant_id = $1"
            )))
            .bind(&id)
            .execute(&mut *tx)
            .await?;
        }
        sqlx::query("DELETE FROM tenants WHERE id = $1")
            .bind(&id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_parse_with_or_without_slashes_and_know_their_parent() {
        let path = TenantPath::parse("/eng/ops").unwrap();
        assert_eq!(path.as_str(), "eng/ops/");
        assert_eq!(TenantPath::parse("eng/ops/").unwrap(), path);
        assert_eq!(path.parent().unwrap().as_str(), "eng/");
        assert_eq!(path.parent().unwrap().parent().unwrap(), TenantPath::root());
        assert_eq!(TenantPath::root().parent(), None);
        assert!(TenantPath::root().is_same_or_ancestor_of(&path));
        assert!(path.parent().unwrap().is_same_or_ancestor_of(&path));
        assert!(path.is_same_or_ancestor_of(&path));
        assert!(!path.is_same_or_ancestor_of(&path.parent().unwrap()));
        assert!(
            !TenantPath::parse("eng/op")
                .unwrap()
                .is_same_or_ancestor_of(&path)
        );
        for bad in ["a//b", "a b", "ä", &"x".repeat(65)] {
            assert!(TenantPath::parse(bad).is_err(), "{bad:?}");
        }
    }
}
