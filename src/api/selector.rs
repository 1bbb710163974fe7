//! Label selectors: the structured form (`matchLabels`, `matchExpressions`) and the string
//! form (`a=b,c!=d,e in (x,y),!f`), both compiled to a [`Selector`].

use super::map::Map;
use super::validation::{self, forbidden, invalid, required};
use crate::error::FieldError;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::str::FromStr;

/// A label selector as written in manifests (`spec.selector` of a Deployment).
///
/// An empty selector matches every object. Compile it with
/// [`to_selector`](LabelSelector::to_selector) to match many label sets.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "apiserver", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct LabelSelector {
    /// Labels that must be present with exactly these values.
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    pub match_labels: Map<String, String>,
    /// Further requirements, all of which must hold.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub match_expressions: Vec<LabelSelectorRequirement>,
}

/// One requirement of a [`LabelSelector`]: `key operator values`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "apiserver", derive(schemars::JsonSchema))]
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

impl LabelSelector {
    /// Compiles and checks the selector. Errors name the field relative to the selector
    /// (`matchExpressions[0].operator`, `matchLabels[app]`); the caller prefixes its path.
    pub fn to_selector(&self) -> Result<Selector, FieldError> {
        let mut requirements =
            Vec::with_capacity(self.match_labels.len() + self.match_expressions.len());
        for (key, value) in &self.match_labels {
            let requirement = Requirement::new(key.clone(), Operator::Equals, vec![value.clone()])
                .map_err(|e| FieldError::new(format!("matchLabels[{key}]"), e.message))?;
            requirements.push(requirement);
        }
        for (i, expression) in self.match_expressions.iter().enumerate() {
            let op = match expression.operator.as_str() {
                "In" => Operator::In,
                "NotIn" => Operator::NotIn,
                "Exists" => Operator::Exists,
                "DoesNotExist" => Operator::DoesNotExist,
                other => {
                    return Err(FieldError::new(
                        format!("matchExpressions[{i}].operator"),
                        format!(
                            "Unsupported value: {other:?}: supported values: \"In\", \"NotIn\", \"Exists\", \
                             \"DoesNotExist\""
                        ),
                    ))
                }
            };
            let requirement =
                Requirement::new(expression.key.clone(), op, expression.values.clone()).map_err(
                    |e| FieldError::new(format!("matchExpressions[{i}].{}", e.field), e.message),
                )?;
            requirements.push(requirement);
        }
        Ok(Selector::new(requirements))
    }

    /// True when `labels` satisfy the selector; false when the selector is invalid (see
    /// [`to_selector`](LabelSelector::to_selector)). Compiles the selector on every call.
    pub fn matches_labels(&self, labels: &(impl Labels + ?Sized)) -> bool {
        self.to_selector().is_ok_and(|s| s.matches(labels))
    }
}

/// A set of labels a selector can be matched against: an object's
/// [`labels`](super::ObjectMeta::labels) ([`Map`]), or a `BTreeMap` or `HashMap` of strings.
pub trait Labels {
    /// The value of label `key`, if present.
    fn label(&self, key: &str) -> Option<&str>;
}

impl Labels for Map<String, String> {
    fn label(&self, key: &str) -> Option<&str> {
        self.get(key).map(String::as_str)
    }
}

impl Labels for BTreeMap<String, String> {
    fn label(&self, key: &str) -> Option<&str> {
        self.get(key).map(String::as_str)
    }
}

impl<S: std::hash::BuildHasher> Labels for HashMap<String, String, S> {
    fn label(&self, key: &str) -> Option<&str> {
        self.get(key).map(String::as_str)
    }
}

/// How a [`Requirement`] relates a label to its values.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Operator {
    /// `key=value` or `key==value`: the label is present with this value.
    Equals,
    /// `key!=value`: the label is absent or has another value.
    NotEquals,
    /// `key in (a,b)`: the label is present with one of these values.
    In,
    /// `key notin (a,b)`: the label is absent or has none of these values.
    NotIn,
    /// `key`: the label is present.
    Exists,
    /// `!key`: the label is absent.
    DoesNotExist,
}

