//! Query strings, parsed once at the edge into [`CollectionQuery`], [`InstanceQuery`] and
//! [`WriteQuery`], and applied to records rendered as JSON (so the same code serves profiles,
//! groups and SVMs, each described by a [`Catalog`]).
//!
//! Wire choices (where `docs/ontap-dialect.md` leaves room):
//! - Values are form-decoded: `%XX` and `+` (space). A parameter given twice is refused
//!   (400, code `2`); `netapp-ontap` never sends one twice.
//! - `fields`: comma-separated. `*` and `**` give every readable field (we have no
//!   expensive fields, so both are the common set). Named fields come with the identity fields
//!   (`owner.uuid`, `owner.name`, and `name` for groups; `uuid`, `name` for SVMs) and every
//!   `_links`. An object name (`owner`) selects all of it. `secret_key` is write-only and
//!   refused; an unknown name is refused (400, code `2`, target `fields`). Without `fields`, a
//!   collection returns only the identity fields, an instance the common set.
//! - Filters: `field=value` on any readable field; a parameter that is neither a filter nor a
//!   control parameter is `Unexpected argument` (400, code `262179`), so is a filter on
//!   `secret_key`. A value is alternatives separated by `|`; each is `null`, `!null`, or an
//!   optional `!` (not), an optional `<`, `>`, `<=`, `>=`, and an operand. Strings compare
//!   case-insensitively, `*` is a greedy wildcard (only with plain equality); integers compare
//!   as numbers; booleans are `true`/`false` in any case (Python sends `True`); enum values must
//!   be one of the enum unless they hold a wildcard. A list field (`excluded_users`) matches when
//!   any element does (`!x`: when none equals `x`). Unset fields (and empty lists) match only
//!   `null`; `!x` does not match them.
//! - `order_by`: `field [asc|desc]`, several separated by commas; unset values sort first when
//!   ascending; ties are broken by the resource's keys (also the default order).
//! - Paging: `max_records` (≥ 1) caps a page, and no page holds more than 10 000 records. When
//!   records remain, `_links.next.href` is this request's path and query with
//!   `start.index=<n>` (the zero-based position of the next record in the filtered, ordered
//!   result) in place of any previous one. ONTAP's own next links use opaque `start.*` keys;
//!   ours are positions, so a write between two pages can shift what the next page holds.
//! - `num_records` is the number of records in the answer; with `return_records=false` there are
//!   no records and `num_records` is the number of records the filters match (paging ignored).
//! - `return_timeout` (0..120) is accepted and has no effect: every operation is synchronous.

use std::cmp::Ordering;
use std::collections::BTreeSet;

use serde_json::{Map, Value, json};

use super::error::OntapError;

/// The most records one page holds (ONTAP's default maximum).
pub(crate) const MAX_PAGE: usize = 10_000;

/// The control parameter that carries our paging position.
const START: &str = "start.index";

/// What a field holds, for filter parsing.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Kind {
    /// A string.
    Text,
    /// An integer.
    Integer,
    /// A boolean.
    Boolean,
    /// One of these strings.
    Enum(&'static [&'static str]),
    /// A list of strings.
    TextList,
}

/// A readable field.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Field {
    /// Dotted name (`owner.uuid`).
    pub(crate) name: &'static str,
    /// What it holds.
    pub(crate) kind: Kind,
    /// Shown even when not selected (keys and the owner's name).
    pub(crate) identity: bool,
}

/// The readable fields of one resource.
#[derive(Debug)]
pub(crate) struct Catalog {
    /// Readable fields.
    pub(crate) fields: &'static [Field],
    /// Fields that may be written and never read.
    pub(crate) write_only: &'static [&'static str],
    /// The keys, in tie-break (and default) order.
    pub(crate) keys: &'static [&'static str],
}

impl Catalog {
    fn field(&self, name: &str) -> Option<&Field> {
        self.fields.iter().find(|f| f.name == name)
    }

