//! The OCI distribution API over blocking HTTP (`ureq`): the [`Remote`] of an OCI registry.
//!
//! The calls used: `HEAD /v2/REPO/blobs/DIGEST`, `POST /v2/REPO/blobs/uploads/` then `PUT
//! LOCATION?digest=DIGEST` (a monolithic upload), `GET /v2/REPO/blobs/DIGEST`, `PUT` and `GET
//! /v2/REPO/manifests/TAG`. Authentication: HTTP basic with the configured credentials, or the
//! token flow (`WWW-Authenticate: Bearer realm=…,service=…,scope=…`) that hosted registries use.
//! Plain HTTP only to the loopback address unless the user passed `--insecure`; credentials
//! (basic or a token) never travel over plain HTTP except to the loopback address, whether to
//! the registry (`--insecure`) or to a token realm it names.

use std::cell::{Cell, RefCell};
use std::time::Duration;

use anyhow::{bail, Context, Result};
use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine;
use ureq::http::{Method, Request, Response, StatusCode};

use crate::cache::credentials::credentials_for;
use crate::cache::remote::{is_loopback_host, CacheUrl, Remote};

/// The largest manifest accepted (the distribution spec's servers cap theirs at 4 MiB).
const MANIFEST_LIMIT: u64 = 4 << 20;
/// The most memory reserved for a blob before its bytes arrive.
const BLOB_PREALLOCATION: u64 = 16 << 20;

/// An OCI registry reached over HTTP(S).
pub struct OciRegistry {
    agent: ureq::Agent,
    /// `http://HOST[:PORT]` or `https://HOST[:PORT]`.
    base: String,
    /// The address as the user gave it, for messages.
    url: String,
    basic: Option<String>,
    token: RefCell<Option<String>>,
    sent: Cell<u64>,
    received: Cell<u64>,
}

impl OciRegistry {
    /// A client of the registry at `url`: HTTPS, or HTTP for the loopback address or with
    /// `insecure`.
    pub fn new(url: &CacheUrl, insecure: bool) -> Result<OciRegistry> {
        let scheme = if url.is_loopback() || insecure {
            "http"
        } else {
            "https"
        };
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_connect(Some(Duration::from_secs(10)))
            .timeout_global(Some(Duration::from_secs(600)))
            .build()
            .into();
        Ok(OciRegistry {
            agent,
            base: format!("{scheme}://{}", url.host),
            url: format!("oci://{}/{}", url.host, url.path),
            basic: credentials_for(&url.host)?,
            token: RefCell::new(None),
            sent: Cell::new(0),
            received: Cell::new(0),
        })
    }

