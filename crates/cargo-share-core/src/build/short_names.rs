//! Short dynamic names: the run-time copies bind Rust functions across files by a 19-character
//! name instead of their v0-mangled one.
//!
//! Every symbol the loader binds at start costs a hash of its whole name (`_dl_lookup_symbol_x`'s
//! inlined `dl_new_hash`, four instructions a byte) and a `strcmp` of the whole name against the
//! match. The Rust names a program imports from its groups and from libstd are long (about 100
//! characters in std, a median of 63 in a group), so the names cost more than the search. The
//! last rewrite of the run-time copies (`build::lib_paths`) therefore renames, in `.dynsym` only,
//! every v0-mangled function a library of `OUT/lib` defines, there and in every file importing it,
//! to `_cs` + the first 16 hex digits of the long name's SHA-256.
//!
//! Why this is safe and keeps updates small: the short name is a function of the long name only,
//! and the long name is stable across a fix (stable crate ids), so a fixed group renames to the
//! same names and its programs stay byte-identical. Two long names of one build with the same
//! short name (a 64-bit collision) stop the build rather than bind one to the other. Data
//! symbols (a copy relocation needs the size) and thread-locals keep their names, as do the
//! symbols a program may interpose (the allocator shim, `__rust_start_panic`). The static symbol
//! table (`.symtab`) keeps the long names, so backtraces, `perf` and debuggers still show them;
//! only `nm -D`, `LD_DEBUG=bindings` and a `dlsym` of a mangled Rust name see the short ones.
//! Compiling is unchanged: rustc links against the files in Cargo's target directory and the
//! store's `dev/` copies, which keep the long names.

use std::collections::HashMap;
use std::path::Path;

use anyhow::{bail, Context, Result};
use object::{Object, ObjectSymbol, SymbolKind};

use cargo_share_compile::allocator::is_allocator_shim;
use cargo_share_compile::digest::sha256_hex;
use cargo_share_compile::panic_abort::is_start_panic;

/// What a renamed symbol starts with; never a prefix of a mangled Rust or C++ name.
const PREFIX: &str = "_cs";

/// Hex digits of the long name's SHA-256 in the short name (64 bits).
const HASH_DIGITS: usize = 16;

/// The short dynamic name of `long`.
pub fn short_name(long: &str) -> String {
    format!("{PREFIX}{}", &sha256_hex(long.as_bytes())[..HASH_DIGITS])
}

/// Whether a symbol a library of `OUT/lib` defines is bound under its short name: a global
/// function with a v0-mangled name longer than its short one, which no program interposes.
pub(crate) fn renamed(name: &str, kind: SymbolKind) -> bool {
    kind == SymbolKind::Text
        && name.starts_with("_R")
        && name.len() > PREFIX.len() + HASH_DIGITS
        && !is_allocator_shim(name)
        && !is_start_panic(name)
}

/// Long name -> short name for every function the run-time copies `libraries` define that is
/// renamed: the map every file of the output is rewritten with. Fails on a collision.
pub(crate) fn renames_of<'a>(
    libraries: impl Iterator<Item = &'a Path>,
) -> Result<HashMap<Vec<u8>, Vec<u8>>> {
    let mut renames: HashMap<Vec<u8>, Vec<u8>> = HashMap::new();
    let mut longs: HashMap<String, String> = HashMap::new();
    for path in libraries {
        let data = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
        let file = object::File::parse(&*data)
            .with_context(|| format!("{} is not a readable ELF file", path.display()))?;
        for sym in file.dynamic_symbols() {
            let Ok(name) = sym.name() else { continue };
            if sym.is_undefined() || !sym.is_global() || !renamed(name, sym.kind()) {
                continue;
            }
            let short = short_name(name);
            match longs.get(&short) {
                Some(other) if other != name => bail!(
                    "{} defines `{name}`, whose short dynamic name {short} is also `{other}`'s: \
                     the two cannot be told apart at run time; report it",
                    path.display()
                ),
                Some(_) => {}
                None => {
                    longs.insert(short.clone(), name.to_string());
                    renames.insert(name.as_bytes().to_vec(), short.into_bytes());
                }
            }
        }
    }
    Ok(renames)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_names_are_fixed_and_short() {
        let long = "_RNvNtCsfLfy6EI15iL_3std2io6_print";
        let short = short_name(long);
        assert_eq!(short, short_name(long));
        assert_eq!(short.len(), 19);
        assert!(short.starts_with("_cs"));
        assert_ne!(short, short_name("_RNvNtCsfLfy6EI15iL_3std2io7_eprint"));
    }

    #[test]
    fn only_long_rust_functions_nobody_interposes() {
        let f = SymbolKind::Text;
        assert!(renamed("_RNvNtCsfLfy6EI15iL_3std2io6_print", f));
        assert!(!renamed(
            "_RNvNtCsfLfy6EI15iL_3std2io6_print",
            SymbolKind::Data
        ));
        assert!(!renamed(
            "_RNvNtCsfLfy6EI15iL_3std2io6_print",
            SymbolKind::Tls
        ));
        assert!(!renamed("malloc", f));
        assert!(!renamed("_RNvC1a1f", f));
        assert!(!renamed("_RNvCsfLfy6EI15iL_7___rustc12___rust_alloc", f));
        assert!(!renamed(
            "_RNvCsfLfy6EI15iL_7___rustc18___rust_start_panic",
            f
        ));
    }
}
