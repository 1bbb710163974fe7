//! Errors as kube-apiserver returns them: a `Status` object with a reason and an HTTP code
//! (NotFound 404, AlreadyExists 409, Conflict 409, Invalid 422 with a cause per field,
//! Gone 410, Forbidden 403, Unauthorized 401, ...), so kubectl prints its usual messages.

use crate::error::{Error, ObjectRef};
use serde_json::{json, Value};

/// `(HTTP code, reason)` of an error.
pub fn code_of(e: &Error) -> (u16, &'static str) {
    match e.root() {
        Error::NotFound { .. } => (404, "NotFound"),
        Error::AlreadyExists { .. } => (409, "AlreadyExists"),
        Error::Conflict { .. } => (409, "Conflict"),
        Error::Invalid { .. } => (422, "Invalid"),
        Error::Parse { .. } => (400, "BadRequest"),
        Error::NoMatch { .. } => (404, "NotFound"),
        Error::TooLarge { .. } => (413, "RequestEntityTooLarge"),
        Error::Denied { .. } => (403, "Forbidden"),
        Error::Expired { .. } => (410, "Expired"),
        Error::Unavailable { .. } => (503, "ServiceUnavailable"),
        Error::Timeout | Error::TooNew { .. } => (504, "Timeout"),
        Error::Closed => (503, "ServiceUnavailable"),
        _ => (500, "InternalError"),
    }
}

/// A `Status` failure object with `code`, `reason` and `message`.
pub fn failure(code: u16, reason: &str, message: &str) -> Value {
    json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
           "message": message, "reason": reason, "code": code})
}

/// The `Status` of an error, as kube-apiserver words it for kubectl: the kind is named by its
/// plural (`pods "web" not found`), and an invalid object lists a cause per field.
pub fn of_error(e: &Error, plural: Option<&str>) -> (u16, Value) {
    // A write into a namespace that does not exist: kube-apiserver answers 404 about the
    // namespace (`namespaces "nope" not found`), which scripts test for, not 422.
    if let Error::Invalid { object, errors } = e.root() {
        if let ([only], Some(ns)) = (errors.as_slice(), object.namespace.as_deref()) {
            if only.field == "metadata.namespace"
                && only.message == crate::store::missing_namespace(ns)
            {
                let ns = ObjectRef::new("Namespace", None, ns);
                return of_error(&Error::NotFound { object: ns }, Some("namespaces"));
            }
        }
    }
    let (code, reason) = code_of(e);
    let resource = |o: &ObjectRef| {
        plural
            .map(str::to_string)
            .unwrap_or_else(|| format!("{}s", o.kind.to_ascii_lowercase()))
    };
    let (message, details) = match e.root() {
        Error::NotFound { object } => (
            format!("{} {:?} not found", resource(object), object.name),
            Some(json!({"name": object.name, "kind": resource(object)})),
        ),
        Error::AlreadyExists { object } => (
            format!("{} {:?} already exists", resource(object), object.name),
            Some(json!({"name": object.name, "kind": resource(object)})),
        ),
        Error::Conflict { object, message } => (
            format!(
                "Operation cannot be fulfilled on {} {:?}: {message}",
                resource(object),
                object.name
            ),
            Some(json!({"name": object.name, "kind": resource(object)})),
        ),
        Error::Invalid { object, errors } => (
            format!(
                "{} {:?} is invalid: {}",
                object.kind,
                object.name,
                errors
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            Some(json!({
                "name": object.name,
                "kind": object.kind,
                "causes": errors.iter().map(|f| json!({
                    "reason": "FieldValueInvalid", "message": f.message, "field": f.field
                })).collect::<Vec<_>>()
            })),
        ),
        // kube-apiserver's words, which client-go's reflector recognises.
        Error::TooNew { requested, current } => (
            format!("Too large resource version: {requested}, current: {current}"),
            Some(json!({
                "causes": [{"reason": "ResourceVersionTooLarge",
                            "message": "Too large resource version"}],
                "retryAfterSeconds": 1
            })),
        ),
        other => (other.to_string(), None),
    };
    let mut s = failure(code, reason, &message);
    if let Some(d) = details {
        s["details"] = d;
    }
    (code, s)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::FieldError;

    #[test]
    fn errors_have_kube_apiservers_codes_and_messages() {
        let nf = Error::NotFound {
            object: ObjectRef::new("Pod", Some("default"), "web"),
        };
        let (code, s) = of_error(&nf, Some("pods"));
        assert_eq!(code, 404);
        assert_eq!(s["message"], "pods \"web\" not found");
        assert_eq!(s["reason"], "NotFound");
        let inv = Error::Invalid {
            object: ObjectRef::new("Deployment", Some("default"), "web"),
            errors: vec![FieldError::new("spec.selector", "field is immutable")],
        };
        let (code, s) = of_error(&inv, None);
        assert_eq!(code, 422);
        assert_eq!(s["details"]["causes"][0]["field"], "spec.selector");
        assert_eq!(
            code_of(&Error::Expired {
                requested: 1,
                oldest: 5
            })
            .0,
            410
        );
    }

    #[test]
    fn a_write_into_a_missing_namespace_is_the_namespace_s_not_found() {
        let e = Error::invalid(
            ObjectRef::new("ConfigMap", Some("nope"), "x"),
            "metadata.namespace",
            "namespaces \"nope\" not found",
        );
        let (code, s) = of_error(&e, Some("configmaps"));
        assert_eq!(code, 404);
        assert_eq!(s["reason"], "NotFound");
        assert_eq!(s["message"], "namespaces \"nope\" not found");
    }
}
