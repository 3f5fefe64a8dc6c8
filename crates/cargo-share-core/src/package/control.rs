//! What a Debian binary package says about itself: its name (Debian's rules: lowercase letters,
//! digits, `+`, `-`, `.`), version (Cargo's semver in Debian's ordering), architecture, the
//! system packages its files need, and the `control` file.

use std::collections::{BTreeMap, BTreeSet};

use anyhow::{bail, Context, Result};

/// A Debian package name made from a Cargo package name or a library file name: lowercase,
/// `_` and every other character Debian does not allow as `-`.
pub(crate) fn debian_name(raw: &str) -> String {
    let name: String = raw
        .chars()
        .map(|c| match c.to_ascii_lowercase() {
            c @ ('a'..='z' | '0'..='9' | '+' | '.' | '-') => c,
            _ => '-',
        })
        .collect();
    let name = name.trim_start_matches(['+', '.', '-']).to_string();
    if name.len() < 2 {
        format!("{name}0")
    } else {
        name
    }
}

/// The package of a shared library, named by the file binaries bind to (as Debian names a
/// library package by its soname): `libcargo_share_group_1_49e5267b.so` is
/// `libcargo-share-group-1-49e5267b`.
pub(crate) fn library_package_name(file: &str) -> String {
    debian_name(file.strip_suffix(".so").unwrap_or(file))
}

/// A Cargo (semver) version as Debian orders it: a pre-release sorts before its release with
/// `~` (`1.0.0-rc.1` is `1.0.0~rc.1`); build metadata (`+...`) is kept.
pub(crate) fn debian_version(cargo: &str) -> String {
    match cargo.split_once('+') {
        Some((v, build)) => format!("{}+{build}", v.replacen('-', "~", 1)),
        None => cargo.replacen('-', "~", 1),
    }
}

/// Debian's name for the architecture cargo-share builds for (the host's).
pub(crate) fn architecture() -> Result<&'static str> {
    Ok(match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        "x86" => "i386",
        "riscv64" => "riscv64",
        "powerpc64" if cfg!(target_endian = "little") => "ppc64el",
        "s390x" => "s390x",
        "loongarch64" => "loong64",
        other => bail!(
            "cargo share package does not know Debian's name for the architecture `{other}`; \
             build on one it knows (amd64, arm64, i386, riscv64, ppc64el, s390x, loong64)"
        ),
    })
}

/// The system libraries Rust programs load and the Debian packages providing them; glibc's
/// package is versioned by the newest `GLIBC_x.y` symbol version the files need.
const SYSTEM_LIBRARIES: &[(&str, &str)] = &[
    ("libc.so.6", "libc6"),
    ("libm.so.6", "libc6"),
    ("libpthread.so.0", "libc6"),
    ("libdl.so.2", "libc6"),
    ("librt.so.1", "libc6"),
    ("libutil.so.1", "libc6"),
    ("ld-linux-x86-64.so.2", "libc6"),
    ("ld-linux-aarch64.so.1", "libc6"),
    ("libgcc_s.so.1", "libgcc-s1"),
];

/// The system packages files need: `needed` is each file's name and its `DT_NEEDED` entries
/// that the packages do not provide, `versions` its symbol versions by library. glibc's and
/// libgcc_s's libraries are [`SYSTEM_LIBRARIES`]; any other is looked up as
/// `dpkg-shlibdeps` does, in this machine's dpkg database ([`installed_library_package`]), and
/// refused when it is not there.
pub(crate) fn system_depends(
    needed: &[(String, Vec<String>)],
    versions: &BTreeMap<String, BTreeSet<String>>,
) -> Result<Vec<String>> {
    let mut packages = BTreeSet::new();
    let mut others = BTreeSet::new();
    for (file, libraries) in needed {
        for library in libraries {
            match SYSTEM_LIBRARIES.iter().find(|(l, _)| l == library) {
                Some((_, package)) => {
                    packages.insert(*package);
                }
                None => {
                    let dep = installed_library_package(library)?.with_context(|| {
                        format!(
                            "{file} loads {library}, a system library no installed Debian \
                             package provides here; install the package that provides it \
                             (its -dev package's library) and package again"
                        )
                    })?;
                    others.insert(dep);
                }
            }
        }
    }
    let glibc = versions
        .values()
        .flatten()
        .filter_map(|v| v.strip_prefix("GLIBC_"))
        .filter_map(|v| {
            let parts: Option<Vec<u32>> = v.split('.').map(|p| p.parse().ok()).collect();
            parts
        })
        .max();
    let mut out: Vec<String> = packages
        .into_iter()
        .map(|p| match (&glibc, p) {
            (Some(v), "libc6") => {
                let v: Vec<String> = v.iter().map(u32::to_string).collect();
                format!("libc6 (>= {})", v.join("."))
            }
            _ => p.to_string(),
        })
        .collect();
    out.extend(others);
    Ok(out)
}

