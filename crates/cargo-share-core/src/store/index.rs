//! The content-addressed store: where crate builds live once, and where installed programs are
//! bound to the exact builds they were linked against.
//!
//! Layout (`STORE` defaults to `$XDG_DATA_HOME/cargo-share/store`):
//!
//! ```text
//! STORE/cargo-share-store           the marker: this is a store, and its format (`marker`)
//! STORE/index.sqlite                 the index (SQLite, changed only inside transactions)
//! STORE/lock                         exclusive for commands that change the store, shared to read
//! STORE/entries/NAME-VERSION-ID/     one crate build (StoreEntry), read-only once registered:
//!     entry.json                     its manifest (identity, files, hashes, dependencies)
//!     lib/FILE.so                    runtime copy, without the .rustc metadata section
//!     dev/FILE.so                    the full dylib, metadata included, for building dependents
//! STORE/programs/NAME-VERSION-ID/    one installed program build:
//!     program.json                   its manifest (binaries, entries)
//!     bin/BIN                        the binaries, naming $ORIGIN/../lib/FILE
//!     lib/FILE.so                    hard links to the runtime copies of exactly its entries
//! STORE/tmp/                         staging; anything here is garbage after a crash
//! STORE/build/                       Cargo's build directory and fetched sources for installs
//! ```
//!
//! A program's `lib/` holds hard links, not symlinks: the dynamic loader resolves `$ORIGIN`
//! through symlinks, so a dylib's `$ORIGIN/FILE` names must be in the program's `lib/` for it
//! to find its own dependencies there. Hard links cost no space and are the same inode, so
//! programs sharing an entry share its pages in memory. One search directory per program, however
//! many libraries: start-up does not grow with libraries x directories.
//!
//! Directories appear in `entries/` and `programs/` only by `rename` from `tmp/`, and the index
//! refers to a directory only after it exists; so a crash at any point leaves at worst unreferenced
//! directories, which `gc` removes.

use std::fs::File;
use std::fs::Permissions;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use cargo_share_compile::{digest, elf};
use rusqlite::{params, Connection, OptionalExtension};
use serde::Serialize;

use crate::store::ancestors::check_safe_path;
use crate::store::files::{
    check_private, create_dir, file_matches, make_read_only, remove_tree, write_step,
};
use crate::store::identity::CrateIdentity;
use crate::store::index_file::{open_index, IndexAccess, INDEX_FILE};
use crate::store::manifest::{InstalledProgram, StoreEntry};
use crate::store::marker::{check_store, create_or_check_store};

/// Where the store is: `--store`, `$CARGO_SHARE_STORE`, `$XDG_DATA_HOME/cargo-share/store`,
/// `~/.local/share/cargo-share/store`.
pub fn default_store_dir() -> Result<PathBuf> {
    if let Some(d) = std::env::var_os("CARGO_SHARE_STORE") {
        return Ok(PathBuf::from(d));
    }
    let data = crate::dirs::data_home().context("pass --store")?;
    Ok(data.join("cargo-share/store"))
}

/// How a command uses the store.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// `install`: an existing store, or a new one in an empty or missing directory.
    Create,
    /// Commands that change the store: exclusive lock, an index that accounts for the store.
    Write,
    /// Commands that only read (`list`, `why`, `verify`, `gc --dry-run`): a shared lock where the
    /// lock file can be opened, nothing written, so a read-only store can be read.
    Read,
    /// `verify --repair`: as `Write`, but a missing, empty or damaged index is moved aside and
    /// started anew (the caller rebuilds it).
    Repair,
}

/// An open, locked store.
pub struct Store {
    pub root: PathBuf,
    pub(crate) db: Connection,
    /// `Repair`: where a damaged index was moved, and why.
    pub(crate) index_moved: Option<String>,
    _lock: Option<File>,
}