    fn is_object(&self, name: &str) -> bool {
        self.fields.iter().any(|f| {
            f.name
                .strip_prefix(name)
                .is_some_and(|r| r.starts_with('.'))
        })
    }
}

/// The query's parameters, decoded, with their raw text kept for the next link.
struct Params {
    decoded: Vec<(String, String)>,
    raw: Vec<String>,
}

impl Params {
    fn parse(raw_query: Option<&str>) -> Result<Self, OntapError> {
        let mut decoded: Vec<(String, String)> = Vec::new();
        let mut raw = Vec::new();
        for segment in raw_query.unwrap_or("").split('&').filter(|s| !s.is_empty()) {
            let (name, value) = url::form_urlencoded::parse(segment.as_bytes())
                .next()
                .map(|(n, v)| (n.into_owned(), v.into_owned()))
                .unwrap_or_default();
            if decoded.iter().any(|(seen, _)| *seen == name) {
                return Err(OntapError::invalid(
                    name.clone(),
                    format!("The query parameter \"{name}\" is given more than once."),
                ));
            }
            decoded.push((name, value));
            raw.push(segment.to_string());
        }
        Ok(Self { decoded, raw })
    }
}

fn parse_bool(name: &str, value: &str) -> Result<bool, OntapError> {
    if value.eq_ignore_ascii_case("true") {
        Ok(true)
    } else if value.eq_ignore_ascii_case("false") {
        Ok(false)
    } else {
        Err(OntapError::invalid(
            name,
            format!("Invalid value \"{value}\" for \"{name}\": expected true or false."),
        ))
    }
}

fn parse_return_timeout(value: &str) -> Result<(), OntapError> {
    match value.parse::<u32>() {
        Ok(0..=120) => Ok(()),
        _ => Err(OntapError::invalid(
            "return_timeout",
            format!("Invalid value \"{value}\" for \"return_timeout\": expected 0 to 120."),
        )),
    }
}

/// Which fields a response shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Projection {
    /// The identity fields only (a collection's default).
    Identity,
    /// Every readable field (`*`, `**`, and an instance's default).
    All,
    /// The identity fields and these.
    Selected(BTreeSet<String>),
}

impl Projection {
    fn parse(catalog: &Catalog, value: &str) -> Result<Self, OntapError> {
        let mut selected = BTreeSet::new();
        for name in value.split(',').map(str::trim).filter(|n| !n.is_empty()) {
            if name == "*" || name == "**" {
                return Ok(Self::All);
            }
            if catalog.write_only.contains(&name) {
                return Err(OntapError::invalid(
                    "fields",
                    format!("The field \"{name}\" is write-only and is never returned."),
                ));
            }
            if name != "_links" && catalog.field(name).is_none() && !catalog.is_object(name) {
                return Err(OntapError::invalid(
                    "fields",
                    format!("Invalid field \"{name}\" in \"fields\": there is no such field."),
                ));
            }
            selected.insert(name.to_string());
        }
        Ok(Self::Selected(selected))
    }

    /// `record` reduced to the fields this projection shows (every `_links` is kept).
    pub(crate) fn apply(&self, catalog: &Catalog, record: &Value) -> Value {
        let wanted = |path: &str| match self {
            Self::All => true,
            Self::Identity => catalog.field(path).is_some_and(|f| f.identity),
            Self::Selected(names) => {
                names.contains(path) || catalog.field(path).is_some_and(|f| f.identity)
            }
        };
        keep(record, "", &wanted).unwrap_or_else(|| json!({}))
    }
}

