//! Pure merge algorithms on JSON values: RFC 7386 merge patches, the three-way merge of
//! `kubectl apply`, and detection of fields a typed struct did not keep.
//!
//! # Field paths
//!
//! [`unknown_fields`] names fields with paths like `spec.containers[0].image`: keys joined
//! with `.`, array indices in brackets. A key that is empty or has a character other than an
//! ASCII letter, digit, `_` or `-` is written as a JSON string in brackets, so
//! `metadata.labels["app.kubernetes.io/name"]` and `data["my key"]`; a key like that at the
//! top level starts the path (`["a.b"].c`). The same format is understood by
//! `Document::line_of` in the manifest parser.

use serde_json::{Map, Value};

/// Applies an RFC 7386 JSON merge patch to `target`.
///
/// If `patch` is an object, each of its members is applied to `target` (which becomes an
/// object first if it was not one): a `null` member removes the key, an object member is
/// merged recursively, and any other member replaces the value. A `patch` that is not an
/// object (including `null` and arrays) replaces `target` whole.
pub fn merge_patch(target: &mut Value, patch: &Value) {
    let Value::Object(patch) = patch else {
        *target = patch.clone();
        return;
    };
    if !target.is_object() {
        *target = Value::Object(Map::new());
    }
    let Value::Object(target) = target else {
        return;
    };
    for (key, value) in patch {
        if value.is_null() {
            target.remove(key);
        } else {
            merge_patch(target.entry(key.clone()).or_insert(Value::Null), value);
        }
    }
}

/// Computes the RFC 7386 merge patch that turns `from` into `to`, so that
/// `merge_patch(&mut from, &create_merge_patch(&from, &to))` makes `from` equal `to`.
///
/// Keys removed in `to` become `null`, changed objects are diffed recursively, and any other
/// change (arrays included: merge patches replace arrays whole) carries the new value. When
/// both are objects and equal, the patch is the empty object. When either is not an object, the
/// patch is `to` itself.
///
/// A merge patch cannot express a `null` *value* inside an object (`null` means "remove"):
/// if `to` holds such nulls, applying the patch leaves those keys absent instead.
#[must_use]
pub fn create_merge_patch(from: &Value, to: &Value) -> Value {
    match (from, to) {
        (Value::Object(from), Value::Object(to)) => Value::Object(diff_objects(from, to)),
        _ => to.clone(),
    }
}

fn diff_objects(from: &Map<String, Value>, to: &Map<String, Value>) -> Map<String, Value> {
    let mut patch = Map::new();
    for key in from.keys() {
        if !to.contains_key(key) {
            patch.insert(key.clone(), Value::Null);
        }
    }
    for (key, new) in to {
        match from.get(key) {
            Some(old) if old == new => {}
            Some(Value::Object(old)) => {
                if let Value::Object(new) = new {
                    patch.insert(key.clone(), Value::Object(diff_objects(old, new)));
                } else {
                    patch.insert(key.clone(), new.clone());
                }
            }
            _ => {
                patch.insert(key.clone(), new.clone());
            }
        }
    }
    patch
}

/// Computes what `kubectl apply` (client-side, with the last-applied configuration) makes of
/// `live`, and returns the new object: `live` with [`three_way_patch`] applied.
///
/// * Every field set in `desired` is set (objects recursively; arrays and scalars replaced
///   whole). A `null` in `desired` removes the field.
/// * Fields that were in `last_applied` but are no longer in `desired` are removed.
/// * Fields of `live` that neither `last_applied` nor `desired` mention are kept: `status`,
///   defaults filled in by the server, fields set by others.
///
/// `last_applied` is `None` for the first apply (nothing is removed then).
#[must_use]
pub fn three_way_merge(last_applied: Option<&Value>, desired: &Value, live: &Value) -> Value {
    let mut merged = live.clone();
    merge_patch(&mut merged, &three_way_patch(last_applied, desired, live));
    merged
}

