//! Bytes of code per crate from a binary's symbol table: every defined function symbol with a
//! size, demangled (v0 and legacy) with `rustc-demangle`, attributed to a crate by its path.
//!
//! Attribution: the first crate named in the demangled path that is not part of the toolchain
//! (`<regex::Regex as core::fmt::Debug>::fmt` is regex's, and so is
//! `core::ptr::drop_in_place::<regex::Regex>`: a generic instance is compiled where it is used
//! with that type), else the toolchain crate it names (`core::fmt::write` is the toolchain's).
//! Functions without a Rust mangled name (C code, the C runtime) count as unattributed.
//! Aliases (several names at one address) are counted once.

use std::collections::{BTreeMap, BTreeSet};

use object::{Object, ObjectSymbol, SymbolKind};

/// Crates the toolchain ships: their code is the compiler's library (libstd when shared).
pub(crate) const TOOLCHAIN_CRATES: &[&str] = &[
    "std",
    "core",
    "alloc",
    "compiler_builtins",
    "panic_unwind",
    "panic_abort",
    "unwind",
    "std_detect",
    "rustc_std_workspace_core",
    "rustc_std_workspace_alloc",
    "proc_macro",
    "test",
    // std's `#[rustc_std_internal_symbol]` items (`__rustc::rust_begin_unwind`).
    "__rustc",
];

/// Fewer Rust functions than this and the table is not taken as the binary's (a stripped
/// binary keeps a few in `.dynsym`).
const MIN_RUST_FUNCTIONS: usize = 20;

/// Function bytes of one binary, by crate name (as in symbols: `regex_automata`).
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(crate) struct SymbolBytes {
    pub(crate) per_crate: BTreeMap<String, u64>,
    /// Functions without a Rust name (C code, start-up files).
    pub(crate) unattributed: u64,
    /// Rust functions counted.
    pub(crate) rust_functions: usize,
    /// The crate defining `CRATE::main`: the binary's root crate (own code).
    pub(crate) main_crate: Option<String>,
}

/// Crate roots named in a demangled path, in order: each identifier that starts a path (is
/// followed by `::` and not preceded by it).
pub(crate) fn path_roots(demangled: &str) -> Vec<&str> {
    let bytes = demangled.as_bytes();
    let ident = |b: u8| b.is_ascii_alphanumeric() || b == b'_';
    let mut roots = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if !ident(bytes[i]) {
            i += 1;
            continue;
        }
        let start = i;
        while i < bytes.len() && ident(bytes[i]) {
            i += 1;
        }
        let preceded = start >= 2 && &bytes[start - 2..start] == b"::";
        let followed = bytes[i..].starts_with(b"::");
        let word = &demangled[start..i];
        if followed && !preceded && !word.starts_with(|c: char| c.is_ascii_digit()) {
            roots.push(word);
        }
    }
    roots
}

/// The crate a demangled function belongs to (see the module docs).
pub(crate) fn crate_of(demangled: &str) -> Option<&str> {
    let roots = path_roots(demangled);
    roots
        .iter()
        .find(|r| !TOOLCHAIN_CRATES.contains(r))
        .or_else(|| roots.first())
        .copied()
}

/// Every function a file defines with a size, as (symbol name, size); of several names at one
/// address (aliases) only the first.
pub(crate) fn defined_functions<'a>(
    file: &'a object::File<'a>,
) -> impl Iterator<Item = (&'a str, u64)> {
    let mut addresses = BTreeSet::new();
    file.symbols().filter_map(move |sym| {
        let defined = sym.kind() == SymbolKind::Text && sym.is_definition() && sym.size() > 0;
        if !defined || !addresses.insert(sym.address()) {
            return None;
        }
        Some((sym.name().ok()?, sym.size()))
    })
}

/// Bytes per crate from the symbol table, or `None` when there is no usable table.
pub(crate) fn symbol_bytes(file: &object::File) -> Option<SymbolBytes> {
    let mut out = SymbolBytes::default();
    for (name, size) in defined_functions(file) {
        match rustc_demangle::try_demangle(name) {
            Ok(d) => {
                let text = format!("{d:#}");
                out.rust_functions += 1;
                let krate = crate_of(&text).unwrap_or("core").to_string();
                if out.main_crate.is_none() && text == format!("{krate}::main") {
                    out.main_crate = Some(krate.clone());
                }
                *out.per_crate.entry(krate).or_default() += size;
            }
            Err(_) => out.unattributed += size,
        }
    }
    (out.rust_functions >= MIN_RUST_FUNCTIONS).then_some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn crate_of_mangled(name: &str) -> Option<String> {
        let d = rustc_demangle::try_demangle(name).ok()?;
        crate_of(&format!("{d:#}")).map(str::to_string)
    }

    #[test]
    fn attributes_functions_to_crates() {
        assert_eq!(crate_of("regex::Regex::new"), Some("regex"));
        assert_eq!(
            crate_of("<regex::Regex as core::fmt::Debug>::fmt"),
            Some("regex")
        );
        assert_eq!(
            crate_of("core::ptr::drop_in_place::<regex_automata::meta::Regex>"),
            Some("regex_automata")
        );
        assert_eq!(crate_of("<&str as core::fmt::Display>::fmt"), Some("core"));
        assert_eq!(crate_of("std::rt::lang_start_internal"), Some("std"));
        assert_eq!(crate_of("main"), None);
        // Legacy and v0 manglings.
        assert_eq!(
            crate_of_mangled("_ZN5regex5Regex3new17h0123456789abcdefE").as_deref(),
            Some("regex")
        );
        assert_eq!(
            crate_of_mangled("_RNvNtCs1234_7mycrate3foo3bar").as_deref(),
            Some("mycrate")
        );
    }
}
