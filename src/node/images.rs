//! The image table: what an image reference runs on this host, as an image's ENTRYPOINT,
//! CMD, ENV and WORKDIR would say.
//!
//! steady pulls no images. A container names an image (`redis:7`); the host says, in this
//! table, which local program that image stands for. A container with an image in the table
//! runs as a process whatever its own `command` says (a `command` or `args` of its own
//! override the image's with Kubernetes' rules, see [`Image::argv`]); an in-process worker
//! the host registers under an image keeps precedence over the table.
//!
//! # References
//!
//! Image references are matched the way Docker and the kubelet normalise them: `redis`,
//! `redis:latest`, `library/redis` and `docker.io/library/redis:latest` are the same image;
//! a reference without a tag means `latest`. A table entry that gives a tag (`redis:7`) or a
//! digest (`redis@sha256:...`) matches only that tag or digest; an entry without either
//! (`redis`) matches every tag and digest of the image. When several entries match, the one
//! with a tag or digest wins over the bare name.

use crate::api::Container;
use crate::error::{Error, ObjectRef, Result};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeMap;
use std::fmt;

/// An error about the table's entry `reference`, at `field` (`""`: the reference itself).
fn bad(reference: &str, field: &str, message: impl Into<String>) -> Error {
    Error::invalid(
        ObjectRef::new("ImageTable", None, reference),
        field,
        message,
    )
}

/// What an image runs when a container does not say otherwise.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Image {
    /// The program and its fixed arguments: the image's ENTRYPOINT.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub command: Vec<String>,
    /// Default arguments: the image's CMD.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub args: Vec<String>,
    /// Environment defaults (the image's ENV): a container's own variables win.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub env: BTreeMap<String, String>,
    /// Working directory when the container gives none (the image's WORKDIR).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub working_dir: Option<String>,
}

impl Image {
    /// An image that runs `command` (its ENTRYPOINT).
    pub fn command<I: IntoIterator<Item = S>, S: Into<String>>(command: I) -> Self {
        Image {
            command: command.into_iter().map(Into::into).collect(),
            ..Image::default()
        }
    }

    /// The command line of `container` run from this image, before `$(VAR)` expansion, by
    /// Kubernetes' rules: the container's `command` replaces the ENTRYPOINT and drops the CMD;
    /// its `args` replace the CMD; with neither, ENTRYPOINT then CMD. Each part keeps whether
    /// it came from the container (only those are expanded, as the kubelet expands only the
    /// container's own fields).
    pub fn argv<'a>(&'a self, container: &'a Container) -> Vec<(&'a str, bool)> {
        let own = |v: &'a [String]| v.iter().map(|s| (s.as_str(), true)).collect::<Vec<_>>();
        let image = |v: &'a [String]| v.iter().map(|s| (s.as_str(), false)).collect::<Vec<_>>();
        match (container.command.is_empty(), container.args.is_empty()) {
            (false, _) => [own(&container.command), own(&container.args)].concat(),
            (true, false) => [image(&self.command), own(&container.args)].concat(),
            (true, true) => [image(&self.command), image(&self.args)].concat(),
        }
    }
}

/// An image reference, normalised: registry, repository path, tag and digest.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ImageRef {
    /// `docker.io`, `ghcr.io`, `localhost:5000`.
    pub registry: String,
    /// `library/redis`, `org/app`.
    pub path: String,
    /// The tag, when given.
    pub tag: Option<String>,
    /// The digest (`sha256:...`), when given.
    pub digest: Option<String>,
}