impl Store {
    /// Open and lock the store at `root`. Only a directory marked as a store is opened (install
    /// creates one in an empty or missing directory); the store and every directory above it
    /// must be safe from other users (`store::ancestors`).
    pub fn open(root: &Path, access: Access) -> Result<Store> {
        if access == Access::Create {
            check_safe_path(root, "store", "--store")?;
            create_or_check_store(root)?;
        }
        if !root.exists() {
            bail!(
                "there is no store at {} (`cargo share install` creates one); give the store's \
                 directory with --store or $CARGO_SHARE_STORE",
                root.display()
            );
        }
        let root = &root
            .canonicalize()
            .with_context(|| format!("resolving the store path {}", root.display()))?;
        check_store(root, access != Access::Read)?;
        check_private(root)?;
        check_safe_path(root, "store", "--store")?;
        for sub in ["entries", "programs", "tmp"] {
            let d = root.join(sub);
            if d.exists() && !d.is_dir() {
                bail!(
                    "{} is not a directory: the store keeps its {sub} there, so the store is \
                     damaged; nothing was changed. Move {} out of the store, then run \
                     `cargo share verify --repair` (it rebuilds the index from what is left; \
                     `cargo share verify` then names the links whose programs must be \
                     installed again)",
                    d.display(),
                    d.display()
                );
            }
        }
        if access != Access::Read {
            for sub in ["entries", "programs", "tmp"] {
                let d = root.join(sub);
                if !d.exists() {
                    // tmp/ is the owner's alone; entries/ and programs/ are read by everyone.
                    let mode = if sub == "tmp" { 0o700 } else { 0o755 };
                    std::fs::create_dir(&d)
                        .and_then(|_| std::fs::set_permissions(&d, Permissions::from_mode(mode)))
                        .and_then(|_| crate::store::fault::step("store-subdir-created"))
                        .with_context(|| format!("creating {}", d.display()))?;
                }
            }
        }
        let lock = lock_store(root, access)?;
        let index_access = match access {
            Access::Read => IndexAccess::Read,
            Access::Create | Access::Write => IndexAccess::Write,
            Access::Repair => IndexAccess::Repair,
        };
        let (db, index_moved) = open_index(root, index_access)?;
        Ok(Store {
            root: root.to_path_buf(),
            db,
            index_moved,
            _lock: lock,
        })
    }

    pub(crate) fn entry_dir_name(id: &CrateIdentity) -> String {
        format!("{}-{}-{}", id.package, id.version, id.short())
    }

    /// `STORE/programs`, resolved: links in `ROOT/bin` point at builds through it.
    pub fn programs_dir(&self) -> Result<PathBuf> {
        let dir = self.root.join("programs");
        std::fs::canonicalize(&dir).with_context(|| format!("resolving {}", dir.display()))
    }

    /// What is in the store's `entries/` or `programs/` (`sub`).
    pub(crate) fn read_tree_dir(&self, sub: &str) -> Result<Vec<std::fs::DirEntry>> {
        let dir = self.root.join(sub);
        let entries = std::fs::read_dir(&dir)
            .with_context(|| format!("reading the store's {sub} directory {}", dir.display()))?;
        Ok(entries.flatten().collect())
    }

    /// The build directory of what this store installs (`build/`): fetched sources, set
    /// workspaces, and Cargo's target directories, kept so that a later install compiles only
    /// what changed.
    pub(crate) fn build_dir(&self) -> PathBuf {
        self.root.join("build")
    }

    /// A fresh staging directory under `tmp/` (same filesystem, so `rename` is atomic).
    pub(crate) fn staging(&self, prefix: &str) -> Result<tempfile::TempDir> {
        let tmp = self.root.join("tmp");
        tempfile::Builder::new()
            .prefix(prefix)
            .tempdir_in(&tmp)
            .with_context(|| format!("creating a staging directory in {}", tmp.display()))
    }

    /// Put one crate build into the store (if it is not there yet): `full` is the dylib as rustc
    /// produced it (kept in `dev/` for linking later builds), `runtime` the file programs load
    /// (the same file, or a group's trimmed relink; `lib/` gets it without `.rustc`); `group`, a
    /// group's record. The entry directory is complete and read-only before it appears under
    /// `entries/`; the index row is written after. An entry already there is checked against its
    /// hashes before anything is bound to it: a damaged one is replaced by this build (same
    /// identity) in one atomic exchange of directories, never reused.
    pub(crate) fn add_entry(
        &self,
        id: &CrateIdentity,
        full: &Path,
        runtime: &Path,
        group: Option<&crate::resolve::grouping::GroupRecord>,
    ) -> Result<EntryOutcome> {
        if self.entry_intact(&id.hash)? == Some(true) {
            return Ok(EntryOutcome::Reused);
        }
        let data = std::fs::read(full).with_context(|| format!("reading {}", full.display()))?;
        let separate = if runtime == full {
            None
        } else {
            Some(std::fs::read(runtime).with_context(|| format!("reading {}", runtime.display()))?)
        };
        let runtime = elf::without_rustc_metadata(separate.as_deref().unwrap_or(&data))
            .with_context(|| format!("making the runtime copy of {}", runtime.display()))?;
        let entry = StoreEntry {
            identity: id.clone(),
            runtime_sha256: digest::sha256_hex(&runtime),
            runtime_size: runtime.len() as u64,
            dev_sha256: digest::sha256_hex(&data),
            group: group.cloned(),
        };
        self.add_entry_files(&entry, &data, &runtime)
    }