fn keep(value: &Value, prefix: &str, wanted: &dyn Fn(&str) -> bool) -> Option<Value> {
    let Value::Object(map) = value else {
        return None;
    };
    let mut kept = Map::new();
    for (name, inner) in map {
        if name == "_links" {
            continue;
        }
        let path = if prefix.is_empty() {
            name.clone()
        } else {
            format!("{prefix}.{name}")
        };
        if wanted(&path) {
            kept.insert(name.clone(), inner.clone());
        } else if let Some(part) = keep(inner, &path, wanted) {
            kept.insert(name.clone(), part);
        }
    }
    if kept.is_empty() && !prefix.is_empty() {
        return None;
    }
    if let Some(links) = map.get("_links") {
        kept.insert("_links".into(), links.clone());
    }
    Some(Value::Object(kept))
}

/// A comparison.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    Eq,
    Lt,
    Le,
    Gt,
    Ge,
}

/// What a value is compared with.
#[derive(Debug, Clone, PartialEq)]
enum Operand {
    /// Lower-cased; `*` is a wildcard when `op` is `Eq`.
    Text(String),
    Integer(i64),
    Boolean(bool),
}

/// One alternative of a filter value.
#[derive(Debug, Clone, PartialEq)]
enum Test {
    IsNull,
    NotNull,
    Compare {
        negate: bool,
        op: Op,
        operand: Operand,
    },
}

/// `field=value`.
#[derive(Debug, Clone, PartialEq)]
struct Filter {
    field: &'static str,
    alternatives: Vec<Test>,
}

impl Filter {
    fn parse(field: &Field, value: &str) -> Result<Self, OntapError> {
        let name = field.name;
        let bad = |why: String| OntapError::invalid(name, why);
        let mut alternatives = Vec::new();
        for text in value.split('|') {
            if text.eq_ignore_ascii_case("null") {
                alternatives.push(Test::IsNull);
                continue;
            }
            if text.eq_ignore_ascii_case("!null") {
                alternatives.push(Test::NotNull);
                continue;
            }
            let (negate, rest) = match text.strip_prefix('!') {
                Some(rest) => (true, rest),
                None => (false, text),
            };
            let (op, operand) = [("<=", Op::Le), (">=", Op::Ge), ("<", Op::Lt), (">", Op::Gt)]
                .into_iter()
                .find_map(|(prefix, op)| rest.strip_prefix(prefix).map(|r| (op, r)))
                .unwrap_or((Op::Eq, rest));
            if operand.is_empty() {
                return Err(bad(format!(
                    "The filter on \"{name}\" has an empty value in \"{value}\"."
                )));
            }
            let operand = match field.kind {
                Kind::Integer => Operand::Integer(operand.parse().map_err(|_| {
                    bad(format!(
                        "Invalid value \"{operand}\" in the filter on \"{name}\": expected an integer."
                    ))
                })?),
                Kind::Boolean => {
                    if op != Op::Eq {
                        return Err(bad(format!(
                            "The filter on \"{name}\" cannot compare with < or >: it is a boolean."
                        )));
                    }
                    Operand::Boolean(parse_bool(name, operand)?)
                }
                Kind::Enum(allowed) => {
                    let lower = operand.to_ascii_lowercase();
                    if !lower.contains('*') && !allowed.contains(&lower.as_str()) {
                        return Err(bad(format!(
                            "\"{operand}\" is an invalid value for field \"{name}\" (<{}>).",
                            allowed.join("|")
                        )));
                    }
                    Operand::Text(lower)
                }
                Kind::Text | Kind::TextList => Operand::Text(operand.to_lowercase()),
            };
            if op != Op::Eq && matches!(&operand, Operand::Text(t) if t.contains('*')) {
                return Err(bad(format!(
                    "The filter on \"{name}\" cannot combine a wildcard with < or >."
                )));
            }
            alternatives.push(Test::Compare {
                negate,
                op,
                operand,
            });
        }
        Ok(Self {
            field: field.name,
            alternatives,
        })
    }

