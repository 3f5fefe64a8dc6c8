//! SHA-256 of bytes, files and directory trees: the one hashing every identity and check uses.

use std::path::Path;

use anyhow::{Context, Result};
use sha2::{Digest, Sha256};

/// Hex SHA-256 of a byte string.
pub fn sha256_hex(data: &[u8]) -> String {
    let digest = Sha256::digest(data);
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// Hex SHA-256 of a file's contents.
pub fn file_sha256(path: &Path) -> Result<String> {
    let data = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    Ok(sha256_hex(&data))
}

/// Every regular file below `dir` as (path relative to `dir`, SHA-256), and every symbolic link
/// as (path, `-> TARGET`), sorted by path.
pub fn tree_sha256(dir: &Path) -> Vec<(String, String)> {
    fn walk(base: &Path, dir: &Path, out: &mut Vec<(String, String)>) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            match entry.file_type() {
                Ok(t) if t.is_dir() => walk(base, &path, out),
                Ok(t) if t.is_file() => {
                    let rel = path.strip_prefix(base).unwrap_or(&path);
                    out.push((
                        rel.display().to_string(),
                        file_sha256(&path).unwrap_or_default(),
                    ));
                }
                // A link is what it names (never followed: it may dangle or loop).
                Ok(t) if t.is_symlink() => {
                    let rel = path.strip_prefix(base).unwrap_or(&path);
                    let to = std::fs::read_link(&path).unwrap_or_default();
                    out.push((rel.display().to_string(), format!("-> {}", to.display())));
                }
                _ => {}
            }
        }
    }
    let mut out = Vec::new();
    walk(dir, dir, &mut out);
    out.sort();
    out
}

/// Lower-case hex of bytes (a digest computed elsewhere).
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
