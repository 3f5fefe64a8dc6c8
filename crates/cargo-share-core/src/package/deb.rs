//! A `.deb` file (deb(5)): an `ar` archive of `debian-binary` (`2.0\n`), `control.tar.gz`
//! (`./control`, `./md5sums`) and `data.tar.gz` (the files), in that order.
//!
//! The tars are the layout's reproducible ones ([`crate::layout::reproducible_tar`]: sorted,
//! owned by root, dated `SOURCE_DATE_EPOCH`) and the `ar` members carry the same date, owner 0
//! and mode 0644, so the same files and fields give the same bytes. The `ar` crate writes the
//! archive: the common (System V) format `dpkg-deb` itself writes, whose 16-byte names hold
//! the three member names as they are.

use std::io::Read;

use anyhow::{bail, Context, Result};
use md5::{Digest, Md5};

use crate::layout::{gzip, reproducible_tar, TreeEntry, TreeEntryKind};

/// The files of `data.tar`, with the root directory (`./`) first, as `dpkg-deb` writes it.
fn rooted(entries: &[TreeEntry]) -> Vec<TreeEntry> {
    let mut out = vec![TreeEntry {
        path: ".".into(),
        kind: TreeEntryKind::Dir,
        mode: 0o755,
    }];
    out.extend(entries.iter().cloned());
    out
}

/// The bytes of a file entry (`None` for directories and links).
fn contents(entry: &TreeEntry) -> Result<Option<Vec<u8>>> {
    Ok(match &entry.kind {
        TreeEntryKind::File(path) => {
            Some(std::fs::read(path).with_context(|| format!("reading {}", path.display()))?)
        }
        TreeEntryKind::Data(bytes) => Some(bytes.clone()),
        TreeEntryKind::Dir | TreeEntryKind::Symlink(_) => None,
    })
}

/// The uncompressed `data.tar` of `entries` (paths relative to the root, no `./`).
pub(crate) fn data_tar(entries: &[TreeEntry], mtime: u64) -> Result<Vec<u8>> {
    reproducible_tar(&rooted(entries), mtime)
}

/// The `md5sums` file: `HEX  PATH` for each regular file, sorted by path (as `dh_md5sums`).
pub(crate) fn md5sums(entries: &[TreeEntry]) -> Result<String> {
    let mut lines = Vec::new();
    for e in entries {
        if let Some(bytes) = contents(e)? {
            let hex: String = Md5::digest(&bytes)
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect();
            lines.push(format!("{hex}  {}\n", e.path));
        }
    }
    lines.sort_by(|a, b| a[34..].cmp(&b[34..]));
    Ok(lines.concat())
}

/// `Installed-Size` as `dpkg-gencontrol` counts it: each file's size in KiB rounded up, one
/// for each other entry.
pub(crate) fn installed_size_kib(entries: &[TreeEntry]) -> Result<u64> {
    let mut kib = 0;
    for e in entries {
        kib += match contents(e)? {
            Some(bytes) => (bytes.len() as u64).div_ceil(1024),
            None => 1,
        };
    }
    Ok(kib)
}

/// The `.deb` of `control` (the control file's text), `md5sums` and `data_tar` (uncompressed).
pub(crate) fn deb(control: &str, md5sums: &str, data_tar: &[u8], mtime: u64) -> Result<Vec<u8>> {
    let control_tar = reproducible_tar(
        &[
            TreeEntry {
                path: ".".into(),
                kind: TreeEntryKind::Dir,
                mode: 0o755,
            },
            TreeEntry {
                path: "./control".into(),
                kind: TreeEntryKind::Data(control.as_bytes().to_vec()),
                mode: 0o644,
            },
            TreeEntry {
                path: "./md5sums".into(),
                kind: TreeEntryKind::Data(md5sums.as_bytes().to_vec()),
                mode: 0o644,
            },
        ],
        mtime,
    )?;
    let members: [(&str, Vec<u8>); 3] = [
        ("debian-binary", b"2.0\n".to_vec()),
        ("control.tar.gz", gzip(&control_tar)?),
        ("data.tar.gz", gzip(data_tar)?),
    ];
    let mut builder = ar::Builder::new(Vec::new());
    for (name, bytes) in members {
        let mut header = ar::Header::new(name.as_bytes().to_vec(), bytes.len() as u64);
        header.set_mtime(mtime);
        header.set_mode(0o100644);
        builder.append(&header, &bytes[..])?;
    }
    Ok(builder.into_inner()?)
}