/// One checked requirement of a [`Selector`]: a label key, an operator and its values.
///
/// Values are sorted and free of duplicates; `Equals` and `NotEquals` have exactly one,
/// `In` and `NotIn` at least one, `Exists` and `DoesNotExist` none.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Requirement {
    key: String,
    op: Operator,
    values: Vec<String>,
}

impl Requirement {
    /// A requirement, checked: the key must be a qualified name, each value a label value,
    /// and the number of values must suit the operator. The error's field is relative
    /// (`key`, `values`, `values[1]`).
    pub fn new(
        key: impl Into<String>,
        op: Operator,
        values: Vec<String>,
    ) -> Result<Requirement, FieldError> {
        let key = key.into();
        if let Err(msg) = validation::qualified_name(&key) {
            return Err(invalid("key", &key, &msg));
        }
        match op {
            Operator::Equals | Operator::NotEquals if values.len() != 1 => {
                return Err(FieldError::new(
                    "values",
                    format!(
                        "Invalid value: {values:?}: must have exactly one value for '=' and '!='"
                    ),
                ));
            }
            Operator::In | Operator::NotIn if values.is_empty() => {
                return Err(required(
                    "values",
                    "must be specified when `operator` is 'In' or 'NotIn'",
                ));
            }
            Operator::Exists | Operator::DoesNotExist if !values.is_empty() => {
                return Err(forbidden(
                    "values",
                    "may not be specified when `operator` is 'Exists' or 'DoesNotExist'",
                ));
            }
            _ => {}
        }
        for (i, value) in values.iter().enumerate() {
            if let Err(msg) = validation::label_value(value) {
                return Err(invalid(format!("values[{i}]"), value, &msg));
            }
        }
        Ok(Requirement::checked(key, op, values))
    }

    /// A requirement whose parts are already checked.
    fn checked(key: String, op: Operator, mut values: Vec<String>) -> Requirement {
        values.sort_unstable();
        values.dedup();
        Requirement { key, op, values }
    }

    /// The label key.
    pub fn key(&self) -> &str {
        &self.key
    }

    /// The operator.
    pub fn op(&self) -> Operator {
        self.op
    }

    /// The values, sorted.
    pub fn values(&self) -> &[String] {
        &self.values
    }

    /// True when `labels` satisfy this requirement. `NotEquals` and `NotIn` hold when the
    /// label is absent, as in Kubernetes.
    pub fn matches(&self, labels: &(impl Labels + ?Sized)) -> bool {
        let value = labels.label(&self.key);
        let listed = |v: &str| self.values.binary_search_by(|x| x.as_str().cmp(v)).is_ok();
        match self.op {
            Operator::Equals | Operator::In => value.is_some_and(listed),
            Operator::NotEquals | Operator::NotIn => !value.is_some_and(listed),
            Operator::Exists => value.is_some(),
            Operator::DoesNotExist => value.is_none(),
        }
    }
}

impl fmt::Display for Requirement {
    /// The string form: `key`, `!key`, `key=value`, `key!=value`, `key in (a,b)`,
    /// `key notin (a,b)`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let key = &self.key;
        match self.op {
            Operator::Exists => write!(f, "{key}"),
            Operator::DoesNotExist => write!(f, "!{key}"),
            Operator::Equals => write!(f, "{key}={}", self.values[0]),
            Operator::NotEquals => write!(f, "{key}!={}", self.values[0]),
            Operator::In => write!(f, "{key} in ({})", self.values.join(",")),
            Operator::NotIn => write!(f, "{key} notin ({})", self.values.join(",")),
        }
    }
}