/// The dependency on the installed Debian package providing the system library `library`
/// (a `DT_NEEDED` name such as `libz.so.1`): the package `dpkg-query --search` names, at the
/// version its `shlibs` file gives for that library (`zlib1g (>= 1:1.2.3.3.dfsg-1)`), or
/// unversioned without one. `None` when no installed package has it (or dpkg is missing).
pub(crate) fn installed_library_package(library: &str) -> Result<Option<String>> {
    let out = std::process::Command::new("dpkg-query")
        .arg("--search")
        .arg(format!("*/{library}"))
        .output();
    let Ok(out) = out else { return Ok(None) };
    let text = String::from_utf8_lossy(&out.stdout);
    let candidates: Vec<&str> = text
        .lines()
        .filter_map(|l| l.split_once(": ").map(|(p, _)| p))
        .filter(|p| !p.contains(','))
        .collect();
    // This architecture's package (`zlib1g:amd64`) before another's (`lib32z1`).
    let ours = format!(":{}", architecture()?);
    let Some(package) = candidates
        .iter()
        .find(|p| p.ends_with(&ours))
        .or(candidates.first())
        .copied()
    else {
        return Ok(None);
    };
    let (name, version) = match library.split_once(".so.") {
        Some((name, version)) => (name, version),
        None => (library.trim_end_matches(".so"), ""),
    };
    let shlibs =
        std::fs::read_to_string(format!("/var/lib/dpkg/info/{package}.shlibs")).unwrap_or_default();
    let found = shlibs.lines().find_map(|l| {
        let mut fields = l.splitn(3, ' ');
        (fields.next() == Some(name) && fields.next() == Some(version))
            .then(|| fields.next().map(str::trim).map(str::to_string))
            .flatten()
    });
    let bare = package.split(':').next().unwrap_or(package).to_string();
    Ok(Some(found.unwrap_or(bare)))
}

/// The fields of a binary package's `control` file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Control {
    pub(crate) package: String,
    pub(crate) version: String,
    pub(crate) architecture: String,
    pub(crate) maintainer: String,
    pub(crate) section: &'static str,
    pub(crate) installed_size_kib: u64,
    pub(crate) depends: Vec<String>,
    pub(crate) synopsis: String,
    pub(crate) description: Vec<String>,
}

impl Control {
    /// The file's text, fields in the order `dpkg-gencontrol` writes them.
    pub(crate) fn text(&self) -> String {
        let mut t = format!(
            "Package: {}\nVersion: {}\nArchitecture: {}\nMaintainer: {}\nInstalled-Size: {}\n",
            self.package, self.version, self.architecture, self.maintainer, self.installed_size_kib
        );
        if !self.depends.is_empty() {
            t.push_str(&format!("Depends: {}\n", self.depends.join(", ")));
        }
        t.push_str(&format!(
            "Section: {}\nPriority: optional\nDescription: {}\n",
            self.section, self.synopsis
        ));
        for (i, paragraph) in self.description.iter().enumerate() {
            if i > 0 {
                t.push_str(" .\n");
            }
            for line in wrap(paragraph, 79) {
                t.push_str(&format!(" {line}\n"));
            }
        }
        t
    }
}

/// `text`'s words in lines of at most `width` characters (a longer word on a line of its own).
fn wrap(text: &str, width: usize) -> Vec<String> {
    let mut lines: Vec<String> = Vec::new();
    for word in text.split_whitespace() {
        match lines.last_mut() {
            Some(line) if line.len() + 1 + word.len() <= width => {
                line.push(' ');
                line.push_str(word);
            }
            _ => lines.push(word.to_string()),
        }
    }
    lines
}

/// `secs` after 1970 as RFC 2822 (`Thu, 01 Jan 1970 00:00:00 +0000`), a changelog's date.
pub(crate) fn rfc2822(secs: u64) -> String {
    const DAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let iso = crate::layout::rfc3339(secs);
    let (date, time) = iso
        .trim_end_matches('Z')
        .split_once('T')
        .unwrap_or((&iso, ""));
    let mut parts = date.split('-');
    let (year, month, day) = (
        parts.next().unwrap_or("1970"),
        parts
            .next()
            .and_then(|m| m.parse::<usize>().ok())
            .unwrap_or(1),
        parts.next().unwrap_or("01"),
    );
    format!(
        "{}, {day} {} {year} {time} +0000",
        DAYS[(secs / 86_400 % 7) as usize],
        MONTHS[month - 1]
    )
}

/// The `changelog.Debian` of a package made by cargo-share: one entry, this version.
pub(crate) fn changelog(package: &str, version: &str, maintainer: &str, secs: u64) -> String {
    format!(
        "{package} ({version}) unstable; urgency=medium\n\n  * Built by cargo-share (cargo share \
         package).\n\n -- {maintainer}  {}\n",
        rfc2822(secs)
    )
}

/// The `copyright` file: what is known of the files' origin (`origin`: which crates).
pub(crate) fn copyright(package: &str, origin: &str) -> String {
    format!(
        "{package}\n\nThese files were built by cargo-share from {origin}.\n\nEach \
         crate's copyright and license are those its sources state (the `license` field of its \
         Cargo.toml and the license files it ships); cargo-share does not collect them into this \
         file.\n"
    )
}

