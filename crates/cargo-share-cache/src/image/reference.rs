//! Where an image is: `[oci://]HOST[:PORT]/PATH[:TAG][@sha256:HEX]`, or a Docker Hub name
//! (`debian:bookworm-slim`, `library/debian@sha256:…`) as `docker pull` reads it.

use anyhow::{bail, Result};

/// Docker Hub's registry API host (`docker.io` names it for people).
const DOCKER_HUB: &str = "registry-1.docker.io";

/// An image reference, split.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ImageRef {
    /// `HOST[:PORT]` of the registry.
    pub(crate) host: String,
    /// The repository on it (`library/debian`).
    pub(crate) repository: String,
    /// A tag, or a digest (`sha256:HEX`).
    pub(crate) reference: String,
}

impl ImageRef {
    pub(crate) fn parse(text: &str) -> Result<ImageRef> {
        let bare = text.strip_prefix("oci://").unwrap_or(text);
        let (name, digest) = match bare.split_once('@') {
            Some((n, d)) => (n, Some(d)),
            None => (bare, None),
        };
        let (host, path) = match name.split_once('/') {
            Some((first, rest))
                if first.contains('.') || first.contains(':') || first == "localhost" =>
            {
                (first.to_string(), rest.to_string())
            }
            _ if name.contains('/') => (DOCKER_HUB.to_string(), name.to_string()),
            _ => (DOCKER_HUB.to_string(), format!("library/{name}")),
        };
        let (repository, tag) = match path.rsplit_once(':') {
            Some((r, t)) if !t.contains('/') => (r.to_string(), Some(t.to_string())),
            _ => (path, None),
        };
        let usable = !repository.is_empty()
            && repository.split('/').all(|c| {
                !c.is_empty()
                    && c.chars().all(|ch| {
                        ch.is_ascii_lowercase() || ch.is_ascii_digit() || "._-".contains(ch)
                    })
            });
        if host.is_empty() || !usable {
            bail!(
                "`{text}` is not an image reference: give HOST[:PORT]/PATH[:TAG][@sha256:HEX] \
                 (e.g. 127.0.0.1:5000/base/debian:bookworm-slim) or a Docker Hub name such as \
                 debian:bookworm-slim"
            );
        }
        let reference = match (digest, tag) {
            (Some(d), _) => {
                let hex = d.strip_prefix("sha256:").unwrap_or("");
                if hex.len() != 64 || !hex.chars().all(|c| c.is_ascii_hexdigit()) {
                    bail!("`{text}`: the digest `{d}` is not sha256:<64 hex digits>");
                }
                d.to_string()
            }
            (None, Some(t)) => t,
            (None, None) => "latest".to_string(),
        };
        Ok(ImageRef {
            host,
            repository,
            reference,
        })
    }

    /// Whether the reference is a digest (the manifest is then checked against it).
    pub(crate) fn is_digest(&self) -> bool {
        self.reference.starts_with("sha256:")
    }
}

impl std::fmt::Display for ImageRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let sep = if self.is_digest() { '@' } else { ':' };
        write!(
            f,
            "{}/{}{sep}{}",
            self.host, self.repository, self.reference
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_split_as_docker_reads_them() {
        let r = |t: &str| ImageRef::parse(t).unwrap();
        assert_eq!(
            r("debian:bookworm-slim"),
            ImageRef {
                host: DOCKER_HUB.into(),
                repository: "library/debian".into(),
                reference: "bookworm-slim".into()
            }
        );
        assert_eq!(r("team/tool").repository, "team/tool");
        assert_eq!(r("team/tool").reference, "latest");
        let local = r("oci://127.0.0.1:5000/base/tiny:1");
        assert_eq!(
            (
                local.host.as_str(),
                local.repository.as_str(),
                local.reference.as_str()
            ),
            ("127.0.0.1:5000", "base/tiny", "1")
        );
        let hex = "a".repeat(64);
        let pinned = r(&format!("localhost:5000/x@sha256:{hex}"));
        assert!(pinned.is_digest());
        assert_eq!(pinned.to_string(), format!("localhost:5000/x@sha256:{hex}"));
        for bad in ["", "Upper/Case", "host.example/", "x@sha256:12", "a//b"] {
            assert!(ImageRef::parse(bad).is_err(), "{bad}");
        }
    }
}
