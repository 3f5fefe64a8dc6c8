//! Reading the dynamic section of ELF files (`DT_NEEDED`, `DT_RUNPATH`, `DT_SONAME`, how it is
//! bound and relocated) with the `object` crate, and resolving a program's closure of shared
//! libraries.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use object::elf;
use object::read::elf::{Dyn, ElfFile64, FileHeader};
use object::Endianness;

/// The dynamic-linking facts of one ELF file.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct DynamicInfo {
    pub needed: Vec<String>,
    pub runpath: Vec<String>,
    pub(crate) soname: Option<String>,
    /// Every import bound at load (`DT_BIND_NOW`, `DF_BIND_NOW` or `DF_1_NOW`: `-z now`).
    pub bind_now: bool,
    /// Relative relocations packed (`DT_RELR`: `-z pack-relative-relocs`).
    pub packed_relative: bool,
}

/// `DT_RELR` (the gABI's number; `object` 0.36 does not name it).
const DT_RELR: u32 = 36;

/// The dynamic symbols a file imports (undefined in its `.dynsym`) and those it exports
/// (defined, global or weak).
pub fn dynamic_symbols(path: &Path) -> Result<(BTreeSet<String>, BTreeSet<String>)> {
    use object::{Object, ObjectSymbol};
    let data = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    let file = object::File::parse(&*data)
        .with_context(|| format!("{} is not a readable ELF file", path.display()))?;
    let (mut imports, mut exports) = (BTreeSet::new(), BTreeSet::new());
    for sym in file.dynamic_symbols() {
        let Ok(name) = sym.name() else { continue };
        if name.is_empty() {
            continue;
        }
        if sym.is_undefined() {
            imports.insert(name.to_string());
        } else if sym.is_global() || sym.is_weak() {
            exports.insert(name.to_string());
        }
    }
    Ok((imports, exports))
}

/// Read `DT_NEEDED`, `DT_RUNPATH`/`DT_RPATH` and `DT_SONAME` from a 64-bit ELF file.
pub fn dynamic_info(path: &Path) -> Result<DynamicInfo> {
    let data = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    dynamic_info_of(&data).with_context(|| format!("{} is not a readable ELF file", path.display()))
}

/// [`dynamic_info`] of a file already read.
pub fn dynamic_info_of(data: &[u8]) -> Result<DynamicInfo> {
    let file = ElfFile64::<Endianness>::parse(data)?;
    let endian = file.endian();
    let header = file.elf_header();
    let sections = header.sections(endian, data)?;
    let mut info = DynamicInfo::default();
    // `dynamic` returns the entries and the index of the string table they refer to.
    let Some((entries, strtab)) = sections.dynamic(endian, data)? else {
        return Ok(info);
    };
    let strings = sections.strings(endian, data, strtab)?;
    for entry in entries {
        let tag = entry.d_tag(endian) as u32;
        let text = || -> Result<String> {
            Ok(String::from_utf8_lossy(entry.string(endian, strings)?).into_owned())
        };
        match tag {
            elf::DT_NEEDED => info.needed.push(text()?),
            elf::DT_RUNPATH | elf::DT_RPATH => {
                info.runpath.extend(text()?.split(':').map(String::from))
            }
            elf::DT_SONAME => info.soname = Some(text()?),
            elf::DT_BIND_NOW => info.bind_now = true,
            elf::DT_FLAGS => {
                info.bind_now |= entry.d_val(endian) & u64::from(elf::DF_BIND_NOW) != 0
            }
            elf::DT_FLAGS_1 => info.bind_now |= entry.d_val(endian) & u64::from(elf::DF_1_NOW) != 0,
            DT_RELR => info.packed_relative = true,
            _ => {}
        }
    }
    Ok(info)
}

/// The symbol versions a 64-bit ELF file needs from each library (`.gnu.version_r`): library
/// name as in `DT_NEEDED` -> version names (`libc.so.6` -> `GLIBC_2.34`, ...).
pub fn needed_versions(data: &[u8]) -> Result<BTreeMap<String, BTreeSet<String>>> {
    let file = ElfFile64::<Endianness>::parse(data)?;
    let endian = file.endian();
    let sections = file.elf_header().sections(endian, data)?;
    let mut out: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let Some((mut needs, link)) = sections.gnu_verneed(endian, data)? else {
        return Ok(out);
    };
    let strings = sections.strings(endian, data, link)?;
    while let Some((need, mut aux)) = needs.next()? {
        let library = String::from_utf8_lossy(need.file(endian, strings)?).into_owned();
        let versions = out.entry(library).or_default();
        while let Some(a) = aux.next()? {
            versions.insert(String::from_utf8_lossy(a.name(endian, strings)?).into_owned());
        }
    }
    Ok(out)
}

