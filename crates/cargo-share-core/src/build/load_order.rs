//! The order a run-time copy names its libraries in: system libraries first, where that binds
//! every symbol to the same definition.
//!
//! glibc searches the libraries of a program for every symbol it binds at start in one order,
//! the global scope: the executable, then its `DT_NEEDED` entries in order, then theirs, breadth
//! first. Each library it passes costs a bloom-filter test (about 25 instructions), and most of
//! a start's lookups are C functions (libstd's and the C libraries' own imports), found in libc
//! only after the executable's groups and libstd, which rustc names first. A static build's
//! scope is the executable, libgcc_s, libc. So each run-time copy names the system libraries
//! (those not in `OUT/lib`: libc, libgcc_s, a C library a `-sys` crate links) before the
//! libraries of `OUT/lib`, each kind in the order the link gave; the executable stays first.
//!
//! Why this binds every symbol as before: the order decides only which definition a name
//! defined by more than one library binds to. The libraries of `OUT/lib` a file loads are
//! checked to define only Rust names (`_R…`, a legacy `_ZN…17h<hash>E`, `_cs…`) and Rust's
//! runtime symbols (`__rust_…`, `__rdl_…`, `__rg_…`, `rust_…`), which no C library defines; a
//! file whose closure has a library defining any other name (a bundled C library's functions,
//! a `#[no_mangle]` export, a C++ inline function) keeps the link's order. What is left: a
//! system library of the machine a program runs on that defines one of those names (none does),
//! and `dlsym(RTLD_DEFAULT, …)` of a name defined twice (then again, none is).

use std::collections::{BTreeSet, HashMap};
use std::path::Path;

use anyhow::{Context, Result};
use object::{Object, ObjectSymbol};

use cargo_share_compile::elf;

/// For every library of `OUT/lib`, the libraries it needs and whether it defines a name outside
/// Rust's.
#[derive(Debug, Default)]
pub(crate) struct LoadOrder {
    /// File name -> its `DT_NEEDED` entries.
    needed: HashMap<String, Vec<String>>,
    /// The files defining a dynamic symbol that is not a Rust name ([`is_rust_name`]).
    foreign: BTreeSet<String>,
}

impl LoadOrder {
    /// Read each library (file name, run-time copy) of `OUT/lib`.
    pub(crate) fn of<'a>(libraries: impl Iterator<Item = (&'a str, &'a Path)>) -> Result<Self> {
        let mut order = LoadOrder::default();
        for (name, path) in libraries {
            let data =
                std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
            let info = elf::dynamic_info_of(&data)
                .with_context(|| format!("{} is not a readable ELF file", path.display()))?;
            let file = object::File::parse(&*data)
                .with_context(|| format!("{} is not a readable ELF file", path.display()))?;
            let foreign = file
                .dynamic_symbols()
                .filter(|s| !s.is_undefined() && (s.is_global() || s.is_weak()))
                .any(|s| !s.name().is_ok_and(is_rust_name));
            if foreign {
                order.foreign.insert(name.to_string());
            }
            order.needed.insert(name.to_string(), info.needed);
        }
        Ok(order)
    }

    /// Whether a file needing `needed` names its system libraries first: no library of
    /// `OUT/lib` it loads, directly or through another, defines a name outside Rust's.
    pub(crate) fn system_libraries_first(&self, needed: &[String]) -> bool {
        let mut seen = BTreeSet::new();
        let mut queue: Vec<&str> = needed.iter().map(String::as_str).collect();
        while let Some(name) = queue.pop() {
            let Some(next) = self.needed.get(name) else {
                continue; // a system library
            };
            if !seen.insert(name) {
                continue;
            }
            if self.foreign.contains(name) {
                return false;
            }
            queue.extend(next.iter().map(String::as_str));
        }
        true
    }
}

/// Whether `name` is one only Rust code defines: a mangled Rust name (v0, or legacy with its
/// hash), a short name or anchor of this build (`_cs…`), or a symbol of Rust's runtime.
fn is_rust_name(name: &str) -> bool {
    const RUNTIME: [&str; 4] = ["__rust_", "__rdl_", "__rg_", "rust_"];
    let mangled = match name.starts_with("_ZN") {
        true => has_legacy_hash(name) && rustc_demangle::try_demangle(name).is_ok(),
        false => name.starts_with("_R") && rustc_demangle::try_demangle(name).is_ok(),
    };
    mangled || is_short_name(name) || RUNTIME.iter().any(|p| name.starts_with(p))
}

/// Whether `name` is a short name (`_cs` + 16 hex digits) or an anchor (`_csT` + 16).
fn is_short_name(name: &str) -> bool {
    let hash = name
        .strip_prefix("_csT")
        .or_else(|| name.strip_prefix("_cs"))
        .unwrap_or_default();
    hash.len() == 16 && hash.bytes().all(|b| b.is_ascii_hexdigit())
}

/// Whether a legacy-mangled name ends with Rust's hash path segment, `17h` and 16 hex digits,
/// which a C++ name does not have.
fn has_legacy_hash(name: &str) -> bool {
    let Some(body) = name.strip_suffix('E') else {
        return false;
    };
    body.len() > 19
        && body[body.len() - 19..].starts_with("17h")
        && body[body.len() - 16..]
            .bytes()
            .all(|b| b.is_ascii_hexdigit())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_rust_names_are_rust_names() {
        assert!(is_rust_name("_RNvNtCsfLfy6EI15iL_4core9panicking5panic"));
        assert!(is_rust_name("_ZN4core9panicking5panic17h0123456789abcdefE"));
        assert!(is_rust_name("_cs0123456789abcdef"));
        assert!(is_rust_name("_csT0123456789abcdef"));
        assert!(!is_rust_name("_cs_init"));
        assert!(is_rust_name("__rust_alloc"));
        assert!(is_rust_name("rust_eh_personality"));
        // C and C++ names a bundled library or libstdc++ defines.
        assert!(!is_rust_name("deflate"));
        assert!(!is_rust_name("malloc"));
        assert!(!is_rust_name("_ZNSt6vectorIiSaIiEE9push_backERKi"));
        assert!(!is_rust_name("_Rsomething"));
    }

    #[test]
    fn a_foreign_definition_anywhere_in_the_closure_keeps_the_order() {
        let order = LoadOrder {
            needed: [
                (
                    "libg1.so".to_string(),
                    vec!["libg2.so".to_string(), "libc.so.6".to_string()],
                ),
                ("libg2.so".to_string(), vec!["libc.so.6".to_string()]),
                ("libg3.so".to_string(), vec!["libc.so.6".to_string()]),
            ]
            .into(),
            foreign: ["libg2.so".to_string()].into(),
        };
        let needs = |names: &[&str]| names.iter().map(|n| n.to_string()).collect::<Vec<_>>();
        assert!(order.system_libraries_first(&needs(&["libg3.so", "libc.so.6"])));
        assert!(!order.system_libraries_first(&needs(&["libg1.so", "libc.so.6"])));
        assert!(!order.system_libraries_first(&needs(&["libg2.so"])));
        assert!(order.system_libraries_first(&needs(&["libc.so.6"])));
    }
}
