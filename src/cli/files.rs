//! Manifest files: `FILE|DIR...` operands to texts.
//!
//! A directory means its `*.yaml`, `*.yml` and `*.json` files (not its subdirectories), in
//! name order, as `kubectl apply -f DIR` reads one; `-` is standard input.

use std::io::Read;
use std::path::{Path, PathBuf};

/// One manifest file, read.
#[derive(Clone, Debug)]
pub struct Source {
    /// The name problems are reported under (the path as given, or `<stdin>`).
    pub name: String,
    /// Its text.
    pub text: String,
}

/// A file or directory that could not be read: `path: message`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReadError {
    /// The path as given.
    pub path: String,
    /// What went wrong.
    pub message: String,
}

impl std::fmt::Display for ReadError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.path, self.message)
    }
}

fn is_manifest(path: &Path) -> bool {
    matches!(
        path.extension().and_then(|e| e.to_str()),
        Some("yaml" | "yml" | "json")
    )
}

/// The image table in the YAML or JSON file `path` (`--images`): one mapping from image
/// references to what they run,
///
/// ```yaml
/// "redis:7": {command: [redis-server], args: [--port, "6379"]}
/// "python:3.12": {command: [python3], env: {PYTHONUNBUFFERED: "1"}, workingDir: /srv}
/// ```
pub fn read_images(path: &Path) -> Result<steady::node::ImageTable, ReadError> {
    let fail = |message: String| ReadError {
        path: path.display().to_string(),
        message,
    };
    let text = std::fs::read_to_string(path).map_err(|e| fail(e.to_string()))?;
    let docs = steady::manifest::parse::parse_documents(&text).map_err(|e| fail(e.to_string()))?;
    match docs.as_slice() {
        [] => Ok(steady::node::ImageTable::new()),
        [doc] => steady::node::ImageTable::from_value(&doc.value).map_err(|e| fail(e.to_string())),
        _ => Err(fail(
            "an image table is one mapping of image references, not several documents".into(),
        )),
    }
}

/// The files `paths` name, in order (each directory's files sorted by name).
pub fn expand(paths: &[PathBuf]) -> Result<Vec<PathBuf>, ReadError> {
    let mut files = Vec::new();
    for p in paths {
        if p.as_os_str() == "-" {
            files.push(p.clone());
            continue;
        }
        let err = |message: String| ReadError {
            path: p.display().to_string(),
            message,
        };
        let meta = std::fs::metadata(p).map_err(|e| err(e.to_string()))?;
        if !meta.is_dir() {
            files.push(p.clone());
            continue;
        }
        let mut found: Vec<PathBuf> = std::fs::read_dir(p)
            .map_err(|e| err(e.to_string()))?
            .filter_map(|entry| entry.ok().map(|e| e.path()))
            .filter(|f| is_manifest(f) && f.is_file())
            .collect();
        if found.is_empty() {
            return Err(err(
                "no *.yaml, *.yml or *.json files in this directory".into()
            ));
        }
        found.sort();
        files.extend(found);
    }
    Ok(files)
}

/// Reads every file `paths` name (see [`expand`]).
pub fn read_all(paths: &[PathBuf]) -> Result<Vec<Source>, ReadError> {
    let mut sources = Vec::new();
    for f in expand(paths)? {
        if f.as_os_str() == "-" {
            let mut text = String::new();
            std::io::stdin()
                .read_to_string(&mut text)
                .map_err(|e| ReadError {
                    path: "<stdin>".into(),
                    message: e.to_string(),
                })?;
            sources.push(Source {
                name: "<stdin>".into(),
                text,
            });
            continue;
        }
        let name = f.display().to_string();
        let text = std::fs::read_to_string(&f).map_err(|e| ReadError {
            path: name.clone(),
            message: e.to_string(),
        })?;
        sources.push(Source { name, text });
    }
    Ok(sources)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch(name: &str) -> PathBuf {
        let d =
            std::env::temp_dir().join(format!("steady-cli-files-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    #[test]
    fn a_directory_means_its_manifests_in_name_order() {
        let d = scratch("order");
        for f in ["b.yml", "a.yaml", "c.json", "notes.txt", "README"] {
            std::fs::write(d.join(f), "").unwrap();
        }
        std::fs::create_dir(d.join("sub.yaml")).unwrap();
        let files = expand(std::slice::from_ref(&d)).unwrap();
        let names: Vec<_> = files
            .iter()
            .map(|f| f.file_name().unwrap().to_str().unwrap().to_string())
            .collect();
        assert_eq!(names, ["a.yaml", "b.yml", "c.json"]);
        let _ = std::fs::remove_dir_all(d);
    }

    #[test]
    fn missing_paths_and_empty_directories_are_errors_naming_the_path() {
        let d = scratch("empty");
        let e = expand(std::slice::from_ref(&d)).unwrap_err();
        assert!(e.message.contains("no *.yaml"), "{e}");
        let missing = d.join("nope.yaml");
        let e = read_all(std::slice::from_ref(&missing)).unwrap_err();
        assert_eq!(e.path, missing.display().to_string());
        let _ = std::fs::remove_dir_all(d);
    }
}
