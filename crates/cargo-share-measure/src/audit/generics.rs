//! `cargo share analyze --generics`: the function instances a set of binaries and libraries
//! compiles more than once, from their symbol tables.
//!
//! Within one process every crate is in one object (the grouped layout's invariant), so a
//! function defined in two of the set's files is a copy: an instance of a generic function
//! (`core::ptr::drop_in_place::<alloc::string::String>`) or of an `#[inline]` one, compiled into
//! each crate that uses it. With `-C symbol-mangling-version=v0` (which cargo-share pins) and
//! without `-Z share-generics`, copies of one instance differ only by the instantiating crate v0
//! appends to a generic instance's symbol, so copies are found by demangled name (crate hashes
//! kept, so two versions of a crate stay apart; the instantiating crate, which the demangled
//! form leaves out, and a `.llvm.NNN` suffix of a promoted local dropped). Per file a name
//! counts once (several codegen units can each hold one); aliases at one address count once.
//!
//! Each instance is attributed to its **defining crate**: the crate of the first path of its
//! demangled name (`core` for `core::ptr::drop_in_place::<regex::Regex>`, `alloc` for
//! `<alloc::vec::Vec<u8> as core::ops::drop::Drop>::drop`), or, for an impl on a reference,
//! pointer, slice or tuple (`<&T as core::fmt::Debug>::fmt`), the trait's crate. It is
//! An inherent method of a primitive type (`<str>::replace::<&str>`) is `core|alloc`. It is
//! **generic** when its name has generic arguments (`::<`, or a self type or trait with `<`,
//! `&`, `*`, `[`, `(`), else **inline** (a non-generic function copied into its users).

use std::collections::BTreeMap;
use std::path::PathBuf;

use anyhow::{bail, Result};
use object::Object;
use serde::Serialize;

use crate::audit::scan::scan;
use crate::audit::symbols::{defined_functions, path_roots};
use cargo_share_core::shell::Shell;

/// The defining crate shown for an inherent method of a primitive type (`<str>::replace`),
/// whose name does not say which of the two defines it.
pub(crate) const PRIMITIVE_IMPL: &str = "core|alloc";

/// One Rust function defined in two or more files.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct RepeatedInstance {
    /// Demangled, without crate hashes.
    pub(crate) name: String,
    pub(crate) defining_crate: String,
    pub(crate) generic: bool,
    /// Bytes of one copy (the largest).
    pub(crate) bytes: u64,
    /// Files that define it.
    pub(crate) copies: usize,
    /// `(copies - 1) * bytes`: what one copy for all of them would save.
    pub(crate) saving_bytes: u64,
}

/// Repeated instances of one defining crate.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub(crate) struct CrateRepeats {
    pub(crate) name: String,
    pub(crate) instances: usize,
    pub(crate) generic_instances: usize,
    pub(crate) saving_bytes: u64,
}

/// The whole analysis (`--json`: `generics-analysis`).
#[derive(Debug, Clone, Serialize)]
pub struct GenericsReport {
    /// The files read (ELF with a symbol table).
    pub(crate) files: Vec<String>,
    /// ELF files without a symbol table: nothing to count in them.
    pub(crate) without_symbols: Vec<String>,
    /// Bytes of every Rust function defined in the files (each file's own copies counted).
    pub(crate) function_bytes: u64,
    /// Functions defined in two or more files.
    pub(crate) repeated_instances: usize,
    pub(crate) repeated_generic_instances: usize,
    /// Bytes the copies beyond the first take: what sharing every repeated instance would save.
    pub(crate) saving_bytes: u64,
    pub(crate) generic_saving_bytes: u64,
    /// By defining crate, largest saving first.
    pub(crate) by_crate: Vec<CrateRepeats>,
    /// Largest saving first.
    pub(crate) instances: Vec<RepeatedInstance>,
}