/// A compiled label selector: requirements that must all hold.
///
/// Built by [`Selector::parse`] from the string form (`app=web,tier!=db,env in (a,b),!x`) or
/// by [`LabelSelector::to_selector`]. Requirements are kept sorted (by key, then operator and
/// values), so equal selectors compare equal however they were written, and
/// [`Display`](fmt::Display) writes the canonical string form, which parses back to the same
/// selector. The empty selector matches everything.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Default)]
pub struct Selector {
    requirements: Vec<Requirement>,
}

impl Selector {
    /// The selector that matches every label set.
    pub fn everything() -> Selector {
        Selector::default()
    }

    /// A selector of these requirements (sorted; exact duplicates dropped).
    pub fn new(requirements: impl IntoIterator<Item = Requirement>) -> Selector {
        let mut requirements: Vec<Requirement> = requirements.into_iter().collect();
        requirements.sort();
        requirements.dedup();
        Selector { requirements }
    }

    /// The equality selector of a plain label map (a Service's or ReplicationController's
    /// `selector`): every pair must match. An empty map selects everything.
    pub fn from_map(labels: &crate::api::Map<String, String>) -> Selector {
        Selector::new(labels.iter().map(|(k, v)| Requirement {
            key: k.clone(),
            op: Operator::Equals,
            values: vec![v.clone()],
        }))
    }

    /// Parses the Kubernetes string form: comma-separated requirements `a=b`, `a==b`,
    /// `a!=b`, `a in (x,y)`, `a notin (x)`, `a` (exists) and `!a` (does not exist),
    /// whitespace between tokens allowed. An empty or blank string selects everything.
    pub fn parse(s: &str) -> Result<Selector, SelectorError> {
        Parser {
            lexer: Lexer { input: s, pos: 0 },
        }
        .selector()
    }

    /// True for the selector without requirements, which matches everything.
    pub fn is_everything(&self) -> bool {
        self.requirements.is_empty()
    }

    /// The requirements, sorted by key.
    pub fn requirements(&self) -> &[Requirement] {
        &self.requirements
    }

    /// True when `labels` satisfy every requirement.
    pub fn matches(&self, labels: &(impl Labels + ?Sized)) -> bool {
        self.requirements.iter().all(|r| r.matches(labels))
    }

    /// `(key, value)` of each requirement that pins a label to one value (`key=value`,
    /// `key in (value)`): an index on those labels narrows the candidates, and
    /// [`matches`](Selector::matches) checks the rest.
    pub fn equality_pairs(&self) -> impl Iterator<Item = (&str, &str)> + '_ {
        self.requirements
            .iter()
            .filter_map(|r| match (r.op, r.values.as_slice()) {
                (Operator::Equals | Operator::In, [value]) => {
                    Some((r.key.as_str(), value.as_str()))
                }
                _ => None,
            })
    }
}

impl fmt::Display for Selector {
    /// The canonical string form; empty for [`Selector::everything`].
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, r) in self.requirements.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            write!(f, "{r}")?;
        }
        Ok(())
    }
}

impl FromStr for Selector {
    type Err = SelectorError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Selector::parse(s)
    }
}

impl Serialize for Selector {
    /// As its canonical string form.
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Selector {
    /// From the string form.
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl serde::de::Visitor<'_> for Visitor {
            type Value = Selector;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a label selector string such as \"app=web,tier!=db\"")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Selector, E> {
                v.parse().map_err(E::custom)
            }
        }
        d.deserialize_str(Visitor)
    }
}

/// The error of parsing a label selector string: what is wrong and where.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("invalid label selector {selector:?}: {message} (at position {position})")]
pub struct SelectorError {
    selector: String,
    position: usize,
    message: String,
}

impl SelectorError {
    /// The selector string that failed to parse.
    pub fn selector(&self) -> &str {
        &self.selector
    }

    /// Byte offset in the selector string of the offending text.
    pub fn position(&self) -> usize {
        self.position
    }

    /// What is wrong (`found "x", expected "("`).
    pub fn message(&self) -> &str {
        &self.message
    }
}

