//! Lower layers never import higher ones (the order lib.rs lists; README, "Layout").
//!
//! Reads every file under `src/`, maps it to its top-level module and that module to its
//! layer, and fails naming the file, the line and the path for every `crate::X` (or, in the
//! CLI, `steady::X`) that names a higher layer, and every `super::` that climbs out of the
//! top-level module into a higher one. Comments are skipped: a doc link is not an import;
//! so are unit tests (`#[cfg(test)]` modules), which may use any layer as a fixture.
//! The few imports that go up today are listed in [`ALLOWED`], each with the reason and
//! the work that will remove it; an entry that no longer matches anything fails too, so
//! the list only shrinks.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// Each top-level module and its layer, lowest first, as lib.rs lists them. `error` and
/// `clock` are below everything: every layer may use them.
const LAYERS: &[(&str, u32)] = &[
    ("error", 0),
    ("clock", 0),
    ("api", 1),
    ("store", 2),
    ("client", 3),
    ("runtime", 4),
    ("scheduler", 5),
    ("node", 6),
    ("controllers", 7),
    ("manifest", 8),
    ("engine", 9),
    ("apiserver", 10),
    ("ffi", 11),
    // The command-line tool: src/cli, compiled into the binary src/bin/steady.rs.
    ("cli", 12),
    ("bin", 12),
];

/// Items lib.rs re-exports at the crate root, and the module each comes from.
const ROOT_ITEMS: &[(&str, &str)] = &[
    ("Engine", "engine"),
    ("EngineBuilder", "engine"),
    ("Error", "error"),
    ("Result", "error"),
    ("ObjectRef", "error"),
];

/// Upward imports known today: (file, the higher module it names, why, what removes it).
/// Each must still occur; remove the entry with the import.
const ALLOWED: &[(&str, &str, &str)] = &[];

fn layer_of(module: &str) -> Option<u32> {
    LAYERS.iter().find(|(m, _)| *m == module).map(|(_, l)| *l)
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("reading {}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The module path of a file below `src/` (`src/api/core/pod.rs` -> `api, core, pod`;
/// `src/store/mod.rs` -> `store`); empty for lib.rs.
fn module_path(relative: &Path) -> Vec<String> {
    let mut parts: Vec<String> = relative
        .iter()
        .map(|p| p.to_string_lossy().into_owned())
        .collect();
    let last = parts.pop().unwrap();
    let stem = last.trim_end_matches(".rs");
    if stem != "mod" && stem != "lib" {
        parts.push(stem.to_string());
    }
    parts
}

/// The line without its `//` comment (doc comments included).
fn code_of(line: &str) -> &str {
    match line.find("//") {
        Some(i) => &line[..i],
        None => line,
    }
}

fn is_ident(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

/// The first identifier of each top-level item of a `{ ... }` group (`api`, `store` and
/// `engine` in `{api::Pod, store::{Store, Watch}, engine}`); `group` starts after the `{`.
fn group_heads(group: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let (mut depth, mut item_start) = (0usize, true);
    for (i, c) in group.char_indices() {
        match c {
            '{' => depth += 1,
            '}' if depth == 0 => break,
            '}' => depth -= 1,
            ',' if depth == 0 => item_start = true,
            c if c.is_whitespace() => {}
            c if item_start && depth == 0 && is_ident(c) => {
                let rest = &group[i..];
                let len = rest.find(|c: char| !is_ident(c)).unwrap_or(rest.len());
                out.push(&rest[..len]);
                item_start = false;
            }
            _ => item_start = false,
        }
    }
    out
}

/// Whether `code` starts a `use` item.
fn starts_use(code: &str) -> bool {
    let t = code.trim_start();
    let t = t
        .strip_prefix("pub(crate) ")
        .or_else(|| t.strip_prefix("pub(super) "))
        .or_else(|| t.strip_prefix("pub "))
        .unwrap_or(t);
    t.starts_with("use ")
}

/// The identifiers following each `prefix` (`crate::` -> `api` in `use crate::api::Pod`)
/// that is not itself the tail of a longer path (`foo_crate::` does not count); for a group
/// (`crate::{api::Pod, engine::Engine}`), the head of each of its items.
fn names_after<'a>(code: &'a str, prefix: &str) -> Vec<&'a str> {
    let mut out = Vec::new();
    let mut from = 0;
    while let Some(i) = code[from..].find(prefix) {
        let start = from + i;
        let end = start + prefix.len();
        let before = code[..start].chars().next_back();
        if !before.is_some_and(|c| is_ident(c) || c == ':') || before == Some('$') {
            let rest = &code[end..];
            if let Some(group) = rest.strip_prefix('{') {
                out.extend(group_heads(group));
            }
            let len = rest.find(|c: char| !is_ident(c)).unwrap_or(rest.len());
            if len > 0 {
                out.push(&rest[..len]);
            }
        }
        from = end;
    }
    out
}

/// The name of the inline module a line opens (`mod tests {`, `pub(crate) mod x {`).
fn inline_module(code: &str) -> Option<&str> {
    let t = code.trim();
    let t = t.strip_suffix('{')?.trim_end();
    let t = match t.strip_prefix("pub") {
        Some(rest) if rest.starts_with('(') => &rest[rest.find(')')? + 1..],
        Some(rest) => rest,
        None => t,
    };
    let name = t.trim_start().strip_prefix("mod ")?.trim();
    name.chars().all(is_ident).then_some(name)
}

/// The top-level module that a path starting with `super::` (repeated `depth` times, then
/// `name`) reaches from module `path`, when it climbs out of its own top-level module.
fn super_target(path: &[String], depth: usize, name: &str) -> Option<String> {
    if depth < path.len() {
        return None; // still inside the top-level module
    }
    (depth == path.len()).then(|| name.to_string())
}

#[derive(Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Violation {
    file: String,
    line: usize,
    module: String,
    target: String,
    text: String,
}

