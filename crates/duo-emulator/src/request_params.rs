//! Reading endpoint parameters, with Duo's 40002 answers naming the parameter.

use duo_proto::Params;
use duo_proto::envelope::{DuoFail, FailCode};
use duo_proto::paging::{PagingMetadata, limits_for};

/// 40002 naming `detail`.
pub fn invalid(detail: impl Into<String>) -> DuoFail {
    DuoFail::with_detail(FailCode::InvalidParameters, detail)
}

/// A parameter that must be present and non-empty.
pub fn required<'a>(params: &'a Params, name: &str) -> Result<&'a str, DuoFail> {
    match params.get(name) {
        Some(value) if !value.is_empty() => Ok(value),
        _ => Err(DuoFail::with_detail(FailCode::InvalidParameters, name)),
    }
}

/// `true`/`false` (also `1`/`0`).
pub fn flag(params: &Params, name: &str) -> Result<Option<bool>, DuoFail> {
    match params.get(name) {
        None => Ok(None),
        Some("true" | "1") => Ok(Some(true)),
        Some("false" | "0") => Ok(Some(false)),
        Some(_) => Err(invalid(name)),
    }
}

/// `limit` and `offset` for a list endpoint: the limit defaults and is clamped per endpoint.
pub fn paging(params: &Params, path: &str) -> Result<(usize, usize), DuoFail> {
    let limits = limits_for(path);
    let number = |name: &str, default: usize| -> Result<usize, DuoFail> {
        match params.get(name) {
            None | Some("") => Ok(default),
            Some(text) => text.trim().parse::<usize>().map_err(|_| invalid(name)),
        }
    };
    let limit = number("limit", limits.default as usize)?;
    if limit == 0 {
        return Err(invalid("limit"));
    }
    let offset = number("offset", 0)?;
    Ok((limit.min(limits.max as usize), offset))
}

/// One page of `total` items and its metadata.
pub fn page_bounds(
    total: usize,
    limit: usize,
    offset: usize,
) -> (std::ops::Range<usize>, PagingMetadata) {
    let start = offset.min(total);
    let end = (start + limit).min(total);
    let metadata = PagingMetadata {
        total_objects: Some(total as u64),
        next_offset: (end < total).then_some(end as u64),
        prev_offset: (offset > 0).then(|| offset.saturating_sub(limit) as u64),
    };
    (start..end, metadata)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paging_defaults_clamps_and_refuses_junk() {
        let none = Params::new();
        assert_eq!(paging(&none, "/admin/v1/users").unwrap(), (100, 0));
        let big = Params::new().with("limit", "1000").with("offset", "7");
        assert_eq!(paging(&big, "/admin/v1/users").unwrap(), (300, 7));
        assert_eq!(paging(&big, "/admin/v1/phones").unwrap(), (500, 7));
        for bad in ["x", "-1", "0"] {
            let p = Params::new().with("limit", bad);
            assert_eq!(
                paging(&p, "/admin/v1/users")
                    .unwrap_err()
                    .message_detail
                    .as_deref(),
                Some("limit")
            );
        }
    }

    #[test]
    fn page_bounds_set_next_and_prev_offsets() {
        let (range, meta) = page_bounds(250, 100, 200);
        assert_eq!(range, 200..250);
        assert_eq!(meta.next_offset, None);
        assert_eq!(meta.prev_offset, Some(100));
        let (_, first) = page_bounds(250, 100, 0);
        assert_eq!((first.next_offset, first.prev_offset), (Some(100), None));
    }
}
