//! Registry credentials, as registry users keep them: `$CARGO_SHARE_REGISTRY_AUTH`
//! (`USER:PASSWORD`, for CI), else the Docker config file (`$DOCKER_CONFIG/config.json`, else
//! `~/.docker/config.json`), read as Docker reads it: a credential helper named for the host in
//! `credHelpers`, else the default helper `credsStore`, else the host's `auths` entry (what
//! `docker login` writes without a helper: base64 of `USER:PASSWORD`). A helper is the program
//! `docker-credential-NAME` on `PATH`, run as `docker-credential-NAME get` with the host on its
//! standard input; it answers JSON with `Username` and `Secret` (the protocol of
//! docker/docker-credential-helpers), or fails when it holds nothing for the host.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::{Context, Result};
use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine;

/// The environment variable with `USER:PASSWORD` for the registry.
pub(crate) const AUTH_ENV: &str = "CARGO_SHARE_REGISTRY_AUTH";

/// `USER:PASSWORD` for `host` (`HOST[:PORT]`), if any is configured.
pub(crate) fn credentials_for(host: &str) -> Result<Option<String>> {
    if let Ok(v) = std::env::var(AUTH_ENV) {
        if !v.contains(':') {
            anyhow::bail!("${AUTH_ENV} must be `USER:PASSWORD`");
        }
        return Ok(Some(v));
    }
    let Some(path) = docker_config_path() else {
        return Ok(None);
    };
    let Ok(text) = std::fs::read_to_string(&path) else {
        return Ok(None);
    };
    let config: serde_json::Value = serde_json::from_str(&text).with_context(|| {
        format!(
            "parsing the Docker config {} (for the registry's credentials)",
            path.display()
        )
    })?;
    let helper = config
        .get("credHelpers")
        .and_then(|h| h.as_object())
        .and_then(|h| {
            h.iter()
                .find(|(key, _)| config_key_host(key) == host)
                .and_then(|(_, v)| v.as_str())
        })
        .or_else(|| config.get("credsStore").and_then(|s| s.as_str()))
        .filter(|name| !name.is_empty());
    if let Some(name) = helper {
        let program = format!("docker-credential-{name}");
        return from_helper(Path::new(&program), host).with_context(|| {
            format!(
                "{} names the credential helper `{name}` for {host}: `{program} get` failed \
                 (install it, log in with `docker login {host}`, or set ${AUTH_ENV})",
                path.display()
            )
        });
    }
    let Some(auths) = config.get("auths").and_then(|a| a.as_object()) else {
        return Ok(None);
    };
    for (key, value) in auths {
        if config_key_host(key) != host {
            continue;
        }
        let Some(auth) = value.get("auth").and_then(|a| a.as_str()) else {
            continue;
        };
        let decoded = BASE64
            .decode(auth)
            .ok()
            .and_then(|b| String::from_utf8(b).ok())
            .filter(|s| s.contains(':'))
            .with_context(|| {
                format!(
                    "{}: the `auth` of {key} is not base64 of USER:PASSWORD; log in again",
                    path.display()
                )
            })?;
        return Ok(Some(decoded));
    }
    Ok(None)
}

/// The `HOST[:PORT]` of a Docker config key (`https://registry.example:5000/v1/` or a bare host).
fn config_key_host(key: &str) -> &str {
    key.trim_start_matches("https://")
        .trim_start_matches("http://")
        .split('/')
        .next()
        .unwrap_or("")
}

/// Ask a Docker credential helper for `host`'s credentials: `None` when it holds none (it
/// says "credentials not found"), an error when it cannot be run or answers something else.
fn from_helper(program: &Path, host: &str) -> Result<Option<String>> {
    let mut child = Command::new(program)
        .arg("get")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .with_context(|| format!("running {}", program.display()))?;
    child
        .stdin
        .take()
        .context("the helper's standard input")?
        .write_all(host.as_bytes())?;
    let out = child.wait_with_output()?;
    let said =
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    if !out.status.success() {
        if said.to_lowercase().contains("credentials not found") {
            return Ok(None);
        }
        anyhow::bail!("{} get: {}: {}", program.display(), out.status, said.trim());
    }
    #[derive(serde::Deserialize)]
    struct HelperAnswer {
        #[serde(rename = "Username")]
        username: String,
        #[serde(rename = "Secret")]
        secret: String,
    }
    let answer: HelperAnswer = serde_json::from_slice(&out.stdout).with_context(|| {
        format!(
            "{} get answered something other than {{\"Username\", \"Secret\"}} JSON",
            program.display()
        )
    })?;
    Ok(Some(format!("{}:{}", answer.username, answer.secret)))
}

