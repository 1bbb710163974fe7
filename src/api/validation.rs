//! Name and label validation, as Kubernetes does it (DNS-1123, qualified names).
//!
//! The string checks return `Err(message)` worded as Kubernetes words it (several problems
//! are joined with `"; "`); [`validate_meta`] turns them into [`FieldError`]s such as
//! `metadata.name: Invalid value: "Foo_bar": a lowercase RFC 1123 subdomain must consist of
//! ...`.
//!
//! The field checks the built-in kinds share (`required`, `check_min`, `check_enum`, port
//! numbers and names, int-or-percent values) live here too, so each message has one wording.

use super::core::IntOrString;
use super::meta::ObjectMeta;
use crate::error::FieldError;

/// Maximum length of a DNS-1123 label (namespace names, label-key names, label values).
pub const DNS1123_LABEL_MAX_LEN: usize = 63;
/// Maximum length of a DNS-1123 subdomain (object names, key prefixes).
pub const DNS1123_SUBDOMAIN_MAX_LEN: usize = 253;
/// Maximum length of the name part of a qualified name.
pub const QUALIFIED_NAME_MAX_LEN: usize = 63;
/// Maximum length of a label value.
pub const LABEL_VALUE_MAX_LEN: usize = 63;
/// Maximum total size of an object's annotations, keys plus values, in bytes (256 KiB).
pub const TOTAL_ANNOTATION_SIZE_LIMIT: usize = 256 * 1024;

const DNS1123_LABEL_MSG: &str =
    "a lowercase RFC 1123 label must consist of lower case alphanumeric \
    characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name', or \
    '123-abc')";
const DNS1123_SUBDOMAIN_MSG: &str = "a lowercase RFC 1123 subdomain must consist of lower case \
    alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character \
    (e.g. 'example.com')";
const QUALIFIED_NAME_MSG: &str = "must consist of alphanumeric characters, '-', '_' or '.', and \
    must start and end with an alphanumeric character (e.g. 'MyName', 'my.name', or '123-abc')";
const LABEL_VALUE_MSG: &str = "a valid label must be an empty string or consist of alphanumeric \
    characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. \
    'MyValue', 'my_value', or '12345')";

fn max_len_msg(max: usize) -> String {
    format!("must be no more than {max} characters")
}

/// `[a-z0-9]([-a-z0-9]*[a-z0-9])?`
fn is_dns1123_label_syntax(s: &str) -> bool {
    let b = s.as_bytes();
    let alnum = |c: &u8| c.is_ascii_lowercase() || c.is_ascii_digit();
    b.first().is_some_and(alnum)
        && b.last().is_some_and(alnum)
        && b.iter().all(|c| alnum(c) || *c == b'-')
}

/// `([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]`
fn is_qualified_name_syntax(s: &str) -> bool {
    let b = s.as_bytes();
    b.first().is_some_and(u8::is_ascii_alphanumeric)
        && b.last().is_some_and(u8::is_ascii_alphanumeric)
        && b.iter()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'_' | b'.'))
}

fn join(errors: Vec<String>) -> Result<(), String> {
    if errors.is_empty() {
        Ok(())
    } else {
        Err(errors.join("; "))
    }
}

/// Checks a DNS-1123 label (namespace names): at most 63 characters matching
/// `[a-z0-9]([-a-z0-9]*[a-z0-9])?`.
pub fn dns1123_label(value: &str) -> Result<(), String> {
    let mut errors = Vec::new();
    if value.len() > DNS1123_LABEL_MAX_LEN {
        errors.push(max_len_msg(DNS1123_LABEL_MAX_LEN));
    }
    if !is_dns1123_label_syntax(value) {
        errors.push(DNS1123_LABEL_MSG.to_owned());
    }
    join(errors)
}

/// Checks a DNS-1123 subdomain (object names): at most 253 characters, dot-separated
/// DNS-1123 labels.
pub fn dns1123_subdomain(value: &str) -> Result<(), String> {
    let mut errors = Vec::new();
    if value.len() > DNS1123_SUBDOMAIN_MAX_LEN {
        errors.push(max_len_msg(DNS1123_SUBDOMAIN_MAX_LEN));
    }
    if !value.split('.').all(is_dns1123_label_syntax) {
        errors.push(DNS1123_SUBDOMAIN_MSG.to_owned());
    }
    join(errors)
}

