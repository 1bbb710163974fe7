//! Label selectors: the structured form (`matchLabels`, `matchExpressions`) and the string
//! form (`a=b,c!=d,e in (x,y),!f`).

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// A label selector as written in manifests (`spec.selector` of a Deployment).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LabelSelector {
    /// Labels that must be present with exactly these values.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub match_labels: BTreeMap<String, String>,
    /// Further requirements, all of which must hold.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub match_expressions: Vec<LabelSelectorRequirement>,
}

/// One requirement of a [`LabelSelector`]: `key operator values`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LabelSelectorRequirement {
    /// The label key.
    pub key: String,
    /// `In`, `NotIn`, `Exists` or `DoesNotExist`.
    pub operator: String,
    /// Values for `In` and `NotIn`; empty for `Exists` and `DoesNotExist`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub values: Vec<String>,
}

/// TEMPORARY stand-in, replaced by the full implementation.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Selector(Vec<(String, String)>);

impl Selector {
    /// Everything.
    pub fn everything() -> Self {
        Selector(Vec::new())
    }
    /// True when it matches everything.
    pub fn is_everything(&self) -> bool {
        self.0.is_empty()
    }
    /// Parse.
    pub fn parse(s: &str) -> Result<Selector, String> {
        let mut v = Vec::new();
        for part in s.split(',').filter(|p| !p.trim().is_empty()) {
            let (k, val) = part.split_once('=').ok_or_else(|| format!("bad {part}"))?;
            v.push((k.trim().to_string(), val.trim().to_string()));
        }
        Ok(Selector(v))
    }
    /// Matches.
    pub fn matches(&self, labels: &BTreeMap<String, String>) -> bool {
        self.0.iter().all(|(k, v)| labels.get(k) == Some(v))
    }
    /// Equality pairs.
    pub fn equality_pairs(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }
}
