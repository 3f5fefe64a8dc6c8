//! The program's `#[global_allocator]` for every allocation of the process.
//!
//! rustc 1.95 expands `#[global_allocator]` in a binary crate into the allocator shim functions
//! themselves (`__rust_alloc`, `__rust_dealloc`, `__rust_realloc`, `__rust_alloc_zeroed`; under
//! v0 mangling `_RNvCs…_7___rustc12___rust_alloc` and so on), emitted with *hidden* visibility in
//! the binary's objects. A hidden symbol is never exported, whatever `--dynamic-list` or
//! `--export-dynamic-symbol` say. So with `-C prefer-dynamic`, `libstd-<hash>.so` and every Rust
//! dylib bind these names to the shim libstd.so carries (the system allocator), while the
//! binary's own code calls its allocator: a block allocated on one side and freed on the other
//! corrupts the heap (rust-lang/rust#100781, #114518; book:
//! docs/src/concepts/how-it-works.md, "Behaviour and speed of shared programs").
//!
//! libstd.so's own calls to the shim go through `GLOB_DAT` relocations, so they can be
//! interposed. At the binary's link (cargo-share is the linker of executables), the objects that
//! define or reference the shim are copied, the shim symbols in their symbol tables are given
//! default visibility (one byte each, `st_other`), and the binary exports them
//! (`--export-dynamic-symbol`). Under `BIND_NOW` the loader then binds libstd.so's and every
//! dylib's references to the binary's definitions before any code runs, so even libstd's first
//! allocation uses the program's allocator. A program without a `#[global_allocator]` defines no
//! shim and is linked unchanged (the default allocator, as static). An allocator defined in an
//! rlib or a dylib already has default visibility and needs nothing.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use object::elf;
use object::read::elf::FileHeader;
use object::Endianness;

/// Tells cargo-share in linker mode that it links an executable whose allocator shim, if it
/// defines one, must govern the whole process.
pub(crate) const EXPORT_ALLOCATOR_ENV: &str = "CARGO_SHARE_EXPORT_ALLOCATOR";

/// The shim functions a `#[global_allocator]` defines.
const SHIM_FUNCTIONS: [&str; 4] = [
    "__rust_alloc",
    "__rust_dealloc",
    "__rust_realloc",
    "__rust_alloc_zeroed",
];

/// Whether `name` is one of the allocator shim functions, legacy (`__rust_alloc`) or v0-mangled
/// (`_RNvCs<hash>_7___rustc12___rust_alloc`: the function `__rust_alloc` of the fake crate
/// `__rustc`).
pub fn is_allocator_shim(name: &str) -> bool {
    SHIM_FUNCTIONS.iter().any(|f| {
        name == *f
            || (name.starts_with("_R")
                && name.contains("___rustc")
                && name
                    .strip_suffix(f)
                    // v0 writes the identifier's length, then `_` before an identifier that
                    // starts with `_`: `12___rust_alloc` is `12`, `_`, `__rust_alloc`.
                    .and_then(|rest| rest.strip_suffix('_'))
                    .is_some_and(|rest| rest.ends_with(|c: char| c.is_ascii_digit())))
    })
}

/// Gives the allocator shim symbols of one relocatable ELF object default visibility, in
/// `data`. Returns the names of the symbols changed (none: `data` is untouched).
pub(crate) fn unhide_allocator_shim(data: &mut [u8]) -> Result<Vec<String>> {
    let mut patches = Vec::new();
    {
        let bytes: &[u8] = data;
        let Ok(header) = elf::FileHeader64::<Endianness>::parse(bytes) else {
            return Ok(Vec::new());
        };
        let endian = header.endian()?;
        if header.e_type(endian) != elf::ET_REL {
            return Ok(Vec::new());
        }
        let sections = header.sections(endian, bytes)?;
        let symbols = sections.symbols(endian, bytes, elf::SHT_SYMTAB)?;
        let Some(section) = sections.section(symbols.section()).ok() else {
            return Ok(Vec::new());
        };
        let table_offset = object::read::elf::SectionHeader::sh_offset(section, endian) as usize;
        let entry_size = std::mem::size_of::<elf::Sym64<Endianness>>();
        for (index, symbol) in symbols.symbols().iter().enumerate() {
            if symbol.st_bind() == elf::STB_LOCAL || symbol.st_visibility() == elf::STV_DEFAULT {
                continue;
            }
            let name = String::from_utf8_lossy(symbols.symbol_name(endian, symbol)?);
            if is_allocator_shim(&name) {
                // st_other is the sixth byte of an Elf64_Sym; its low two bits are visibility.
                patches.push((table_offset + index * entry_size + 5, name.into_owned()));
            }
        }
    }
    for (offset, _) in &patches {
        data[*offset] &= !3;
    }
    Ok(patches.into_iter().map(|(_, name)| name).collect())
}