/// Checks a qualified name (label and annotation keys, finalizers): an optional DNS-1123
/// subdomain prefix and `/`, then a name of at most 63 characters matching
/// `([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]`.
pub fn qualified_name(value: &str) -> Result<(), String> {
    let mut errors = Vec::new();
    let mut parts = value.split('/');
    let (prefix, name) = match (parts.next(), parts.next(), parts.next()) {
        (Some(name), None, _) => (None, name),
        (Some(prefix), Some(name), None) => (Some(prefix), name),
        _ => {
            return Err(format!(
                "a qualified name {QUALIFIED_NAME_MSG} with an optional DNS subdomain prefix and \
                 '/' (e.g. 'example.com/MyName')"
            ))
        }
    };
    match prefix {
        Some("") => errors.push("prefix part must be non-empty".to_owned()),
        Some(prefix) => {
            if let Err(msg) = dns1123_subdomain(prefix) {
                errors.extend(msg.split("; ").map(|m| format!("prefix part {m}")));
            }
        }
        None => {}
    }
    if name.is_empty() {
        errors.push("name part must be non-empty".to_owned());
    } else if name.len() > QUALIFIED_NAME_MAX_LEN {
        errors.push(format!("name part {}", max_len_msg(QUALIFIED_NAME_MAX_LEN)));
    }
    if !is_qualified_name_syntax(name) {
        errors.push(format!("name part {QUALIFIED_NAME_MSG}"));
    }
    join(errors)
}

/// Checks a label value: empty, or at most 63 characters matching
/// `([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]`.
pub fn label_value(value: &str) -> Result<(), String> {
    let mut errors = Vec::new();
    if value.len() > LABEL_VALUE_MAX_LEN {
        errors.push(max_len_msg(LABEL_VALUE_MAX_LEN));
    }
    if !value.is_empty() && !is_qualified_name_syntax(value) {
        errors.push(LABEL_VALUE_MSG.to_owned());
    }
    join(errors)
}

/// `field: Invalid value: "value": message`, as Kubernetes' `field.Invalid`.
pub(crate) fn invalid(field: impl Into<String>, value: &str, message: &str) -> FieldError {
    FieldError::new(field, format!("Invalid value: {value:?}: {message}"))
}

/// `field: Required value: message`, as Kubernetes' `field.Required`.
pub(crate) fn required(field: impl Into<String>, message: &str) -> FieldError {
    if message.is_empty() {
        FieldError::new(field, "Required value")
    } else {
        FieldError::new(field, format!("Required value: {message}"))
    }
}

/// `field: Forbidden: message`, as Kubernetes' `field.Forbidden`.
pub(crate) fn forbidden(field: impl Into<String>, message: &str) -> FieldError {
    FieldError::new(field, format!("Forbidden: {message}"))
}

/// True for a DNS-1123 label (the rule is [`dns1123_label`]'s).
pub(crate) fn is_dns1123_label(s: &str) -> bool {
    dns1123_label(s).is_ok()
}

/// `Invalid value: "s": ...` for a value that is not a DNS-1123 label, worded as
/// [`dns1123_label`] words it (the message of a [`FieldError`] on a container, volume or
/// host name).
pub(crate) fn dns_label_message(s: &str) -> String {
    let why = dns1123_label(s).err().unwrap_or_default();
    format!("Invalid value: {s:?}: {why}")
}

/// True for an IANA service name (a port name): at most 15 lower-case alphanumerics and `-`,
/// at least one letter, no leading, trailing or double `-`.
pub(crate) fn is_port_name(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 15
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && s.bytes().any(|b| b.is_ascii_lowercase())
        && !s.starts_with('-')
        && !s.ends_with('-')
        && !s.contains("--")
}

/// `Invalid value: "s": ...` for a value that is not a port name ([`is_port_name`]).
pub(crate) fn port_name_message(s: &str) -> String {
    format!(
        "Invalid value: {s:?}: a port name must be at most 15 lower case alphanumeric \
         characters or '-', with at least one letter, not starting or ending with '-'"
    )
}

/// An integer at least `min`.
pub(crate) fn check_min(errors: &mut Vec<FieldError>, path: impl Into<String>, v: i64, min: i64) {
    if v < min {
        errors.push(FieldError::new(
            path,
            format!("Invalid value: {v}: must be greater than or equal to {min}"),
        ));
    }
}