/// One entry of a `data.tar` as the package manager installs it: path, mode, type, link target
/// and bytes (not its time or owner).
type Installed = (String, u32, u8, Option<String>, Vec<u8>);

/// What `data.tar` installs outside `DOC_DIR`, in archive order: two packages whose payloads are
/// equal install the same program or library files (their changelogs and dates may differ).
pub(crate) fn payload(data_tar: &[u8], doc_dir: &str) -> Result<Vec<Installed>> {
    let mut archive = tar::Archive::new(data_tar);
    let mut out = Vec::new();
    for entry in archive.entries()? {
        let mut entry = entry?;
        let path = entry.path()?.to_string_lossy().into_owned();
        if path.trim_start_matches("./").starts_with(doc_dir) {
            continue;
        }
        let header = entry.header().clone();
        let link = entry.link_name()?.map(|l| l.to_string_lossy().into_owned());
        let mut bytes = Vec::new();
        entry.read_to_end(&mut bytes)?;
        out.push((
            path,
            header.mode()?,
            header.entry_type().as_byte(),
            link,
            bytes,
        ));
    }
    Ok(out)
}

/// The uncompressed `data.tar` of a `.deb` this command wrote (`data.tar.gz`).
pub fn data_tar_of(deb: &[u8]) -> Result<Vec<u8>> {
    let mut archive = ar::Archive::new(deb);
    while let Some(entry) = archive.next_entry() {
        let mut entry = entry?;
        if entry.header().identifier() == b"data.tar.gz" {
            let mut tar = Vec::new();
            flate2::read::GzDecoder::new(&mut entry).read_to_end(&mut tar)?;
            return Ok(tar);
        }
    }
    bail!("it has no data.tar.gz member")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entries() -> Vec<TreeEntry> {
        vec![
            TreeEntry {
                path: "usr".into(),
                kind: TreeEntryKind::Dir,
                mode: 0o755,
            },
            TreeEntry {
                path: "usr/bin".into(),
                kind: TreeEntryKind::Dir,
                mode: 0o755,
            },
            TreeEntry {
                path: "usr/bin/tool".into(),
                kind: TreeEntryKind::Data(vec![b'x'; 1500]),
                mode: 0o755,
            },
            TreeEntry {
                path: "usr/bin/alias".into(),
                kind: TreeEntryKind::Symlink("tool".into()),
                mode: 0o777,
            },
        ]
    }

    #[test]
    fn a_deb_holds_its_three_members_and_gives_its_data_back() {
        let data = data_tar(&entries(), 7).unwrap();
        let sums = md5sums(&entries()).unwrap();
        assert_eq!(
            sums,
            format!("{:x}  usr/bin/tool\n", Md5::digest([b'x'; 1500]))
        );
        assert_eq!(installed_size_kib(&entries()).unwrap(), 2 + 3);
        let bytes = deb("Package: t\n", &sums, &data, 7).unwrap();
        assert_eq!(bytes, deb("Package: t\n", &sums, &data, 7).unwrap());
        let mut archive = ar::Archive::new(&bytes[..]);
        let mut names = Vec::new();
        while let Some(e) = archive.next_entry() {
            let e = e.unwrap();
            assert_eq!((e.header().mtime(), e.header().uid()), (7, 0));
            names.push(String::from_utf8(e.header().identifier().to_vec()).unwrap());
        }
        assert_eq!(names, ["debian-binary", "control.tar.gz", "data.tar.gz"]);
        assert_eq!(data_tar_of(&bytes).unwrap(), data);
        let mut tar = tar::Archive::new(&data[..]);
        let paths: Vec<String> = tar
            .entries()
            .unwrap()
            .map(|e| e.unwrap().path().unwrap().to_string_lossy().into_owned())
            .collect();
        assert_eq!(
            paths,
            ["./", "usr/", "usr/bin/", "usr/bin/alias", "usr/bin/tool"]
        );
        // Another date, the same payload; another file, another payload; the doc dir left out.
        let later = data_tar(&entries(), 99).unwrap();
        assert_ne!(later, data);
        assert_eq!(payload(&later, "x").unwrap(), payload(&data, "x").unwrap());
        let mut other = entries();
        other[2].kind = TreeEntryKind::Data(vec![b'y'; 1500]);
        let other = data_tar(&other, 7).unwrap();
        assert_ne!(payload(&other, "x").unwrap(), payload(&data, "x").unwrap());
        assert_eq!(
            payload(&other, "usr/bin/").unwrap(),
            payload(&data, "usr/bin/").unwrap()
        );
        assert!(data_tar_of(b"!<arch>\n").is_err());
    }
}
