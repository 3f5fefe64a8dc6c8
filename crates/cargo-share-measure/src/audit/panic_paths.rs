//! The source paths a Rust binary keeps for panic messages (`Location`s in `.rodata`), read as
//! evidence of what it carries: `…/NAME-VERSION/src/….rs` for a crate from a registry or a
//! distribution's vendor directory (`~/.cargo/registry/src/…/regex-1.12.2/src/lib.rs`,
//! `/usr/share/cargo/registry/clap-2.34.0/src/…`), and the toolchain's own sources for the
//! compiler: `/rustc/COMMIT/library/…` (rustup builds) or `/usr/src/rustc-VERSION/…`
//! (distribution builds), and std's own dependencies under `/rust/deps/` (rustup builds) or
//! the toolchain source's `vendor/`, which count as the toolchain's. Stripping keeps these strings, so this works on any binary; but a
//! crate that compiles no panic location into the binary leaves no path, and a path gives no
//! size.

use std::collections::{BTreeMap, BTreeSet};

/// What the paths of one binary say.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(crate) struct PathEvidence {
    /// (crate name as in Cargo.toml, version) -> distinct source files seen.
    pub(crate) crates: BTreeMap<(String, String), BTreeSet<String>>,
    /// Distinct files of the toolchain's library (std, core, alloc and what std vendors).
    pub(crate) toolchain_files: BTreeSet<String>,
    /// Distinct relative `src/….rs` paths: the program's own crates (Cargo passes workspace
    /// members' paths relative to the workspace).
    pub(crate) own_files: BTreeSet<String>,
    /// Commit hashes from `/rustc/HASH/` paths.
    pub(crate) rustc_commits: BTreeSet<String>,
    /// Versions from `/rustc-VERSION/` source directories (distribution builds).
    pub(crate) rustc_versions: BTreeSet<String>,
}

/// Crates std carries inside itself (vendored into the toolchain's library): a symbol naming one
/// of these with no registry version in the binary is std's copy.
pub(crate) const STD_VENDORED: &[&str] = &[
    "hashbrown",
    "gimli",
    "addr2line",
    "miniz_oxide",
    "adler",
    "adler2",
    "rustc_demangle",
    "object",
    "memchr",
    "cfg_if",
    "libc",
];

impl PathEvidence {
    /// The crate whose files include `src/main.rs` or `src/bin/…`: a program's root package
    /// (built from a registry by `cargo install`, its paths look like any dependency's).
    pub(crate) fn binary_crate(&self) -> Option<&(String, String)> {
        self.crates
            .iter()
            .find(|(_, files)| {
                files
                    .iter()
                    .any(|f| f == "main.rs" || f.starts_with("bin/"))
            })
            .map(|(k, _)| k)
    }
}

fn is_path_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.' | b'/' | b'+')
}

fn is_segment_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.' | b'+')
}

/// `regex-automata-0.4.3` -> (`regex-automata`, `0.4.3`); `None` unless the tail after some
/// `-` is a semantic version and the head a crate name.
pub(crate) fn split_name_version(segment: &str) -> Option<(&str, &str)> {
    for (i, _) in segment.match_indices('-') {
        let (name, version) = (&segment[..i], &segment[i + 1..]);
        if !version.starts_with(|c: char| c.is_ascii_digit()) {
            continue;
        }
        let name_ok = name.starts_with(|c: char| c.is_ascii_alphabetic())
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
        if name_ok && semver::Version::parse(version).is_ok() {
            return Some((name, version));
        }
    }
    None
}

/// The `….rs` file name that starts at `from` (within path bytes), if there is one.
fn source_file(data: &[u8], from: usize) -> Option<&str> {
    let mut end = from;
    while end < data.len() && end - from < 256 && is_path_byte(data[end]) {
        end += 1;
        if data[from..end].ends_with(b".rs") {
            return std::str::from_utf8(&data[from..end]).ok();
        }
    }
    None
}

/// The path bytes before `end` (at most 300), from after the last `.rs` (strings run into
/// each other: that is where the previous path ended).
fn path_before(data: &[u8], end: usize) -> &[u8] {
    let mut start = end;
    while start > 0 && end - start < 300 && is_path_byte(data[start - 1]) {
        start -= 1;
    }
    let prefix = &data[start..end];
    match prefix.windows(3).rposition(|w| w == b".rs") {
        Some(i) => &prefix[i + 3..],
        None => prefix,
    }
}

/// Whether a path prefix is the toolchain's source tree (std's own vendored crates live there).
/// `/rust/deps/` is the vendor directory of rustup's builds, for std's dependencies and the
/// tools' (cargo, rustfmt) alike: only the crates std vendors count as the toolchain's there.
fn in_toolchain_tree(prefix: &[u8], crate_name: &str) -> bool {
    let text = String::from_utf8_lossy(prefix);
    text.contains("/rustc/")
        || (text.ends_with("/rust/deps/")
            && STD_VENDORED.contains(&crate_name.replace('-', "_").as_str()))
        || text.contains("/rustlib/src/rust/")
        || text
            .match_indices("rustc-")
            .any(|(i, _)| text[i + 6..].starts_with(|c: char| c.is_ascii_digit()))
}