/// Every upward import in the files under `src`.
fn upward_imports(src: &Path) -> Vec<Violation> {
    let mut files = Vec::new();
    rust_files(src, &mut files);
    let mut out = Vec::new();
    for file in files {
        let relative = file.strip_prefix(src).unwrap();
        let path = module_path(relative);
        let Some(top) = path.first() else { continue }; // lib.rs: the map
        let Some(own) = layer_of(top) else {
            panic!(
                "{}: top-level module {top:?} has no layer: add it to LAYERS in tests/layers.rs",
                file.display()
            );
        };
        let text = std::fs::read_to_string(&file).unwrap();
        // The CLI is compiled into the binary, where the library is `steady::`.
        let in_cli = top == "cli" || top == "bin";
        // Inline modules (`mod tests { ... }`) deepen the path; rustfmt's indentation tells
        // where each ends.
        // Unit tests (`#[cfg(test)]` modules) may build anything as a fixture (an Engine, say):
        // they are not part of their layer's code, and are skipped.
        let mut inline: Vec<(usize, String, bool)> = Vec::new();
        let mut cfg_test = false;
        // A `use` spread over several lines is read as one, at the line where it starts.
        let mut open_use: Option<(usize, String)> = None;
        for (n, line) in text.lines().enumerate() {
            let joined: String;
            let mut code = code_of(line);
            let mut n = n;
            if let Some((first, mut so_far)) = open_use.take() {
                so_far.push(' ');
                so_far.push_str(code.trim());
                if !code.contains(';') {
                    open_use = Some((first, so_far));
                    continue;
                }
                joined = so_far;
                code = &joined;
                n = first;
            } else if starts_use(code) && !code.contains(';') {
                open_use = Some((n, code.to_string()));
                continue;
            }
            let indent = line.len() - line.trim_start().len();
            if code.trim() == "}" && inline.last().is_some_and(|(i, _, _)| *i == indent) {
                inline.pop();
                continue;
            }
            if let Some(name) = inline_module(code) {
                inline.push((indent, name.to_string(), cfg_test));
                cfg_test = false;
                continue;
            }
            if !code.trim().is_empty() {
                cfg_test = code.trim() == "#[cfg(test)]";
            }
            if inline.iter().any(|(_, _, test)| *test) {
                continue;
            }
            let path: Vec<String> = path
                .iter()
                .cloned()
                .chain(inline.iter().map(|(_, m, _)| m.clone()))
                .collect();
            let mut targets: Vec<String> = Vec::new();
            for name in names_after(code, "crate::") {
                if in_cli && (name == "cli") {
                    continue;
                }
                targets.push(name.to_string());
            }
            if in_cli {
                targets.extend(names_after(code, "steady::").into_iter().map(String::from));
            }
            // `super::super::x`: count the climb from the start of each `super::` chain.
            let mut from = 0;
            while let Some(i) = code[from..].find("super::") {
                let start = from + i;
                if code[..start].ends_with("::") {
                    from = start + 7;
                    continue;
                }
                let mut depth = 0;
                let mut at = start;
                while code[at..].starts_with("super::") {
                    depth += 1;
                    at += 7;
                }
                let rest = &code[at..];
                let len = rest.find(|c: char| !is_ident(c)).unwrap_or(rest.len());
                let heads = match rest.strip_prefix('{') {
                    Some(group) => group_heads(group),
                    None => vec![&rest[..len]],
                };
                for head in heads {
                    if let Some(t) = super_target(&path, depth, head) {
                        targets.push(t);
                    }
                }
                from = at;
            }
            for target in targets {
                let module = ROOT_ITEMS
                    .iter()
                    .find(|(item, _)| *item == target)
                    .map_or(target.as_str(), |(_, m)| m);
                if module == top.as_str() {
                    continue;
                }
                let Some(layer) = layer_of(module) else {
                    if module.starts_with(|c: char| c.is_ascii_uppercase()) {
                        panic!(
                            "{}:{}: crate root item {module:?} is not in ROOT_ITEMS of \
                             tests/layers.rs",
                            relative.display(),
                            n + 1
                        );
                    }
                    continue; // `crate::__private`, macros' own names...
                };
                if layer > own {
                    out.push(Violation {
                        file: format!("src/{}", relative.display()),
                        line: n + 1,
                        module: top.clone(),
                        target: module.to_string(),
                        text: line.trim().to_string(),
                    });
                }
            }
        }
    }
    out
}