/// One of the `allowed` values (Kubernetes' `field.NotSupported`).
pub(crate) fn check_enum(
    errors: &mut Vec<FieldError>,
    path: impl Into<String>,
    v: &str,
    allowed: &[&str],
) {
    if !allowed.contains(&v) {
        let list: Vec<String> = allowed.iter().map(|a| format!("{a:?}")).collect();
        errors.push(FieldError::new(
            path,
            format!(
                "Unsupported value: {v:?}: supported values: {}",
                list.join(", ")
            ),
        ));
    }
}

/// A port number: 1 to 65535.
pub(crate) fn check_port_number(errors: &mut Vec<FieldError>, path: impl Into<String>, port: i32) {
    if !(1..=65535).contains(&port) {
        errors.push(FieldError::new(
            path,
            format!("Invalid value: {port}: must be between 1 and 65535, inclusive"),
        ));
    }
}

/// A port given as a number (1..65535) or a port name.
pub(crate) fn check_port(errors: &mut Vec<FieldError>, path: String, port: &IntOrString) {
    match port {
        IntOrString::Int(p) => check_port_number(errors, path, *p),
        IntOrString::String(s) if !is_port_name(s) => {
            errors.push(FieldError::new(path, port_name_message(s)))
        }
        IntOrString::String(_) => {}
    }
}

/// An integer >= 0 or a percentage `"<integer>%"` >= 0% (rollingUpdate's maxSurge and
/// maxUnavailable). With `max_100`, a percentage must be at most 100%.
pub(crate) fn check_int_or_percent(
    errors: &mut Vec<FieldError>,
    path: impl Into<String>,
    v: &IntOrString,
    max_100: bool,
) {
    let path = path.into();
    match v {
        IntOrString::Int(i) => check_min(errors, path, i64::from(*i), 0),
        IntOrString::String(s) => match v.percent() {
            None => errors.push(FieldError::new(
                path,
                format!(
                    "Invalid value: {s:?}: a valid percent string must be a numeric string \
                     followed by an ending '%'"
                ),
            )),
            Some(p) if p < 0 => errors.push(FieldError::new(
                path,
                format!("Invalid value: {s:?}: must be greater than or equal to 0"),
            )),
            Some(p) if max_100 && p > 100 => errors.push(FieldError::new(
                path,
                format!("Invalid value: {s:?}: must not be greater than 100%"),
            )),
            Some(_) => {}
        },
    }
}

/// True when an int-or-percent resolves to zero (`0` or `"0%"`).
pub(crate) fn is_zero_int_or_percent(v: &IntOrString) -> bool {
    match v {
        IntOrString::Int(i) => *i == 0,
        IntOrString::String(_) => v.percent() == Some(0),
    }
}