    fn matches(&self, record: &Value) -> bool {
        let value = lookup(record, self.field).filter(|v| !is_unset(v));
        self.alternatives.iter().any(|test| match (test, value) {
            (Test::IsNull, found) => found.is_none(),
            (Test::NotNull, found) => found.is_some(),
            (_, None) => false,
            (
                Test::Compare {
                    negate,
                    op,
                    operand,
                },
                Some(found),
            ) => {
                let hit = match found {
                    Value::Array(items) => items.iter().any(|item| compare(item, *op, operand)),
                    scalar => compare(scalar, *op, operand),
                };
                hit != *negate
            }
        })
    }
}

fn is_unset(value: &Value) -> bool {
    match value {
        Value::Null => true,
        Value::Array(items) => items.is_empty(),
        _ => false,
    }
}

fn compare(value: &Value, op: Op, operand: &Operand) -> bool {
    let ordering = match (value, operand) {
        (Value::String(text), Operand::Text(pattern)) => {
            let text = text.to_lowercase();
            if op == Op::Eq {
                return wildcard_match(pattern, &text);
            }
            text.as_str().cmp(pattern.as_str())
        }
        (Value::Number(number), Operand::Integer(wanted)) => match number.as_i64() {
            Some(n) => n.cmp(wanted),
            None => return false,
        },
        (Value::Bool(b), Operand::Boolean(wanted)) => return op == Op::Eq && b == wanted,
        _ => return false,
    };
    match op {
        Op::Eq => ordering == Ordering::Equal,
        Op::Lt => ordering == Ordering::Less,
        Op::Le => ordering != Ordering::Greater,
        Op::Gt => ordering == Ordering::Greater,
        Op::Ge => ordering != Ordering::Less,
    }
}

/// `*` matches any run of characters (greedy; no other special characters).
fn wildcard_match(pattern: &str, text: &str) -> bool {
    let parts: Vec<&str> = pattern.split('*').collect();
    if parts.len() == 1 {
        return pattern == text;
    }
    let (first, last) = (parts[0], parts[parts.len() - 1]);
    if !text.starts_with(first) || text.len() < first.len() + last.len() || !text.ends_with(last) {
        return false;
    }
    let mut middle = &text[first.len()..text.len() - last.len()];
    for part in &parts[1..parts.len() - 1] {
        match middle.find(part) {
            Some(at) => middle = &middle[at + part.len()..],
            None => return false,
        }
    }
    true
}

/// The value at a dotted path.
fn lookup<'a>(record: &'a Value, path: &str) -> Option<&'a Value> {
    path.split('.')
        .try_fold(record, |value, part| value.get(part))
}

/// `order_by` entry.
#[derive(Debug, Clone, PartialEq)]
struct SortKey {
    field: String,
    descending: bool,
}

fn parse_order_by(catalog: &Catalog, value: &str) -> Result<Vec<SortKey>, OntapError> {
    let mut keys = Vec::new();
    for entry in value.split(',').map(str::trim).filter(|e| !e.is_empty()) {
        let mut words = entry.split_whitespace();
        let field = words.next().unwrap_or("");
        if catalog.field(field).is_none() {
            return Err(OntapError::invalid(
                "order_by",
                format!("Invalid field \"{field}\" in \"order_by\": there is no such field."),
            ));
        }
        let descending = match words.next() {
            None => false,
            Some(word) if word.eq_ignore_ascii_case("asc") => false,
            Some(word) if word.eq_ignore_ascii_case("desc") => true,
            Some(word) => {
                return Err(OntapError::invalid(
                    "order_by",
                    format!("Invalid direction \"{word}\" in \"order_by\": use asc or desc."),
                ));
            }
        };
        if words.next().is_some() {
            return Err(OntapError::invalid(
                "order_by",
                format!("Invalid entry \"{entry}\" in \"order_by\": use \"field [asc|desc]\"."),
            ));
        }
        keys.push(SortKey {
            field: field.to_string(),
            descending,
        });
    }
    Ok(keys)
}

