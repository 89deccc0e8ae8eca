//! Request parameters: an ordered multimap of strings.
//!
//! Duo's canonical form sorts parameters itself, so order here only matters for the wire
//! (`duo_client` keeps dict order when it builds a query string). Repeated keys are allowed.

use serde_json::Value;

/// An ordered list of `(key, value)` string pairs; a key may repeat.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Params(Vec<(String, String)>);

impl Params {
    /// An empty parameter list.
    pub fn new() -> Self {
        Self(Vec::new())
    }

    /// Appends one pair.
    pub fn push(&mut self, key: impl Into<String>, value: impl Into<String>) {
        self.0.push((key.into(), value.into()));
    }

    /// Appends one pair and returns `self`, for building in one expression.
    pub fn with(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.push(key, value);
        self
    }

    /// Builds parameters from pairs.
    pub fn from_pairs<K: Into<String>, V: Into<String>>(
        pairs: impl IntoIterator<Item = (K, V)>,
    ) -> Self {
        Self(
            pairs
                .into_iter()
                .map(|(k, v)| (k.into(), v.into()))
                .collect(),
        )
    }

    /// Normalises a JSON object the way `duo_client`'s `normalize_params` does for query and
    /// form parameters: `true`/`false` become `"true"`/`"false"`, numbers their decimal text,
    /// strings stay, arrays become one pair per element, and `null` becomes an empty string.
    /// Nested objects are sent as their compact JSON text.
    pub fn from_json_object(object: &serde_json::Map<String, Value>) -> Self {
        let mut params = Self::new();
        for (key, value) in object {
            match value {
                Value::Array(items) => {
                    for item in items {
                        params.push(key.clone(), scalar_text(item));
                    }
                }
                other => params.push(key.clone(), scalar_text(other)),
            }
        }
        params
    }

    /// The pairs in insertion order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }

    /// The first value for `key`.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.iter().find(|(k, _)| *k == key).map(|(_, v)| v)
    }

    /// Every value for `key`, in order.
    pub fn get_all<'a>(&'a self, key: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.iter().filter(move |(k, _)| *k == key).map(|(_, v)| v)
    }

    /// Whether any pair has this key.
    pub fn contains_key(&self, key: &str) -> bool {
        self.get(key).is_some()
    }

    /// Number of pairs.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether there are no pairs.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Appends every pair of `other`.
    pub fn extend(&mut self, other: &Params) {
        self.0.extend(other.0.iter().cloned());
    }
}

impl<K: Into<String>, V: Into<String>> FromIterator<(K, V)> for Params {
    fn from_iter<T: IntoIterator<Item = (K, V)>>(iter: T) -> Self {
        Self::from_pairs(iter)
    }
}

fn scalar_text(value: &Value) -> String {
    match value {
        Value::Null => String::new(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn json_objects_normalise_like_duo_client() {
        let Value::Object(map) = json!({"b": true, "n": 5, "s": "x", "l": ["1", "2"]}) else {
            unreachable!()
        };
        let params = Params::from_json_object(&map);
        assert_eq!(params.get("b"), Some("true"));
        assert_eq!(params.get("n"), Some("5"));
        assert_eq!(params.get_all("l").collect::<Vec<_>>(), vec!["1", "2"]);
        assert_eq!(params.len(), 5);
    }
}