/// What a library cargo-share provides is called in `DT_NEEDED` of the run-time copies of
/// binaries and plugins (`cargo_share::build::lib_paths`): a path from their directory (`bin/`,
/// `plugins/`) to the libraries' (`lib/`).
pub const LIB_DIR_PREFIX: &str = "$ORIGIN/../lib/";

/// What a library cargo-share provides is called in `DT_NEEDED` of the run-time copies of the
/// libraries beside it in `lib/`: a path in their own directory.
pub const SIBLING_PREFIX: &str = "$ORIGIN/";

/// The file name a `DT_NEEDED` entry asks for: `$ORIGIN/../lib/FILE`, `$ORIGIN/FILE` and `FILE`
/// are all `FILE`.
pub fn needed_file(needed: &str) -> &str {
    needed
        .strip_prefix(LIB_DIR_PREFIX)
        .or_else(|| needed.strip_prefix(SIBLING_PREFIX))
        .unwrap_or(needed)
}

/// The shared libraries a binary needs that cargo-share provides (crate dylibs and libstd), found
/// in `search` directories, in load order; system libraries (libc, libgcc_s) are left out.
/// Returns file name -> path.
pub fn library_closure(binary: &Path, search: &[PathBuf]) -> Result<BTreeMap<String, PathBuf>> {
    let mut found = BTreeMap::new();
    let mut seen = BTreeSet::new();
    let mut queue: VecDeque<String> = dynamic_info(binary)?.needed.into();
    while let Some(needed) = queue.pop_front() {
        let name = needed_file(&needed).to_string();
        if !seen.insert(name.clone()) {
            continue;
        }
        if let Some(path) = search.iter().map(|d| d.join(&name)).find(|p| p.is_file()) {
            queue.extend(dynamic_info(&path)?.needed);
            found.insert(name, path);
        }
    }
    Ok(found)
}

/// The first member of the static archive at `path` (an rlib or a `.a`) that defines a global
/// symbol `wanted` accepts: its bytes and that symbol's name. `None` when no member does.
pub fn archive_member_defining(
    path: &Path,
    wanted: impl Fn(&str) -> bool,
) -> Result<Option<(Vec<u8>, String)>> {
    use object::read::archive::ArchiveFile;
    use object::{Object, ObjectSymbol};
    let data = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    let archive = ArchiveFile::parse(&*data)
        .with_context(|| format!("{} is not a static archive", path.display()))?;
    for member in archive.members() {
        let bytes = member?.data(&*data)?;
        let Ok(obj) = object::File::parse(bytes) else {
            continue;
        };
        let found = obj.symbols().find_map(|s| {
            let name = s.name().ok()?;
            (s.is_global() && s.is_definition() && wanted(name)).then(|| name.to_string())
        });
        if let Some(name) = found {
            return Ok(Some((bytes.to_vec(), name)));
        }
    }
    Ok(None)
}

/// The name of the section that holds a Rust dylib's crate metadata: needed to compile dependents,
/// never loaded at run time (book:
/// docs/src/concepts/how-it-works.md, "What is inside a Rust dylib").
pub const RUSTC_METADATA_SECTION: &str = ".rustc";

/// A runtime copy of a Rust dylib: the same file without its `.rustc` metadata section.
/// Returns the input unchanged when it has no such section.
/// Whether a shared object is a Rust dylib (it carries crate metadata in `.rustc`), as opposed to
/// a `cdylib` or a C library.
pub fn is_rust_dylib(path: &Path) -> bool {
    use object::{Object, ObjectSection};
    let Ok(data) = std::fs::read(path) else {
        return false;
    };
    object::File::parse(&*data)
        .is_ok_and(|f| f.sections().any(|s| s.name() == Ok(RUSTC_METADATA_SECTION)))
}

pub fn without_rustc_metadata(data: &[u8]) -> Result<Vec<u8>> {
    let mut builder = object::build::elf::Builder::read(data)?;
    let mut found = false;
    for section in builder.sections.iter_mut() {
        if section.name.as_slice() == RUSTC_METADATA_SECTION.as_bytes() {
            section.delete = true;
            found = true;
        }
    }
    if !found {
        return Ok(data.to_vec());
    }
    builder.delete_orphans();
    let mut out = Vec::with_capacity(data.len());
    builder.write(&mut out)?;
    rehash_build_id(&mut out)?;
    Ok(out)
}