/// Computes the merge patch that [`three_way_merge`] applies to `live`.
///
/// The patch sets the fields of `desired` that differ from `live`, and removes (`null`) the
/// fields of `live` that are in `last_applied` but not in `desired`, plus the fields `desired`
/// sets to `null`. It is minimal: it mentions nothing already as wanted, so when `live` is
/// already up to date it is the empty object (see [`is_noop_patch`]). If `desired` is not an
/// object the patch is `desired` itself; a `live` or `last_applied` that is not an object is
/// treated as absent.
#[must_use]
pub fn three_way_patch(last_applied: Option<&Value>, desired: &Value, live: &Value) -> Value {
    let Value::Object(desired) = desired else {
        return desired.clone();
    };
    let last = last_applied.and_then(Value::as_object);
    Value::Object(three_way_objects(last, desired, live.as_object()))
}

fn three_way_objects(
    last: Option<&Map<String, Value>>,
    desired: &Map<String, Value>,
    live: Option<&Map<String, Value>>,
) -> Map<String, Value> {
    let mut patch = Map::new();
    let live_has = |key: &str| live.is_some_and(|live| live.contains_key(key));
    if let Some(last) = last {
        for key in last.keys() {
            if !desired.contains_key(key) && live_has(key) {
                patch.insert(key.clone(), Value::Null);
            }
        }
    }
    for (key, want) in desired {
        let current = live.and_then(|live| live.get(key));
        match (want, current) {
            (Value::Null, Some(_)) => {
                patch.insert(key.clone(), Value::Null);
            }
            (Value::Null, None) => {}
            (Value::Object(want), Some(Value::Object(current))) => {
                let last = last
                    .and_then(|last| last.get(key))
                    .and_then(Value::as_object);
                let sub = three_way_objects(last, want, Some(current));
                if !sub.is_empty() {
                    patch.insert(key.clone(), Value::Object(sub));
                }
            }
            (want, Some(current)) if want == current => {}
            (want, _) => {
                patch.insert(key.clone(), want.clone());
            }
        }
    }
    patch
}

/// Whether applying the merge patch `p` changes nothing: `p` is the empty object.
#[must_use]
pub fn is_noop_patch(p: &Value) -> bool {
    p.as_object().is_some_and(Map::is_empty)
}

/// Lists the fields present in `input` but absent from `known`, as paths (see the
/// [module documentation](self) for the format), in the order they are met.
///
/// `known` is the same object after a round trip through a typed struct, which drops the
/// fields it does not model. Values in `input` that are "vacuous" are never reported, since
/// typed structs usually skip serializing them: `null`, empty arrays, and objects whose
/// members are all vacuous (`{}`, `{"a": null}`). Objects are compared key by key and arrays
/// element by element (by index); where the two disagree on the type of a value, nothing
/// below it is reported.
#[must_use]
pub fn unknown_fields(input: &Value, known: &Value) -> Vec<String> {
    let mut found = Vec::new();
    let mut path = String::new();
    walk_unknown(input, known, &mut path, &mut found);
    found
}

fn walk_unknown(input: &Value, known: &Value, path: &mut String, found: &mut Vec<String>) {
    match (input, known) {
        (Value::Object(input), Value::Object(known)) => {
            for (key, value) in input {
                if is_vacuous(value) {
                    continue;
                }
                let len = path.len();
                push_key(path, key);
                match known.get(key) {
                    Some(known) => walk_unknown(value, known, path, found),
                    None => found.push(path.clone()),
                }
                path.truncate(len);
            }
        }
        (Value::Array(input), Value::Array(known)) => {
            for (i, value) in input.iter().enumerate() {
                if is_vacuous(value) {
                    continue;
                }
                let len = path.len();
                path.push_str(&format!("[{i}]"));
                match known.get(i) {
                    Some(known) => walk_unknown(value, known, path, found),
                    None => found.push(path.clone()),
                }
                path.truncate(len);
            }
        }
        _ => {}
    }
}

/// `null`, `[]`, or an object whose members are all vacuous.
fn is_vacuous(value: &Value) -> bool {
    match value {
        Value::Null => true,
        Value::Array(items) => items.is_empty(),
        Value::Object(members) => members.values().all(is_vacuous),
        _ => false,
    }
}