    /// One request, authenticated; a `401` with a bearer challenge gets a token and is sent once
    /// more.
    fn request(
        &self,
        method: Method,
        url: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> Result<Response<ureq::Body>> {
        let mut retried = false;
        loop {
            let mut req = Request::builder().method(method.clone()).uri(url);
            for (k, v) in headers {
                req = req.header(*k, *v);
            }
            if may_carry_credentials(url) {
                if let Some(token) = self.token.borrow().as_ref() {
                    req = req.header("Authorization", format!("Bearer {token}"));
                } else if let Some(basic) = &self.basic {
                    req = req.header("Authorization", format!("Basic {}", BASE64.encode(basic)));
                }
            }
            let req = req.body(body.to_vec())?;
            let resp = self.agent.run(req).map_err(|e| self.unreachable(e))?;
            self.sent.set(self.sent.get() + body.len() as u64);
            if resp.status() == StatusCode::UNAUTHORIZED && !retried {
                let challenge = resp
                    .headers()
                    .get("www-authenticate")
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or("")
                    .to_string();
                if let Some(params) = challenge.strip_prefix("Bearer ") {
                    *self.token.borrow_mut() = Some(self.fetch_token(params)?);
                    retried = true;
                    continue;
                }
            }
            return Ok(resp);
        }
    }

    fn unreachable(&self, e: ureq::Error) -> anyhow::Error {
        cargo_share_core::failure::Failure::Unreachable(format!(
            "the cache {} cannot be reached ({e}): is the registry running and the address \
             right? Nothing was changed",
            self.url
        ))
        .into()
    }

    /// The token flow: `GET realm?service=…&scope=…` with the basic credentials, if any.
    fn fetch_token(&self, params: &str) -> Result<String> {
        let mut realm = None;
        let mut query = Vec::new();
        for part in split_challenge(params) {
            let Some((k, v)) = part.split_once('=') else {
                continue;
            };
            let v = v.trim_matches('"');
            match k.trim() {
                "realm" => realm = Some(v.to_string()),
                "service" | "scope" => query.push(format!("{}={}", k.trim(), v)),
                _ => {}
            }
        }
        let realm = realm.context("the registry asked for a token but named no realm")?;
        let url = if query.is_empty() {
            realm
        } else {
            format!("{realm}?{}", query.join("&"))
        };
        let mut req = Request::builder().method(Method::GET).uri(&url);
        if let Some(basic) = &self.basic {
            if !may_carry_credentials(&url) {
                bail!(
                    "the registry {} asks for a token from {url}, which is plain HTTP to a host \
                     that is not this machine: credentials are never sent over plain HTTP \
                     (loopback aside), so nothing was sent; refused. Use a registry whose token \
                     service is HTTPS",
                    self.url
                );
            }
            req = req.header("Authorization", format!("Basic {}", BASE64.encode(basic)));
        }
        let mut resp = self
            .agent
            .run(req.body(Vec::new())?)
            .map_err(|e| self.unreachable(e))?;
        if !resp.status().is_success() {
            bail!(
                "the registry's token service {url} refused ({}): check the credentials \
                 (${} or `docker login`)",
                resp.status(),
                crate::cache::credentials::AUTH_ENV
            );
        }
        let body: serde_json::Value = serde_json::from_slice(&read_small(&mut resp, &url)?)
            .with_context(|| format!("the registry's token service {url} answered no JSON"))?;
        body.get("token")
            .or_else(|| body.get("access_token"))
            .and_then(|t| t.as_str())
            .map(str::to_string)
            .context("the registry's token service returned no token")
    }

    /// An error for an unexpected answer, with the registry's own error code and message.
    fn refused(&self, what: &str, resp: Response<ureq::Body>) -> anyhow::Error {
        self.refusal_error(what, &Refusal::read(resp))
    }

    fn refusal_error(&self, what: &str, refusal: &Refusal) -> anyhow::Error {
        let status = refusal.status;
        let denied = status == StatusCode::UNAUTHORIZED || status == StatusCode::FORBIDDEN;
        let hint = if denied && self.basic.is_some() && !may_carry_credentials(&self.base) {
            " (the credentials were not sent: never over plain HTTP to another host; use HTTPS)"
                .to_string()
        } else if denied {
            format!(
                " (log in with `docker login`, or set ${})",
                crate::cache::credentials::AUTH_ENV
            )
        } else {
            String::new()
        };
        anyhow::anyhow!(
            "{what} at {}: the registry answered {status} {}{hint}",
            self.url,
            refusal.detail
        )
    }

    fn read_body(&self, resp: &mut Response<ureq::Body>, url: &str) -> Result<Vec<u8>> {
        let bytes = read_small(resp, url)?;
        self.received.set(self.received.get() + bytes.len() as u64);
        Ok(bytes)
    }
}

impl OciRegistry {
    /// `GET /v2/`, the distribution API's version check: an error when the registry cannot be
    /// reached or does not speak the API (before work that would be lost otherwise).
    pub(crate) fn check_reachable(&self) -> Result<()> {
        let url = format!("{}/v2/", self.base);
        let resp = self.request(Method::GET, &url, &[], &[])?;
        match resp.status() {
            s if s.is_success() => Ok(()),
            _ => Err(self.refused("checking the registry API (GET /v2/)", resp)),
        }
    }