    /// Whether the indexed entry `hash` still matches its recorded hashes (`None`: not indexed).
    pub fn entry_intact(&self, hash: &str) -> Result<Option<bool>> {
        Ok(self
            .entry_row_hashes(hash)?
            .map(|(dir, file, runtime_sha, dev_sha)| {
                let dir = self.root.join(dir);
                file_matches(&dir.join("lib").join(&file), &runtime_sha)
                    && file_matches(&dir.join("dev").join(&file), &dev_sha)
            }))
    }

    /// Put one entry into the store from its files' bytes (`dev`, the full build; `runtime`,
    /// the run-time copy), which must match the hashes `entry` records: an install's build, or
    /// an entry pulled from a binary cache. Same rules as [`Store::add_entry`].
    pub fn add_entry_files(
        &self,
        entry: &StoreEntry,
        data: &[u8],
        runtime: &[u8],
    ) -> Result<EntryOutcome> {
        let id = &entry.identity;
        if digest::sha256_hex(runtime) != entry.runtime_sha256
            || digest::sha256_hex(data) != entry.dev_sha256
        {
            bail!(
                "internal: the files given for the entry {} do not match its manifest",
                id.hash
            );
        }
        let damaged = match self.entry_intact(&id.hash)? {
            None => false,
            Some(true) => return Ok(EntryOutcome::Reused),
            Some(false) => true,
        };
        let name = Self::entry_dir_name(id);
        let dest = self.root.join("entries").join(&name);
        let staging = self.staging("entry-")?;
        let dir = staging.path();
        create_dir(&dir.join("lib"))?;
        create_dir(&dir.join("dev"))?;
        write_step(
            &dir.join("lib").join(&id.file),
            runtime,
            "entry-lib-written",
        )?;
        write_step(&dir.join("dev").join(&id.file), data, "entry-dev-written")?;
        write_step(
            &dir.join("entry.json"),
            serde_json::to_string_pretty(entry)?,
            "entry-manifest-written",
        )?;
        make_read_only(dir)?;
        crate::store::fault::step("entry-staged")?;
        let staged = staging.keep();
        if damaged && dest.exists() {
            // Programs bound to the damaged files keep them (hard links) until
            // `verify --repair` links them to the new ones.
            exchange(&staged, &dest)
                .and_then(|_| Ok(crate::store::fault::step("entry-exchanged")?))
                .with_context(|| format!("replacing the damaged entry {}", dest.display()))?;
            // The damaged copy, now at the staging path: garbage for `gc` if this stops here.
            remove_tree(&staged)?;
            crate::store::fault::step("damaged-entry-removed").with_context(|| {
                format!("removing the damaged copy {} of {name}", staged.display())
            })?;
        } else {
            if dest.exists() {
                // Left over from a crash between rename and index: same identity, so the same
                // build; replace it with the fresh, complete copy.
                remove_tree(&dest)?;
            }
            std::fs::rename(&staged, &dest)
                .with_context(|| format!("moving the entry into {}", dest.display()))?;
        }
        crate::store::fault::step("entry-renamed")?;
        self.insert_entry(entry, &name)?;
        crate::store::fault::step("entry-recorded")?;
        Ok(if damaged {
            EntryOutcome::Replaced
        } else {
            EntryOutcome::Added
        })
    }

    /// The directory, file name and recorded hashes (runtime, dev) of an indexed entry.
    fn entry_row_hashes(&self, hash: &str) -> Result<Option<(String, String, String, String)>> {
        Ok(self
            .db
            .query_row(
                "SELECT dir, file, runtime_sha256, dev_sha256 FROM entries WHERE hash = ?1",
                [hash],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
            )
            .optional()?)
    }

