//! Template hashes: the `pod-template-hash` label of a Deployment's ReplicaSets and pods, and
//! the revision names of other controllers' templates.
//!
//! As in Kubernetes, the hash is a 32-bit FNV-1a over a canonical encoding of the template
//! (here its compact JSON, whose key order is fixed by the typed structs and the sorted label
//! maps), extended with a collision count when one is given, printed in decimal and each digit
//! mapped into the alphabet of generated names (no vowels, no look-alikes). The same template
//! always gives the same hash, in every process and every version of steady that encodes it the
//! same way; it is not Kubernetes' exact value (Kubernetes hashes Go's printed form).

use crate::api::PodTemplateSpec;
use serde::Serialize;

/// Label that ties a Deployment's ReplicaSet and its pods to one pod template.
pub const POD_TEMPLATE_HASH_LABEL: &str = "pod-template-hash";

/// The alphabet of generated names (Kubernetes' `SafeEncodeString`).
const SAFE_ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";

const FNV_OFFSET: u32 = 0x811c_9dc5;
const FNV_PRIME: u32 = 0x0100_0193;

fn fnv1a(mut h: u32, bytes: &[u8]) -> u32 {
    for b in bytes {
        h ^= u32::from(*b);
        h = h.wrapping_mul(FNV_PRIME);
    }
    h
}

/// Maps each byte into the safe alphabet (Kubernetes' `rand.SafeEncodeString`).
fn safe_encode(s: &str) -> String {
    s.bytes()
        .map(|b| SAFE_ALPHABET[usize::from(b) % SAFE_ALPHABET.len()] as char)
        .collect()
}

/// The stable hash of any serializable value, with an optional collision count (bumped by a
/// controller when a name made from the hash is taken by an object with another template).
///
/// ```
/// use steady::controllers::hash::hash_of;
/// assert_eq!(hash_of(&"a", None), hash_of(&"a", None));
/// assert_ne!(hash_of(&"a", None), hash_of(&"a", Some(1)));
/// ```
pub fn hash_of<T: Serialize + ?Sized>(value: &T, collision_count: Option<i32>) -> String {
    // Serializing plain data to bytes cannot fail.
    let bytes = serde_json::to_vec(value).unwrap_or_default();
    let mut h = fnv1a(FNV_OFFSET, &bytes);
    if let Some(c) = collision_count {
        // Eight bytes, the count in the first four, little-endian (as Kubernetes writes it).
        let mut buf = [0u8; 8];
        buf[..4].copy_from_slice(&(c as u32).to_le_bytes());
        h = fnv1a(h, &buf);
    }
    safe_encode(&h.to_string())
}

/// The `pod-template-hash` of a pod template. The template's own `pod-template-hash` label is
/// ignored, so a ReplicaSet's template (which carries it) hashes like the Deployment template
/// it came from.
pub fn template_hash(template: &PodTemplateSpec, collision_count: Option<i32>) -> String {
    if template
        .metadata
        .labels
        .contains_key(POD_TEMPLATE_HASH_LABEL)
    {
        hash_of(&without_hash_label(template), collision_count)
    } else {
        hash_of(template, collision_count)
    }
}

/// `template` without its `pod-template-hash` label.
pub fn without_hash_label(template: &PodTemplateSpec) -> PodTemplateSpec {
    let mut t = template.clone();
    t.metadata.labels.remove(POD_TEMPLATE_HASH_LABEL);
    t
}

/// `template` with `pod-template-hash: hash` added to its labels.
pub fn with_hash_label(template: &PodTemplateSpec, hash: &str) -> PodTemplateSpec {
    let mut t = template.clone();
    t.metadata
        .labels
        .insert(POD_TEMPLATE_HASH_LABEL.to_string(), hash.to_string());
    t
}

/// True when two templates are equal once their `pod-template-hash` labels are ignored
/// (Kubernetes' `EqualIgnoreHash`): how a Deployment recognises the ReplicaSet of its
/// current template.
pub fn equal_ignoring_hash(a: &PodTemplateSpec, b: &PodTemplateSpec) -> bool {
    let labelled = |t: &PodTemplateSpec| t.metadata.labels.contains_key(POD_TEMPLATE_HASH_LABEL);
    match (labelled(a), labelled(b)) {
        (false, false) => a == b,
        (true, false) => without_hash_label(a) == *b,
        (false, true) => *a == without_hash_label(b),
        (true, true) => without_hash_label(a) == without_hash_label(b),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn template(image: &str) -> PodTemplateSpec {
        let mut t = PodTemplateSpec::default();
        t.metadata.labels.insert("app".into(), "web".into());
        t.spec.containers.push(crate::api::Container {
            name: "web".into(),
            image: Some(image.into()),
            ..Default::default()
        });
        t
    }

    #[test]
    fn the_hash_is_stable_and_safe() {
        let h = template_hash(&template("nginx:1"), None);
        assert_eq!(h, template_hash(&template("nginx:1"), None));
        assert!(!h.is_empty() && h.len() <= 10);
        assert!(h.bytes().all(|b| SAFE_ALPHABET.contains(&b)), "{h}");
        // A fixed value (FNV-1a of `"steady"` is 2462947843): the hash must not change
        // between builds or runs, or every Deployment would roll out again after an upgrade.
        assert_eq!(hash_of("steady", None), "68b6f8cd87");
    }

    #[test]
    fn different_templates_and_collision_counts_hash_differently() {
        let a = template_hash(&template("nginx:1"), None);
        assert_ne!(a, template_hash(&template("nginx:2"), None));
        assert_ne!(a, template_hash(&template("nginx:1"), Some(1)));
        assert_ne!(
            template_hash(&template("nginx:1"), Some(1)),
            template_hash(&template("nginx:1"), Some(2))
        );
    }

    #[test]
    fn the_hash_label_does_not_change_the_hash_or_equality() {
        let t = template("nginx:1");
        let h = template_hash(&t, None);
        let labelled = with_hash_label(&t, &h);
        assert_eq!(template_hash(&labelled, None), h);
        assert!(equal_ignoring_hash(&labelled, &t));
        assert!(equal_ignoring_hash(&t, &labelled));
        assert!(!equal_ignoring_hash(&labelled, &template("nginx:2")));
        assert_eq!(without_hash_label(&labelled), t);
    }
}
