//! The one rule for which crate versions are semver-compatible: the versions Cargo keeps one
//! of per resolution (its resolver's compatibility slot), which a set unifies, a move stays
//! within, `update` replaces inside, and a stable crate id keeps across.

/// The part of a version that semver-compatible releases share: the major version (`1.x.y`
/// -> `1`), or `0.MINOR` (`0.4.z` -> `0.4`), or `0.0.PATCH`. A pre-release is in the range of
/// its numbers, as Cargo's resolver has it (`1.0.0-rc.1` -> `1`: Cargo never resolves it
/// beside a `1.x` release, and `^1.0.0-rc.1` accepts `1.2.0`). A string that is no version is
/// its own range.
pub fn compatible_range(version: &str) -> String {
    match semver::Version::parse(version) {
        Ok(v) if v.major > 0 => v.major.to_string(),
        Ok(v) if v.minor > 0 => format!("0.{}", v.minor),
        Ok(v) => format!("0.0.{}", v.patch),
        Err(_) => version.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_follow_cargo() {
        assert_eq!(compatible_range("1.2.3"), "1");
        assert_eq!(compatible_range("1.10.6"), compatible_range("1.13.1"));
        assert_eq!(compatible_range("0.8.5"), "0.8");
        assert_ne!(compatible_range("0.4.8"), compatible_range("0.5.0"));
        assert_eq!(compatible_range("0.0.7"), "0.0.7");
        assert_ne!(compatible_range("0.0.3"), compatible_range("0.0.4"));
        assert_eq!(compatible_range("1.0.0-rc.1"), "1");
        assert_eq!(compatible_range("0.3.0-alpha.2"), "0.3");
        assert_eq!(compatible_range("not-a-version"), "not-a-version");
    }
}