    /// Change the index in one transaction: all of `change` or nothing. An error (a full or
    /// failing disk) names the index and what was being recorded.
    fn change_index(
        &self,
        what: impl std::fmt::Display,
        change: impl FnOnce(&rusqlite::Transaction) -> Result<()>,
    ) -> Result<()> {
        let tx = self.db.unchecked_transaction();
        tx.map_err(anyhow::Error::from)
            .and_then(|tx| {
                change(&tx)?;
                Ok(tx.commit()?)
            })
            .with_context(|| {
                format!(
                    "{what} in the store index {}: none of it was recorded; run the command \
                     again once the cause (often a full disk) is fixed",
                    self.root.join(INDEX_FILE).display()
                )
            })
    }

    pub(crate) fn insert_entry(&self, entry: &StoreEntry, dir: &str) -> Result<()> {
        self.change_index(format_args!("recording the entry {dir}"), |tx| {
            write_entry_rows(tx, entry, dir)
        })
    }

    /// Record installed programs (each replacing any earlier record of its name, with the roots
    /// it is linked into) in one transaction: all of them or none.
    pub(crate) fn insert_programs(
        &self,
        programs: &[(&InstalledProgram, &[PathBuf])],
    ) -> Result<()> {
        let names: Vec<&str> = programs.iter().map(|(p, _)| p.name.as_str()).collect();
        self.change_index(
            format_args!("recording the programs {}", names.join(", ")),
            |tx| {
                for (p, roots) in programs {
                    write_program_rows(tx, p, roots)?;
                }
                Ok(())
            },
        )
    }

    /// Replace the whole index with these entries and programs (each with the roots it is
    /// linked into), in one transaction.
    pub(crate) fn replace_index(
        &self,
        entries: &[(StoreEntry, String)],
        programs: &[(InstalledProgram, Vec<PathBuf>)],
    ) -> Result<()> {
        self.change_index("rebuilding the index", |tx| {
            tx.execute_batch(
                "DELETE FROM entries; DELETE FROM entry_deps; DELETE FROM programs;
                 DELETE FROM program_entries; DELETE FROM program_bins; DELETE FROM program_roots;",
            )?;
            for (entry, dir) in entries {
                write_entry_rows(tx, entry, dir)?;
            }
            for (p, roots) in programs {
                write_program_rows(tx, p, roots)?;
            }
            Ok(())
        })
    }

    /// Stop recording that program `name` is linked into `root` (its other roots stay).
    pub(crate) fn remove_program_root(&self, name: &str, root: &Path) -> Result<()> {
        self.change_index(
            format_args!("removing the root {} of {name}", root.display()),
            |tx| {
                let root = root.display().to_string();
                tx.execute(
                    "DELETE FROM program_roots WHERE program = ?1 AND root = ?2",
                    params![name, root],
                )?;
                // The root a program row names is one it is linked into (opening the index
                // adds it to its roots again).
                tx.execute(
                    "UPDATE programs SET root = (SELECT root FROM program_roots WHERE program = ?1 \
                     ORDER BY root LIMIT 1) WHERE name = ?1 AND root = ?2",
                    params![name, root],
                )?;
                Ok(())
            },
        )
    }

    pub(crate) fn remove_program(&self, name: &str) -> Result<()> {
        self.change_index(format_args!("removing the program {name}"), |tx| {
            delete_program_rows(tx, name)
        })
    }