/// The maintainer to name: `--maintainer`, else `DEBFULLNAME <DEBEMAIL>` as Debian's tools
/// take it from the environment.
pub(crate) fn maintainer(given: Option<&str>) -> Result<String> {
    if let Some(m) = given {
        return checked_maintainer(m);
    }
    let email = std::env::var("DEBEMAIL")
        .ok()
        .filter(|e| !e.trim().is_empty());
    let name = std::env::var("DEBFULLNAME").ok();
    match (name, email) {
        (_, Some(e)) if e.contains('<') => checked_maintainer(&e),
        (Some(n), Some(e)) => checked_maintainer(&format!("{n} <{e}>")),
        _ => bail!(
            "a Debian package names its maintainer: give --maintainer \"NAME <EMAIL>\" (or set \
             DEBFULLNAME and DEBEMAIL)"
        ),
    }
}

fn checked_maintainer(m: &str) -> Result<String> {
    let m = m.trim();
    let ok = m.contains('<') && m.ends_with('>') && !m.starts_with('<') && !m.contains('\n');
    if !ok {
        bail!("the maintainer `{m}` is not `NAME <EMAIL>`; give it so (--maintainer)");
    }
    Ok(m.to_string())
}

/// A version `BASE-N`: its revision N when `version` is `base` with one.
pub(crate) fn revision_of(version: &str, base: &str) -> Option<u32> {
    version
        .strip_prefix(base)?
        .strip_prefix('-')?
        .parse()
        .ok()
        .filter(|n| *n > 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_versions_follow_debian_rules() {
        assert_eq!(debian_name("Fix_One"), "fix-one");
        assert_eq!(debian_name("_x"), "x0");
        assert_eq!(
            library_package_name("libcargo_share_group_1_49e5267b.so"),
            "libcargo-share-group-1-49e5267b"
        );
        assert_eq!(
            library_package_name("libstd-0a1b2c3d4e5f6a7b.so"),
            "libstd-0a1b2c3d4e5f6a7b"
        );
        assert_eq!(debian_version("1.2.3"), "1.2.3");
        assert_eq!(debian_version("1.0.0-rc.1"), "1.0.0~rc.1");
        assert_eq!(debian_version("1.0.0-rc-2+build-5"), "1.0.0~rc-2+build-5");
        assert_eq!(revision_of("1.2.3-4", "1.2.3"), Some(4));
        assert_eq!(revision_of("1.2.3-0", "1.2.3"), None);
        assert_eq!(revision_of("1.2.30-4", "1.2.3"), None);
        assert_eq!(revision_of("0-12", "0"), Some(12));
    }

    #[test]
    fn system_libraries_become_versioned_dependencies() {
        let needed = vec![(
            "fix-one".to_string(),
            vec!["libc.so.6".to_string(), "libgcc_s.so.1".to_string()],
        )];
        let versions = BTreeMap::from([(
            "libc.so.6".to_string(),
            BTreeSet::from([
                "GLIBC_2.2.5".to_string(),
                "GLIBC_2.34".to_string(),
                "GLIBC_2.9".to_string(),
            ]),
        )]);
        assert_eq!(
            system_depends(&needed, &versions).unwrap(),
            ["libc6 (>= 2.34)", "libgcc-s1"]
        );
        let odd = vec![("x".to_string(), vec!["libnowhere.so.9".to_string()])];
        let err = system_depends(&odd, &BTreeMap::new()).unwrap_err();
        assert!(format!("{err}").contains("libnowhere.so.9"), "{err}");
        // Where dpkg knows zlib (Debian, as here and under CI), from its shlibs file.
        if let Some(dep) = installed_library_package("libz.so.1").unwrap() {
            assert!(dep.starts_with("zlib1g (>= "), "{dep}");
        }
    }

    #[test]
    fn the_control_file_has_debians_fields_and_folded_description() {
        let c = Control {
            package: "fix-one".into(),
            version: "0.1.0-1".into(),
            architecture: "amd64".into(),
            maintainer: "A <a@example.org>".into(),
            section: "misc",
            installed_size_kib: 12,
            depends: vec!["libc6 (>= 2.34)".into(), "libx (>= 0-1)".into()],
            synopsis: "fix-one 0.1.0".into(),
            description: vec!["first".into(), format!("second {}", "word ".repeat(20))],
        };
        assert_eq!(
            c.text(),
            "Package: fix-one\nVersion: 0.1.0-1\nArchitecture: amd64\nMaintainer: A \
             <a@example.org>\nInstalled-Size: 12\nDepends: libc6 (>= 2.34), libx (>= 0-1)\n\
             Section: misc\nPriority: optional\nDescription: fix-one 0.1.0\n first\n .\n second word \
             word word word word word word word word word word word word word\n word word word \
             word word word\n"
        );
        assert_eq!(rfc2822(0), "Thu, 01 Jan 1970 00:00:00 +0000");
        assert_eq!(rfc2822(1_796_558_461), "Sun, 06 Dec 2026 12:01:01 +0000");
        assert!(maintainer(Some("nobody")).is_err());
        assert_eq!(maintainer(Some(" A <a@b> ")).unwrap(), "A <a@b>");
    }
}
