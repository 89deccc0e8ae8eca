//! Offset paging.
//!
//! A list endpoint takes `limit` and `offset` and answers `metadata` beside `response`:
//! `total_objects`, `next_offset` (absent or `null` on the last page) and `prev_offset`.
//! Each endpoint has its own default and maximum `limit` ([`limits_for`]). What Duo does with a
//! `limit` above the maximum is not public; the emulator clamps it to the maximum (what real
//! clients need is a page no bigger than that), and the client never asks for more.

use serde::{Deserialize, Serialize};

/// The paging block of a list response.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PagingMetadata {
    /// Number of objects in the whole collection.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub total_objects: Option<u64>,
    /// Offset of the next page; `None` on the last page.
    #[serde(default)]
    pub next_offset: Option<u64>,
    /// Offset of the previous page; `None` on the first.
    #[serde(default)]
    pub prev_offset: Option<u64>,
}

/// Default and maximum `limit` of a list endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageLimits {
    /// `limit` when none is given.
    pub default: u32,
    /// The largest `limit` honoured.
    pub max: u32,
}

/// The paging limits for a list endpoint path (`docs/duo-wire.md` §3 "Paging"): `/admin/v1/users`
/// allows 300, the other connector lists 500; all default to 100.
pub fn limits_for(path: &str) -> PageLimits {
    if path == "/admin/v1/users" {
        PageLimits {
            default: 100,
            max: 300,
        }
    } else {
        PageLimits {
            default: 100,
            max: 500,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn users_allow_300_and_others_500() {
        assert_eq!(limits_for("/admin/v1/users").max, 300);
        assert_eq!(limits_for("/admin/v1/phones").max, 500);
        assert_eq!(limits_for("/admin/v1/users/DU1/phones").max, 500);
        assert_eq!(limits_for("/admin/v1/bypass_codes").default, 100);
    }
}
