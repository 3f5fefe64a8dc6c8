//! The run-time copies name their libraries by path: every `DT_NEEDED` entry for a library the
//! build provides becomes `$ORIGIN/../lib/FILE` in a binary or a plugin and `$ORIGIN/FILE` in a
//! library beside it in `lib/`, and the `$ORIGIN` run paths the wrapper gave the link go.
//!
//! Why: a `DT_NEEDED` name without a slash is searched for. glibc 2.36 tries every `DT_RUNPATH`
//! directory through about twenty `glibc-hwcaps`/legacy hardware-capability subdirectories first
//! (an `openat` and a `newfstatat` each), once per distinct run-path string, and a dylib's own
//! `$ORIGIN` run path is another string than the executable's `$ORIGIN/../lib`. A name with a
//! slash is opened directly, after `$ORIGIN` is expanded (glibc expands it in `DT_NEEDED` as in
//! run paths), and a second request for the same string matches the object already loaded
//! without any system call. System libraries (libc, libgcc_s, a C library a `-sys` crate links
//! dynamically) keep their plain names and, with no run path left to probe, go straight to
//! `ld.so.cache`.
//!
//! Every file that goes into `OUT/lib` sits next to the others, and every binary in `OUT/bin`,
//! as in a store program's directory (`bin/`, `lib/`). A library names its siblings
//! `$ORIGIN/FILE`, not `$ORIGIN/../lib/FILE`, although both name the same file: glibc expands
//! `$ORIGIN` before it compares a needed name with the objects already loaded, and a group
//! loaded as `bin/../lib/G` asking for `$ORIGIN/../lib/libstd-….so` asks for
//! `bin/../lib/../lib/libstd-….so`, a string it has not seen. It then opens, reads and stats the
//! file again before finding it loaded by inode (a grouped start opened libstd once per object
//! needing it). `$ORIGIN/FILE` expands to `bin/../lib/FILE`, the binary's own string, which the
//! loader matches without a system call: each library is opened once. Files in Cargo's target
//! directory keep plain names: `cargo test` runs them from `deps/` with Cargo's library path.
//!
//! A longer string table may need the dynamic sections moved into a new segment:
//! [`cargo_share_compile::elf_rewrite`] does that.

use std::collections::{BTreeSet, HashMap};
use std::path::Path;

use anyhow::{Context, Result};

use crate::build::positions::DynamicNames;
use cargo_share_compile::elf::{self, LIB_DIR_PREFIX, SIBLING_PREFIX};
use cargo_share_compile::elf_rewrite;

/// Run paths the wrapper adds (`-C link-arg=-Wl,-rpath,…`); the rewrite removes them.
const WRAPPER_RUN_PATHS: [&str; 2] = ["$ORIGIN", "$ORIGIN/../lib"];

/// Versions the rewrite, for the store identity: change it when the rewrite changes.
pub(crate) const LIB_PATHS_FORMAT: &str = "needed $ORIGIN/../lib/FILE from bin/, $ORIGIN/FILE from \
     lib/, wrapper run paths removed, short dynamic names _cs+16 hex of SHA-256, functions bound by \
     position through _csT anchors and 8-byte jump tables, libstd's table jumping through its GOT \
     for its C imports and interposable symbols, own thread-locals' module ids bound to self, \
     __gmon_start__ and _ITM_* references dropped, system libraries needed first where only Rust \
     names are defined in OUT/lib";

/// Where a run-time copy goes, which decides how it names the libraries in `lib/`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Place {
    /// `bin/` or `plugins/`: `$ORIGIN/../lib/FILE`.
    BesideLibDir,
    /// `lib/` itself: `$ORIGIN/FILE`.
    InLibDir,
}

impl Place {
    fn prefix(self) -> &'static str {
        match self {
            Place::BesideLibDir => LIB_DIR_PREFIX,
            Place::InLibDir => SIBLING_PREFIX,
        }
    }
}

/// The bytes of `from` with every `DT_NEEDED` entry naming one of `provided` (file names in
/// `OUT/lib`) turned into a path to it from `place`, the wrapper's run paths removed (others
/// a build script added are kept), the Rust functions imported from `OUT/lib` bound by position
/// and a library's own table added (`build::positions`), and the dynamic symbols given their
/// short names (`build::short_names`). Returns `None` when nothing needed changing.
pub fn bind_to_lib_dir(
    from: &Path,
    provided: &BTreeSet<String>,
    place: Place,
    names: &DynamicNames,
) -> Result<Option<Vec<u8>>> {
    let renames = &names.renames;
    let data = std::fs::read(from).with_context(|| format!("reading {}", from.display()))?;
    let info = elf::dynamic_info_of(&data)
        .with_context(|| format!("{} is not a readable ELF file", from.display()))?;
    let replace: HashMap<Vec<u8>, Vec<u8>> = info
        .needed
        .iter()
        .filter(|n| provided.contains(n.as_str()))
        .map(|n| {
            (
                n.as_bytes().to_vec(),
                format!("{}{n}", place.prefix()).into_bytes(),
            )
        })
        .collect();
    let kept_runpath: Vec<&str> = info
        .runpath
        .iter()
        .map(String::as_str)
        .filter(|p| !p.is_empty() && !WRAPPER_RUN_PATHS.contains(p))
        .collect();
    if replace.is_empty()
        && kept_runpath.len() == info.runpath.len()
        && !has_dynamic_symbol_in(&data, renames)
    {
        return Ok(None);
    }
    let runpath = (!kept_runpath.is_empty()).then(|| kept_runpath.join(":").into_bytes());
    let own = match place {
        Place::InLibDir => from.file_name().and_then(|n| n.to_str()),
        Place::BesideLibDir => None,
    };
    let position = names.by_position(own);
    let system_first = names.order.system_libraries_first(&info.needed);
    let out =
        elf_rewrite::rewrite_dynamic(&data, &replace, (runpath, system_first), renames, &position)
            .with_context(|| {
                format!(
                    "rewriting the library names in {} to {}…",
                    from.display(),
                    place.prefix()
                )
            })?;
    Ok(Some(out))
}

/// Whether the ELF file `data` has a dynamic symbol named in `renames`.
fn has_dynamic_symbol_in(data: &[u8], renames: &HashMap<Vec<u8>, Vec<u8>>) -> bool {
    use object::{Object, ObjectSymbol};
    !renames.is_empty()
        && object::File::parse(data).is_ok_and(|f| {
            f.dynamic_symbols()
                .any(|s| s.name_bytes().is_ok_and(|n| renames.contains_key(n)))
        })
}