/// A function's symbol name without a `.llvm.NNN` suffix (a local promoted by ThinLTO).
fn base_symbol(name: &str) -> &str {
    name.split_once(".llvm.").map_or(name, |(base, _)| base)
}

/// A demangled name without its crate hashes (`regex[5f1c2d]::Regex` -> `regex::Regex`), as
/// `rustc-demangle`'s alternate form prints it.
fn without_hashes(full: &str) -> String {
    let mut out = String::with_capacity(full.len());
    let mut rest = full;
    while let Some(open) = rest.find('[') {
        let close = rest[open..].find(']').map(|c| open + c);
        match close {
            Some(c)
                if rest[open + 1..c].chars().all(|ch| ch.is_ascii_hexdigit()) && c > open + 1 =>
            {
                out.push_str(&rest[..open]);
                rest = &rest[c + 1..];
            }
            _ => {
                out.push_str(&rest[..=open]);
                rest = &rest[open + 1..];
            }
        }
    }
    out.push_str(rest);
    out
}

/// The defining crate of a demangled name (see the module docs).
pub(crate) fn defining_crate(demangled: &str) -> Option<String> {
    if let Some(rest) = demangled.strip_prefix('<') {
        let by_trait = rest.starts_with(['&', '*', '[', '(']);
        if by_trait {
            if let Some((_, tr)) = rest.split_once(" as ") {
                return path_roots(tr).first().map(|s| s.to_string());
            }
        }
    }
    path_roots(demangled).first().map(|s| s.to_string())
}

/// Does a demangled name carry generic arguments (see the module docs)?
pub(crate) fn is_generic(demangled: &str) -> bool {
    if demangled.contains("::<") {
        return true;
    }
    let Some(rest) = demangled.strip_prefix('<') else {
        return false;
    };
    // `<SELF as TRAIT>::f` or `<SELF>::f`: up to the matching `>`.
    let mut depth = 1;
    for (i, c) in rest.char_indices() {
        match c {
            '<' => depth += 1,
            '>' => {
                depth -= 1;
                if depth == 0 {
                    let inner = &rest[..i];
                    return inner.contains(['<', '&', '*', '[', '(']);
                }
            }
            _ => {}
        }
    }
    false
}

/// The defined Rust functions of one ELF file: demangled name with crate hashes (an instance's
/// instantiating crate, which v0 appends to the symbol of a generic instance that may be
/// instantiated in several crates, left out) -> largest size. `None` without a
/// symbol table.
fn functions(data: &[u8]) -> Result<Option<BTreeMap<String, u64>>> {
    let file = object::File::parse(data)?;
    if file.symbols().next().is_none() {
        return Ok(None);
    }
    let mut out: BTreeMap<String, u64> = BTreeMap::new();
    for (name, size) in defined_functions(&file) {
        // Rust functions only: the C runtime's start files are in every executable.
        let Ok(demangled) = rustc_demangle::try_demangle(base_symbol(name)) else {
            continue;
        };
        let full = demangled.to_string();
        // std's allocator shim symbols: a program's own allocator interposes libstd's by design.
        if full.starts_with("__rustc") {
            continue;
        }
        let entry = out.entry(full).or_default();
        *entry = (*entry).max(size);
    }
    Ok(Some(out))
}

