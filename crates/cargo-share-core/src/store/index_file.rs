//! The index file `STORE/index.sqlite`: opened only when it is a cargo-share index that accounts
//! for the store. A missing, empty or damaged index in a store that holds programs or entries is
//! refused with the way out (`cargo share verify --repair`, which moves it aside and rebuilds it
//! from the manifests); it is never silently replaced by an empty one.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use rusqlite::{Connection, OpenFlags};

/// `PRAGMA user_version` of an index in this format.
pub(crate) const INDEX_FORMAT: i64 = 1;

pub(crate) const INDEX_FILE: &str = "index.sqlite";

pub(crate) const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS entries (
    hash TEXT PRIMARY KEY, package TEXT NOT NULL, version TEXT NOT NULL, file TEXT NOT NULL,
    dir TEXT NOT NULL, runtime_size INTEGER NOT NULL, runtime_sha256 TEXT NOT NULL,
    dev_sha256 TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS entry_deps (
    hash TEXT NOT NULL, dep TEXT NOT NULL, PRIMARY KEY (hash, dep));
CREATE TABLE IF NOT EXISTS programs (
    name TEXT PRIMARY KEY, version TEXT NOT NULL, source TEXT NOT NULL, dir TEXT NOT NULL,
    root TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS program_entries (
    program TEXT NOT NULL, hash TEXT NOT NULL, PRIMARY KEY (program, hash));
CREATE TABLE IF NOT EXISTS program_bins (
    program TEXT NOT NULL, bin TEXT NOT NULL, sha256 TEXT NOT NULL, PRIMARY KEY (program, bin));
CREATE TABLE IF NOT EXISTS program_roots (
    program TEXT NOT NULL, root TEXT NOT NULL, PRIMARY KEY (program, root));
INSERT OR IGNORE INTO program_roots SELECT name, root FROM programs;
";

/// How a command opens the index.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum IndexAccess {
    /// Read only (list, why, verify, gc --dry-run): never written, works on a read-only store.
    Read,
    /// Read and write; an index that is missing, empty or damaged is refused.
    Write,
    /// `verify --repair`: a missing, empty or damaged index is moved aside and started anew.
    Repair,
}

/// Whether `path` is an SQLite file holding the store's tables (a store from before the marker).
pub(crate) fn has_store_tables(path: &Path) -> bool {
    if !path.is_file() {
        return false;
    }
    Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_ONLY)
        .and_then(|db| {
            db.query_row(
                "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'programs'",
                [],
                |r| r.get::<_, i64>(0),
            )
        })
        .map(|n| n == 1)
        .unwrap_or(false)
}

/// Whether the store holds anything an index would have to account for.
fn store_holds_something(root: &Path) -> bool {
    ["entries", "programs"].iter().any(|d| {
        std::fs::read_dir(root.join(d))
            .map(|mut it| it.next().is_some())
            .unwrap_or(false)
    })
}

fn repair_hint(path: &Path, what: &str) -> String {
    format!(
        "the store index {} {what}, so it cannot say which programs are installed; nothing was \
         changed. Run `cargo share verify --repair` to rebuild it from the programs' and \
         entries' own manifests",
        path.display()
    )
}

/// Open the index of the store at `root` (canonical) as `access` allows. With `Repair`, the
/// second value says where a damaged index was moved and why.
pub(crate) fn open_index(root: &Path, access: IndexAccess) -> Result<(Connection, Option<String>)> {
    let path = root.join(INDEX_FILE);
    match check_index(root, &path, access) {
        Ok(db) => Ok((db, None)),
        Err(problem) if access == IndexAccess::Repair => {
            let mut moved = None;
            if path.exists() {
                let aside = aside_name(&path);
                std::fs::rename(&path, &aside).with_context(|| {
                    format!("moving the damaged index {} aside", path.display())
                })?;
                crate::store::fault::step("index-moved-aside")?;
                for suffix in ["-journal", "-wal", "-shm"] {
                    let side = PathBuf::from(format!("{}{suffix}", path.display()));
                    if side.exists() {
                        let _ = std::fs::rename(&side, format!("{}{suffix}", aside.display()));
                    }
                }
                moved = Some(format!(
                    "{problem:#}; it was moved to {} and is rebuilt from the manifests",
                    aside.display()
                ));
            }
            Ok((create_index(&path)?, moved))
        }
        Err(problem) => Err(problem),
    }
}

fn aside_name(path: &Path) -> PathBuf {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let mut n = 0;
    loop {
        let candidate = PathBuf::from(format!("{}.damaged-{secs}-{n}", path.display()));
        if !candidate.exists() {
            return candidate;
        }
        n += 1;
    }
}

fn create_index(path: &Path) -> Result<Connection> {
    let context = || format!("creating the store index {}", path.display());
    let db = Connection::open(path).with_context(context)?;
    db.execute_batch(SCHEMA)
        .and_then(|_| db.pragma_update(None, "user_version", INDEX_FORMAT))
        .with_context(context)?;
    crate::store::fault::step("index-created").with_context(context)?;
    Ok(db)
}

/// The index of a store that holds nothing yet, where it has none (or an empty file): created,
/// or for a reader an empty one in memory, which says the same and writes nothing.
fn empty_store_index(
    root: &Path,
    path: &Path,
    access: IndexAccess,
    what: &str,
) -> Result<Connection> {
    if store_holds_something(root) {
        bail!(repair_hint(path, what));
    }
    if access == IndexAccess::Read {
        let db = Connection::open_in_memory()?;
        db.execute_batch(SCHEMA)?;
        return Ok(db);
    }
    create_index(path)
}

fn check_index(root: &Path, path: &Path, access: IndexAccess) -> Result<Connection> {
    if !path.exists() {
        return empty_store_index(root, path, access, "is missing");
    }
    let flags = if access == IndexAccess::Read {
        OpenFlags::SQLITE_OPEN_READ_ONLY
    } else {
        OpenFlags::SQLITE_OPEN_READ_WRITE
    };
    let db = Connection::open_with_flags(path, flags)
        .with_context(|| format!("opening the store index {}", path.display()))?;
    let probe = || -> std::result::Result<(i64, i64), String> {
        let e = |e: rusqlite::Error| e.to_string();
        let version: i64 = db
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .map_err(e)?;
        let tables: i64 = db
            .query_row(
                "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'programs'",
                [],
                |r| r.get(0),
            )
            .map_err(e)?;
        let check: String = db
            .query_row("PRAGMA quick_check", [], |r| r.get(0))
            .map_err(e)?;
        if check != "ok" {
            return Err(check);
        }
        Ok((version, tables))
    };
    let (version, tables) = match probe() {
        Ok(v) => v,
        Err(e) => bail!(repair_hint(path, &format!("is damaged ({e})"))),
    };
    if tables == 0 {
        drop(db);
        return empty_store_index(root, path, access, "is empty");
    }
    if version > INDEX_FORMAT {
        bail!(
            "the store index {} has format {version}, newer than this cargo-share's \
             ({INDEX_FORMAT}); use the cargo-share that wrote it",
            path.display()
        );
    }
    if access != IndexAccess::Read {
        db.execute_batch(SCHEMA)?;
        if version < INDEX_FORMAT {
            db.pragma_update(None, "user_version", INDEX_FORMAT)?;
        }
    }
    Ok(db)
}