fn src_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

#[test]
fn no_module_imports_a_higher_layer() {
    let found = upward_imports(&src_dir());
    let mut used = BTreeSet::new();
    let mut errors = Vec::new();
    for v in &found {
        match ALLOWED
            .iter()
            .position(|(file, target, _)| *file == v.file && *target == v.target)
        {
            Some(i) => {
                used.insert(i);
            }
            None => errors.push(format!(
                "{}:{}: {} (layer {}) imports {} (layer {}): {}",
                v.file,
                v.line,
                v.module,
                layer_of(&v.module).unwrap(),
                v.target,
                layer_of(&v.target).unwrap(),
                v.text
            )),
        }
    }
    for (i, (file, target, why)) in ALLOWED.iter().enumerate() {
        if !used.contains(&i) {
            errors.push(format!(
                "ALLOWED lists {file} -> {target} ({why}), which no longer occurs: remove it"
            ));
        }
    }
    assert!(
        errors.is_empty(),
        "a lower layer imports a higher one:\n{}",
        errors.join("\n")
    );
}

#[test]
fn an_upward_import_is_found_with_its_file_and_line() {
    // A tree of its own: the store (layer 2) reaching up by path, in groups (on one line and
    // over several) and by climbing out of its module with `super::`.
    let dir = std::env::temp_dir().join(format!("steady-layers-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("store")).unwrap();
    std::fs::write(
        dir.join("store/mod.rs"),
        "//! The store. Links such as [`crate::engine::Engine`] are not imports.\n\
         use crate::api::Pod;\n\
         use crate::engine::Engine;\n\
         use crate::{api::Pod, manifest::apply};\n\
         pub(crate) use crate::{\n    clock::Clock,\n    scheduler::{Plugin, Framework},\n};\n",
    )
    .unwrap();
    std::fs::write(
        dir.join("store/watch.rs"),
        "use super::Store;\nfn f() { let _ = super::super::controllers::NAME; }\n\
         use super::super::{api, node::Kubelet};\n\
         #[cfg(test)]\nmod tests {\n    use crate::Engine;\n}\n",
    )
    .unwrap();
    let found = upward_imports(&dir);
    std::fs::remove_dir_all(&dir).unwrap();
    let found: Vec<_> = found
        .iter()
        .map(|v| (v.file.as_str(), v.line, v.target.as_str()))
        .collect();
    assert_eq!(
        found,
        vec![
            ("src/store/mod.rs", 3, "engine"),
            ("src/store/mod.rs", 4, "manifest"),
            ("src/store/mod.rs", 5, "scheduler"),
            ("src/store/watch.rs", 2, "controllers"),
            ("src/store/watch.rs", 3, "node")
        ]
    );
}

#[test]
fn module_paths_follow_files() {
    let p = |s: &str| module_path(Path::new(s));
    assert_eq!(p("store/mod.rs"), vec!["store"]);
    assert_eq!(p("api/core/pod.rs"), vec!["api", "core", "pod"]);
    assert_eq!(p("clock.rs"), vec!["clock"]);
    assert!(p("lib.rs").is_empty());
    let path = p("node/agent/kubelet.rs");
    assert_eq!(super_target(&path, 2, "config"), None);
    assert_eq!(super_target(&path, 3, "engine"), Some("engine".into()));
}
