//! Names and versions read from a cache, checked before any of them becomes part of a path.
//!
//! A signed artifact is trusted to hold what its signer built, not to be well-formed: a program's
//! name and version and an entry's package and version become directory names in the store
//! (`programs/NAME-VERSION-ID`, `entries/PACKAGE-VERSION-ID`), binary and library names become
//! file names, and hashes become tags in registry URLs. Each is checked here: a package name is
//! a Cargo package name (ASCII letters, digits, `-`, `_`, starting with a letter or `_`), a
//! version parses as semver, a file name is one plain component, a hash is 64 lowercase hex
//! digits.

use anyhow::{bail, Result};

/// The longest package name accepted (crates.io allows 64; local packages a little more).
const NAME_LIMIT: usize = 100;
/// The longest version accepted (semver has no limit; a directory name has).
const VERSION_LIMIT: usize = 100;
/// The longest file name accepted (the usual file system limit).
const FILE_NAME_LIMIT: usize = 255;

/// A package name: ASCII letters, digits, `-` and `_`, starting with a letter or `_` (Cargo's
/// rule for package names, ASCII only), at most [`NAME_LIMIT`] bytes. `what` names the artifact
/// in the error.
pub(crate) fn check_package_name(name: &str, what: &str) -> Result<()> {
    let plain = name.len() <= NAME_LIMIT
        && name.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if !plain {
        bail!(
            "{what}: the package name {name:?} is not a Cargo package name (ASCII letters, \
             digits, `-` and `_`, starting with a letter or `_`, at most {NAME_LIMIT} bytes): the \
             artifact was crafted or altered; refused, nothing was written"
        );
    }
    Ok(())
}

/// A version: semver, at most [`VERSION_LIMIT`] bytes (so no `/`, no `..`, nothing hidden).
pub(crate) fn check_version(version: &str, what: &str) -> Result<semver::Version> {
    match semver::Version::parse(version) {
        Ok(v) if version.len() <= VERSION_LIMIT => Ok(v),
        _ => bail!(
            "{what}: the version {version:?} is not a semver version of at most \
             {VERSION_LIMIT} bytes: the artifact was crafted or altered; refused, nothing was \
             written"
        ),
    }
}

/// A file name from a cache as a path component: not empty, no `/` or NUL, not hidden (so
/// neither `.` nor `..`), at most [`FILE_NAME_LIMIT`] bytes.
pub(crate) fn check_file_name(name: &str, what: &str) -> Result<()> {
    if name.is_empty()
        || name.len() > FILE_NAME_LIMIT
        || name.contains(['/', '\0'])
        || name.starts_with('.')
    {
        bail!(
            "{what}: the file name {name:?} is not a plain file name (one path component, not \
             hidden); refused, nothing was written"
        );
    }
    Ok(())
}

/// An identity or file hash: 64 lowercase hex digits.
pub(crate) fn check_hash(hash: &str, what: &str) -> Result<()> {
    if hash.len() != 64
        || !hash
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    {
        bail!(
            "{what}: {hash:?} is not a SHA-256 (64 lowercase hex digits); refused, nothing was \
             written"
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn package_names_are_cargo_names() {
        for ok in [
            "serde",
            "serde_json",
            "cargo-share-group-1-ab12",
            "std",
            "a",
        ] {
            assert!(check_package_name(ok, "t").is_ok(), "{ok}");
        }
        for bad in [
            "", "..", ".", "../x", "a/b", "a\0b", ".hidden", "1abc", "-x", "a b", "a.b", "é",
        ] {
            let err = check_package_name(bad, "the entry x").unwrap_err();
            assert!(
                format!("{err:#}").contains("the entry x")
                    && format!("{err:#}").contains("refused"),
                "{bad}: {err:#}"
            );
        }
        assert!(check_package_name(&"a".repeat(NAME_LIMIT + 1), "t").is_err());
    }

    #[test]
    fn versions_parse_as_semver() {
        for ok in ["0.1.0", "1.85.0-nightly", "1.0.0+build.5", "1.0.0-rc.1+x-y"] {
            assert!(check_version(ok, "t").is_ok(), "{ok}");
        }
        for bad in [
            "",
            "../../x",
            "1.0.0/../../x",
            "..",
            "1.0",
            "1.0.0+../x",
            "1.0.0-a..b",
            "1.0.0\0",
            "latest",
        ] {
            assert!(check_version(bad, "t").is_err(), "{bad}");
        }
        assert!(check_version(&format!("1.0.0-{}", "a".repeat(VERSION_LIMIT)), "t").is_err());
    }

    #[test]
    fn file_names_are_one_plain_component() {
        for ok in ["libfoo-0123.so", "hello", "a..b"] {
            assert!(check_file_name(ok, "t").is_ok(), "{ok}");
        }
        for bad in ["", ".", "..", "../x", "a/b", "/abs", ".hidden", "a\0b"] {
            assert!(check_file_name(bad, "t").is_err(), "{bad}");
        }
        assert!(check_file_name(&"a".repeat(FILE_NAME_LIMIT + 1), "t").is_err());
    }

    #[test]
    fn hashes_are_lowercase_sha256() {
        assert!(check_hash(&"0a".repeat(32), "t").is_ok());
        for bad in [
            String::new(),
            "0A".repeat(32),
            "0a".repeat(31),
            format!("{}/..", "0".repeat(61)),
        ] {
            assert!(check_hash(&bad, "t").is_err(), "{bad}");
        }
    }
}