fn kind_rank(value: &Value) -> u8 {
    match value {
        Value::Null => 0,
        Value::Bool(_) => 1,
        Value::Number(_) => 2,
        Value::String(_) => 3,
        Value::Array(_) => 4,
        Value::Object(_) => 5,
    }
}

fn order_values(a: Option<&Value>, b: Option<&Value>) -> Ordering {
    match (a, b) {
        (None, None) => Ordering::Equal,
        (None, Some(_)) => Ordering::Less,
        (Some(_), None) => Ordering::Greater,
        (Some(a), Some(b)) => match (a, b) {
            (Value::String(x), Value::String(y)) => x
                .to_lowercase()
                .cmp(&y.to_lowercase())
                .then_with(|| x.cmp(y)),
            (Value::Number(x), Value::Number(y)) => x
                .as_f64()
                .partial_cmp(&y.as_f64())
                .unwrap_or(Ordering::Equal),
            (Value::Bool(x), Value::Bool(y)) => x.cmp(y),
            (Value::Array(x), Value::Array(y)) => x
                .iter()
                .zip(y)
                .map(|(p, q)| order_values(Some(p), Some(q)))
                .find(|o| *o != Ordering::Equal)
                .unwrap_or_else(|| x.len().cmp(&y.len())),
            _ => kind_rank(a).cmp(&kind_rank(b)),
        },
    }
}

/// A GET on a collection.
#[derive(Debug, Clone)]
pub(crate) struct CollectionQuery {
    projection: Projection,
    filters: Vec<Filter>,
    order: Vec<SortKey>,
    max_records: Option<usize>,
    return_records: bool,
    start: usize,
    raw: Vec<String>,
}

impl CollectionQuery {
    /// Parses a collection query against `catalog`.
    pub(crate) fn parse(catalog: &Catalog, raw_query: Option<&str>) -> Result<Self, OntapError> {
        let params = Params::parse(raw_query)?;
        let mut query = Self {
            projection: Projection::Identity,
            filters: Vec::new(),
            order: Vec::new(),
            max_records: None,
            return_records: true,
            start: 0,
            raw: params.raw,
        };
        for (name, value) in &params.decoded {
            match name.as_str() {
                "fields" => query.projection = Projection::parse(catalog, value)?,
                "order_by" => query.order = parse_order_by(catalog, value)?,
                "max_records" => match value.parse::<usize>() {
                    Ok(n) if n >= 1 => query.max_records = Some(n),
                    _ => {
                        return Err(OntapError::invalid(
                            "max_records",
                            format!(
                                "Invalid value \"{value}\" for \"max_records\": expected a positive integer."
                            ),
                        ));
                    }
                },
                "return_records" => query.return_records = parse_bool(name, value)?,
                "return_timeout" => parse_return_timeout(value)?,
                START => {
                    query.start = value.parse().map_err(|_| {
                        OntapError::invalid(
                            START,
                            format!("Invalid value \"{value}\" for \"{START}\"."),
                        )
                    })?;
                }
                other => match catalog.field(other) {
                    Some(field) => query.filters.push(Filter::parse(field, value)?),
                    None => return Err(OntapError::unexpected_argument(other)),
                },
            }
        }
        Ok(query)
    }

