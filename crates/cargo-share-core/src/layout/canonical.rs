//! Canonical run-time copies: a shipped file keeps only what its build decides, so a body-only fix
//! changes the files whose code changed and no other.
//!
//! Three things in a linked Rust file change with a fix although no loaded byte does:
//!
//! * the `.llvm.HASH` suffixes LLVM gives the local symbols it promotes across codegen units
//!   (local ThinLTO, on at opt-level 3 with several units): HASH is the hash of the unit's
//!   bitcode before linking, which a fix in an inlined crate changes. They are in `.symtab` and
//!   `.strtab` only, which the loader never reads; debuggers and Rust's backtraces read them, and
//!   `rustc-demangle` drops the suffix when it prints a name. The copy names them without it.
//! * the `.rustc` section of a Rust dylib, its crate metadata for compiling against it (naming
//!   its dependencies' crate hashes): not loaded, not needed to run. The copy has none.
//! * the GNU build-id, which the linker computed over the whole file, the two above included.
//!   The copy's is computed over its own bytes (`cargo_share_compile::elf::rehash_build_id`).
//!
//! A file that is not ELF is copied as it is.

use std::path::Path;

use anyhow::{Context, Result};

use crate::layout::partition::FileSet;

/// What LLVM appends to a local symbol it promotes: `.llvm.` and decimal digits.
const LLVM_SUFFIX: &[u8] = b".llvm.";

/// `name` without a trailing `.llvm.DIGITS`, or `None` when it has none.
fn without_llvm_suffix(name: &[u8]) -> Option<&[u8]> {
    let at = name
        .windows(LLVM_SUFFIX.len())
        .rposition(|w| w == LLVM_SUFFIX)?;
    let digits = &name[at + LLVM_SUFFIX.len()..];
    (!digits.is_empty() && digits.iter().all(u8::is_ascii_digit)).then_some(&name[..at])
}

/// The canonical run-time copy of `data`: `.llvm.HASH` suffixes dropped from `.symtab`, no
/// `.rustc` section, the build-id computed over the result. Bytes that are not ELF are
/// returned as they are.
pub(crate) fn canonical_copy(data: &[u8]) -> Result<Vec<u8>> {
    if !data.starts_with(b"\x7fELF") {
        return Ok(data.to_vec());
    }
    if !needs_rewrite(data)? {
        let mut out = data.to_vec();
        cargo_share_compile::elf::rehash_build_id(&mut out)?;
        return Ok(out);
    }
    let mut builder = object::build::elf::Builder::read(data)?;
    let mut changed = false;
    for symbol in builder.symbols.iter_mut() {
        if let Some(name) = without_llvm_suffix(&symbol.name) {
            symbol.name = name.to_vec().into();
            changed = true;
        }
    }
    for section in builder.sections.iter_mut() {
        if section.name.as_slice() == cargo_share_compile::elf::RUSTC_METADATA_SECTION.as_bytes() {
            section.delete = true;
            changed = true;
        }
    }
    let mut out = if changed {
        builder.delete_orphans();
        let mut out = Vec::with_capacity(data.len());
        builder.write(&mut out)?;
        out
    } else {
        data.to_vec()
    };
    cargo_share_compile::elf::rehash_build_id(&mut out)?;
    Ok(out)
}

/// Whether `data` has a `.rustc` section or a symbol named with an LLVM suffix (read without
/// rewriting: a stripped file usually has neither).
fn needs_rewrite(data: &[u8]) -> Result<bool> {
    use object::{Object, ObjectSection, ObjectSymbol};
    let file = object::File::parse(data)?;
    Ok(file
        .sections()
        .any(|s| s.name() == Ok(cargo_share_compile::elf::RUSTC_METADATA_SECTION))
        || file.symbols().any(|s| {
            s.name_bytes()
                .is_ok_and(|n| without_llvm_suffix(n).is_some())
        }))
}

