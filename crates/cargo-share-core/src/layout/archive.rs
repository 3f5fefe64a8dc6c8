//! Reproducible archives: the same entries give the same bytes on any machine, so an image layer
//! has the same digest wherever and whenever it is made (and a registry that has it is not sent
//! it again).
//!
//! What is fixed: entries sorted by path component, every time `SOURCE_DATE_EPOCH` or 0,
//! owner and group 0 named `root`, the modes the caller gives (nothing from the file system but
//! the bytes), GNU headers (long names as GNU long-name records), gzip at the best level through
//! `flate2`'s Rust backend with no file name, time 0 and the "unknown" OS byte.
//! The compressed bytes depend on the compressor's version, which `Cargo.lock` pins: two
//! cargo-share builds of one version give one digest.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};

/// What a tree entry is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TreeEntryKind {
    Dir,
    /// A regular file with the bytes of this file.
    File(PathBuf),
    /// A regular file with these bytes.
    Data(Vec<u8>),
    /// A symbolic link to this target.
    Symlink(String),
}

/// One entry of an archive: a relative path (`/`-separated, no leading `/`), what it is, its
/// mode.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TreeEntry {
    pub path: String,
    pub kind: TreeEntryKind,
    pub mode: u32,
}

/// `SOURCE_DATE_EPOCH` (the reproducible-builds convention) when set, else 0.
pub fn source_date_epoch() -> Result<u64> {
    match std::env::var("SOURCE_DATE_EPOCH") {
        Ok(v) => v.trim().parse().with_context(|| {
            format!(
                "SOURCE_DATE_EPOCH is `{v}`, not a number of seconds since 1970; set it to one \
                 (e.g. `git log -1 --format=%ct`) or unset it for time 0"
            )
        }),
        Err(_) => Ok(0),
    }
}