    /// The collection body for `records` (every readable field rendered) at `path`.
    pub(crate) fn respond(&self, catalog: &Catalog, records: Vec<Value>, path: &str) -> Value {
        let mut matching: Vec<Value> = records
            .into_iter()
            .filter(|r| self.filters.iter().all(|f| f.matches(r)))
            .collect();
        matching.sort_by(|a, b| {
            let requested = self.order.iter().map(|key| {
                let ordering = order_values(lookup(a, &key.field), lookup(b, &key.field));
                if key.descending {
                    ordering.reverse()
                } else {
                    ordering
                }
            });
            let keys = catalog
                .keys
                .iter()
                .map(|key| order_values(lookup(a, key), lookup(b, key)));
            requested
                .chain(keys)
                .find(|o| *o != Ordering::Equal)
                .unwrap_or(Ordering::Equal)
        });
        let self_href = if self.raw.is_empty() {
            path.to_string()
        } else {
            format!("{path}?{}", self.raw.join("&"))
        };
        if !self.return_records {
            return json!({"num_records": matching.len(), "_links": {"self": {"href": self_href}}});
        }
        let size = self.max_records.unwrap_or(MAX_PAGE).min(MAX_PAGE);
        let total = matching.len();
        let start = self.start.min(total);
        let end = start.saturating_add(size).min(total);
        let page: Vec<Value> = matching[start..end]
            .iter()
            .map(|r| self.projection.apply(catalog, r))
            .collect();
        let mut links = json!({"self": {"href": self_href}});
        if end < total {
            let mut next: Vec<String> = self
                .raw
                .iter()
                .filter(|segment| {
                    url::form_urlencoded::parse(segment.as_bytes())
                        .next()
                        .is_none_or(|(name, _)| name != START)
                })
                .cloned()
                .collect();
            next.push(format!("{START}={end}"));
            links["next"] = json!({"href": format!("{path}?{}", next.join("&"))});
        }
        json!({"records": page, "num_records": end - start, "_links": links})
    }
}

/// A GET on one object: only `fields` (and `return_timeout`).
#[derive(Debug, Clone)]
pub(crate) struct InstanceQuery {
    projection: Projection,
}

impl InstanceQuery {
    /// Parses an instance query against `catalog`.
    pub(crate) fn parse(catalog: &Catalog, raw_query: Option<&str>) -> Result<Self, OntapError> {
        let mut projection = Projection::All;
        for (name, value) in Params::parse(raw_query)?.decoded {
            match name.as_str() {
                "fields" => projection = Projection::parse(catalog, &value)?,
                "return_timeout" => parse_return_timeout(&value)?,
                other => return Err(OntapError::unexpected_argument(other)),
            }
        }
        Ok(Self { projection })
    }

    /// `record` as this query shows it.
    pub(crate) fn render(&self, catalog: &Catalog, record: &Value) -> Value {
        self.projection.apply(catalog, record)
    }
}

/// The query of a POST, PATCH or DELETE: `return_records` (POST only) and `return_timeout`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct WriteQuery {
    /// Whether a POST answers with the created record.
    pub(crate) return_records: bool,
}

impl WriteQuery {
    /// Parses a POST's query.
    pub(crate) fn parse_post(raw_query: Option<&str>) -> Result<Self, OntapError> {
        Self::parse(raw_query, true)
    }

    /// Parses a PATCH's or DELETE's query (no `return_records`).
    pub(crate) fn parse_change(raw_query: Option<&str>) -> Result<Self, OntapError> {
        Self::parse(raw_query, false)
    }

    fn parse(raw_query: Option<&str>, post: bool) -> Result<Self, OntapError> {
        let mut query = Self {
            return_records: false,
        };
        for (name, value) in Params::parse(raw_query)?.decoded {
            match name.as_str() {
                "return_records" if post => query.return_records = parse_bool(&name, &value)?,
                "return_timeout" => parse_return_timeout(&value)?,
                other => return Err(OntapError::unexpected_argument(other)),
            }
        }
        Ok(query)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FIELDS: &[Field] = &[
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
            name: "fail_mode",
            kind: Kind::Enum(&["safe", "secure"]),
            identity: false,
        },
        Field {
            name: "max_prompts",
            kind: Kind::Integer,
            identity: false,
        },
        Field {
            name: "is_enabled",
            kind: Kind::Boolean,
            identity: false,
        },
        Field {
            name: "comment",
            kind: Kind::Text,
            identity: false,
        },
        Field {
            name: "excluded_users",
            kind: Kind::TextList,
            identity: false,
        },
    ];
    const CATALOG: Catalog = Catalog {
        fields: FIELDS,
        write_only: &["secret_key"],
        keys: &["owner.uuid"],
    };

