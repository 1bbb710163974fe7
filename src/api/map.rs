//! [`Map`]: a compact ordered map for the small string maps of every object (labels,
//! annotations, resource lists, selectors, unmodelled fields).

use serde::de::{MapAccess, Visitor};
use serde::ser::SerializeMap;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::borrow::Borrow;
use std::collections::BTreeMap;
use std::fmt;
use std::marker::PhantomData;
use std::ops::Index;

/// An ordered map kept as one exactly-sized, key-sorted slice.
///
/// It behaves like [`BTreeMap`] (iteration in key order, `get("app")` with a `&str` for
/// `String` keys, last value wins on duplicate keys, serializes as a JSON object), but an
/// empty map is two words with no allocation, and a map of `n` entries is one allocation of
/// exactly `n` entries. A `BTreeMap` allocates a whole node (11 slots) for its first entry,
/// which for the one- and two-entry maps typical of labels and resource lists is several times
/// their size.
///
/// Lookups are binary searches; an insert or a removal moves the entries after it and resizes
/// the allocation, so building a map of `n` entries one by one costs O(n²) moves. That is
/// meant for maps of up to a few hundred entries; collect a larger map from an iterator
/// ([`FromIterator`], [`Extend`]), which sorts once.
///
/// ```
/// use steady::api::Map;
/// let mut labels: Map<String, String> = Map::new();
/// labels.insert("tier".into(), "web".into());
/// labels.insert("app".into(), "shop".into());
/// assert_eq!(labels.get("app").map(String::as_str), Some("shop"));
/// assert_eq!(labels.keys().collect::<Vec<_>>(), ["app", "tier"]);
/// ```
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Map<K, V> {
    entries: Box<[(K, V)]>,
}

impl<K, V> Default for Map<K, V> {
    fn default() -> Self {
        Map {
            entries: Box::new([]),
        }
    }
}

impl<K, V> Map<K, V> {
    /// An empty map (allocates nothing).
    pub fn new() -> Self {
        Self::default()
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// True when the map has no entries.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Removes every entry (and frees the allocation).
    pub fn clear(&mut self) {
        self.entries = Box::new([]);
    }

    /// The entries in key order.
    pub fn iter(&self) -> Iter<'_, K, V> {
        Iter(self.entries.iter())
    }

    /// The entries in key order, values mutable.
    pub fn iter_mut(&mut self) -> IterMut<'_, K, V> {
        IterMut(self.entries.iter_mut())
    }

    /// The keys in order.
    pub fn keys(&self) -> Keys<'_, K, V> {
        Keys(self.entries.iter())
    }

    /// The values in key order.
    pub fn values(&self) -> Values<'_, K, V> {
        Values(self.entries.iter())
    }

    /// The values in key order, mutable.
    pub fn values_mut(&mut self) -> ValuesMut<'_, K, V> {
        ValuesMut(self.entries.iter_mut())
    }

    /// The entry with the smallest key.
    pub fn first_key_value(&self) -> Option<(&K, &V)> {
        self.entries.first().map(|(k, v)| (k, v))
    }

    /// The entry with the largest key.
    pub fn last_key_value(&self) -> Option<(&K, &V)> {
        self.entries.last().map(|(k, v)| (k, v))
    }

    /// Keeps only the entries for which `f` returns true.
    pub fn retain(&mut self, mut f: impl FnMut(&K, &mut V) -> bool) {
        let mut v = std::mem::take(&mut self.entries).into_vec();
        v.retain_mut(|(k, v)| f(k, v));
        self.entries = v.into_boxed_slice();
    }
}

impl<K: Ord, V> Map<K, V> {
    fn find<Q>(&self, key: &Q) -> Result<usize, usize>
    where
        K: Borrow<Q>,
        Q: Ord + ?Sized,
    {
        self.entries.binary_search_by(|(k, _)| k.borrow().cmp(key))
    }

    /// The value of `key`.
    pub fn get<Q>(&self, key: &Q) -> Option<&V>
    where
        K: Borrow<Q>,
        Q: Ord + ?Sized,
    {
        self.find(key).ok().map(|i| &self.entries[i].1)
    }

