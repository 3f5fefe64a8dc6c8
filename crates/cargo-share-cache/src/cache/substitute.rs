//! Substituters: `cargo share install` looks for each crates.io program (`NAME[@VERSION]`) in
//! the binary caches of the user's configuration before building it, and installs what it
//! finds as `pull` does; what is not found, or cannot be fetched and verified, is built (with a
//! warning when a cache failed).
//!
//! The configuration (TOML) is `$CARGO_SHARE_CONFIG`, else
//! `$XDG_CONFIG_HOME/cargo-share/config.toml`, else `~/.config/cargo-share/config.toml`:
//!
//! ```toml
//! substituters = ["oci://127.0.0.1:5000/cargo-share"]
//! trusted-public-keys = ["keys/builder.pub"]   # relative to this file's directory
//! ```

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use serde::Deserialize;

use crate::cache::oci::OciRegistry;
use crate::cache::pull::{fetch_program, pull_found, read_trusted_keys, PullTarget};
use crate::cache::remote::CacheUrl;
use cargo_share_core::shell::Shell;
use cargo_share_core::source::ProgramSource;
use cargo_share_core::store::ancestors::check_safe_path;
use cargo_share_core::store::{InstallOptions, InstallRecord};

/// The environment variable naming the configuration file.
pub(crate) const CONFIG_ENV: &str = "CARGO_SHARE_CONFIG";

/// The substituters of the configuration file.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub(crate) struct SubstituterConfig {
    #[serde(default)]
    pub(crate) substituters: Vec<String>,
    #[serde(default)]
    pub(crate) trusted_public_keys: Vec<PathBuf>,
}

fn config_path() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os(CONFIG_ENV) {
        return Some(PathBuf::from(p));
    }
    cargo_share_core::dirs::config_home()
        .ok()
        .map(|c| c.join("cargo-share/config.toml"))
}

/// The configuration, if its file exists; key paths made absolute.
pub(crate) fn read_config() -> Result<Option<SubstituterConfig>> {
    let Some(path) = config_path() else {
        return Ok(None);
    };
    let Ok(text) = std::fs::read_to_string(&path) else {
        return Ok(None);
    };
    let mut config: SubstituterConfig = toml::from_str(&text).with_context(|| {
        format!(
            "reading the cargo-share configuration {} (`substituters` and \
             `trusted-public-keys`, see the book's \"Binary cache\")",
            path.display()
        )
    })?;
    let dir = path.parent().unwrap_or(Path::new("."));
    for k in &mut config.trusted_public_keys {
        *k = dir.join(&*k);
    }
    Ok(Some(config))
}

/// Install what the substituters have of `opts`'s crates.io programs and take those out of
/// `opts`; what is left is for the build.
pub fn substitute(opts: &mut InstallOptions, shell: &Shell) -> Result<Vec<InstallRecord>> {
    let Some(config) = read_config()? else {
        return Ok(Vec::new());
    };
    if config.substituters.is_empty() {
        return Ok(Vec::new());
    }
    if !opts.build.features.is_empty() {
        shell.status(
            "Building",
            "without substituters: features were asked for (a cache holds default builds)",
        );
        return Ok(Vec::new());
    }
    if opts.binaries.is_some() {
        shell.status(
            "Building",
            "without substituters: --bin chose binaries (a cache holds every binary)",
        );
        return Ok(Vec::new());
    }
    let trusted = read_trusted_keys(&config.trusted_public_keys)
        .context("the configuration's `trusted-public-keys`")?;
    check_safe_path(&opts.root, "install root", "--root")?;
    let mut records = Vec::new();
    let mut left = Vec::new();
    for source in std::mem::take(&mut opts.build.programs) {
        let ProgramSource::Registry(spec) = &source else {
            left.push(source);
            continue;
        };
        let mut done = false;
        for cache in &config.substituters {
            let attempt = (|| -> Result<Option<Vec<InstallRecord>>> {
                let url = CacheUrl::parse(cache)?;
                let remote = OciRegistry::new(&url, false)?;
                // Checked and installed from this one fetch: the files come by the digests of
                // the manifest whose origin was checked.
                let found = match fetch_program(&remote, &url, &trusted, spec)? {
                    Some(found) if found.config.program.source == "crates.io" => found,
                    _ => return Ok(None),
                };
                let target = PullTarget {
                    store: &opts.store,
                    root: &opts.root,
                    force: opts.force,
                    // An older `latest` is refused: the program is built instead.
                    allow_downgrade: false,
                };
                let pulled = pull_found(&remote, &url, &trusted, vec![found], &target, shell)?;
                Ok(Some(pulled))
            })();
            match attempt {
                Ok(Some(pulled)) => {
                    records.extend(pulled);
                    done = true;
                    break;
                }
                Ok(None) => {}
                Err(e) => shell.warn(format!(
                    "the substituter {cache} could not provide {spec}: {e:#}; it is built \
                     instead"
                )),
            }
        }
        if !done {
            left.push(source);
        }
    }
    opts.build.programs = left;
    Ok(records)
}