/// A token of the selector string form.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Token<'a> {
    /// A key, a value, or the keywords `in` and `notin`.
    Ident(&'a str),
    Not,
    Equals,
    DoubleEquals,
    NotEquals,
    Open,
    Close,
    Comma,
    /// `<` or `>`: numeric comparisons, which steady does not support.
    Unsupported(&'a str),
    End,
}

impl fmt::Display for Token<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Token::Ident(s) | Token::Unsupported(s) => write!(f, "{s:?}"),
            Token::Not => f.write_str("\"!\""),
            Token::Equals => f.write_str("\"=\""),
            Token::DoubleEquals => f.write_str("\"==\""),
            Token::NotEquals => f.write_str("\"!=\""),
            Token::Open => f.write_str("\"(\""),
            Token::Close => f.write_str("\")\""),
            Token::Comma => f.write_str("\",\""),
            Token::End => f.write_str("the end"),
        }
    }
}

#[derive(Clone)]
struct Lexer<'a> {
    input: &'a str,
    pos: usize,
}

impl<'a> Lexer<'a> {
    /// The next token and its byte offset.
    fn next(&mut self) -> (usize, Token<'a>) {
        let rest = &self.input[self.pos..];
        let trimmed = rest.trim_start();
        let start = self.pos + (rest.len() - trimmed.len());
        let mut chars = trimmed.chars();
        let (token, len) = match chars.next() {
            None => (Token::End, 0),
            Some('!') if chars.next() == Some('=') => (Token::NotEquals, 2),
            Some('!') => (Token::Not, 1),
            Some('=') if chars.next() == Some('=') => (Token::DoubleEquals, 2),
            Some('=') => (Token::Equals, 1),
            Some('(') => (Token::Open, 1),
            Some(')') => (Token::Close, 1),
            Some(',') => (Token::Comma, 1),
            Some('<' | '>') => (Token::Unsupported(&trimmed[..1]), 1),
            Some(_) => {
                let len = trimmed
                    .find(|c: char| c.is_whitespace() || "!=(),<>".contains(c))
                    .unwrap_or(trimmed.len());
                (Token::Ident(&trimmed[..len]), len)
            }
        };
        self.pos = start + len;
        (start, token)
    }

    fn peek(&self) -> (usize, Token<'a>) {
        self.clone().next()
    }
}

struct Parser<'a> {
    lexer: Lexer<'a>,
}

impl<'a> Parser<'a> {
    fn error(&self, position: usize, message: String) -> SelectorError {
        SelectorError {
            selector: self.lexer.input.to_owned(),
            position,
            message,
        }
    }

    fn selector(mut self) -> Result<Selector, SelectorError> {
        if self.lexer.peek().1 == Token::End {
            return Ok(Selector::everything());
        }
        let mut requirements = Vec::new();
        loop {
            requirements.push(self.requirement()?);
            match self.lexer.next() {
                (_, Token::End) => return Ok(Selector::new(requirements)),
                (_, Token::Comma) => {}
                (pos, found) => {
                    return Err(self.error(pos, format!("found {found}, expected \",\" or the end")))
                }
            }
        }
    }