    /// The stored key and value of `key`.
    pub fn get_key_value<Q>(&self, key: &Q) -> Option<(&K, &V)>
    where
        K: Borrow<Q>,
        Q: Ord + ?Sized,
    {
        self.find(key).ok().map(|i| {
            let (k, v) = &self.entries[i];
            (k, v)
        })
    }

    /// The value of `key`, mutable.
    pub fn get_mut<Q>(&mut self, key: &Q) -> Option<&mut V>
    where
        K: Borrow<Q>,
        Q: Ord + ?Sized,
    {
        match self.find(key) {
            Ok(i) => Some(&mut self.entries[i].1),
            Err(_) => None,
        }
    }

    /// True when `key` has a value.
    pub fn contains_key<Q>(&self, key: &Q) -> bool
    where
        K: Borrow<Q>,
        Q: Ord + ?Sized,
    {
        self.find(key).is_ok()
    }

    /// Sets `key` to `value`; returns the value it replaced.
    pub fn insert(&mut self, key: K, value: V) -> Option<V> {
        match self.find(&key) {
            Ok(i) => Some(std::mem::replace(&mut self.entries[i].1, value)),
            Err(i) => {
                self.insert_at(i, key, value);
                None
            }
        }
    }

    fn insert_at(&mut self, i: usize, key: K, value: V) {
        let mut v = std::mem::take(&mut self.entries).into_vec();
        // Exactly one more slot, so turning it back into a boxed slice does not reallocate.
        v.reserve_exact(1);
        v.insert(i, (key, value));
        self.entries = v.into_boxed_slice();
    }

    /// The value of `key`, inserting `default()` first when it has none (`BTreeMap`'s
    /// `entry(key).or_insert_with(default)`).
    pub fn get_or_insert_with(&mut self, key: K, default: impl FnOnce() -> V) -> &mut V {
        let i = match self.find(&key) {
            Ok(i) => i,
            Err(i) => {
                self.insert_at(i, key, default());
                i
            }
        };
        &mut self.entries[i].1
    }

    /// Removes `key`; returns its value.
    pub fn remove<Q>(&mut self, key: &Q) -> Option<V>
    where
        K: Borrow<Q>,
        Q: Ord + ?Sized,
    {
        self.remove_entry(key).map(|(_, v)| v)
    }

    /// Removes `key`; returns the stored key and its value.
    pub fn remove_entry<Q>(&mut self, key: &Q) -> Option<(K, V)>
    where
        K: Borrow<Q>,
        Q: Ord + ?Sized,
    {
        let i = self.find(key).ok()?;
        let mut v = std::mem::take(&mut self.entries).into_vec();
        let e = v.remove(i);
        self.entries = v.into_boxed_slice();
        Some(e)
    }

    /// Moves every entry of `other` into `self` (its values win), leaving `other` empty.
    pub fn append(&mut self, other: &mut Self) {
        let other = std::mem::take(other);
        self.extend(other);
    }

    /// Builds the map from entries in any order: sorted once; of equal keys the last wins.
    fn from_vec(mut v: Vec<(K, V)>) -> Self {
        // Stable, so equal keys keep their input order and the last one can be kept.
        v.sort_by(|a, b| a.0.cmp(&b.0));
        let mut out: Vec<(K, V)> = Vec::with_capacity(v.len());
        for e in v {
            match out.last_mut() {
                Some(last) if last.0 == e.0 => *last = e,
                _ => out.push(e),
            }
        }
        Map {
            entries: out.into_boxed_slice(),
        }
    }
}

impl<K: Ord, V> FromIterator<(K, V)> for Map<K, V> {
    fn from_iter<I: IntoIterator<Item = (K, V)>>(iter: I) -> Self {
        Self::from_vec(iter.into_iter().collect())
    }
}

impl<K: Ord, V> Extend<(K, V)> for Map<K, V> {
    fn extend<I: IntoIterator<Item = (K, V)>>(&mut self, iter: I) {
        let mut v = std::mem::take(&mut self.entries).into_vec();
        v.extend(iter);
        *self = Self::from_vec(v);
    }
}

