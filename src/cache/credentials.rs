//! Registry credentials, as registry users keep them: `$CARGO_SHARE_REGISTRY_AUTH`
//! (`USER:PASSWORD`, for CI), else the `auths` of the Docker config file
//! (`$DOCKER_CONFIG/config.json`, else `~/.docker/config.json`; what `docker login` writes:
//! base64 of `USER:PASSWORD` per registry host). Credential helpers (`credsStore`,
//! `credHelpers`) are not run.

use std::path::PathBuf;

use anyhow::{Context, Result};
use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine;

/// The environment variable with `USER:PASSWORD` for the registry.
pub const AUTH_ENV: &str = "CARGO_SHARE_REGISTRY_AUTH";

/// `USER:PASSWORD` for `host` (`HOST[:PORT]`), if any is configured.
pub fn credentials_for(host: &str) -> Result<Option<String>> {
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
    let Some(auths) = config.get("auths").and_then(|a| a.as_object()) else {
        return Ok(None);
    };
    for (key, value) in auths {
        let key_host = key
            .trim_start_matches("https://")
            .trim_start_matches("http://")
            .split('/')
            .next()
            .unwrap_or("");
        if key_host != host {
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

fn docker_config_path() -> Option<PathBuf> {
    if let Some(d) = std::env::var_os("DOCKER_CONFIG") {
        return Some(PathBuf::from(d).join("config.json"));
    }
    std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".docker/config.json"))
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
        std::env::remove_var("DOCKER_CONFIG");
    }
}