    fn requirement(&mut self) -> Result<Requirement, SelectorError> {
        let (mut pos, mut token) = self.lexer.next();
        let negated = token == Token::Not;
        if negated {
            (pos, token) = self.lexer.next();
        }
        let Token::Ident(key) = token else {
            return Err(self.error(pos, format!("found {token}, expected a label key")));
        };
        if let Err(msg) = validation::qualified_name(key) {
            return Err(self.error(pos, format!("key {key:?}: {msg}")));
        }
        let key = key.to_owned();
        let (op_pos, op_token) = self.lexer.peek();
        if negated {
            return match op_token {
                Token::End | Token::Comma => Ok(Requirement::checked(
                    key,
                    Operator::DoesNotExist,
                    Vec::new(),
                )),
                found => Err(self.error(
                    op_pos,
                    format!("found {found}, expected \",\" or the end after \"!{key}\""),
                )),
            };
        }
        let op = match op_token {
            Token::End | Token::Comma => return Ok(Requirement::checked(key, Operator::Exists, Vec::new())),
            Token::Equals | Token::DoubleEquals => Operator::Equals,
            Token::NotEquals => Operator::NotEquals,
            Token::Ident("in") => Operator::In,
            Token::Ident("notin") => Operator::NotIn,
            found => {
                return Err(self.error(
                    op_pos,
                    format!("found {found}, expected \"=\", \"==\", \"!=\", \"in\" or \"notin\" after key {key:?}"),
                ))
            }
        };
        self.lexer.next();
        let values = match op {
            Operator::Equals | Operator::NotEquals => vec![self.exact_value()?],
            _ => self.value_set()?,
        };
        Ok(Requirement::checked(key, op, values))
    }

    /// The value after `=`, `==` or `!=`; empty when a comma or the end follows.
    fn exact_value(&mut self) -> Result<String, SelectorError> {
        match self.lexer.peek() {
            (pos, Token::Ident(value)) => {
                self.lexer.next();
                self.check_value(pos, value)
            }
            (_, Token::End | Token::Comma) => Ok(String::new()),
            (pos, found) => Err(self.error(pos, format!("found {found}, expected a value"))),
        }
    }

    /// `( v1, v2 )` after `in` or `notin`. Empty entries are empty values, as in
    /// Kubernetes: `()` is the set of the empty value.
    fn value_set(&mut self) -> Result<Vec<String>, SelectorError> {
        match self.lexer.next() {
            (_, Token::Open) => {}
            (pos, found) => return Err(self.error(pos, format!("found {found}, expected \"(\""))),
        }
        let mut values = Vec::new();
        let mut expect_value = true;
        loop {
            let (pos, token) = self.lexer.next();
            match (expect_value, token) {
                (true, Token::Ident(value)) => {
                    values.push(self.check_value(pos, value)?);
                    expect_value = false;
                }
                (true, Token::Comma) => values.push(String::new()),
                (true, Token::Close) => {
                    values.push(String::new());
                    return Ok(values);
                }
                (false, Token::Comma) => expect_value = true,
                (false, Token::Close) => return Ok(values),
                (true, found) => {
                    return Err(self.error(pos, format!("found {found}, expected a value or \")\"")))
                }
                (false, found) => {
                    return Err(self.error(pos, format!("found {found}, expected \",\" or \")\"")))
                }
            }
        }
    }