    fn record(uuid: &str, name: &str, fail_mode: &str, prompts: i64) -> Value {
        json!({
            "owner": {"uuid": uuid, "name": name, "_links": {"self": {"href": format!("/api/svm/svms/{uuid}")}}},
            "fail_mode": fail_mode,
            "max_prompts": prompts,
            "is_enabled": prompts != 2,
            "_links": {"self": {"href": format!("/p/{uuid}")}},
        })
    }

    fn sample() -> Vec<Value> {
        vec![
            record("c", "vs2", "secure", 3),
            record("a", "cluster", "safe", 1),
            record("b", "vs1", "secure", 2),
        ]
    }

    fn names(body: &Value) -> Vec<String> {
        body["records"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["owner"]["name"].as_str().unwrap().to_string())
            .collect()
    }

    fn respond(query: &str) -> Value {
        CollectionQuery::parse(&CATALOG, Some(query))
            .unwrap()
            .respond(&CATALOG, sample(), "/p")
    }

    #[test]
    fn collections_default_to_identity_fields_in_key_order() {
        let body = respond("");
        assert_eq!(names(&body), ["cluster", "vs1", "vs2"]);
        assert_eq!(
            body["records"][0],
            json!({"owner": {"uuid": "a", "name": "cluster", "_links": {"self": {"href": "/api/svm/svms/a"}}}, "_links": {"self": {"href": "/p/a"}}})
        );
        assert_eq!(body["num_records"], 3);
        assert_eq!(body["_links"], json!({"self": {"href": "/p"}}));
    }

    #[test]
    fn fields_select_and_star_selects_everything() {
        let body = respond("fields=max_prompts");
        assert_eq!(body["records"][0]["max_prompts"], 1);
        assert!(body["records"][0].get("fail_mode").is_none());
        assert_eq!(body["records"][0]["owner"]["name"], "cluster");
        assert_eq!(respond("fields=%2A")["records"][1], sample()[2]);
        for bad in ["fields=secret_key", "fields=colour", "fields=owner.colour"] {
            let error = CollectionQuery::parse(&CATALOG, Some(bad)).unwrap_err();
            assert_eq!((error.code, error.target.as_deref()), ("2", Some("fields")));
        }
        assert!(CollectionQuery::parse(&CATALOG, Some("fields=owner,_links")).is_ok());
    }

    #[test]
    fn filters_understand_operators_wildcards_and_alternatives() {
        assert_eq!(names(&respond("fail_mode=secure")), ["vs1", "vs2"]);
        assert_eq!(names(&respond("fail_mode=!secure")), ["cluster"]);
        assert_eq!(names(&respond("max_prompts=>1")), ["vs1", "vs2"]);
        assert_eq!(names(&respond("max_prompts=<=2")), ["cluster", "vs1"]);
        assert_eq!(names(&respond("owner.name=VS*")), ["vs1", "vs2"]);
        assert_eq!(
            names(&respond("owner.name=cluster|vs2")),
            ["cluster", "vs2"]
        );
        assert_eq!(names(&respond("is_enabled=False")), ["vs1"]);
        assert_eq!(names(&respond("comment=null")).len(), 3);
        assert_eq!(names(&respond("comment=!null")).len(), 0);
        assert_eq!(names(&respond("comment=!x")).len(), 0);
    }

    #[test]
    fn bad_filters_and_unknown_parameters_are_refused() {
        let unknown = CollectionQuery::parse(&CATALOG, Some("colour=red")).unwrap_err();
        assert_eq!(unknown.code, "262179");
        let secret = CollectionQuery::parse(&CATALOG, Some("secret_key=x")).unwrap_err();
        assert_eq!(secret.code, "262179");
        for bad in [
            "fail_mode=fast",
            "max_prompts=two",
            "is_enabled=yes",
            "is_enabled=<true",
            "owner.name=>a*",
            "max_records=0",
            "return_records=maybe",
            "return_timeout=121",
            "order_by=colour",
            "order_by=max_prompts sideways",
            "fields=*&fields=*",
        ] {
            let error = CollectionQuery::parse(&CATALOG, Some(bad)).unwrap_err();
            assert_eq!(error.code, "2", "{bad}");
        }
    }