/// Checks `metadata` the way Kubernetes' `ValidateObjectMeta` does, returning every problem.
///
/// - `metadata.name`: a DNS-1123 subdomain; may be empty only when `generateName` is set,
///   whose value must be a valid name prefix (a trailing `-` is allowed).
/// - `metadata.namespace`: a DNS-1123 label for namespaced kinds (absent or empty is
///   accepted: it is defaulted later); absent or empty for cluster-scoped kinds.
/// - `metadata.labels[KEY]`: qualified-name keys and label values.
/// - `metadata.annotations[KEY]`: qualified-name keys (checked lower-cased, as Kubernetes
///   does); all keys and values together at most 256 KiB.
/// - `metadata.finalizers[i]`: qualified names.
/// - `metadata.ownerReferences[i]`: non-empty `apiVersion`, `kind`, `name` and `uid`; at most
///   one reference with `controller: true`.
pub fn validate_meta(meta: &ObjectMeta, namespaced: bool) -> Vec<FieldError> {
    let mut errors = Vec::new();

    let generate_name = meta.generate_name.as_deref().unwrap_or("");
    if !generate_name.is_empty() {
        // A prefix may end in '-': the generated suffix follows it.
        let masked = match generate_name.strip_suffix('-') {
            Some(rest) if !rest.is_empty() => format!("{rest}a"),
            _ => generate_name.to_owned(),
        };
        if let Err(msg) = dns1123_subdomain(&masked) {
            errors.push(invalid("metadata.generateName", generate_name, &msg));
        }
    }
    if meta.name.is_empty() {
        if generate_name.is_empty() {
            errors.push(required(
                "metadata.name",
                "name or generateName is required",
            ));
        }
    } else if let Err(msg) = dns1123_subdomain(&meta.name) {
        errors.push(invalid("metadata.name", &meta.name, &msg));
    }

    let namespace = meta.namespace_str();
    if !namespace.is_empty() {
        if !namespaced {
            errors.push(forbidden("metadata.namespace", "not allowed on this type"));
        } else if let Err(msg) = dns1123_label(namespace) {
            errors.push(invalid("metadata.namespace", namespace, &msg));
        }
    }

    // Field paths are formatted only for errors: validation runs on every write.
    for (key, value) in &meta.labels {
        if let Err(msg) = qualified_name(key) {
            errors.push(invalid(format!("metadata.labels[{key}]"), key, &msg));
        }
        if let Err(msg) = label_value(value) {
            errors.push(invalid(format!("metadata.labels[{key}]"), value, &msg));
        }
    }

    let mut annotation_bytes = 0usize;
    for (key, value) in &meta.annotations {
        let lowered = if key.bytes().any(|b| b.is_ascii_uppercase()) {
            std::borrow::Cow::Owned(key.to_lowercase())
        } else {
            std::borrow::Cow::Borrowed(key.as_str())
        };
        if let Err(msg) = qualified_name(&lowered) {
            errors.push(invalid(format!("metadata.annotations[{key}]"), key, &msg));
        }
        annotation_bytes += key.len() + value.len();
    }
    if annotation_bytes > TOTAL_ANNOTATION_SIZE_LIMIT {
        errors.push(FieldError::new(
            "metadata.annotations",
            format!("Too long: must have at most {TOTAL_ANNOTATION_SIZE_LIMIT} bytes"),
        ));
    }

    for (i, finalizer) in meta.finalizers.iter().enumerate() {
        if let Err(msg) = qualified_name(finalizer) {
            errors.push(invalid(
                format!("metadata.finalizers[{i}]"),
                finalizer,
                &msg,
            ));
        }
    }

    let mut controllers = Vec::new();
    for (i, owner) in meta.owner_references.iter().enumerate() {
        let path = || format!("metadata.ownerReferences[{i}]");
        // `group/version` or `version`: the version part must not be empty.
        let version = owner.api_version.rsplit('/').next().unwrap_or("");
        if version.is_empty() {
            errors.push(invalid(
                format!("{}.apiVersion", path()),
                &owner.api_version,
                "version must not be empty",
            ));
        }
        for (field, value) in [
            ("kind", &owner.kind),
            ("name", &owner.name),
            ("uid", &owner.uid),
        ] {
            if value.is_empty() {
                errors.push(invalid(
                    format!("{}.{field}", path()),
                    value,
                    "must not be empty",
                ));
            }
        }
        if owner.controller == Some(true) {
            controllers.push(format!("{}/{}", owner.kind, owner.name));
        }
    }
    if controllers.len() > 1 {
        errors.push(FieldError::new(
            "metadata.ownerReferences",
            format!(
                "Invalid value: only one reference can have Controller set to true, found \"true\" \
                 in references for {}",
                controllers.join(" and ")
            ),
        ));
    }

    errors
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::meta::OwnerReference;

    fn meta(name: &str) -> ObjectMeta {
        ObjectMeta {
            name: name.to_owned(),
            ..Default::default()
        }
    }

    fn fields(errors: &[FieldError]) -> Vec<&str> {
        errors.iter().map(|e| e.field.as_str()).collect()
    }

    #[test]
    fn dns1123_label_accepts_lowercase_alphanumerics_and_inner_dashes() {
        for ok in ["a", "my-name", "123-abc", "0", &"a".repeat(63)] {
            assert_eq!(dns1123_label(ok), Ok(()), "{ok}");
        }
    }

    #[test]
    fn dns1123_label_rejects_bad_characters_edges_and_length() {
        for bad in ["", "-a", "a-", "A", "a.b", "a_b", "ä", "a b"] {
            let msg = dns1123_label(bad).unwrap_err();
            assert!(
                msg.starts_with("a lowercase RFC 1123 label must consist of"),
                "{bad}: {msg}"
            );
        }
        assert_eq!(
            dns1123_label(&"a".repeat(64)),
            Err("must be no more than 63 characters".to_owned())
        );
    }

    #[test]
    fn dns1123_subdomain_accepts_dotted_labels() {
        for ok in ["example.com", "a", "a.b.c", "1-2.3-4", &"a".repeat(253)] {
            assert_eq!(dns1123_subdomain(ok), Ok(()), "{ok}");
        }
    }

    #[test]
    fn dns1123_subdomain_rejects_empty_labels_and_uppercase() {
        for bad in ["", ".a", "a.", "a..b", "Foo_bar", "a.-b", "a/b"] {
            let msg = dns1123_subdomain(bad).unwrap_err();
            assert!(
                msg.starts_with("a lowercase RFC 1123 subdomain"),
                "{bad}: {msg}"
            );
        }
        assert_eq!(
            dns1123_subdomain(&"a".repeat(254)),
            Err("must be no more than 253 characters".to_owned())
        );
    }

    #[test]
    fn qualified_name_accepts_prefixed_and_plain_names() {
        for ok in [
            "app",
            "MyName",
            "my.name",
            "my_name",
            "123-abc",
            "example.com/MyName",
            "a/b",
            &"x".repeat(63),
        ] {
            assert_eq!(qualified_name(ok), Ok(()), "{ok}");
        }
    }

    #[test]
    fn qualified_name_rejects_bad_parts_with_kubernetes_wording() {
        assert_eq!(
            qualified_name("/a"),
            Err("prefix part must be non-empty".to_owned())
        );
        assert!(qualified_name("Example.com/a")
            .unwrap_err()
            .starts_with("prefix part a lowercase RFC 1123 subdomain"));
        assert!(qualified_name("a/")
            .unwrap_err()
            .starts_with("name part must be non-empty; name part must consist"));
        assert!(qualified_name("-a")
            .unwrap_err()
            .starts_with("name part must consist of alphanumeric"));
        assert!(qualified_name("a/b/c")
            .unwrap_err()
            .starts_with("a qualified name must consist"));
        assert_eq!(
            qualified_name(&"x".repeat(64)),
            Err("name part must be no more than 63 characters".to_owned())
        );
        assert!(qualified_name("").is_err());
    }

    #[test]
    fn label_value_allows_empty_and_rejects_bad_edges() {
        for ok in ["", "v1", "my_value", "A.b-C", &"z".repeat(63)] {
            assert_eq!(label_value(ok), Ok(()), "{ok}");
        }
        for bad in ["-a", "a-", "a b", "a/b", "é"] {
            assert!(
                label_value(bad)
                    .unwrap_err()
                    .starts_with("a valid label must be an empty string"),
                "{bad}"
            );
        }
        assert_eq!(
            label_value(&"z".repeat(64)),
            Err("must be no more than 63 characters".to_owned())
        );
    }

    #[test]
    fn valid_meta_has_no_errors() {
        let mut m = meta("web-1.example");
        m.namespace = Some("default".into());
        m.labels
            .insert("app.kubernetes.io/name".into(), "web".into());
        m.labels.insert("tier".into(), "".into());
        m.annotations
            .insert("Example.com/Note".into(), "anything goes here!".into());
        m.finalizers.push("example.com/cleanup".into());
        m.owner_references.push(OwnerReference {
            api_version: "apps/v1".into(),
            kind: "ReplicaSet".into(),
            name: "web".into(),
            uid: "1234".into(),
            controller: Some(true),
            block_owner_deletion: None,
        });
        assert_eq!(validate_meta(&m, true), vec![]);
    }

    #[test]
    fn bad_name_reads_like_kubernetes() {
        let errors = validate_meta(&meta("Foo_bar"), false);
        assert_eq!(errors.len(), 1);
        assert_eq!(
            errors[0].to_string(),
            "metadata.name: Invalid value: \"Foo_bar\": a lowercase RFC 1123 subdomain must consist of \
             lower case alphanumeric characters, '-' or '.', and must start and end with an \
             alphanumeric character (e.g. 'example.com')"
        );
    }

    #[test]
    fn empty_name_requires_generate_name() {
        let errors = validate_meta(&meta(""), false);
        assert_eq!(
            errors[0].to_string(),
            "metadata.name: Required value: name or generateName is required"
        );
        let mut m = meta("");
        m.generate_name = Some("web-".into());
        assert_eq!(validate_meta(&m, false), vec![]);
    }

    #[test]
    fn generate_name_prefix_is_validated() {
        let mut m = meta("");
        m.generate_name = Some("Web-".into());
        assert_eq!(fields(&validate_meta(&m, false)), ["metadata.generateName"]);
        m.generate_name = Some("-".into());
        assert_eq!(fields(&validate_meta(&m, false)), ["metadata.generateName"]);
    }

    #[test]
    fn namespace_must_be_a_label_when_namespaced() {
        let mut m = meta("a");
        m.namespace = Some("my.ns".into());
        let errors = validate_meta(&m, true);
        assert_eq!(fields(&errors), ["metadata.namespace"]);
        assert!(errors[0]
            .message
            .starts_with("Invalid value: \"my.ns\": a lowercase RFC 1123 label"));
        m.namespace = None;
        assert_eq!(validate_meta(&m, true), vec![]);
    }

    #[test]
    fn namespace_is_forbidden_when_cluster_scoped() {
        let mut m = meta("node-1");
        m.namespace = Some("default".into());
        let errors = validate_meta(&m, false);
        assert_eq!(
            errors[0].to_string(),
            "metadata.namespace: Forbidden: not allowed on this type"
        );
        m.namespace = Some(String::new());
        assert_eq!(validate_meta(&m, false), vec![]);
    }

    #[test]
    fn label_errors_name_the_key() {
        let mut m = meta("a");
        m.labels.insert("bad key".into(), "ok".into());
        m.labels.insert("app".into(), "bad value".into());
        let errors = validate_meta(&m, false);
        assert_eq!(
            fields(&errors),
            ["metadata.labels[app]", "metadata.labels[bad key]"]
        );
        assert!(errors[0]
            .message
            .starts_with("Invalid value: \"bad value\": a valid label"));
        assert!(errors[1]
            .message
            .starts_with("Invalid value: \"bad key\": name part must consist"));
    }

    #[test]
    fn annotation_keys_are_checked_case_insensitively() {
        let mut m = meta("a");
        m.annotations
            .insert("Example.COM/Key".into(), String::new());
        m.annotations
            .insert("no spaces/allowed".into(), String::new());
        assert_eq!(
            fields(&validate_meta(&m, false)),
            ["metadata.annotations[no spaces/allowed]"]
        );
    }

    #[test]
    fn annotations_are_limited_to_256_kib_in_total() {
        let mut m = meta("a");
        m.annotations
            .insert("a".into(), "x".repeat(TOTAL_ANNOTATION_SIZE_LIMIT - 1));
        assert_eq!(validate_meta(&m, false), vec![]);
        m.annotations.insert("b".into(), String::new());
        let errors = validate_meta(&m, false);
        assert_eq!(
            errors[0].to_string(),
            "metadata.annotations: Too long: must have at most 262144 bytes"
        );
    }

    #[test]
    fn finalizers_must_be_qualified_names() {
        let mut m = meta("a");
        m.finalizers = vec!["kubernetes".into(), "example.com/x y".into()];
        assert_eq!(
            fields(&validate_meta(&m, false)),
            ["metadata.finalizers[1]"]
        );
    }

    #[test]
    fn owner_references_need_every_identifying_field() {
        let mut m = meta("a");
        m.owner_references.push(OwnerReference {
            api_version: "v1".into(),
            ..Default::default()
        });
        m.owner_references.push(OwnerReference {
            api_version: "apps/".into(),
            kind: "K".into(),
            name: "n".into(),
            uid: "u".into(),
            ..Default::default()
        });
        let errors = validate_meta(&m, false);
        assert_eq!(
            fields(&errors),
            [
                "metadata.ownerReferences[0].kind",
                "metadata.ownerReferences[0].name",
                "metadata.ownerReferences[0].uid",
                "metadata.ownerReferences[1].apiVersion",
            ]
        );
        assert_eq!(
            errors[2].to_string(),
            "metadata.ownerReferences[0].uid: Invalid value: \"\": must not be empty"
        );
    }

    #[test]
    fn only_one_owner_may_be_the_controller() {
        let mut m = meta("a");
        for name in ["x", "y"] {
            m.owner_references.push(OwnerReference {
                api_version: "v1".into(),
                kind: "K".into(),
                name: name.into(),
                uid: name.into(),
                controller: Some(true),
                block_owner_deletion: None,
            });
        }
        let errors = validate_meta(&m, false);
        assert_eq!(fields(&errors), ["metadata.ownerReferences"]);
        assert!(
            errors[0].message.contains("K/x and K/y"),
            "{}",
            errors[0].message
        );
    }
}
