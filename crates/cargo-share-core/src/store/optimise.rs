//! `cargo share optimise`: hard-links identical runtime files across entries.

use std::collections::BTreeMap;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

use crate::message::Message;
use crate::shell::Shell;
use crate::store::files::replace_with_hard_link;
use crate::store::index::Access;
use crate::store::open::open_store;
use cargo_share_compile::digest::file_sha256;

/// `cargo share optimise`: hard-link byte-identical files across entries and program builds.
pub fn optimise(store_dir: &Path, shell: &Shell) -> Result<u64> {
    let store = open_store(store_dir, Access::Write)?;
    let mut files = Vec::new();
    fn collect(dir: &Path, out: &mut Vec<PathBuf>) {
        if let Ok(entries) = std::fs::read_dir(dir) {
            for e in entries.flatten() {
                let p = e.path();
                match e.file_type() {
                    Ok(t) if t.is_dir() => collect(&p, out),
                    Ok(t) if t.is_file() => out.push(p),
                    _ => {}
                }
            }
        }
    }
    collect(&store.root.join("entries"), &mut files);
    collect(&store.root.join("programs"), &mut files);
    let mut by_content: BTreeMap<(u64, String), PathBuf> = BTreeMap::new();
    let mut saved = 0;
    for f in files {
        let meta = std::fs::metadata(&f).with_context(|| format!("reading {}", f.display()))?;
        if f.file_name()
            .is_some_and(|n| n == "entry.json" || n == "program.json")
        {
            continue;
        }
        let key = (meta.len(), file_sha256(&f)?);
        match by_content.get(&key) {
            None => {
                by_content.insert(key, f);
            }
            Some(first) => {
                let first_meta = std::fs::metadata(first)
                    .with_context(|| format!("reading {}", first.display()))?;
                if first_meta.ino() == meta.ino() && first_meta.dev() == meta.dev() {
                    continue;
                }
                let dir = f.parent().context("a file without a directory")?;
                let name = f.file_name().context("a file without a name")?;
                replace_with_hard_link(dir, &name.to_string_lossy(), first)?;
                crate::store::fault::step("optimise-linked")?;
                if meta.nlink() == 1 {
                    saved += meta.len();
                }
            }
        }
    }
    shell.message(&Message::OptimiseFinished { bytes_saved: saved });
    shell.status(
        "Finished",
        format!(
            "hard-linked identical files, {:.1} MB saved",
            saved as f64 / 1e6
        ),
    );
    Ok(saved)
}