/// Read every ELF file under `paths` and find the functions defined in two or more of them.
pub(crate) fn analyze_generics(paths: &[PathBuf], shell: &Shell) -> Result<GenericsReport> {
    let shown: Vec<String> = paths.iter().map(|p| p.display().to_string()).collect();
    shell.status("Scanning", shown.join(", "));
    let scanned = scan(paths, |_| {});
    for u in &scanned.unreadable {
        shell.warn(format!("skipped {}: {}", u.path, u.error));
    }
    if scanned.elf_files.is_empty() {
        bail!(
            "no ELF files under {}: give a build's output directory (`cargo share build --out \
             DIR`) or its binaries and libraries",
            shown.join(", ")
        );
    }
    let mut files = Vec::new();
    let mut without_symbols = Vec::new();
    let mut function_bytes = 0;
    // Symbol -> (files defining it, largest size).
    let mut seen: BTreeMap<String, (usize, u64)> = BTreeMap::new();
    for path in &scanned.elf_files {
        let shown = path.display().to_string();
        let data = std::fs::read(path).map_err(|e| anyhow::anyhow!("reading {shown}: {e}"))?;
        match functions(&data) {
            Ok(Some(fns)) => {
                shell.status("Read", format!("{shown} ({} functions)", fns.len()));
                for (name, size) in fns {
                    function_bytes += size;
                    let e = seen.entry(name).or_default();
                    e.0 += 1;
                    e.1 = e.1.max(size);
                }
                files.push(shown);
            }
            Ok(None) => without_symbols.push(shown),
            Err(e) => shell.warn(format!("skipped {shown}: {e}")),
        }
    }
    for f in &without_symbols {
        shell.warn(format!(
            "{f} has no symbol table (stripped): its instances are not counted"
        ));
    }
    let mut instances: Vec<RepeatedInstance> = seen
        .into_iter()
        .filter(|(_, (copies, _))| *copies >= 2)
        .map(|(full, (copies, bytes))| {
            let name = without_hashes(&full);
            RepeatedInstance {
                defining_crate: defining_crate(&name).unwrap_or_else(|| PRIMITIVE_IMPL.into()),
                generic: is_generic(&name),
                name,
                bytes,
                copies,
                saving_bytes: (copies as u64 - 1) * bytes,
            }
        })
        .collect();
    instances.sort_by(|a, b| {
        b.saving_bytes
            .cmp(&a.saving_bytes)
            .then(a.name.cmp(&b.name))
    });
    let mut by_crate: BTreeMap<String, CrateRepeats> = BTreeMap::new();
    for i in &instances {
        let c = by_crate.entry(i.defining_crate.clone()).or_default();
        c.name = i.defining_crate.clone();
        c.instances += 1;
        c.generic_instances += usize::from(i.generic);
        c.saving_bytes += i.saving_bytes;
    }
    let mut by_crate: Vec<CrateRepeats> = by_crate.into_values().collect();
    by_crate.sort_by(|a, b| {
        b.saving_bytes
            .cmp(&a.saving_bytes)
            .then(a.name.cmp(&b.name))
    });
    let generic: Vec<&RepeatedInstance> = instances.iter().filter(|i| i.generic).collect();
    Ok(GenericsReport {
        files,
        without_symbols,
        function_bytes,
        repeated_instances: instances.len(),
        repeated_generic_instances: generic.len(),
        saving_bytes: instances.iter().map(|i| i.saving_bytes).sum(),
        generic_saving_bytes: generic.iter().map(|i| i.saving_bytes).sum(),
        by_crate,
        instances,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defining_crates_and_generic_names() {
        let cases = [
            ("core::ptr::drop_in_place::<regex::Regex>", "core", true),
            (
                "<alloc::vec::Vec<u8> as core::ops::drop::Drop>::drop",
                "alloc",
                true,
            ),
            ("<&mycrate::Foo as core::fmt::Debug>::fmt", "core", true),
            ("<[u8] as core::fmt::Debug>::fmt", "core", true),
            (
                "<mycrate::Foo as core::fmt::Display>::fmt",
                "mycrate",
                false,
            ),
            (
                "clap_builder::builder::command::Command::new",
                "clap_builder",
                false,
            ),
            (
                "<clap_builder::builder::Arg>::new::<&str>",
                "clap_builder",
                true,
            ),
        ];
        for (name, krate, generic) in cases {
            assert_eq!(defining_crate(name).as_deref(), Some(krate), "{name}");
            assert_eq!(is_generic(name), generic, "{name}");
        }
        assert_eq!(
            base_symbol("_RNvCs1_3foo3bar.llvm.123456"),
            "_RNvCs1_3foo3bar"
        );
    }
}
