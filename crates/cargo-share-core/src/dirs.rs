//! Where things live by default, looked up in one place: the user's home, Cargo's home and the
//! XDG base directories.

use std::path::PathBuf;

use anyhow::{Context, Result};

/// The user's home directory (`$HOME`; the `home` crate, as Cargo finds it).
pub fn home() -> Result<PathBuf> {
    home::home_dir().context("no home directory: HOME is not set")
}

/// `CARGO_HOME`, as Cargo finds it (`$CARGO_HOME`, else `~/.cargo`).
pub fn cargo_home() -> Result<PathBuf> {
    home::cargo_home().context("neither CARGO_HOME nor HOME is set")
}

/// An XDG base directory: `$VAR` when set and not empty, else `~/DEFAULT`.
fn xdg(var: &str, default: &str) -> Result<PathBuf> {
    match std::env::var_os(var).filter(|v| !v.is_empty()) {
        Some(dir) => Ok(PathBuf::from(dir)),
        None => Ok(home()?.join(default)),
    }
}

/// `$XDG_CACHE_HOME`, else `~/.cache`.
pub(crate) fn cache_home() -> Result<PathBuf> {
    xdg("XDG_CACHE_HOME", ".cache")
}

/// `$XDG_DATA_HOME`, else `~/.local/share`.
pub(crate) fn data_home() -> Result<PathBuf> {
    xdg("XDG_DATA_HOME", ".local/share")
}

/// `$XDG_CONFIG_HOME`, else `~/.config`.
pub fn config_home() -> Result<PathBuf> {
    xdg("XDG_CONFIG_HOME", ".config")
}