/// Rewrites a link command line so the executable exports its allocator shim: every object
/// argument that defines or references the shim is replaced by a patched copy in `scratch`, and
/// `--export-dynamic-symbol` is added for each shim symbol. Returns the exported names (none:
/// the arguments are unchanged).
pub(crate) fn export_allocator(args: &mut Vec<String>, scratch: &Path) -> Result<Vec<String>> {
    let mut exported = std::collections::BTreeSet::new();
    for (i, arg) in args.iter_mut().enumerate() {
        if !arg.ends_with(".o") {
            continue;
        }
        let path = PathBuf::from(arg.as_str());
        let Ok(mut data) = std::fs::read(&path) else {
            continue;
        };
        let names = unhide_allocator_shim(&mut data)
            .with_context(|| format!("reading the symbols of {}", path.display()))?;
        if names.is_empty() {
            continue;
        }
        // A copy: incremental builds hard-link these objects into their cache.
        let file_name = path.file_name().map(|n| n.to_string_lossy().into_owned());
        let copy = scratch.join(format!("{i}-{}", file_name.unwrap_or_default()));
        std::fs::write(&copy, &data).with_context(|| format!("writing {}", copy.display()))?;
        *arg = copy.display().to_string();
        exported.extend(names);
    }
    for name in &exported {
        args.push(format!("-Wl,--export-dynamic-symbol={name}"));
    }
    Ok(exported.into_iter().collect())
}

/// The arguments of a link, with rustc's `@FILE` (used when the command line is long) read:
/// one argument a line, `\` escaping `\` and space. Returns the arguments and whether they came
/// from a file.
pub(crate) fn expand_argfile(args: &[String]) -> Result<(Vec<String>, bool)> {
    if let [only] = args {
        if let Some(file) = only.strip_prefix('@') {
            let text = std::fs::read_to_string(file)
                .with_context(|| format!("reading link arguments {file}"))?;
            let mut out = Vec::new();
            for line in text.lines() {
                let mut arg = String::new();
                let mut chars = line.chars();
                while let Some(c) = chars.next() {
                    if c == '\\' {
                        arg.extend(chars.next());
                    } else {
                        arg.push(c);
                    }
                }
                out.push(arg);
            }
            return Ok((out, true));
        }
    }
    Ok((args.to_vec(), false))
}

/// Writes arguments as an `@FILE` the way rustc does, for [`expand_argfile`]'s inverse.
pub(crate) fn write_argfile(args: &[String], file: &Path) -> Result<()> {
    let mut text = String::new();
    for arg in args {
        for c in arg.chars() {
            if c == '\\' || c == ' ' {
                text.push('\\');
            }
            text.push(c);
        }
        text.push('\n');
    }
    std::fs::write(file, text).with_context(|| format!("writing link arguments {}", file.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shim_names_are_told_from_their_neighbours() {
        assert!(is_allocator_shim("__rust_alloc"));
        assert!(is_allocator_shim("__rust_alloc_zeroed"));
        assert!(is_allocator_shim(
            "_RNvCsfLfy6EI15iL_7___rustc12___rust_alloc"
        ));
        assert!(is_allocator_shim(
            "_RNvCsfLfy6EI15iL_7___rustc14___rust_realloc"
        ));
        assert!(is_allocator_shim(
            "_RNvCsfLfy6EI15iL_7___rustc19___rust_alloc_zeroed"
        ));
        assert!(!is_allocator_shim(
            "_RNvCsfLfy6EI15iL_7___rustc11___rdl_alloc"
        ));
        assert!(!is_allocator_shim(
            "_RNvCsfLfy6EI15iL_7___rustc35___rust_no_alloc_shim_is_unstable_v2"
        ));
        assert!(!is_allocator_shim(
            "_RNvCsfLfy6EI15iL_7___rustc26___rust_alloc_error_handler"
        ));
        assert!(!is_allocator_shim("my__rust_alloc"));
    }

    #[test]
    fn argfiles_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("args");
        let args = vec!["-o".to_string(), "a b\\c".into(), "x.o".into()];
        write_argfile(&args, &file).unwrap();
        let (read, from_file) = expand_argfile(&[format!("@{}", file.display())]).unwrap();
        assert!(from_file);
        assert_eq!(read, args);
        let (plain, from_file) = expand_argfile(&args).unwrap();
        assert!(!from_file);
        assert_eq!(plain, args);
    }
}