    /// The manifest `repository:reference` (a tag or a digest) if it is one of the media types
    /// `accept` names, with the media type the registry gives; `None` when there is none.
    pub(crate) fn get_manifest_of_types(
        &self,
        repository: &str,
        reference: &str,
        accept: &[&str],
    ) -> Result<Option<(String, Vec<u8>)>> {
        let url = format!("{}/v2/{repository}/manifests/{reference}", self.base);
        let accept = accept.join(", ");
        let mut resp = self.request(Method::GET, &url, &[("Accept", &accept)], &[])?;
        match resp.status() {
            s if s.is_success() => {
                let media_type = resp
                    .headers()
                    .get("content-type")
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or("")
                    .to_string();
                Ok(Some((media_type, self.read_body(&mut resp, &url)?)))
            }
            StatusCode::NOT_FOUND => Ok(None),
            _ => Err(self.refused(
                &format!("fetching the manifest {repository}:{reference}"),
                resp,
            )),
        }
    }
}

/// A manifest or token answer from `url`: at most [`MANIFEST_LIMIT`] bytes, a failure named.
fn read_small(resp: &mut Response<ureq::Body>, url: &str) -> Result<Vec<u8>> {
    let declared = resp
        .headers()
        .get("content-length")
        .and_then(|v| v.to_str().ok())
        .map(|v| format!(" of the {v} bytes it declared"))
        .unwrap_or_default();
    resp.body_mut()
        .with_config()
        .limit(MANIFEST_LIMIT)
        .read_to_vec()
        .with_context(|| {
            format!(
                "reading the answer{declared} from {url} (at most {MANIFEST_LIMIT} bytes are \
                 read): it was cut off or too long; nothing was installed. Try again; if it \
                 keeps happening, the registry or a proxy in between is failing"
            )
        })
}

/// Exactly `size` bytes from `body` (the blob at `url`): more is refused as soon as it arrives;
/// a body that ends or fails early is an error that says how much came.
fn read_exactly(body: impl std::io::Read, size: u64, url: &str) -> Result<Vec<u8>> {
    use std::io::Read;
    let mut out = Vec::with_capacity(size.min(BLOB_PREALLOCATION) as usize);
    let mut limited = body.take(size + 1);
    let mut buf = vec![0u8; 64 << 10];
    loop {
        let n = match limited.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) => bail!(
                "the blob from {url} was cut off: expected {size} bytes, got {} before the \
                 transfer failed ({e}); nothing was installed. Pull again; if it keeps \
                 happening, the registry or a proxy in between is dropping the connection",
                out.len()
            ),
        };
        out.extend_from_slice(&buf[..n]);
        if out.len() as u64 > size {
            bail!(
                "the blob from {url} is longer than the {size} bytes its signed manifest gives; \
                 refused as soon as more arrived"
            );
        }
    }
    if (out.len() as u64) < size {
        bail!(
            "the blob from {url} was cut off: expected {size} bytes, got {}; nothing was \
             installed. Pull again; if it keeps happening, the registry or a proxy in between \
             is dropping the connection",
            out.len()
        );
    }
    Ok(out)
}

/// How many times a manifest is stored again after an answer that a concurrent write explains.
const MANIFEST_RACE_RETRIES: u32 = 4;

/// A registry's answer that was not the one asked for: its status and its own error code.
struct Refusal {
    status: StatusCode,
    code: Option<String>,
    /// `CODE: message`, or the start of the body when it is not the registry error format.
    detail: String,
}

impl Refusal {
    fn read(mut resp: Response<ureq::Body>) -> Refusal {
        let status = resp.status();
        let body = resp
            .body_mut()
            .with_config()
            .limit(64 << 10)
            .read_to_string()
            .unwrap_or_default();
        let first = serde_json::from_str::<serde_json::Value>(&body)
            .ok()
            .and_then(|v| v.get("errors")?.get(0).cloned());
        let code = first
            .as_ref()
            .and_then(|e| Some(e.get("code")?.as_str()?.to_string()));
        let detail = match (&code, &first) {
            (Some(code), Some(e)) => format!(
                "{code}: {}",
                e.get("message").and_then(|m| m.as_str()).unwrap_or("")
            ),
            _ => body.chars().take(200).collect(),
        };
        Refusal {
            status,
            code,
            detail,
        }
    }