/// Each file of `set` as its canonical copy (`canonical_copy`) in `dir`, the set pointing at
/// the copies.
pub fn canonical_copies(set: &mut FileSet, dir: &Path) -> Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    for file in &mut set.files {
        let data = std::fs::read(&file.source)
            .with_context(|| format!("reading {}", file.source.display()))?;
        let copy = canonical_copy(&data).with_context(|| {
            format!(
                "making the run-time copy of {} (its symbol names and `.rustc` section): \
                 cargo-share cannot rewrite this ELF file; report it with the file",
                file.source.display()
            )
        })?;
        let out = dir.join(&file.name);
        std::fs::write(&out, copy).with_context(|| format!("writing {}", out.display()))?;
        file.source = out;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use object::{Object, ObjectSection, ObjectSymbol};

    #[test]
    fn only_a_trailing_llvm_hash_is_dropped() {
        let cases: [(&[u8], Option<&[u8]>); 5] = [
            (
                b"_ZN5tokio4park17h0123E.llvm.1234567",
                Some(b"_ZN5tokio4park17h0123E"),
            ),
            (b"f.llvm.1.llvm.22", Some(b"f.llvm.1")),
            (b"_ZN5tokio4park17h0123E", None),
            (b"f.llvm.", None),
            (b"f.llvm.12a", None),
        ];
        for (name, want) in cases {
            assert_eq!(without_llvm_suffix(name), want, "{}", name.escape_ascii());
        }
    }

    /// libstd with one of its local symbols renamed `NAME.llvm.HASH`, as a build would name it.
    fn libstd_with_suffix(hash: &str) -> (Vec<u8>, Vec<u8>) {
        let std = cargo_share_compile::toolchain::Toolchain::detect()
            .unwrap()
            .libstd()
            .expect("libstd-*.so in the toolchain");
        let data = std::fs::read(std).unwrap();
        let mut builder = object::build::elf::Builder::read(&*data).unwrap();
        let symbol = builder
            .symbols
            .iter_mut()
            .find(|s| s.st_bind() == object::elf::STB_LOCAL && s.name.len() > 8)
            .expect("a local symbol");
        let base = symbol.name.to_vec();
        let mut named = base.clone();
        named.extend_from_slice(format!(".llvm.{hash}").as_bytes());
        symbol.name = named.into();
        let mut out = Vec::new();
        builder.write(&mut out).unwrap();
        (out, base)
    }

    #[test]
    fn copies_that_differ_in_llvm_hashes_and_metadata_only_are_one_file() {
        let (a, base) = libstd_with_suffix("1234567");
        let (b, _) = libstd_with_suffix("98765432109876");
        assert_ne!(a, b);
        let (ca, cb) = (canonical_copy(&a).unwrap(), canonical_copy(&b).unwrap());
        assert_eq!(ca, cb, "the copies differ");
        let file = object::File::parse(&*ca).unwrap();
        assert!(file.section_by_name(".rustc").is_none(), "metadata kept");
        assert!(file
            .symbols()
            .all(|s| !s.name_bytes().unwrap().ends_with(b".llvm.1234567")));
        assert!(file.symbols().any(|s| s.name_bytes().unwrap() == base));
        // The loaded part is untouched: the dynamic symbols and the code
        let orig = object::File::parse(&*a).unwrap();
        // (less the symbol naming the metadata, `rust_metadata_std_HASH`, gone with it)
        let dynamic = |f: &object::File| -> Vec<Vec<u8>> {
            f.dynamic_symbols()
                .map(|s| s.name_bytes().unwrap().to_vec())
                .filter(|n| !n.starts_with(b"rust_metadata_"))
                .collect()
        };
        assert_eq!(dynamic(&file), dynamic(&orig));
        let text = |f: &object::File| f.section_by_name(".text").unwrap().data().unwrap().to_vec();
        assert_eq!(text(&file), text(&orig));
        // And the build-id is the copy's own: canonical again, the same bytes.
        assert_eq!(canonical_copy(&ca).unwrap(), ca);
    }

    #[test]
    fn bytes_that_are_not_elf_are_copied_as_they_are() {
        assert_eq!(canonical_copy(b"#!/bin/sh\n").unwrap(), b"#!/bin/sh\n");
    }
}