impl<'a, K: Ord + Clone, V: Clone> Extend<(&'a K, &'a V)> for Map<K, V> {
    fn extend<I: IntoIterator<Item = (&'a K, &'a V)>>(&mut self, iter: I) {
        self.extend(iter.into_iter().map(|(k, v)| (k.clone(), v.clone())));
    }
}

impl<K: Ord, V, const N: usize> From<[(K, V); N]> for Map<K, V> {
    fn from(entries: [(K, V); N]) -> Self {
        Self::from_vec(entries.into())
    }
}

impl<K: Ord, V> From<BTreeMap<K, V>> for Map<K, V> {
    fn from(m: BTreeMap<K, V>) -> Self {
        Map {
            entries: m.into_iter().collect(),
        }
    }
}

impl<K: Ord, V> From<Map<K, V>> for BTreeMap<K, V> {
    fn from(m: Map<K, V>) -> Self {
        m.into_iter().collect()
    }
}

impl<K, Q, V> Index<&Q> for Map<K, V>
where
    K: Ord + Borrow<Q>,
    Q: Ord + ?Sized,
{
    type Output = V;

    /// The value of `key`; panics when there is none.
    fn index(&self, key: &Q) -> &V {
        self.get(key).expect("no entry found for key")
    }
}

impl<K: fmt::Debug, V: fmt::Debug> fmt::Debug for Map<K, V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map().entries(self.iter()).finish()
    }
}

impl<K: Serialize, V: Serialize> Serialize for Map<K, V> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(Some(self.len()))?;
        for (k, v) in self.iter() {
            m.serialize_entry(k, v)?;
        }
        m.end()
    }
}

impl<'de, K: Ord + Deserialize<'de>, V: Deserialize<'de>> Deserialize<'de> for Map<K, V> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct MapVisitor<K, V>(PhantomData<fn() -> (K, V)>);
        impl<'de, K: Ord + Deserialize<'de>, V: Deserialize<'de>> Visitor<'de> for MapVisitor<K, V> {
            type Value = Map<K, V>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a map")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut a: A) -> Result<Map<K, V>, A::Error> {
                let mut v = Vec::with_capacity(a.size_hint().unwrap_or(0).min(1024));
                while let Some(e) = a.next_entry()? {
                    v.push(e);
                }
                Ok(Map::from_vec(v))
            }
        }
        d.deserialize_map(MapVisitor(PhantomData))
    }
}

/// Iterator over a [`Map`]'s entries in key order.
#[derive(Clone, Debug)]
pub struct Iter<'a, K, V>(std::slice::Iter<'a, (K, V)>);

/// Iterator over a [`Map`]'s entries in key order, values mutable.
#[derive(Debug)]
pub struct IterMut<'a, K, V>(std::slice::IterMut<'a, (K, V)>);

/// Iterator over a [`Map`]'s keys in order.
#[derive(Clone, Debug)]
pub struct Keys<'a, K, V>(std::slice::Iter<'a, (K, V)>);

/// Iterator over a [`Map`]'s values in key order.
#[derive(Clone, Debug)]
pub struct Values<'a, K, V>(std::slice::Iter<'a, (K, V)>);

/// Iterator over a [`Map`]'s values in key order, mutable.
#[derive(Debug)]
pub struct ValuesMut<'a, K, V>(std::slice::IterMut<'a, (K, V)>);

/// Owning iterator over a [`Map`]'s entries in key order.
#[derive(Debug)]
pub struct IntoIter<K, V>(std::vec::IntoIter<(K, V)>);

macro_rules! map_iter {
    ($name:ident, [$($lt:lifetime)?], $item:ty, |$e:pat_param| $out:expr) => {
        impl<$($lt,)? K, V> Iterator for $name<$($lt,)? K, V> {
            type Item = $item;
            fn next(&mut self) -> Option<$item> {
                self.0.next().map(|$e| $out)
            }
            fn size_hint(&self) -> (usize, Option<usize>) {
                self.0.size_hint()
            }
        }
        impl<$($lt,)? K, V> DoubleEndedIterator for $name<$($lt,)? K, V> {
            fn next_back(&mut self) -> Option<$item> {
                self.0.next_back().map(|$e| $out)
            }
        }
        impl<$($lt,)? K, V> ExactSizeIterator for $name<$($lt,)? K, V> {}
        impl<$($lt,)? K, V> std::iter::FusedIterator for $name<$($lt,)? K, V> {}
    };
}