    /// The installed program record of `name`, read from its manifest.
    pub fn program(&self, name: &str) -> Result<Option<InstalledProgram>> {
        let dir: Option<String> = self
            .db
            .query_row("SELECT dir FROM programs WHERE name = ?1", [name], |r| {
                r.get(0)
            })
            .optional()?;
        let Some(dir) = dir else {
            return Ok(None);
        };
        let path = self.root.join(&dir).join("program.json");
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("reading the manifest of {name}, {}", path.display()))?;
        Ok(Some(serde_json::from_str(&text).with_context(|| {
            format!("parsing the manifest of {name}, {}", path.display())
        })?))
    }

    /// Store-relative directories of every recorded program, from the index alone: what `gc`
    /// must keep, whatever the state of the files.
    pub(crate) fn recorded_program_dirs(&self) -> Result<std::collections::BTreeSet<String>> {
        let mut stmt = self.db.prepare("SELECT dir FROM programs")?;
        let rows = stmt.query_map([], |r| r.get(0))?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// Every install root `name` is linked into (`ROOT/bin`), in the order recorded.
    pub(crate) fn roots_of(&self, name: &str) -> Result<Vec<PathBuf>> {
        let mut stmt = self.db.prepare(
            "SELECT root FROM program_roots WHERE program = ?1
             UNION SELECT root FROM programs WHERE name = ?1 ORDER BY 1",
        )?;
        let rows = stmt.query_map([name], |r| r.get::<_, String>(0))?;
        Ok(rows
            .collect::<rusqlite::Result<Vec<_>>>()?
            .into_iter()
            .map(PathBuf::from)
            .collect())
    }

    /// Every install root of every recorded program.
    pub(crate) fn all_roots(&self) -> Result<std::collections::BTreeSet<PathBuf>> {
        let mut stmt = self
            .db
            .prepare("SELECT root FROM program_roots UNION SELECT root FROM programs")?;
        let rows = stmt.query_map([], |r| r.get::<_, String>(0))?;
        Ok(rows
            .collect::<rusqlite::Result<Vec<_>>>()?
            .into_iter()
            .map(PathBuf::from)
            .collect())
    }

    /// The recorded program whose build a link target (an absolute path into `programs/`) is.
    pub(crate) fn program_linked_by(&self, target: &Path) -> Result<Option<String>> {
        let programs = self.root.join("programs");
        let Ok(rest) = target.strip_prefix(&programs) else {
            return Ok(None);
        };
        let Some(first) = rest.components().next() else {
            return Ok(None);
        };
        let dir = format!("programs/{}", first.as_os_str().to_string_lossy());
        Ok(self
            .db
            .query_row("SELECT name FROM programs WHERE dir = ?1", [dir], |r| {
                r.get(0)
            })
            .optional()?)
    }

    /// The manifests of every recorded program that can be read (`verify` names the others).
    pub(crate) fn readable_programs(&self) -> Result<Vec<InstalledProgram>> {
        let mut out = Vec::new();
        for name in self.program_names()? {
            if let Ok(Some(p)) = self.program(&name) {
                out.push(p);
            }
        }
        Ok(out)
    }

    pub fn program_names(&self) -> Result<Vec<String>> {
        let mut stmt = self.db.prepare("SELECT name FROM programs ORDER BY name")?;
        let rows = stmt.query_map([], |r| r.get(0))?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// Every entry: (hash, package, version, file, dir, runtime size).
    pub fn entries(&self) -> Result<Vec<EntryRow>> {
        let mut stmt = self.db.prepare(
            "SELECT hash, package, version, file, dir, runtime_size, runtime_sha256 FROM entries \
             ORDER BY package, version, hash",
        )?;
        let rows = stmt.query_map([], |r| {
            Ok(EntryRow {
                hash: r.get(0)?,
                package: r.get(1)?,
                version: r.get(2)?,
                file: r.get(3)?,
                dir: r.get(4)?,
                runtime_size: r.get::<_, i64>(5)? as u64,
                runtime_sha256: r.get(6)?,
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// Programs whose binaries load entry `hash`.
    pub(crate) fn users_of(&self, hash: &str) -> Result<Vec<String>> {
        let mut stmt = self
            .db
            .prepare("SELECT program FROM program_entries WHERE hash = ?1 ORDER BY program")?;
        let rows = stmt.query_map([hash], |r| r.get(0))?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// Entries reachable from installed programs (their entries and those entries'
    /// dependencies).
    pub(crate) fn live_entries(&self) -> Result<std::collections::BTreeSet<String>> {
        let mut stmt = self.db.prepare(
            "WITH RECURSIVE live(hash) AS (
                 SELECT hash FROM program_entries
                 UNION SELECT entry_deps.dep FROM entry_deps JOIN live ON entry_deps.hash = live.hash)
             SELECT hash FROM live",
        )?;
        let rows = stmt.query_map([], |r| r.get(0))?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// The manifest of a registered entry.
    pub fn entry(&self, row: &EntryRow) -> Result<StoreEntry> {
        let path = self.root.join(&row.dir).join("entry.json");
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("reading {}", path.display()))?;
        serde_json::from_str(&text).with_context(|| format!("parsing {}", path.display()))
    }

    pub(crate) fn delete_entry_row(&self, hash: &str) -> Result<()> {
        self.change_index(format_args!("removing the entry {hash}"), |tx| {
            tx.execute("DELETE FROM entries WHERE hash = ?1", [hash])?;
            tx.execute("DELETE FROM entry_deps WHERE hash = ?1", [hash])?;
            Ok(())
        })
    }
}

/// The store lock: exclusive for commands that change the store, shared for those that read it.
/// A read-only store whose lock file cannot be opened is read without a lock (nothing can change
/// it then either).
fn lock_store(root: &Path, access: Access) -> Result<Option<File>> {
    let path = root.join("lock");
    let (lock, exclusive) = if access == Access::Read {
        match File::open(&path) {
            Ok(f) => (f, false),
            Err(_) => return Ok(None),
        }
    } else {
        let new = !path.exists();
        let f = File::options()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .and_then(|f| {
                if new {
                    crate::store::fault::step("store-lock-created")?;
                }
                Ok(f)
            })
            .with_context(|| format!("opening the store lock {}", path.display()))?;
        (f, true)
    };
    let taken = if exclusive {
        lock.try_lock().is_ok()
    } else {
        lock.try_lock_shared().is_ok()
    };
    if !taken {
        eprintln!(
            "{:>12} for the store lock ({} is in use by another cargo-share)",
            "Blocking",
            root.display()
        );
        if exclusive {
            lock.lock()
        } else {
            lock.lock_shared()
        }
        .with_context(|| format!("locking the store {}", path.display()))?;
    }
    Ok(Some(lock))
}

/// What `add_entry` did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EntryOutcome {
    Added,
    /// The entry was there and matched its hashes.
    Reused,
    /// The entry was there but damaged; this build replaced it.
    Replaced,
}

/// Swap two directories in one step (`renameat2(RENAME_EXCHANGE)`), so the entry is never
/// missing.
fn exchange(a: &Path, b: &Path) -> Result<()> {
    use std::os::unix::ffi::OsStrExt;
    let ca = std::ffi::CString::new(a.as_os_str().as_bytes())?;
    let cb = std::ffi::CString::new(b.as_os_str().as_bytes())?;
    // SAFETY: two valid NUL-terminated paths; renameat2 only reads them.
    let rc = unsafe {
        libc::renameat2(
            libc::AT_FDCWD,
            ca.as_ptr(),
            libc::AT_FDCWD,
            cb.as_ptr(),
            libc::RENAME_EXCHANGE,
        )
    };
    if rc != 0 {
        return Err(std::io::Error::last_os_error().into());
    }
    Ok(())
}

/// One row of the entries table.
#[derive(Debug, Clone, Serialize)]
pub struct EntryRow {
    pub hash: String,
    pub package: String,
    pub version: String,
    pub file: String,
    pub dir: String,
    pub(crate) runtime_size: u64,
    pub(crate) runtime_sha256: String,
}

fn write_entry_rows(conn: &Connection, entry: &StoreEntry, dir: &str) -> Result<()> {
    conn.execute(
        "INSERT OR REPLACE INTO entries VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
        params![
            entry.identity.hash,
            entry.identity.package,
            entry.identity.version,
            entry.identity.file,
            format!("entries/{dir}"),
            entry.runtime_size as i64,
            entry.runtime_sha256,
            entry.dev_sha256
        ],
    )?;
    for dep in &entry.identity.dependencies {
        conn.execute(
            "INSERT OR IGNORE INTO entry_deps VALUES (?1, ?2)",
            params![entry.identity.hash, dep],
        )?;
    }
    Ok(())
}

fn write_program_rows(conn: &Connection, p: &InstalledProgram, roots: &[PathBuf]) -> Result<()> {
    delete_program_rows(conn, &p.name)?;
    for root in roots {
        conn.execute(
            "INSERT OR IGNORE INTO program_roots VALUES (?1, ?2)",
            params![p.name, root.display().to_string()],
        )?;
    }
    conn.execute(
        "INSERT INTO programs VALUES (?1, ?2, ?3, ?4, ?5)",
        params![
            p.name,
            p.version,
            p.source,
            p.dir,
            p.root.display().to_string()
        ],
    )?;
    for e in &p.entries {
        conn.execute(
            "INSERT OR IGNORE INTO program_entries VALUES (?1, ?2)",
            params![p.name, e],
        )?;
    }
    for (bin, sha) in &p.binaries {
        conn.execute(
            "INSERT INTO program_bins VALUES (?1, ?2, ?3)",
            params![p.name, bin, sha],
        )?;
    }
    Ok(())
}

fn delete_program_rows(tx: &Connection, name: &str) -> Result<()> {
    tx.execute("DELETE FROM programs WHERE name = ?1", [name])?;
    tx.execute("DELETE FROM program_roots WHERE program = ?1", [name])?;
    tx.execute("DELETE FROM program_entries WHERE program = ?1", [name])?;
    tx.execute("DELETE FROM program_bins WHERE program = ?1", [name])?;
    Ok(())
}
