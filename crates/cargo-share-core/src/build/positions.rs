//! Binding by position: the run-time copies bind the Rust functions they import from the
//! libraries of `OUT/lib` through one anchor symbol per exporting library, not one name each.
//!
//! cargo-share binds every program to exact builds, so the loader's search by name at each start
//! finds what the build already knew. Every library of `OUT/lib` that exports Rust functions gets
//! a **table**: one 8-byte entry per function, a `jmp` to it (`elf_position`), in a fixed order,
//! and an **anchor**, a global symbol at the table's start whose name carries a hash of the
//! table's layout (the library's file name and the entries' names, in order). Every importer's
//! relocation against such a function becomes `R_X86_64_64` against the anchor plus the entry's
//! offset, and the relocations against one anchor are sorted together, so that glibc's cache of
//! the last symbol looked up (`l_lookup_cache`) serves all but the first: one lookup per
//! (importer, library) pair instead of one per function.
//!
//! Why a table and not the functions' offsets: a body-only fix moves code, and the importers must
//! stay byte-identical so that the fix ships one file. The table's order depends only on names,
//! which stable crate ids keep across such a fix; the fixed library's jumps change, not the
//! positions. The layout is:
//!
//! * for a group or a crate's library, the functions its run-time copy exports (with
//!   `--exports used`, the trimmed list, which the group's identity hashes; importers that are
//!   libraries hash their dependencies' identities);
//! * for libstd, the functions the toolchain's copy exports, whatever the relinked copy keeps
//!   (an entry for a function the relink dropped traps, `ud2`): groups do not hash libstd's
//!   export list, so their bytes must not depend on it. Also the functions the toolchain's copy
//!   imports by name (libc's, libgcc_s's, with their versions) and those it keeps interposable
//!   (the allocator shim, `__rust_start_panic`): their entries jump through libstd's own GOT
//!   slot (`elf_position`), so every other file of the program binds the C functions it shares
//!   with libstd, and the allocator shim, through libstd's one anchor, and libstd alone looks
//!   each name up (once per start instead of once per file calling it). A program's
//!   `#[global_allocator]` still interposes: libstd's slot is bound by name, and finds it first.
//!
//! A file whose table differs from the one an importer was bound to has another anchor name, so
//! the importer fails to load ("undefined symbol") instead of jumping into the wrong entry. A name
//! two libraries export stays bound by name, as do data, thread-locals, weak references and lazily
//! bound calls. What it costs: a call from another file goes through one more direct `jmp`, and a
//! function's address taken in another file is its entry's, not its own (Rust promises no unique
//! function addresses).

use std::collections::HashMap;
use std::path::Path;

use anyhow::{Context, Result};
use object::{Object, ObjectSymbol, SymbolKind};

use crate::build::load_order::LoadOrder;
use crate::build::short_names;
use cargo_share_compile::digest::sha256_hex;
use cargo_share_compile::elf_position::{ByPosition, Position, Positions};
use cargo_share_compile::toolchain::is_libstd_file;

/// What an anchor's name starts with, then 16 hex digits of the layout's SHA-256.
const ANCHOR_PREFIX: &str = "_csT";

/// A library of `OUT/lib`: its file name, the file whose exports lay out its table, and its
/// run-time copy.
pub struct Library<'a> {
    pub name: &'a str,
    pub layout_from: &'a Path,
    pub runtime: &'a Path,
}

/// How the run-time copies name and bind what they import from `OUT/lib`.
#[derive(Debug, Default)]
pub struct DynamicNames {
    /// Long name -> short name (`build::short_names`).
    pub(crate) renames: HashMap<Vec<u8>, Vec<u8>>,
    /// File name -> (anchor, the names of its table's entries).
    tables: HashMap<String, (Vec<u8>, Vec<Vec<u8>>)>,
    /// Function name -> (anchor, entry index).
    imports: Positions,
    /// Which files may name their system libraries first (`build::load_order`).
    pub(crate) order: LoadOrder,
}