    fn check_value(&self, pos: usize, value: &str) -> Result<String, SelectorError> {
        match validation::label_value(value) {
            Ok(()) => Ok(value.to_owned()),
            Err(msg) => Err(self.error(pos, format!("value {value:?}: {msg}"))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn labels(pairs: &[(&str, &str)]) -> Map<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn sel(s: &str) -> Selector {
        Selector::parse(s).unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn empty_string_selects_everything() {
        for s in ["", "   "] {
            let selector = sel(s);
            assert!(selector.is_everything());
            assert!(selector.matches(&labels(&[])));
            assert_eq!(selector, Selector::everything());
            assert_eq!(selector.to_string(), "");
        }
    }

    #[test]
    fn parses_every_operator() {
        let selector = sel("a=1,b==2,c!=3,d in (x,y),e notin (z),f,!g");
        let ops: Vec<_> = selector
            .requirements()
            .iter()
            .map(|r| (r.key(), r.op(), r.values().to_vec()))
            .collect();
        let v = |xs: &[&str]| xs.iter().map(|x| x.to_string()).collect::<Vec<_>>();
        assert_eq!(
            ops,
            [
                ("a", Operator::Equals, v(&["1"])),
                ("b", Operator::Equals, v(&["2"])),
                ("c", Operator::NotEquals, v(&["3"])),
                ("d", Operator::In, v(&["x", "y"])),
                ("e", Operator::NotIn, v(&["z"])),
                ("f", Operator::Exists, v(&[])),
                ("g", Operator::DoesNotExist, v(&[])),
            ]
        );
    }

    #[test]
    fn whitespace_between_tokens_is_ignored() {
        assert_eq!(
            sel("  a = 1 ,  b  in  ( x , y ) , ! c , d != 2 "),
            sel("a=1,b in (x,y),!c,d!=2")
        );
        assert_eq!(sel("a in(x)"), sel("a in (x)"));
    }

    #[test]
    fn display_is_canonical_and_sorted_by_key() {
        assert_eq!(
            sel("z=1, a in (y, x, y), !m, b==2").to_string(),
            "a in (x,y),b=2,!m,z=1"
        );
        assert_eq!(sel("k notin (b,a),e").to_string(), "e,k notin (a,b)");
    }

    #[test]
    fn equal_selectors_compare_equal_however_written() {
        assert_eq!(sel("a=1,b=2"), sel("b==2, a=1"));
        assert_eq!(sel("a in (x,y)"), sel("a in (y,x,x)"));
        assert_ne!(sel("a=1"), sel("a!=1"));
    }

    #[test]
    fn empty_values_are_allowed() {
        assert_eq!(sel("a=").requirements()[0].values(), [""]);
        assert_eq!(sel("a!=,b").to_string(), "a!=,b");
        assert_eq!(sel("a in ()").requirements()[0].values(), [""]);
        assert_eq!(sel("a in (x,)").requirements()[0].values(), ["", "x"]);
        assert!(sel("a=").matches(&labels(&[("a", "")])));
    }

    #[test]
    fn keywords_are_ordinary_values_and_keys() {
        assert_eq!(sel("in=notin").to_string(), "in=notin");
        assert_eq!(
            sel("a in (in,notin)").requirements()[0].values(),
            ["in", "notin"]
        );
    }

    #[test]
    fn prefixed_keys_are_accepted() {
        let selector = sel("app.kubernetes.io/name=web");
        assert_eq!(selector.requirements()[0].key(), "app.kubernetes.io/name");
    }

    #[test]
    fn matching_follows_kubernetes_semantics() {
        let l = labels(&[("app", "web"), ("tier", "front")]);
        assert!(sel("app=web").matches(&l));
        assert!(!sel("app=db").matches(&l));
        assert!(sel("app!=db").matches(&l));
        assert!(sel("missing!=x").matches(&l), "!= matches an absent key");
        assert!(
            sel("missing notin (x)").matches(&l),
            "notin matches an absent key"
        );
        assert!(!sel("missing in (x)").matches(&l));
        assert!(!sel("missing=x").matches(&l));
        assert!(sel("tier in (back,front)").matches(&l));
        assert!(!sel("tier notin (back,front)").matches(&l));
        assert!(sel("app").matches(&l));
        assert!(!sel("!app").matches(&l));
        assert!(sel("!missing").matches(&l));
        assert!(!sel("app=web,!tier").matches(&l));
    }

    #[test]
    fn equality_pairs_come_from_equals_and_single_value_in() {
        let selector = sel("a=1,b in (2),c in (3,4),d!=5,e,f==6");
        let pairs: Vec<_> = selector.equality_pairs().collect();
        assert_eq!(pairs, [("a", "1"), ("b", "2"), ("f", "6")]);
    }

    #[test]
    fn syntax_errors_name_the_offending_text_and_position() {
        for (input, position, fragment) in [
            ("a in x", 5, "found \"x\", expected \"(\""),
            ("a in (x", 7, "found the end, expected \",\" or \")\""),
            ("a in (x y)", 8, "found \"y\", expected \",\" or \")\""),
            ("a=b c", 4, "found \"c\", expected \",\" or the end"),
            (",a", 0, "found \",\", expected a label key"),
            ("a,", 2, "found the end, expected a label key"),
            ("!a=b", 2, "expected \",\" or the end after \"!a\""),
            (
                "a (x)",
                2,
                "expected \"=\", \"==\", \"!=\", \"in\" or \"notin\" after key \"a\"",
            ),
            ("a>1", 1, "found \">\""),
            ("a==(", 3, "found \"(\", expected a value"),
            ("Foo_=b", 0, "key \"Foo_\": name part must consist"),
            ("a=-b", 2, "value \"-b\": a valid label must be"),
            ("a in (ok,b@d)", 9, "value \"b@d\""),
        ] {
            let err = Selector::parse(input).expect_err(input);
            assert_eq!(err.position(), position, "{input}: {err}");
            assert!(err.message().contains(fragment), "{input}: {err}");
            assert!(
                err.to_string()
                    .starts_with(&format!("invalid label selector {input:?}: ")),
                "{err}"
            );
        }
    }

    #[test]
    fn label_selector_compiles_labels_and_expressions() {
        let ls = LabelSelector {
            match_labels: labels(&[("app", "web")]),
            match_expressions: vec![
                LabelSelectorRequirement {
                    key: "tier".into(),
                    operator: "In".into(),
                    values: vec!["a".into(), "b".into()],
                },
                LabelSelectorRequirement {
                    key: "legacy".into(),
                    operator: "DoesNotExist".into(),
                    values: vec![],
                },
            ],
        };
        let selector = ls.to_selector().unwrap();
        assert_eq!(selector.to_string(), "app=web,!legacy,tier in (a,b)");
        assert!(ls.matches_labels(&labels(&[("app", "web"), ("tier", "a")])));
        assert!(!ls.matches_labels(&labels(&[("app", "web"), ("tier", "a"), ("legacy", "")])));
    }

    #[test]
    fn empty_label_selector_matches_everything() {
        let ls = LabelSelector::default();
        assert!(ls.to_selector().unwrap().is_everything());
        assert!(ls.matches_labels(&labels(&[("any", "thing")])));
    }

    fn expression(operator: &str, values: &[&str]) -> LabelSelector {
        LabelSelector {
            match_expressions: vec![
                LabelSelectorRequirement {
                    key: "ok".into(),
                    operator: "Exists".into(),
                    values: vec![],
                },
                LabelSelectorRequirement {
                    key: "k".into(),
                    operator: operator.into(),
                    values: values.iter().map(|v| v.to_string()).collect(),
                },
            ],
            ..Default::default()
        }
    }

    #[test]
    fn label_selector_errors_name_the_relative_field() {
        let err = expression("Equals", &["x"]).to_selector().unwrap_err();
        assert_eq!(
            err.to_string(),
            "matchExpressions[1].operator: Unsupported value: \"Equals\": supported values: \"In\", \"NotIn\", \
             \"Exists\", \"DoesNotExist\""
        );
        let err = expression("In", &[]).to_selector().unwrap_err();
        assert_eq!(
            err.to_string(),
            "matchExpressions[1].values: Required value: must be specified when `operator` is 'In' or 'NotIn'"
        );
        let err = expression("Exists", &["x"]).to_selector().unwrap_err();
        assert_eq!(
            err.to_string(),
            "matchExpressions[1].values: Forbidden: may not be specified when `operator` is 'Exists' or \
             'DoesNotExist'"
        );
        let err = expression("NotIn", &["ok", "bad value"])
            .to_selector()
            .unwrap_err();
        assert_eq!(err.field, "matchExpressions[1].values[1]");
        let mut bad_key = expression("In", &["x"]);
        bad_key.match_expressions[1].key = "bad key".into();
        assert_eq!(
            bad_key.to_selector().unwrap_err().field,
            "matchExpressions[1].key"
        );
        let bad_label = LabelSelector {
            match_labels: labels(&[("app", "no spaces")]),
            ..Default::default()
        };
        let err = bad_label.to_selector().unwrap_err();
        assert_eq!(err.field, "matchLabels[app]");
        assert!(
            err.message.starts_with("Invalid value: \"no spaces\""),
            "{err}"
        );
    }

    #[test]
    fn invalid_label_selector_matches_nothing() {
        assert!(!expression("Bogus", &[]).matches_labels(&labels(&[("ok", "1"), ("k", "x")])));
    }

    #[test]
    fn requirement_new_checks_value_counts() {
        assert!(Requirement::new("a", Operator::Equals, vec![]).is_err());
        assert!(Requirement::new("a", Operator::NotEquals, vec!["x".into(), "y".into()]).is_err());
        assert!(Requirement::new("a", Operator::NotIn, vec![]).is_err());
        assert!(Requirement::new("a", Operator::DoesNotExist, vec!["x".into()]).is_err());
        let r =
            Requirement::new("a", Operator::In, vec!["y".into(), "x".into(), "y".into()]).unwrap();
        assert_eq!(r.values(), ["x", "y"]);
        assert_eq!(r.to_string(), "a in (x,y)");
    }

    #[test]
    fn selector_serializes_as_its_string_form() {
        let selector = sel("b=2,a");
        assert_eq!(serde_json::to_string(&selector).unwrap(), "\"a,b=2\"");
        let back: Selector = serde_json::from_str("\"a, b==2\"").unwrap();
        assert_eq!(back, selector);
        assert!(serde_json::from_str::<Selector>("\"a in\"")
            .unwrap_err()
            .to_string()
            .contains("\"a in\""));
    }

    fn key() -> impl Strategy<Value = String> {
        prop_oneof![
            "[a-z]",
            "[a-zA-Z0-9][-a-zA-Z0-9_.]{0,10}[a-zA-Z0-9]",
            "[a-z0-9]{1,5}(\\.[a-z0-9]{1,5}){0,2}/[A-Za-z0-9][-A-Za-z0-9_.]{0,5}[A-Za-z0-9]",
            Just("in".to_owned()),
        ]
    }

    fn value() -> impl Strategy<Value = String> {
        prop_oneof![
            Just(String::new()),
            "[A-Za-z0-9]",
            "[A-Za-z0-9][-A-Za-z0-9_.]{0,10}[A-Za-z0-9]"
        ]
    }

    fn requirement() -> impl Strategy<Value = Requirement> {
        (key(), 0..6usize, prop::collection::vec(value(), 1..4)).prop_map(|(key, op, values)| {
            let op = [
                Operator::Equals,
                Operator::NotEquals,
                Operator::In,
                Operator::NotIn,
                Operator::Exists,
                Operator::DoesNotExist,
            ][op];
            let values = match op {
                Operator::Equals | Operator::NotEquals => values[..1].to_vec(),
                Operator::In | Operator::NotIn => values,
                Operator::Exists | Operator::DoesNotExist => vec![],
            };
            Requirement::new(key, op, values).unwrap()
        })
    }

    proptest! {
        #[test]
        fn parse_of_display_round_trips(requirements in prop::collection::vec(requirement(), 0..6)) {
            let selector = Selector::new(requirements);
            let text = selector.to_string();
            prop_assert_eq!(Selector::parse(&text).unwrap(), selector, "{}", text);
        }

        #[test]
        fn compiled_label_selector_agrees_with_its_string_form(
            match_labels in prop::collection::btree_map(key(), value(), 0..3),
            labels in prop::collection::btree_map(key(), value(), 0..4),
        ) {
            let ls = LabelSelector { match_labels: match_labels.into(), ..Default::default() };
            let selector = ls.to_selector().unwrap();
            prop_assert_eq!(Selector::parse(&selector.to_string()).unwrap().matches(&labels), selector.matches(&labels));
            prop_assert_eq!(ls.matches_labels(&labels), ls.match_labels.iter().all(|(k, v)| labels.get(k) == Some(v)));
        }

        #[test]
        fn parser_never_panics(s in "[a-z!=(), <>in]{0,20}") {
            let _ = Selector::parse(&s);
        }
    }
}