/// Give `data` a GNU build-id computed over its own bytes (the note's descriptor zeroed while
/// hashing: the first bytes of a SHA-256). The linker computed the build-id over the whole
/// file, `.rustc` metadata included, so a change that only touches a crate's metadata (a fix
/// to an inlined function, compiled into its callers) would otherwise change the runtime copy
/// of every object holding that crate, and `update` would ship files whose code is the same.
/// A file without a build-id note is left as it is.
pub fn rehash_build_id(data: &mut [u8]) -> Result<()> {
    use object::{Object, ObjectSection};
    let range = {
        let file = object::File::parse(&*data)?;
        let Some(section) = file.section_by_name(".note.gnu.build-id") else {
            return Ok(());
        };
        let Some((offset, size)) = section.file_range() else {
            return Ok(());
        };
        let note = section.data()?;
        if note.len() < 16 || &note[12..16] != b"GNU\0" {
            return Ok(());
        }
        let desc = u32::from_le_bytes(note[4..8].try_into()?) as usize;
        let start = offset as usize + 16;
        if 16 + desc > size as usize || desc == 0 {
            return Ok(());
        }
        start..start + desc
    };
    data[range.clone()].fill(0);
    let digest = {
        use sha2::Digest;
        sha2::Sha256::digest(&*data)
    };
    let len = range.len().min(digest.len());
    data[range.start..range.start + len].copy_from_slice(&digest[..len]);
    Ok(())
}

/// `data` with a non-allocated section `name` holding `contents` (an existing section of that
/// name is replaced). Never loaded at run time: it is read from the file (the plugin closure
/// note, `cargo_share::build::plugin_closure`).
pub fn with_section(data: &[u8], name: &str, contents: &[u8]) -> Result<Vec<u8>> {
    let mut builder = object::build::elf::Builder::read(data)?;
    for section in builder.sections.iter_mut() {
        if section.name.as_slice() == name.as_bytes() {
            section.delete = true;
        }
    }
    builder.delete_orphans();
    let section = builder.sections.add();
    section.name = name.as_bytes().to_vec().into();
    section.sh_type = elf::SHT_NOTE;
    section.sh_flags = 0;
    section.sh_addralign = 1;
    section.data = object::build::elf::SectionData::Data(contents.to_vec().into());
    let mut out = Vec::with_capacity(data.len() + contents.len() + 64);
    builder.write(&mut out)?;
    Ok(out)
}

/// The contents of section `name` of an ELF file, if it has one.
pub fn section_data(data: &[u8], name: &str) -> Result<Option<Vec<u8>>> {
    use object::{Object, ObjectSection};
    let file = object::File::parse(data)?;
    match file.section_by_name(name) {
        Some(s) => Ok(Some(s.data()?.to_vec())),
        None => Ok(None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn needed_names_map_to_file_names() {
        assert_eq!(needed_file("$ORIGIN/../lib/libstd-1.so"), "libstd-1.so");
        assert_eq!(needed_file("$ORIGIN/libstd-1.so"), "libstd-1.so");
        assert_eq!(needed_file("libc.so.6"), "libc.so.6");
    }

    #[test]
    fn runtime_copy_of_libstd_drops_metadata_and_keeps_dynamic_section() {
        let std = crate::toolchain::Toolchain::detect()
            .unwrap()
            .libstd()
            .expect("libstd-*.so in the toolchain");
        assert!(is_rust_dylib(&std));
        let data = std::fs::read(&std).unwrap();
        let small = without_rustc_metadata(&data).unwrap();
        assert!(
            small.len() < data.len(),
            "{} !< {}",
            small.len(),
            data.len()
        );
        assert_eq!(
            dynamic_info_of(&small).unwrap(),
            dynamic_info_of(&data).unwrap()
        );
        let parsed = object::File::parse(&*small).unwrap();
        use object::{Object, ObjectSection};
        assert!(parsed.section_by_name(RUSTC_METADATA_SECTION).is_none());

        // The build-id is the runtime copy's own: metadata that differs (one byte of `.rustc`
        // changed) gives the same runtime bytes, and the id is not the linker's any more.
        let (offset, size) = object::File::parse(&*data)
            .unwrap()
            .section_by_name(RUSTC_METADATA_SECTION)
            .unwrap()
            .file_range()
            .unwrap();
        let mut other = data.clone();
        other[(offset + size / 2) as usize] ^= 0xff;
        assert_eq!(without_rustc_metadata(&other).unwrap(), small);
        let id = |d: &[u8]| {
            object::File::parse(d)
                .unwrap()
                .build_id()
                .unwrap()
                .map(<[u8]>::to_vec)
        };
        if let Some(linker_id) = id(&data) {
            let own = id(&small).unwrap();
            assert_eq!(own.len(), linker_id.len());
            assert_ne!(own, linker_id);
        }
    }
}