impl DynamicNames {
    /// The names and tables of `libraries`. Fails on a short-name collision.
    pub fn of(libraries: &[Library<'_>]) -> Result<Self> {
        let renames = short_names::renames_of(libraries.iter().map(|l| l.runtime))?;
        let order = LoadOrder::of(libraries.iter().map(|l| (l.name, l.runtime)))?;
        let mut tables = HashMap::new();
        let mut imports = Positions::new();
        let mut twice = Vec::new();
        for library in libraries {
            let entries = match is_libstd_file(library.name) {
                true => global_functions(library.layout_from)?,
                false => table_layout(library.layout_from)?,
            };
            if entries.is_empty() {
                continue;
            }
            let anchor = anchor_name(library.name, &entries).into_bytes();
            // An importer must require the version the run-time copy binds its slot to (the
            // relink binds this machine's default), whatever the toolchain's copy named.
            let bound: HashMap<Vec<u8>, Option<Vec<u8>>> = match is_libstd_file(library.name) {
                true => global_functions(library.runtime)?.into_iter().collect(),
                false => HashMap::new(),
            };
            for (index, (name, version)) in entries.iter().enumerate() {
                let at = Position {
                    anchor: anchor.clone(),
                    index: index as u32,
                    version: bound.get(name).unwrap_or(version).clone(),
                };
                if imports.insert(name.clone(), at).is_some() {
                    twice.push(name.clone());
                }
            }
            let names = entries.into_iter().map(|(name, _)| name).collect();
            tables.insert(library.name.to_string(), (anchor, names));
        }
        for name in twice {
            imports.remove(&name);
        }
        Ok(DynamicNames {
            renames,
            tables,
            imports,
            order,
        })
    }

    /// How the file `name` of `OUT/lib` (`None`: a binary or plugin) takes part.
    pub(crate) fn by_position(&self, name: Option<&str>) -> ByPosition<'_> {
        ByPosition {
            table: name
                .and_then(|n| self.tables.get(n))
                .map(|(anchor, names)| (anchor.as_slice(), names.as_slice())),
            imports: Some(&self.imports),
        }
    }
}

/// One entry of a table: the function's name, and the version an importer names it with.
type TableEntry = (Vec<u8>, Option<Vec<u8>>);

/// The entries of a library's table: the functions `path` exports that are bound by short name
/// (`short_names::renamed`), sorted by name.
fn table_layout(path: &Path) -> Result<Vec<TableEntry>> {
    let data = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    let file = object::File::parse(&*data)
        .with_context(|| format!("{} is not a readable ELF file", path.display()))?;
    let mut names: Vec<TableEntry> = file
        .dynamic_symbols()
        .filter(|s| !s.is_undefined() && s.is_global() && s.kind() == SymbolKind::Text)
        .filter_map(|s| s.name().ok().map(str::to_string))
        .filter(|n| short_names::renamed(n, SymbolKind::Text))
        .map(|n| (n.into_bytes(), None))
        .collect();
    names.sort();
    names.dedup();
    Ok(names)
}

/// The entries of libstd's table, from the toolchain's copy at `path` (and, for the versions its
/// slots bind, from the run-time copy): every global function it defines (the allocator shim and
/// `__rust_start_panic` included; `rust_metadata_std_*` is not a function), and every function
/// it imports by a non-weak reference, with its version (libc's and libgcc_s's), sorted by name.
fn global_functions(path: &Path) -> Result<Vec<TableEntry>> {
    use object::build::elf::{Builder, VersionData};
    let data = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    let builder = Builder::read(&*data)
        .with_context(|| format!("{} is not a readable ELF file", path.display()))?;
    let mut entries: Vec<TableEntry> = Vec::new();
    for symbol in builder.dynamic_symbols.iter() {
        let binding = symbol.st_info >> 4;
        if symbol.st_info & 0xf != object::elf::STT_FUNC || binding != object::elf::STB_GLOBAL {
            continue;
        }
        let version = match symbol.version.is_special() {
            true => None,
            false => match &builder.versions.get(symbol.version).data {
                VersionData::Need(need) => Some(need.name.to_vec()),
                VersionData::Def(_) => None,
            },
        };
        entries.push((symbol.name.to_vec(), version));
    }
    entries.sort();
    entries.dedup();
    Ok(entries)
}

/// The anchor of the table `entries` of the library `file`.
fn anchor_name(file: &str, entries: &[TableEntry]) -> String {
    let mut layout = file.as_bytes().to_vec();
    for (name, version) in entries {
        layout.push(b'\n');
        layout.extend_from_slice(name);
        if let Some(version) = version {
            layout.push(b'@');
            layout.extend_from_slice(version);
        }
    }
    format!("{ANCHOR_PREFIX}{}", &sha256_hex(&layout)[..16])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn anchors_name_the_file_and_the_order() {
        let ab = [(b"_Ra".to_vec(), None), (b"_Rb".to_vec(), None)];
        let ba = [(b"_Rb".to_vec(), None), (b"_Ra".to_vec(), None)];
        let versioned = [(b"_Ra".to_vec(), Some(b"V_1".to_vec())), ab[1].clone()];
        let a = anchor_name("libg.so", &ab);
        assert!(a.starts_with(ANCHOR_PREFIX) && a.len() == 20);
        assert_eq!(a, anchor_name("libg.so", &ab));
        assert_ne!(a, anchor_name("libg.so", &ba));
        assert_ne!(a, anchor_name("libh.so", &ab));
        assert_ne!(a, anchor_name("libg.so", &ab[..1]));
        assert_ne!(a, anchor_name("libg.so", &versioned));
    }
}