fn docker_config_path() -> Option<PathBuf> {
    if let Some(d) = std::env::var_os("DOCKER_CONFIG") {
        return Some(PathBuf::from(d).join("config.json"));
    }
    cargo_share_core::dirs::home()
        .ok()
        .map(|h| h.join(".docker/config.json"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn docker_config_auths_are_read_by_host() {
        let dir = tempfile::tempdir().unwrap();
        let config = serde_json::json!({"auths": {
            "https://registry.example:5000": {"auth": BASE64.encode("ann:secret")},
            "other.example": {"auth": BASE64.encode("bob:pw")},
        }});
        std::fs::write(dir.path().join("config.json"), config.to_string()).unwrap();
        // The only test that sets these variables (the process's environment is shared).
        std::env::remove_var(AUTH_ENV);
        std::env::set_var("DOCKER_CONFIG", dir.path());
        assert_eq!(
            credentials_for("registry.example:5000").unwrap().as_deref(),
            Some("ann:secret")
        );
        assert_eq!(
            credentials_for("other.example").unwrap().as_deref(),
            Some("bob:pw")
        );
        assert_eq!(credentials_for("third.example").unwrap(), None);
        std::env::set_var(AUTH_ENV, "ci:token");
        assert_eq!(
            credentials_for("third.example").unwrap().as_deref(),
            Some("ci:token")
        );
        std::env::remove_var(AUTH_ENV);
        // `credHelpers` for the host wins over `auths`; the helper is found on PATH (prepended
        // here, the rest of PATH kept for the other tests of this process).
        fake_helper(dir.path());
        let config = serde_json::json!({
            "auths": {"registry.example:5000": {"auth": BASE64.encode("stale:old")}},
            "credHelpers": {"registry.example:5000": "fake"},
        });
        std::fs::write(dir.path().join("config.json"), config.to_string()).unwrap();
        let path = std::env::var_os("PATH").unwrap_or_default();
        let mut dirs = vec![dir.path().to_path_buf()];
        dirs.extend(std::env::split_paths(&path));
        std::env::set_var("PATH", std::env::join_paths(dirs).unwrap());
        assert_eq!(
            credentials_for("registry.example:5000").unwrap().as_deref(),
            Some("ann:s3cret")
        );
        std::env::set_var("PATH", path);
        std::env::remove_var("DOCKER_CONFIG");
    }

    /// A fake `docker-credential-*` speaking the helper protocol: it knows one host.
    fn fake_helper(dir: &Path) -> PathBuf {
        use std::os::unix::fs::PermissionsExt;
        let path = dir.join("docker-credential-fake");
        std::fs::write(
            &path,
            "#!/bin/sh\n[ \"$1\" = get ] || exit 3\nread host\n\
             if [ \"$host\" = registry.example:5000 ]; then\n\
             printf '{\"ServerURL\":\"%s\",\"Username\":\"ann\",\"Secret\":\"s3cret\"}' \"$host\"\n\
             else echo 'credentials not found in native keychain' >&2; exit 1; fi\n",
        )
        .unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
        path
    }

    #[test]
    fn credential_helpers_are_asked_with_the_docker_protocol() {
        let dir = tempfile::tempdir().unwrap();
        let helper = fake_helper(dir.path());
        assert_eq!(
            from_helper(&helper, "registry.example:5000")
                .unwrap()
                .as_deref(),
            Some("ann:s3cret")
        );
        assert_eq!(from_helper(&helper, "other.example").unwrap(), None);
        let missing = from_helper(&dir.path().join("docker-credential-none"), "x").unwrap_err();
        assert!(
            format!("{missing:#}").contains("docker-credential-none"),
            "{missing:#}"
        );
        assert_eq!(
            config_key_host("https://registry.example:5000/v1/"),
            "registry.example:5000"
        );
    }
}