impl ImageRef {
    /// Parses and normalises `reference`; an error names what is wrong with it.
    pub fn parse(reference: &str) -> Result<ImageRef> {
        let bad = |why: &str| {
            bad(
                reference,
                "",
                format!("image reference {reference:?}: {why}"),
            )
        };
        if reference.is_empty() {
            return Err(bad("empty"));
        }
        let (rest, digest) = match reference.split_once('@') {
            Some((r, d)) => {
                let (algo, hex) = d
                    .split_once(':')
                    .ok_or_else(|| bad("a digest is algorithm:hex (sha256:...)"))?;
                let algo_ok = !algo.is_empty()
                    && algo.chars().all(|c| {
                        c.is_ascii_lowercase() || c.is_ascii_digit() || "+._-".contains(c)
                    });
                if !algo_ok || hex.len() < 32 || !hex.chars().all(|c| c.is_ascii_hexdigit()) {
                    return Err(bad("a digest is algorithm:hex (sha256:...)"));
                }
                (r, Some(d.to_ascii_lowercase()))
            }
            None => (reference, None),
        };
        // A tag follows the last ':' after the last '/' (a ':' before it is a registry port).
        let slash = rest.rfind('/').map_or(0, |i| i + 1);
        let (name, tag) = match rest[slash..].rfind(':') {
            Some(i) => (&rest[..slash + i], Some(&rest[slash + i + 1..])),
            None => (rest, None),
        };
        if let Some(t) = tag {
            let ok = !t.is_empty()
                && t.len() <= 128
                && !t.starts_with(['.', '-'])
                && t.chars()
                    .all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c));
            if !ok {
                return Err(bad("a tag is up to 128 letters, digits, '_', '.' and '-'"));
            }
        }
        let (registry, path) = match name.split_once('/') {
            Some((first, rest))
                if first.contains('.') || first.contains(':') || first == "localhost" =>
            {
                (first.to_string(), rest.to_string())
            }
            _ => ("docker.io".to_string(), name.to_string()),
        };
        let registry = if registry == "index.docker.io" {
            "docker.io".to_string()
        } else {
            registry
        };
        let path = if registry == "docker.io" && !path.contains('/') {
            format!("library/{path}")
        } else {
            path
        };
        let component_ok = |c: &str| {
            !c.is_empty()
                && c.starts_with(|x: char| x.is_ascii_lowercase() || x.is_ascii_digit())
                && c.ends_with(|x: char| x.is_ascii_lowercase() || x.is_ascii_digit())
                && c.chars()
                    .all(|x| x.is_ascii_lowercase() || x.is_ascii_digit() || "._-".contains(x))
        };
        if !path.split('/').all(component_ok) {
            return Err(bad(
                "a repository name is lower-case letters, digits and separators ('.', '_', '-', '/')",
            ));
        }
        Ok(ImageRef {
            registry,
            path,
            tag: tag.map(str::to_string),
            digest,
        })
    }

    /// True when this reference, as a table entry, names the image `other`.
    fn matches(&self, other: &ImageRef) -> bool {
        if self.registry != other.registry || self.path != other.path {
            return false;
        }
        match (&self.digest, &self.tag) {
            (Some(d), _) => other.digest.as_ref() == Some(d),
            (None, Some(t)) => {
                let theirs = other.tag.as_deref().or(if other.digest.is_none() {
                    Some("latest")
                } else {
                    None
                });
                theirs == Some(t.as_str())
            }
            (None, None) => true,
        }
    }

    fn specific(&self) -> bool {
        self.tag.is_some() || self.digest.is_some()
    }
}

impl fmt::Display for ImageRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.registry, self.path)?;
        if let Some(t) = &self.tag {
            write!(f, ":{t}")?;
        }
        if let Some(d) = &self.digest {
            write!(f, "@{d}")?;
        }
        Ok(())
    }
}

/// Image references mapped to what they run on this host. See the [module
/// documentation](self) for how references match.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ImageTable {
    entries: Vec<(String, ImageRef, Image)>,
}

impl ImageTable {
    /// An empty table.
    pub fn new() -> Self {
        ImageTable::default()
    }

    /// Maps `reference` to `image`, replacing what the same reference (as written) mapped to
    /// before. An invalid reference, or an image that runs nothing (no `command` and no
    /// `args`), is an error naming it.
    pub fn insert(&mut self, reference: &str, image: Image) -> Result<()> {
        let parsed = ImageRef::parse(reference)?;
        if image.command.is_empty() && image.args.is_empty() {
            return Err(bad(
                reference,
                "command",
                "an image needs a command (its ENTRYPOINT) or args (its CMD)",
            ));
        }
        self.entries.retain(|(r, _, _)| r != reference);
        self.entries.push((reference.to_string(), parsed, image));
        Ok(())
    }

    /// `self` with `reference` mapped to `image`; see [`insert`](Self::insert).
    pub fn with(mut self, reference: &str, image: Image) -> Result<Self> {
        self.insert(reference, image)?;
        Ok(self)
    }

    /// The table a JSON (or YAML) object describes: `{"redis:7": {"command": [...],
    /// "args": [...], "env": {"K": "V"}, "workingDir": "/srv"}, ...}`. Errors name the
    /// reference and the field.
    pub fn from_value(v: &Value) -> Result<ImageTable> {
        let map = v.as_object().ok_or_else(|| {
            bad(
                "",
                "",
                format!("expected an object of image references, found {v}"),
            )
        })?;
        let mut table = ImageTable::new();
        for (reference, spec) in map {
            let image: Image = serde_path_to_error::deserialize(spec).map_err(|e| {
                let path = e.path().to_string();
                let field = if path == "." { String::new() } else { path };
                bad(reference, &field, e.inner().to_string())
            })?;
            table.insert(reference, image)?;
        }
        Ok(table)
    }

    /// True when nothing is mapped.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// What `image` (a container's reference) runs: the most specific matching entry, or
    /// `None` (also for a reference that does not parse).
    pub fn lookup(&self, image: &str) -> Option<&Image> {
        let wanted = ImageRef::parse(image).ok()?;
        self.entries
            .iter()
            .filter(|(_, r, _)| r.matches(&wanted))
            .max_by_key(|(_, r, _)| r.specific())
            .map(|(_, _, i)| i)
    }