    #[test]
    fn lists_match_when_any_element_does() {
        let records = vec![
            json!({"owner": {"uuid": "a"}, "excluded_users": ["tsmith", "msmith"]}),
            json!({"owner": {"uuid": "b"}, "excluded_users": []}),
        ];
        let uuids = |query: &str| -> Vec<Value> {
            CollectionQuery::parse(&CATALOG, Some(query))
                .unwrap()
                .respond(&CATALOG, records.clone(), "/g")["records"]
                .as_array()
                .unwrap()
                .iter()
                .map(|r| r["owner"]["uuid"].clone())
                .collect()
        };
        assert_eq!(uuids("excluded_users=msmith"), [json!("a")]);
        assert_eq!(uuids("excluded_users=!msmith"), Vec::<Value>::new());
        assert_eq!(uuids("excluded_users=null"), [json!("b")]);
    }

    #[test]
    fn order_by_sorts_and_keys_break_ties() {
        assert_eq!(
            names(&respond("order_by=max_prompts%20desc")),
            ["vs2", "vs1", "cluster"]
        );
        assert_eq!(
            names(&respond("order_by=fail_mode desc,owner.name desc")),
            ["vs2", "vs1", "cluster"]
        );
        assert_eq!(
            names(&respond("order_by=fail_mode")),
            ["cluster", "vs1", "vs2"]
        );
    }

    #[test]
    fn pages_link_to_the_rest_and_counts_ignore_paging() {
        let first = respond("fields=*&max_records=2");
        assert_eq!(names(&first), ["cluster", "vs1"]);
        assert_eq!(first["num_records"], 2);
        let next = first["_links"]["next"]["href"].as_str().unwrap();
        assert_eq!(next, "/p?fields=*&max_records=2&start.index=2");
        let second = respond(next.trim_start_matches("/p?"));
        assert_eq!(names(&second), ["vs2"]);
        assert!(second["_links"].get("next").is_none());
        assert_eq!(
            second["_links"]["self"]["href"],
            "/p?fields=*&max_records=2&start.index=2"
        );
        let count = respond("return_records=false&fail_mode=secure&max_records=1");
        assert_eq!(
            count,
            json!({"num_records": 2, "_links": {"self": {"href": "/p?return_records=false&fail_mode=secure&max_records=1"}}})
        );
    }

    #[test]
    fn instance_and_write_queries_accept_only_their_parameters() {
        let query = InstanceQuery::parse(&CATALOG, Some("fields=fail_mode")).unwrap();
        let shown = query.render(&CATALOG, &sample()[0]);
        assert_eq!(shown["fail_mode"], "secure");
        assert!(shown.get("max_prompts").is_none());
        assert_eq!(
            InstanceQuery::parse(&CATALOG, Some("max_records=1"))
                .unwrap_err()
                .code,
            "262179"
        );
        assert!(
            WriteQuery::parse_post(Some("return_records=true"))
                .unwrap()
                .return_records
        );
        assert_eq!(
            WriteQuery::parse_change(Some("return_records=true"))
                .unwrap_err()
                .code,
            "262179"
        );
    }

    #[test]
    fn wildcards_are_greedy_and_anchored() {
        assert!(wildcard_match("a*c", "abbbc"));
        assert!(wildcard_match("*", ""));
        assert!(wildcard_match("a*b*c", "axxbyyc"));
        assert!(!wildcard_match("a*c", "abcd"));
        assert!(!wildcard_match("ab*ba", "aba"));
    }
}
