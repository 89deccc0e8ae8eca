//! The rows of the three dialects' route tables, as data: the authorization matrix test
//! (`tests/authz_matrix.rs`) enumerates them, checks them against the routers' source and
//! sends every credential kind to every row, so a route cannot be added without its row.

use duogate_store::tokens::Role;

/// Who may call a route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// No credentials needed.
    Open,
    /// Any valid token (Vault's `auth/token/lookup-self`).
    AnyToken,
    /// A caller with this role (an admin has every role).
    Needs(Role),
}

/// One row: a method, a path template and who may call it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RouteSpec {
    /// The HTTP method (Vault's `LIST` included).
    pub method: &'static str,
    /// The path template, relative to the dialect's prefix (`/v1/duogate`, `/api`, `/v1/`),
    /// with `{name}` placeholders as in the router.
    pub path: &'static str,
    /// Who may call it.
    pub access: Access,
}

/// A row, for the tables' `const`s.
pub(crate) const fn row(method: &'static str, path: &'static str, access: Access) -> RouteSpec {
    RouteSpec {
        method,
        path,
        access,
    }
}