/// Appends `key` to a field path: `.key`, or `["key"]` when it needs quoting.
fn push_key(path: &mut String, key: &str) {
    let plain = !key.is_empty()
        && key
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    if plain {
        if !path.is_empty() {
            path.push('.');
        }
        path.push_str(key);
    } else {
        path.push('[');
        path.push_str(&Value::from(key).to_string());
        path.push(']');
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn patched(target: Value, patch: Value) -> Value {
        let mut target = target;
        merge_patch(&mut target, &patch);
        target
    }

    #[test]
    fn merge_patch_follows_the_rfc_7386_examples() {
        // RFC 7386, appendix A.
        let cases = [
            (json!({"a": "b"}), json!({"a": "c"}), json!({"a": "c"})),
            (
                json!({"a": "b"}),
                json!({"b": "c"}),
                json!({"a": "b", "b": "c"}),
            ),
            (json!({"a": "b"}), json!({"a": null}), json!({})),
            (
                json!({"a": "b", "b": "c"}),
                json!({"a": null}),
                json!({"b": "c"}),
            ),
            (json!({"a": ["b"]}), json!({"a": "c"}), json!({"a": "c"})),
            (json!({"a": "c"}), json!({"a": ["b"]}), json!({"a": ["b"]})),
            (
                json!({"a": {"b": "c"}}),
                json!({"a": {"b": "d", "c": null}}),
                json!({"a": {"b": "d"}}),
            ),
            (
                json!({"a": [{"b": "c"}]}),
                json!({"a": [1]}),
                json!({"a": [1]}),
            ),
            (json!(["a", "b"]), json!(["c", "d"]), json!(["c", "d"])),
            (json!({"a": "b"}), json!(["c"]), json!(["c"])),
            (json!({"a": "foo"}), json!(null), json!(null)),
            (json!({"a": "foo"}), json!("bar"), json!("bar")),
            (
                json!({"e": null}),
                json!({"a": 1}),
                json!({"e": null, "a": 1}),
            ),
            (
                json!([1, 2]),
                json!({"a": "b", "c": null}),
                json!({"a": "b"}),
            ),
            (
                json!({}),
                json!({"a": {"bb": {"ccc": null}}}),
                json!({"a": {"bb": {}}}),
            ),
        ];
        for (target, patch, expected) in cases {
            assert_eq!(
                patched(target.clone(), patch.clone()),
                expected,
                "{target} + {patch}"
            );
        }
    }

    #[test]
    fn create_merge_patch_nulls_removed_keys_and_diffs_nested_objects() {
        let from = json!({"a": 1, "b": {"c": 2, "d": 3}, "e": [1, 2], "gone": true});
        let to = json!({"a": 1, "b": {"c": 2, "d": 4}, "e": [1], "new": "x"});
        let patch = create_merge_patch(&from, &to);
        assert_eq!(
            patch,
            json!({"b": {"d": 4}, "e": [1], "gone": null, "new": "x"})
        );
        assert_eq!(patched(from, patch), to);
    }

    #[test]
    fn create_merge_patch_of_equal_objects_is_empty() {
        let v = json!({"a": {"b": [1, {"c": 2}]}});
        assert!(is_noop_patch(&create_merge_patch(&v, &v)));
    }

    #[test]
    fn create_merge_patch_replaces_non_objects_whole() {
        assert_eq!(
            create_merge_patch(&json!([1]), &json!({"a": 1})),
            json!({"a": 1})
        );
        assert_eq!(create_merge_patch(&json!({"a": 1}), &json!(3)), json!(3));
        assert_eq!(
            create_merge_patch(&json!({"a": 1}), &json!({"a": {"b": 1}})),
            json!({"a": {"b": 1}})
        );
        assert_eq!(
            create_merge_patch(&json!({"a": {"b": 1}}), &json!({"a": "s"})),
            json!({"a": "s"})
        );
    }

    fn live_deployment() -> Value {
        json!({
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {
                "name": "web",
                "labels": {"app": "web", "old": "x", "added-by-someone": "y"},
                "uid": "1234",
                "resourceVersion": "7"
            },
            "spec": {
                "replicas": 3,
                "progressDeadlineSeconds": 600,
                "template": {
                    "metadata": {"labels": {"app": "web", "x": "1"}},
                    "spec": {"containers": [{"name": "nginx", "image": "nginx:1.26", "imagePullPolicy": "IfNotPresent"}]}
                }
            },
            "status": {"readyReplicas": 3}
        })
    }

    fn last_applied() -> Value {
        json!({
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": "web", "labels": {"app": "web", "old": "x"}},
            "spec": {
                "replicas": 3,
                "template": {
                    "metadata": {"labels": {"app": "web", "x": "1"}},
                    "spec": {"containers": [{"name": "nginx", "image": "nginx:1.26"}]}
                }
            }
        })
    }

    fn desired() -> Value {
        json!({
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": "web", "labels": {"app": "web"}},
            "spec": {
                "replicas": 3,
                "template": {
                    "metadata": {"labels": {"app": "web"}},
                    "spec": {"containers": [{"name": "nginx", "image": "nginx:1.27"}]}
                }
            }
        })
    }

    #[test]
    fn three_way_removes_a_label_that_was_last_applied() {
        let merged = three_way_merge(Some(&last_applied()), &desired(), &live_deployment());
        assert!(merged["metadata"]["labels"].get("old").is_none());
        assert_eq!(merged["metadata"]["labels"]["app"], json!("web"));
    }

    #[test]
    fn three_way_keeps_a_label_added_by_someone_else() {
        let merged = three_way_merge(Some(&last_applied()), &desired(), &live_deployment());
        assert_eq!(merged["metadata"]["labels"]["added-by-someone"], json!("y"));
    }

    #[test]
    fn three_way_keeps_status_and_server_filled_fields() {
        let merged = three_way_merge(Some(&last_applied()), &desired(), &live_deployment());
        assert_eq!(merged["status"], json!({"readyReplicas": 3}));
        assert_eq!(merged["metadata"]["uid"], json!("1234"));
        assert_eq!(merged["spec"]["progressDeadlineSeconds"], json!(600));
    }

    #[test]
    fn three_way_removes_nested_fields_dropped_from_desired() {
        let patch = three_way_patch(Some(&last_applied()), &desired(), &live_deployment());
        assert_eq!(
            patch["spec"]["template"]["metadata"]["labels"],
            json!({"x": null})
        );
        let merged = three_way_merge(Some(&last_applied()), &desired(), &live_deployment());
        assert_eq!(
            merged["spec"]["template"]["metadata"]["labels"],
            json!({"app": "web"})
        );
    }

    #[test]
    fn three_way_replaces_lists_whole() {
        let merged = three_way_merge(Some(&last_applied()), &desired(), &live_deployment());
        // The server-defaulted imagePullPolicy inside the list is gone: lists are replaced.
        assert_eq!(
            merged["spec"]["template"]["spec"]["containers"],
            json!([{"name": "nginx", "image": "nginx:1.27"}])
        );
    }

    #[test]
    fn three_way_patch_is_exactly_the_needed_changes() {
        let patch = three_way_patch(Some(&last_applied()), &desired(), &live_deployment());
        assert_eq!(
            patch,
            json!({
                "metadata": {"labels": {"old": null}},
                "spec": {"template": {
                    "metadata": {"labels": {"x": null}},
                    "spec": {"containers": [{"name": "nginx", "image": "nginx:1.27"}]}
                }}
            })
        );
    }

    #[test]
    fn applying_the_same_desired_twice_yields_an_empty_patch() {
        let first = three_way_merge(Some(&last_applied()), &desired(), &live_deployment());
        let again = three_way_patch(Some(&desired()), &desired(), &first);
        assert!(is_noop_patch(&again), "{again}");
        assert_eq!(three_way_merge(Some(&desired()), &desired(), &first), first);
    }

    #[test]
    fn first_apply_without_last_applied_removes_nothing() {
        let merged = three_way_merge(None, &desired(), &live_deployment());
        assert_eq!(merged["metadata"]["labels"]["old"], json!("x"));
        assert_eq!(
            merged["spec"]["template"]["spec"]["containers"][0]["image"],
            json!("nginx:1.27")
        );
    }

    #[test]
    fn three_way_creates_the_object_when_live_is_absent() {
        let desired = json!({"a": {"b": 1, "n": null}, "c": [1]});
        assert_eq!(
            three_way_merge(None, &desired, &Value::Null),
            json!({"a": {"b": 1}, "c": [1]})
        );
    }

    #[test]
    fn three_way_null_in_desired_removes_the_field() {
        let live = json!({"a": 1, "b": 2});
        let desired = json!({"a": null});
        assert_eq!(three_way_patch(None, &desired, &live), json!({"a": null}));
        assert_eq!(three_way_merge(None, &desired, &live), json!({"b": 2}));
    }

    #[test]
    fn three_way_removes_a_whole_subtree_dropped_from_desired() {
        let last = json!({"spec": {"a": 1}, "keep": 1});
        let live = json!({"spec": {"a": 1, "defaulted": 2}, "keep": 1});
        let desired = json!({"keep": 1});
        assert_eq!(
            three_way_merge(Some(&last), &desired, &live),
            json!({"keep": 1})
        );
    }

    #[test]
    fn three_way_does_not_remove_fields_already_gone() {
        let last = json!({"a": 1, "b": 2});
        let live = json!({"a": 1});
        let desired = json!({"a": 1});
        assert!(is_noop_patch(&three_way_patch(
            Some(&last),
            &desired,
            &live
        )));
    }

    #[test]
    fn three_way_replaces_a_scalar_with_an_object() {
        let live = json!({"a": "s"});
        let desired = json!({"a": {"b": 1}});
        assert_eq!(
            three_way_merge(None, &desired, &live),
            json!({"a": {"b": 1}})
        );
    }

    #[test]
    fn is_noop_patch_is_true_only_for_the_empty_object() {
        assert!(is_noop_patch(&json!({})));
        assert!(!is_noop_patch(&json!({"a": null})));
        assert!(!is_noop_patch(&json!(null)));
        assert!(!is_noop_patch(&json!([])));
    }

    #[test]
    fn unknown_fields_names_dropped_fields_with_paths() {
        let input = json!({
            "metadata": {"name": "a", "labels": {"app.kubernetes.io/name": "a"}},
            "spec": {
                "replicas": 1,
                "foo": "typo",
                "containers": [
                    {"name": "c", "image": "i"},
                    {"name": "d", "bar": {"x": 1}}
                ]
            }
        });
        let known = json!({
            "metadata": {"name": "a"},
            "spec": {
                "replicas": 1,
                "containers": [{"name": "c", "image": "i"}, {"name": "d"}]
            }
        });
        assert_eq!(
            unknown_fields(&input, &known),
            vec![
                "metadata.labels".to_owned(),
                "spec.containers[1].bar".to_owned(),
                "spec.foo".to_owned(),
            ]
        );
    }

    #[test]
    fn unknown_fields_quotes_keys_with_special_characters() {
        let input = json!({"metadata": {"labels": {"app.kubernetes.io/name": "a", "plain-key_1": "b"}}, "a b": 1, "": 2});
        let known = json!({"metadata": {"labels": {}}});
        assert_eq!(
            unknown_fields(&input, &known),
            vec![
                "[\"\"]".to_owned(),
                "[\"a b\"]".to_owned(),
                "metadata.labels[\"app.kubernetes.io/name\"]".to_owned(),
                "metadata.labels.plain-key_1".to_owned(),
            ]
        );
    }

    #[test]
    fn unknown_fields_ignores_empty_values() {
        let input = json!({"a": null, "b": {}, "c": [], "d": {"e": null, "f": {}}, "g": [null]});
        let known = json!({"g": []});
        assert!(unknown_fields(&input, &known).is_empty());
    }

    #[test]
    fn unknown_fields_reports_array_elements_missing_from_known() {
        let input = json!({"list": [1, 2, {"x": 1}]});
        let known = json!({"list": [1]});
        assert_eq!(
            unknown_fields(&input, &known),
            vec!["list[1]".to_owned(), "list[2]".to_owned()]
        );
    }

    #[test]
    fn unknown_fields_is_empty_when_everything_round_trips() {
        let v = json!({"a": {"b": [1, {"c": "d"}]}, "e": 1});
        assert!(unknown_fields(&v, &v).is_empty());
    }

    #[test]
    fn unknown_fields_ignores_type_mismatches() {
        let input = json!({"a": {"b": 1}, "c": [1]});
        let known = json!({"a": "raw", "c": "raw"});
        assert!(unknown_fields(&input, &known).is_empty());
    }

    mod props {
        use super::*;
        use proptest::prelude::*;

        fn scalar() -> impl Strategy<Value = Value> {
            prop_oneof![
                any::<bool>().prop_map(Value::Bool),
                (-50i64..50).prop_map(Value::from),
                "[a-c]{0,2}".prop_map(Value::String),
            ]
        }

        /// JSON values without nulls, with small key sets so that objects overlap often.
        fn value() -> impl Strategy<Value = Value> {
            scalar().prop_recursive(4, 40, 4, |inner| {
                prop_oneof![
                    prop::collection::vec(inner.clone(), 0..3).prop_map(Value::Array),
                    prop::collection::btree_map("[a-d]", inner, 0..4)
                        .prop_map(|m| Value::Object(m.into_iter().collect())),
                ]
            })
        }

        fn object() -> impl Strategy<Value = Value> {
            prop::collection::btree_map("[a-d]", value(), 0..5)
                .prop_map(|m| Value::Object(m.into_iter().collect()))
        }

        /// Whether every field of `want` (recursively for objects) is in `got` with that value.
        fn contains(got: &Value, want: &Value) -> bool {
            match (got, want) {
                (Value::Object(got), Value::Object(want)) => want
                    .iter()
                    .all(|(k, w)| got.get(k).is_some_and(|g| contains(g, w))),
                _ => got == want,
            }
        }

        proptest! {
            #[test]
            fn applying_the_created_patch_gives_the_target(a in object(), b in object()) {
                let patch = create_merge_patch(&a, &b);
                prop_assert_eq!(patched(a, patch), b);
            }

            #[test]
            fn created_patch_of_equal_values_is_a_noop(a in object()) {
                prop_assert!(is_noop_patch(&create_merge_patch(&a, &a)));
            }

            #[test]
            fn three_way_merge_sets_desired_and_drops_last_applied_leftovers(
                last in object(), desired in object(), live in object()
            ) {
                let merged = three_way_merge(Some(&last), &desired, &live);
                prop_assert!(contains(&merged, &desired));
                let (Value::Object(m), Value::Object(l), Value::Object(d)) = (&merged, &last, &desired) else {
                    unreachable!()
                };
                for key in l.keys() {
                    if !d.contains_key(key) {
                        prop_assert!(!m.contains_key(key), "{} kept", key);
                    }
                }
                // Fields nobody applied survive.
                for (key, value) in live.as_object().unwrap() {
                    if !l.contains_key(key) && !d.contains_key(key) {
                        prop_assert_eq!(m.get(key), Some(value));
                    }
                }
            }

            #[test]
            fn three_way_merge_is_idempotent(last in object(), desired in object(), live in object()) {
                let merged = three_way_merge(Some(&last), &desired, &live);
                let again = three_way_patch(Some(&desired), &desired, &merged);
                prop_assert!(is_noop_patch(&again), "{}", again);
            }

            #[test]
            fn three_way_patch_applied_to_live_is_the_merge(
                last in object(), desired in object(), live in object()
            ) {
                let patch = three_way_patch(Some(&last), &desired, &live);
                prop_assert_eq!(patched(live.clone(), patch), three_way_merge(Some(&last), &desired, &live));
            }

            #[test]
            fn unknown_fields_of_a_value_against_itself_is_empty(a in object()) {
                prop_assert!(unknown_fields(&a, &a).is_empty());
            }

            #[test]
            fn unknown_fields_against_empty_lists_every_non_vacuous_top_key(a in object()) {
                let expected: Vec<String> = a
                    .as_object()
                    .unwrap()
                    .iter()
                    .filter(|(_, v)| !is_vacuous(v))
                    .map(|(k, _)| k.clone())
                    .collect();
                prop_assert_eq!(unknown_fields(&a, &json!({})), expected);
            }
        }
    }
}