map_iter!(Iter, ['a], (&'a K, &'a V), |(k, v)| (k, v));
map_iter!(IterMut, ['a], (&'a K, &'a mut V), |(k, v)| (&*k, v));
map_iter!(Keys, ['a], &'a K, |(k, _)| k);
map_iter!(Values, ['a], &'a V, |(_, v)| v);
map_iter!(ValuesMut, ['a], &'a mut V, |(_, v)| v);
map_iter!(IntoIter, [], (K, V), |e| e);

impl<'a, K, V> IntoIterator for &'a Map<K, V> {
    type Item = (&'a K, &'a V);
    type IntoIter = Iter<'a, K, V>;
    fn into_iter(self) -> Iter<'a, K, V> {
        self.iter()
    }
}

impl<'a, K, V> IntoIterator for &'a mut Map<K, V> {
    type Item = (&'a K, &'a mut V);
    type IntoIter = IterMut<'a, K, V>;
    fn into_iter(self) -> IterMut<'a, K, V> {
        self.iter_mut()
    }
}

impl<K, V> IntoIterator for Map<K, V> {
    type Item = (K, V);
    type IntoIter = IntoIter<K, V>;
    fn into_iter(self) -> IntoIter<K, V> {
        IntoIter(self.entries.into_vec().into_iter())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;

    fn labels(pairs: &[(&str, &str)]) -> Map<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn iterates_in_key_order_whatever_the_insertion_order() {
        let mut m = Map::new();
        for k in ["b", "c", "a"] {
            m.insert(k.to_string(), k.to_uppercase());
        }
        assert_eq!(m.keys().collect::<Vec<_>>(), ["a", "b", "c"]);
        assert_eq!(m.values().collect::<Vec<_>>(), ["A", "B", "C"]);
    }

    #[test]
    fn insert_replaces_and_returns_the_old_value() {
        let mut m = labels(&[("app", "web")]);
        assert_eq!(m.insert("app".into(), "db".into()), Some("web".into()));
        assert_eq!(m.len(), 1);
        assert_eq!(m["app"], "db");
    }

    #[test]
    fn looks_up_string_keys_by_str() {
        let m = labels(&[("app", "web"), ("tier", "front")]);
        assert_eq!(m.get("tier").map(String::as_str), Some("front"));
        assert!(m.contains_key("app"));
        assert!(!m.contains_key("zone"));
        assert_eq!(m.get("zone"), None);
    }

    #[test]
    fn remove_returns_the_value_and_empties_the_allocation() {
        let mut m = labels(&[("app", "web")]);
        assert_eq!(m.remove("app"), Some("web".into()));
        assert_eq!(m.remove("app"), None);
        assert!(m.is_empty());
        assert_eq!(m, Map::new());
    }

    #[test]
    fn get_or_insert_with_inserts_only_when_missing() {
        let mut m: Map<String, u32> = Map::new();
        *m.get_or_insert_with("a".into(), || 1) += 10;
        *m.get_or_insert_with("a".into(), || 100) += 10;
        assert_eq!(m["a"], 21);
    }

    #[test]
    fn collecting_keeps_the_last_of_duplicate_keys() {
        let m = labels(&[("a", "1"), ("b", "2"), ("a", "3")]);
        assert_eq!(m.len(), 2);
        assert_eq!(m["a"], "3");
    }

    #[test]
    fn serializes_as_a_json_object_in_key_order() {
        let m = labels(&[("z", "1"), ("a", "2")]);
        assert_eq!(serde_json::to_string(&m).unwrap(), r#"{"a":"2","z":"1"}"#);
        assert_eq!(
            serde_json::to_value(&m).unwrap(),
            json!({"a": "2", "z": "1"})
        );
    }

    #[test]
    fn deserializes_like_a_btreemap_last_duplicate_wins() {
        let m: Map<String, String> = serde_json::from_str(r#"{"z":"1","a":"2","z":"3"}"#).unwrap();
        let b: BTreeMap<String, String> =
            serde_json::from_str(r#"{"z":"1","a":"2","z":"3"}"#).unwrap();
        assert_eq!(m, Map::from(b));
        assert_eq!(m["z"], "3");
    }

    #[test]
    fn rejects_a_non_object() {
        assert!(serde_json::from_str::<Map<String, String>>("[1]").is_err());
    }

    #[test]
    fn equality_ignores_insertion_order() {
        let mut a = labels(&[("x", "1")]);
        a.insert("a".into(), "2".into());
        assert_eq!(a, labels(&[("a", "2"), ("x", "1")]));
        assert_ne!(a, labels(&[("a", "2")]));
    }

    #[test]
    fn debug_prints_like_a_map() {
        assert_eq!(format!("{:?}", labels(&[("a", "1")])), r#"{"a": "1"}"#);
    }

    #[test]
    fn retain_and_extend_keep_the_order() {
        let mut m = labels(&[("a", "1"), ("b", "2"), ("c", "3")]);
        m.retain(|k, _| k != "b");
        m.extend([("b".to_string(), "4".to_string()), ("a".into(), "5".into())]);
        assert_eq!(m, labels(&[("a", "5"), ("b", "4"), ("c", "3")]));
    }

    #[derive(Clone, Debug)]
    enum Op {
        Insert(u8, u16),
        Remove(u8),
        GetOrInsert(u8, u16),
        Retain(u8),
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            (any::<u8>(), any::<u16>()).prop_map(|(k, v)| Op::Insert(k % 32, v)),
            any::<u8>().prop_map(|k| Op::Remove(k % 32)),
            (any::<u8>(), any::<u16>()).prop_map(|(k, v)| Op::GetOrInsert(k % 32, v)),
            any::<u8>().prop_map(|m| Op::Retain(m % 7 + 2)),
        ]
    }

    proptest! {
        #[test]
        fn behaves_like_btreemap(ops in proptest::collection::vec(op(), 0..200)) {
            let mut m: Map<String, u16> = Map::new();
            let mut b: BTreeMap<String, u16> = BTreeMap::new();
            for op in ops {
                match op {
                    Op::Insert(k, v) => {
                        prop_assert_eq!(m.insert(k.to_string(), v), b.insert(k.to_string(), v));
                    }
                    Op::Remove(k) => {
                        prop_assert_eq!(m.remove(k.to_string().as_str()), b.remove(k.to_string().as_str()));
                    }
                    Op::GetOrInsert(k, v) => {
                        prop_assert_eq!(
                            *m.get_or_insert_with(k.to_string(), || v),
                            *b.entry(k.to_string()).or_insert(v)
                        );
                    }
                    Op::Retain(modulus) => {
                        m.retain(|_, v| *v % u16::from(modulus) != 0);
                        b.retain(|_, v| *v % u16::from(modulus) != 0);
                    }
                }
                prop_assert_eq!(m.len(), b.len());
                prop_assert!(m.iter().eq(b.iter()));
                for k in 0..32u8 {
                    let k = k.to_string();
                    prop_assert_eq!(m.get(k.as_str()), b.get(k.as_str()));
                    prop_assert_eq!(m.contains_key(k.as_str()), b.contains_key(k.as_str()));
                }
            }
            prop_assert_eq!(
                serde_json::to_string(&m).unwrap(),
                serde_json::to_string(&b).unwrap()
            );
            prop_assert_eq!(BTreeMap::from(m.clone()), b.clone());
            prop_assert_eq!(m, Map::from(b));
        }

        #[test]
        fn collect_matches_btreemap(pairs in proptest::collection::vec((0u8..32, any::<u16>()), 0..100)) {
            let m: Map<u8, u16> = pairs.iter().copied().collect();
            let b: BTreeMap<u8, u16> = pairs.iter().copied().collect();
            prop_assert!(m.iter().eq(b.iter()));
        }
    }
}
