//! How C and Python name a kind: one string.
//!
//! - `"Pod"`, `"Deployment"`: a bare kind names a built-in kind (any typed kind the engine
//!   has).
//! - `"example.com/v1/Widget"`, `"apps/v1/Deployment"`, `"v1/Pod"`: `apiVersion/Kind`, split
//!   at the last `/`, names any kind the engine serves: a built-in, or a custom kind
//!   registered by the `"kinds"` configuration or by a CustomResourceDefinition. A kind the
//!   engine does not serve is an error naming it (never a kind made up on first use), and so
//!   is a built-in named with another apiVersion than the one it is served as.
//!
//! The rule does not depend on what the engine holds: a custom kind is always named with its
//! apiVersion, so the same string works before and after its first object exists.

use super::result::FfiError;
use crate::client::DynamicApi;
use crate::Engine;

/// The dynamic API for the kind named by `spec`.
pub(crate) fn resolve(engine: &Engine, spec: &str) -> Result<DynamicApi, FfiError> {
    let (api_version, kind) = split(spec)?;
    let registry = engine.store().registry();
    match (api_version, registry.get(kind)) {
        (None, Some(info)) if !info.is_dynamic() => Ok(engine.dynamic(&info.api_version, kind)?),
        (None, _) => Err(FfiError::invalid(format!(
            "unknown kind {kind:?}: a bare kind names a built-in kind; name a custom kind with \
             its apiVersion, as \"example.com/v1/{kind}\""
        ))),
        (Some(av), Some(info)) if !info.is_dynamic() && info.api_version != av => {
            Err(FfiError::invalid(format!(
                "kind {spec:?}: {kind} is served as {:?}, not {av:?}",
                info.api_version
            )))
        }
        (Some(av), _) => Ok(engine.dynamic(av, kind)?),
    }
}

/// `(apiVersion, kind)` of a kind string, checked for shape only.
pub(crate) fn split(spec: &str) -> Result<(Option<&str>, &str), FfiError> {
    let bad = |why: &str| {
        FfiError::invalid(format!(
            "kind {spec:?}: {why}; expected \"Kind\" or \"apiVersion/Kind\""
        ))
    };
    let (api_version, kind) = match spec.rsplit_once('/') {
        Some((av, k)) => {
            if av.is_empty() {
                return Err(bad("the apiVersion is empty"));
            }
            (Some(av), k)
        }
        None => (None, spec),
    };
    if kind.is_empty() {
        return Err(bad("the kind is empty"));
    }
    if !kind.chars().all(|c| c.is_ascii_alphanumeric())
        || !kind.starts_with(|c: char| c.is_ascii_uppercase())
    {
        return Err(bad(
            "a kind is an alphanumeric name starting with a capital letter",
        ));
    }
    Ok((api_version, kind))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ffi::result::steady_result;

    #[test]
    fn bare_names_resolve_only_built_in_kinds() {
        let e = Engine::builder()
            .workers(1)
            .kind(crate::api::KindInfo::dynamic(
                "example.com/v1",
                "Widget",
                true,
            ))
            .build()
            .unwrap();
        assert_eq!(resolve(&e, "Pod").unwrap().info().api_version, "v1");
        assert_eq!(
            resolve(&e, "Deployment").unwrap().info().api_version,
            "apps/v1"
        );
        let err = resolve(&e, "Widget").unwrap_err();
        assert_eq!(err.code, steady_result::STEADY_INVALID);
        assert!(
            err.message.contains("\"example.com/v1/Widget\""),
            "{}",
            err.message
        );
        // A registered custom kind is still named with its apiVersion.
        resolve(&e, "example.com/v1/Widget").unwrap();
        assert!(resolve(&e, "Widget").is_err());
        // A kind the engine does not serve is refused, naming it.
        let err = resolve(&e, "example.com/v1/Gadget").unwrap_err();
        assert_eq!(err.code, steady_result::STEADY_INVALID);
        assert!(
            err.message
                .contains("no matches for kind \"Gadget\" in version \"example.com/v1\""),
            "{}",
            err.message
        );
    }

    #[test]
    fn api_version_and_kind_split_at_the_last_slash() {
        assert_eq!(
            split("apps/v1/Deployment").unwrap(),
            (Some("apps/v1"), "Deployment")
        );
        assert_eq!(split("v1/Pod").unwrap(), (Some("v1"), "Pod"));
        assert_eq!(split("Pod").unwrap(), (None, "Pod"));
        for bad in ["", "v1/", "/Pod", "pod", "v1/Po d", "apps/v1/"] {
            assert!(split(bad).is_err(), "{bad:?} should be refused");
        }
    }

    #[test]
    fn a_built_in_named_with_another_api_version_is_refused() {
        let e = Engine::builder().workers(1).build().unwrap();
        let err = resolve(&e, "apps/v2/Deployment").unwrap_err();
        assert_eq!(
            err.message,
            "kind \"apps/v2/Deployment\": Deployment is served as \"apps/v1\", not \"apps/v2\""
        );
        assert_eq!(
            resolve(&e, "apps/v1/Deployment").unwrap().info().kind,
            "Deployment"
        );
    }
}
