//! Name and label validation, as Kubernetes does it (DNS-1123, qualified names).

use super::{FieldError, ObjectMeta};

/// TEMPORARY stand-in.
pub fn validate_meta(meta: &ObjectMeta, namespaced: bool) -> Vec<FieldError> {
    let _ = (meta, namespaced);
    Vec::new()
}
