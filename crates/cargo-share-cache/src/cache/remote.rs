//! The one trait a binary cache backend implements, and where a cache is (`oci://HOST[:PORT]/PATH`).
//!
//! `push` and `pull` speak only this trait: a content-addressed blob store per repository and
//! manifests by tag, which is what an OCI registry is. Another backend (a WebDAV or S3 store)
//! implements the same five calls in a file of its own.

use anyhow::{bail, Result};

/// A binary cache: blobs by digest (`sha256:HEX`) and manifests by tag, per repository
/// (`PATH/entries/PACKAGE`, `PATH/programs/NAME`).
pub trait Remote {
    /// Whether the cache holds the blob `digest` in `repository`.
    fn has_blob(&self, repository: &str, digest: &str) -> Result<bool>;
    /// Upload `bytes` as the blob `digest` (the cache checks the digest).
    fn put_blob(&self, repository: &str, digest: &str, bytes: &[u8]) -> Result<()>;
    /// The blob `digest`, as the cache returns it (the caller checks the digest): exactly
    /// `size` bytes, the size the signed manifest gives. A blob declared or sent longer is
    /// refused as soon as that shows (never read further); a shorter one is an error that says
    /// how many bytes came.
    fn get_blob(&self, repository: &str, digest: &str, size: u64) -> Result<Vec<u8>>;
    /// Store `bytes` as the manifest tagged `tag`: the step that makes an artifact visible.
    fn put_manifest(
        &self,
        repository: &str,
        tag: &str,
        media_type: &str,
        bytes: &[u8],
    ) -> Result<()>;
    /// The manifest tagged `tag`, or `None` when the cache has none.
    fn get_manifest(&self, repository: &str, tag: &str) -> Result<Option<Vec<u8>>>;
    /// Bytes sent and received so far (bodies only).
    fn transferred(&self) -> (u64, u64);
    /// Make the blob `digest` of the repository `from` (same cache) part of `repository`
    /// without sending it (an OCI cross-repository mount); `false` when the cache did not (the
    /// caller then uploads it). A backend without the call mounts nothing.
    fn mount_blob(&self, _repository: &str, _digest: &str, _from: &str) -> Result<bool> {
        Ok(false)
    }
}

/// Where a cache is: `oci://HOST[:PORT]/PATH`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CacheUrl {
    /// `HOST[:PORT]`.
    pub(crate) host: String,
    /// The repository prefix (no leading or trailing `/`; may be empty).
    pub(crate) path: String,
}

impl CacheUrl {
    pub fn parse(url: &str) -> Result<CacheUrl> {
        let Some(rest) = url.strip_prefix("oci://") else {
            bail!(
                "`{url}` is not a cache address: give `oci://HOST[:PORT]/PATH` (an OCI registry \
                 and a repository prefix, e.g. oci://127.0.0.1:5000/cargo-share)"
            );
        };
        let (host, path) = rest.split_once('/').unwrap_or((rest, ""));
        if host.is_empty() {
            bail!("`{url}` names no registry host: give `oci://HOST[:PORT]/PATH`");
        }
        let path = path.trim_matches('/').to_string();
        if !path
            .split('/')
            .all(|c| c.is_empty() || is_path_component(c))
        {
            bail!(
                "`{url}`: the repository path `{path}` must be lowercase letters, digits and \
                 `.`, `_`, `-` between them (the OCI distribution rules)"
            );
        }
        Ok(CacheUrl {
            host: host.to_string(),
            path,
        })
    }

    /// Whether the host is this machine's loopback address (plain HTTP is allowed there).
    pub(crate) fn is_loopback(&self) -> bool {
        let host = match self.host.rsplit_once(':') {
            Some((h, port)) if port.chars().all(|c| c.is_ascii_digit()) => h,
            _ => &self.host,
        };
        is_loopback_host(host)
    }

    /// The repository of an image named `name` under the address's path (`PATH/NAME`).
    pub(crate) fn image_repository(&self, name: &str) -> String {
        let name = repository_component(name);
        if self.path.is_empty() {
            name
        } else {
            format!("{}/{name}", self.path)
        }
    }

    /// The repository for `kind` (`entries`, `programs`) and a package name.
    pub fn repository(&self, kind: &str, name: &str) -> String {
        let name = repository_component(name);
        if self.path.is_empty() {
            format!("{kind}/{name}")
        } else {
            format!("{}/{kind}/{name}", self.path)
        }
    }
}

/// Whether `host` (no port; an IPv6 address with or without brackets) is this machine's
/// loopback: `localhost`, 127.0.0.0/8 or `::1`.
pub(crate) fn is_loopback_host(host: &str) -> bool {
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    bare.eq_ignore_ascii_case("localhost")
        || bare
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

fn is_path_component(c: &str) -> bool {
    let bytes = c.as_bytes();
    !bytes.is_empty()
        && bytes[0].is_ascii_alphanumeric()
        && bytes[bytes.len() - 1].is_ascii_alphanumeric()
        && c.chars()
            .all(|ch| ch.is_ascii_lowercase() || ch.is_ascii_digit() || "._-".contains(ch))
}

/// A package name as a repository path component: lowercase, `_` kept (allowed between
/// alphanumerics), anything else a `-`.
fn repository_component(name: &str) -> String {
    let mut s: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else if c == '_' {
                '_'
            } else {
                '-'
            }
        })
        .collect();
    while s.ends_with(['-', '_']) {
        s.pop();
    }
    if s.is_empty() || !s.as_bytes()[0].is_ascii_alphanumeric() {
        s.insert(0, 'x');
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cache_urls() {
        let u = CacheUrl::parse("oci://127.0.0.1:5000/team/cache/").unwrap();
        assert_eq!(u.host, "127.0.0.1:5000");
        assert_eq!(u.path, "team/cache");
        assert!(u.is_loopback());
        assert_eq!(
            u.repository("entries", "Serde_JSON"),
            "team/cache/entries/serde_json"
        );
        assert!(!CacheUrl::parse("oci://registry.example")
            .unwrap()
            .is_loopback());
        assert!(CacheUrl::parse("https://x/y").is_err());
        assert!(CacheUrl::parse("oci:///y").is_err());
        assert!(CacheUrl::parse("oci://h/Upper").is_err());
        for host in [
            "127.0.0.1:5000",
            "127.8.9.10",
            "localhost:80",
            "[::1]:5000",
            "[::1]",
        ] {
            let u = CacheUrl::parse(&format!("oci://{host}/x")).unwrap();
            assert!(u.is_loopback(), "{host}");
        }
        for host in [
            "128.0.0.1",
            "10.0.0.1:5000",
            "localhost.example",
            "[::2]:80",
        ] {
            let u = CacheUrl::parse(&format!("oci://{host}/x")).unwrap();
            assert!(!u.is_loopback(), "{host}");
        }
    }
}