/// `secs` after 1970 as RFC 3339 UTC (`1970-01-01T00:00:00Z`), by the days-from-civil
/// algorithm run backwards.
pub fn rfc3339(secs: u64) -> String {
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// The tar archive of `entries` (in any order; written sorted by path component), every entry
/// dated `mtime`. Two entries with one path are refused.
pub fn reproducible_tar(entries: &[TreeEntry], mtime: u64) -> Result<Vec<u8>> {
    let mut sorted: Vec<&TreeEntry> = entries.iter().collect();
    sorted.sort_by(|a, b| a.path.split('/').cmp(b.path.split('/')));
    if let Some(w) = sorted.windows(2).find(|w| w[0].path == w[1].path) {
        bail!("the archive would hold {} twice", w[0].path);
    }
    let mut builder = tar::Builder::new(Vec::new());
    builder.mode(tar::HeaderMode::Deterministic);
    for entry in sorted {
        append(&mut builder, entry, mtime)
            .with_context(|| format!("adding {} to an archive", entry.path))?;
    }
    Ok(builder.into_inner()?)
}

fn append(builder: &mut tar::Builder<Vec<u8>>, entry: &TreeEntry, mtime: u64) -> Result<()> {
    if entry.path.is_empty() || entry.path.starts_with('/') || entry.path.contains("..") {
        bail!("`{}` is not a relative path inside the archive", entry.path);
    }
    let mut header = tar::Header::new_gnu();
    header.set_mtime(mtime);
    header.set_uid(0);
    header.set_gid(0);
    header.set_username("root")?;
    header.set_groupname("root")?;
    header.set_mode(entry.mode);
    match &entry.kind {
        TreeEntryKind::Dir => {
            header.set_entry_type(tar::EntryType::Directory);
            header.set_size(0);
            builder.append_data(&mut header, format!("{}/", entry.path), std::io::empty())?;
        }
        TreeEntryKind::File(source) => {
            let bytes = read(source)?;
            append_file(builder, &mut header, &entry.path, &bytes)?;
        }
        TreeEntryKind::Data(bytes) => append_file(builder, &mut header, &entry.path, bytes)?,
        TreeEntryKind::Symlink(target) => {
            header.set_entry_type(tar::EntryType::Symlink);
            header.set_size(0);
            builder.append_link(&mut header, &entry.path, target)?;
        }
    }
    Ok(())
}

fn append_file(
    builder: &mut tar::Builder<Vec<u8>>,
    header: &mut tar::Header,
    path: &str,
    bytes: &[u8],
) -> Result<()> {
    header.set_entry_type(tar::EntryType::Regular);
    header.set_size(bytes.len() as u64);
    builder.append_data(header, path, bytes)?;
    Ok(())
}

fn read(path: &Path) -> Result<Vec<u8>> {
    std::fs::read(path).with_context(|| format!("reading {}", path.display()))
}

/// `data` compressed as gzip with fixed settings (best level, no name, time 0).
pub fn gzip(data: &[u8]) -> Result<Vec<u8>> {
    let mut encoder = flate2::GzBuilder::new()
        .mtime(0)
        .write(Vec::new(), flate2::Compression::best());
    encoder.write_all(data)?;
    Ok(encoder.finish()?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    fn entries(dir: &Path) -> Vec<TreeEntry> {
        vec![
            TreeEntry {
                path: "opt/x/lib/libz.so".into(),
                kind: TreeEntryKind::File(dir.join("libz.so")),
                mode: 0o644,
            },
            TreeEntry {
                path: "opt/x/bin".into(),
                kind: TreeEntryKind::Dir,
                mode: 0o755,
            },
            TreeEntry {
                path: format!("opt/x/lib/lib{}.so", "long".repeat(40)),
                kind: TreeEntryKind::Data(b"generated".to_vec()),
                mode: 0o644,
            },
            TreeEntry {
                path: "opt/x/bin/tool".into(),
                kind: TreeEntryKind::Symlink("../lib/libz.so".into()),
                mode: 0o777,
            },
            TreeEntry {
                path: "opt".into(),
                kind: TreeEntryKind::Dir,
                mode: 0o755,
            },
        ]
    }

    #[test]
    fn the_same_entries_give_the_same_bytes_whatever_the_files_metadata() {
        let a = tempfile::tempdir().unwrap();
        let b = tempfile::tempdir().unwrap();
        std::fs::write(a.path().join("libz.so"), b"library bytes").unwrap();
        std::fs::write(b.path().join("libz.so"), b"library bytes").unwrap();
        // Another time and mode on disk: neither reaches the archive.
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(
            b.path().join("libz.so"),
            std::fs::Permissions::from_mode(0o700),
        )
        .unwrap();
        let file = std::fs::File::options()
            .write(true)
            .open(b.path().join("libz.so"))
            .unwrap();
        file.set_modified(std::time::UNIX_EPOCH + std::time::Duration::from_secs(12345))
            .unwrap();
        let mut reversed = entries(b.path());
        reversed.reverse();
        let one = reproducible_tar(&entries(a.path()), 0).unwrap();
        let two = reproducible_tar(&reversed, 0).unwrap();
        assert_eq!(one, two);
        assert_eq!(gzip(&one).unwrap(), gzip(&two).unwrap());
        assert_ne!(one, reproducible_tar(&entries(a.path()), 1).unwrap());

        // What the archive holds: sorted, owned by root, dated 0, with the given modes.
        let mut read = tar::Archive::new(&one[..]);
        let mut seen = Vec::new();
        for e in read.entries().unwrap() {
            let mut e = e.unwrap();
            let h = e.header().clone();
            assert_eq!(
                (h.uid().unwrap(), h.gid().unwrap(), h.mtime().unwrap()),
                (0, 0, 0)
            );
            assert_eq!(h.username().unwrap(), Some("root"));
            let mut body = Vec::new();
            e.read_to_end(&mut body).unwrap();
            let path = e.path().unwrap().to_string_lossy().into_owned();
            seen.push((path, h.mode().unwrap(), body));
        }
        let names: Vec<&str> = seen.iter().map(|(p, _, _)| p.as_str()).collect();
        assert_eq!(names[..3], ["opt/", "opt/x/bin/", "opt/x/bin/tool"]);
        assert!(names[3].ends_with("longlong.so"), "{names:?}");
        assert_eq!(names[4], "opt/x/lib/libz.so");
        assert_eq!(seen[4].1, 0o644);
        assert_eq!(seen[4].2, b"library bytes");
        assert_eq!(seen[3].2, b"generated");
        // The gzip stream decompresses to the tar.
        let mut unzipped = Vec::new();
        flate2::read::GzDecoder::new(&gzip(&one).unwrap()[..])
            .read_to_end(&mut unzipped)
            .unwrap();
        assert_eq!(unzipped, one);
    }

    #[test]
    fn times_are_written_as_rfc3339() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(rfc3339(1_796_558_461), "2026-12-06T12:01:01Z");
    }

    #[test]
    fn a_path_twice_or_outside_the_archive_is_refused() {
        let twice = vec![
            TreeEntry {
                path: "a".into(),
                kind: TreeEntryKind::Dir,
                mode: 0o755,
            },
            TreeEntry {
                path: "a".into(),
                kind: TreeEntryKind::Data(vec![]),
                mode: 0o644,
            },
        ];
        assert!(format!("{}", reproducible_tar(&twice, 0).unwrap_err()).contains("twice"));
        for path in ["/etc/x", "../x", ""] {
            let e = [TreeEntry {
                path: path.into(),
                kind: TreeEntryKind::Data(vec![]),
                mode: 0o644,
            }];
            assert!(reproducible_tar(&e, 0).is_err(), "{path}");
        }
    }
}