    /// Docker's registry (distribution 2.x, Debian's `docker-registry`) rewrites a repository's
    /// link files in place when the same blob or manifest is stored twice at once; a manifest
    /// check that reads a link mid-write finds it empty and answers `DIGEST_INVALID`. Stored
    /// again, the same bytes are accepted, so this answer to a manifest is retried.
    fn is_concurrent_write_race(&self) -> bool {
        self.status == StatusCode::BAD_REQUEST && self.code.as_deref() == Some("DIGEST_INVALID")
    }
}

/// Whether a request to `url` may carry credentials (basic or a token): HTTPS, or plain HTTP to
/// this machine's loopback address (`--insecure` reaches other hosts without them).
fn may_carry_credentials(url: &str) -> bool {
    let Ok(uri) = url.parse::<ureq::http::Uri>() else {
        return false;
    };
    match uri.scheme_str() {
        Some("https") => true,
        Some("http") => uri.host().is_some_and(is_loopback_host),
        _ => false,
    }
}

/// `a="x,y",b=z` split at the commas outside quotes.
fn split_challenge(s: &str) -> Vec<&str> {
    let mut parts = Vec::new();
    let mut start = 0;
    let mut quoted = false;
    for (i, c) in s.char_indices() {
        match c {
            '"' => quoted = !quoted,
            ',' if !quoted => {
                parts.push(&s[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(&s[start..]);
    parts
}

impl Remote for OciRegistry {
    fn has_blob(&self, repository: &str, digest: &str) -> Result<bool> {
        let url = format!("{}/v2/{repository}/blobs/{digest}", self.base);
        let resp = self.request(Method::HEAD, &url, &[], &[])?;
        match resp.status() {
            s if s.is_success() => Ok(true),
            StatusCode::NOT_FOUND => Ok(false),
            _ => Err(self.refused(&format!("checking the blob {digest} in {repository}"), resp)),
        }
    }

    fn put_blob(&self, repository: &str, digest: &str, bytes: &[u8]) -> Result<()> {
        let what = format!("uploading the blob {digest} to {repository}");
        let url = format!("{}/v2/{repository}/blobs/uploads/", self.base);
        let resp = self.request(Method::POST, &url, &[], &[])?;
        if resp.status() != StatusCode::ACCEPTED {
            return Err(self.refused(&what, resp));
        }
        let location = resp
            .headers()
            .get("location")
            .and_then(|l| l.to_str().ok())
            .context("the registry started an upload but gave no Location")?;
        let location = if location.starts_with('/') {
            format!("{}{location}", self.base)
        } else {
            location.to_string()
        };
        let sep = if location.contains('?') { '&' } else { '?' };
        let url = format!("{location}{sep}digest={digest}");
        let resp = self.request(
            Method::PUT,
            &url,
            &[("Content-Type", "application/octet-stream")],
            bytes,
        )?;
        if resp.status() != StatusCode::CREATED {
            return Err(self.refused(&what, resp));
        }
        Ok(())
    }

    fn get_blob(&self, repository: &str, digest: &str, size: u64) -> Result<Vec<u8>> {
        let url = format!("{}/v2/{repository}/blobs/{digest}", self.base);
        let mut resp = self.request(Method::GET, &url, &[], &[])?;
        if !resp.status().is_success() {
            return Err(self.refused(&format!("fetching the blob {digest} of {repository}"), resp));
        }
        let declared = resp
            .headers()
            .get("content-length")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok());
        if let Some(declared) = declared.filter(|d| *d != size) {
            bail!(
                "the blob {digest} from {url}: the registry declares {declared} bytes, the \
                 signed manifest {size}; refused before reading it"
            );
        }
        let bytes = read_exactly(resp.body_mut().as_reader(), size, &url)?;
        self.received.set(self.received.get() + bytes.len() as u64);
        Ok(bytes)
    }

    fn put_manifest(
        &self,
        repository: &str,
        tag: &str,
        media_type: &str,
        bytes: &[u8],
    ) -> Result<()> {
        let url = format!("{}/v2/{repository}/manifests/{tag}", self.base);
        let mut attempt = 0;
        loop {
            let resp = self.request(Method::PUT, &url, &[("Content-Type", media_type)], bytes)?;
            if resp.status() == StatusCode::CREATED {
                return Ok(());
            }
            let refusal = Refusal::read(resp);
            if refusal.is_concurrent_write_race() && attempt < MANIFEST_RACE_RETRIES {
                attempt += 1;
                std::thread::sleep(std::time::Duration::from_millis(100 << attempt));
                continue;
            }
            let what = format!("storing the manifest {repository}:{tag}");
            return Err(self.refusal_error(&what, &refusal));
        }
    }

    fn get_manifest(&self, repository: &str, tag: &str) -> Result<Option<Vec<u8>>> {
        let accept = oci_spec::image::MediaType::ImageManifest.to_string();
        Ok(self
            .get_manifest_of_types(repository, tag, &[&accept])?
            .map(|(_, bytes)| bytes))
    }

    fn mount_blob(&self, repository: &str, digest: &str, from: &str) -> Result<bool> {
        let url = format!(
            "{}/v2/{repository}/blobs/uploads/?mount={digest}&from={from}",
            self.base
        );
        let resp = self.request(Method::POST, &url, &[], &[])?;
        match resp.status() {
            StatusCode::CREATED => Ok(true),
            // The registry started an ordinary upload instead; the caller uploads the blob.
            StatusCode::ACCEPTED => Ok(false),
            _ => Err(self.refused(
                &format!("mounting the blob {digest} from {from} into {repository}"),
                resp,
            )),
        }
    }

    fn transferred(&self) -> (u64, u64) {
        (self.sent.get(), self.received.get())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blob_bodies_are_read_to_exactly_their_signed_size() {
        let url = "http://127.0.0.1:5000/v2/x/blobs/sha256:00";
        assert_eq!(read_exactly(&b"abcd"[..], 4, url).unwrap(), b"abcd");
        let err = read_exactly(&b"abcde"[..], 4, url).unwrap_err();
        assert!(
            format!("{err:#}").contains("longer than the 4 bytes"),
            "{err:#}"
        );
        let err = format!("{:#}", read_exactly(&b"ab"[..], 4, url).unwrap_err());
        assert!(
            err.contains("cut off: expected 4 bytes, got 2") && err.contains(url),
            "{err}"
        );
        // A body that fails midway says how much came before.
        struct Failing(usize);
        impl std::io::Read for Failing {
            fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
                if self.0 == 0 {
                    return Err(std::io::Error::other("peer disconnected"));
                }
                let n = self.0.min(buf.len());
                buf[..n].fill(7);
                self.0 -= n;
                Ok(n)
            }
        }
        let err = format!("{:#}", read_exactly(Failing(3), 10, url).unwrap_err());
        assert!(
            err.contains("expected 10 bytes, got 3") && err.contains("peer disconnected"),
            "{err}"
        );
    }

    #[test]
    fn credentials_go_over_https_or_to_loopback_only() {
        for url in [
            "https://registry.example/v2/",
            "https://10.0.0.1:5000/token",
            "http://127.0.0.1:5000/v2/",
            "http://127.1.2.3/token",
            "http://localhost/token",
            "http://[::1]:5000/v2/",
        ] {
            assert!(may_carry_credentials(url), "{url}");
        }
        for url in [
            "http://registry.example/v2/",
            "http://10.0.0.1:5000/token",
            "http://localhost.example/token",
            "ftp://127.0.0.1/x",
            "not a url",
        ] {
            assert!(!may_carry_credentials(url), "{url}");
        }
    }

    #[test]
    fn bearer_challenges_split_outside_quotes() {
        assert_eq!(
            split_challenge(
                r#"realm="https://a/token",service="reg",scope="repository:x:pull,push""#
            ),
            vec![
                r#"realm="https://a/token""#,
                r#"service="reg""#,
                r#"scope="repository:x:pull,push""#
            ]
        );
    }
}