fn find_all<'a>(data: &'a [u8], needle: &'a [u8]) -> impl Iterator<Item = usize> + 'a {
    let first = needle[0];
    let mut at = 0;
    std::iter::from_fn(move || {
        while at + needle.len() <= data.len() {
            let i = at + data[at..].iter().position(|&b| b == first)?;
            at = i + 1;
            if data[i..].starts_with(needle) {
                return Some(i);
            }
        }
        None
    })
}

/// Reads every panic-location path in a binary's bytes.
pub(crate) fn read_paths(data: &[u8]) -> PathEvidence {
    let mut out = PathEvidence::default();
    for i in find_all(data, b"/src/") {
        let Some(file) = source_file(data, i + 5) else {
            continue;
        };
        let mut start = i;
        while start > 0 && i - start < 100 && is_segment_byte(data[start - 1]) {
            start -= 1;
        }
        if start == 0 || data[start - 1] != b'/' {
            continue;
        }
        let Ok(segment) = std::str::from_utf8(&data[start..i]) else {
            continue;
        };
        let prefix = path_before(data, start);
        let name = split_name_version(segment).map_or("", |(n, _)| n);
        if in_toolchain_tree(prefix, name) {
            // A crate std vendors; std's own files are counted below.
            if split_name_version(segment).is_some() {
                out.toolchain_files.insert(format!("{segment}/src/{file}"));
            }
            continue;
        }
        if let Some((name, version)) = split_name_version(segment) {
            out.crates
                .entry((name.to_string(), version.to_string()))
                .or_default()
                .insert(file.to_string());
        }
    }
    for i in find_all(data, b"src/") {
        if i > 0 && data[i - 1] == b'/' {
            continue;
        }
        if let Some(file) = source_file(data, i) {
            out.own_files.insert(file.to_string());
        }
    }
    // std, core and alloc: `library/std/src/…` (often relative, `/rustc/HASH/` elided).
    for i in find_all(data, b"library/") {
        if let Some(file) = source_file(data, i) {
            if file.contains("/src/") {
                out.toolchain_files.insert(file.to_string());
            }
        }
    }
    for i in find_all(data, b"/rustc/") {
        let hash = &data[i + 7..(i + 47).min(data.len())];
        if hash.len() == 40
            && hash.iter().all(|b| b.is_ascii_hexdigit())
            && data.get(i + 47) == Some(&b'/')
        {
            out.rustc_commits
                .insert(String::from_utf8_lossy(hash).into_owned());
        }
    }
    for i in find_all(data, b"/rustc-") {
        let rest = &data[i + 7..(i + 40).min(data.len())];
        let end = rest.iter().position(|&b| b == b'/').unwrap_or(0);
        if let Ok(version) = std::str::from_utf8(&rest[..end]) {
            if semver::Version::parse(version).is_ok() {
                out.rustc_versions.insert(version.to_string());
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_crate_directories() {
        assert_eq!(
            split_name_version("regex-1.12.2"),
            Some(("regex", "1.12.2"))
        );
        assert_eq!(
            split_name_version("regex-automata-0.4.3"),
            Some(("regex-automata", "0.4.3"))
        );
        assert_eq!(
            split_name_version("clap-4.0.0-rc.1"),
            Some(("clap", "4.0.0-rc.1"))
        );
        assert_eq!(split_name_version("core"), None);
        assert_eq!(split_name_version("x-1.2"), None);
    }

    #[test]
    fn reads_registry_vendor_and_toolchain_paths_from_glued_strings() {
        // Strings in .rodata are not NUL-terminated: they run into each other.
        let data =
            b"0Esrc/bin/hexyl.rs/usr/share/cargo/registry/clap-2.34.0/src/args/arg_matches.rs\
/usr/share/cargo/registry/hexyl-0.8.0/src/lib.rsExamples: x\
/usr/src/rustc-1.63.0/vendor/gimli-0.25.0/src/read/abbrev.rs\
/usr/src/rustc-1.63.0/library/alloc/src/string.rs\
library/core/src/panicking.rs\
/rustc/59807616e1b2a0e4cfa3b0f0a6b9e8c3d2f1a0b9/library/std/src/io/mod.rs\
/rust/deps/addr2line-0.25.1/src/line.rs/rust/deps/toml-0.9.8/src/de.rs\
/home/user/.cargo/registry/src/index.crates.io-0123456789abcdef/regex-automata-0.4.3/src/meta/regex.rs";
        let e = read_paths(data);
        let crates: Vec<(&str, &str)> = e
            .crates
            .keys()
            .map(|(n, v)| (n.as_str(), v.as_str()))
            .collect();
        assert_eq!(
            crates,
            vec![
                ("clap", "2.34.0"),
                ("hexyl", "0.8.0"),
                ("regex-automata", "0.4.3"),
                ("toml", "0.9.8")
            ]
        );
        assert!(e
            .toolchain_files
            .contains("gimli-0.25.0/src/read/abbrev.rs"));
        assert_eq!(e.binary_crate(), None);
        assert_eq!(
            e.own_files.iter().collect::<Vec<_>>(),
            vec!["src/bin/hexyl.rs"]
        );
        assert!(e.toolchain_files.contains("library/core/src/panicking.rs"));
        assert_eq!(e.rustc_versions.iter().collect::<Vec<_>>(), vec!["1.63.0"]);
        assert_eq!(
            e.rustc_commits.iter().collect::<Vec<_>>(),
            vec!["59807616e1b2a0e4cfa3b0f0a6b9e8c3d2f1a0b9"]
        );
    }
}