    /// What `container`'s image runs, when the table has it.
    pub fn for_container(&self, container: &Container) -> Option<&Image> {
        if self.entries.is_empty() {
            return None;
        }
        self.lookup(container.image.as_deref()?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn container(image: &str, command: &[&str], args: &[&str]) -> Container {
        Container {
            name: "c".into(),
            image: Some(image.into()),
            command: command.iter().map(|s| s.to_string()).collect(),
            args: args.iter().map(|s| s.to_string()).collect(),
            ..Container::default()
        }
    }

    #[test]
    fn references_normalise_as_docker_does() {
        let r = ImageRef::parse("redis").unwrap();
        assert_eq!(r.to_string(), "docker.io/library/redis");
        let r = ImageRef::parse("localhost:5000/team/app:1.2").unwrap();
        assert_eq!(
            (r.registry.as_str(), r.path.as_str()),
            ("localhost:5000", "team/app")
        );
        assert_eq!(r.tag.as_deref(), Some("1.2"));
        let r = ImageRef::parse("index.docker.io/library/redis:7").unwrap();
        assert_eq!(r.to_string(), "docker.io/library/redis:7");
        for bad in [
            "",
            "Redis",
            "redis:",
            "redis@sha256:xyz",
            "a//b",
            "redis:-x",
        ] {
            let err = ImageRef::parse(bad).unwrap_err().to_string();
            assert!(err.contains(&format!("{bad:?}")), "{bad}: {err}");
        }
    }

    #[test]
    fn a_tag_or_digest_must_match_when_the_entry_gives_one() {
        let digest = format!("sha256:{}", "ab".repeat(32));
        let table = ImageTable::new()
            .with("redis:7", Image::command(["redis-7"]))
            .unwrap()
            .with("redis", Image::command(["redis-any"]))
            .unwrap()
            .with(
                &format!("ghcr.io/org/app@{digest}"),
                Image::command(["pinned"]),
            )
            .unwrap();
        let runs = |image: &str| table.lookup(image).map(|i| i.command[0].as_str());
        assert_eq!(runs("redis:7"), Some("redis-7"));
        assert_eq!(runs("docker.io/library/redis:7"), Some("redis-7"));
        assert_eq!(runs("library/redis:7"), Some("redis-7"));
        assert_eq!(runs("redis:6"), Some("redis-any"));
        assert_eq!(runs("redis"), Some("redis-any"), "no tag means latest");
        assert_eq!(runs(&format!("ghcr.io/org/app@{digest}")), Some("pinned"));
        assert_eq!(runs("ghcr.io/org/app:1"), None);
        assert_eq!(runs("postgres"), None);
        let only_7 = ImageTable::new()
            .with("redis:7", Image::command(["r"]))
            .unwrap();
        assert!(only_7.lookup("redis").is_none(), "redis means redis:latest");
    }

    #[test]
    fn a_container_s_command_and_args_override_the_image_s_as_kubernetes_says() {
        let image = Image {
            command: vec!["entry".into()],
            args: vec!["cmd".into()],
            ..Image::default()
        };
        let argv = |c: &Container| -> Vec<String> {
            image
                .argv(c)
                .into_iter()
                .map(|(s, _)| s.to_string())
                .collect()
        };
        assert_eq!(argv(&container("x", &[], &[])), ["entry", "cmd"]);
        assert_eq!(argv(&container("x", &[], &["mine"])), ["entry", "mine"]);
        assert_eq!(argv(&container("x", &["own"], &[])), ["own"]);
        assert_eq!(argv(&container("x", &["own"], &["a"])), ["own", "a"]);
        let only_args = container("x", &[], &["$(A)"]);
        let parts = image.argv(&only_args);
        assert_eq!(parts, [("entry", false), ("$(A)", true)]);
    }

    #[test]
    fn tables_read_from_json_name_the_reference_and_field_in_errors() {
        let t = ImageTable::from_value(&json!({
            "redis:7": {"command": ["redis-server"], "args": ["--port", "6379"],
                        "env": {"MODE": "x"}, "workingDir": "/srv"}
        }))
        .unwrap();
        let i = t.lookup("redis:7").unwrap();
        assert_eq!(i.env["MODE"], "x");
        assert_eq!(i.working_dir.as_deref(), Some("/srv"));
        let err = ImageTable::from_value(&json!({"redis": {"comand": ["x"]}})).unwrap_err();
        assert!(
            err.to_string().contains("\"redis\"") && err.to_string().contains("comand"),
            "{err}"
        );
        let err = ImageTable::from_value(&json!({"redis": {"env": {"A": 1}}})).unwrap_err();
        assert!(err.to_string().contains("env.A"), "{err}");
        let err = ImageTable::from_value(&json!({"redis": {}})).unwrap_err();
        assert!(err.to_string().contains("needs a command"), "{err}");
        let err = ImageTable::from_value(&json!({"Bad Ref": {"command": ["x"]}})).unwrap_err();
        assert!(err.to_string().contains("Bad Ref"), "{err}");
    }
}
