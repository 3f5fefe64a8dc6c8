//! Disk figures: stripped copies (libraries without `.rustc`), break-even, and the ideal from
//! the static binaries' symbol tables.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, Context, Result};

use cargo_share_compile::elf;

/// `strip --strip-all` a copy of `from` into `to` (libraries lose `.rustc` first), with a
/// build-id computed over the stripped bytes.
pub(crate) fn stripped_copy(from: &Path, to: &Path, library: bool) -> Result<u64> {
    if let Some(dir) = to.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let data = std::fs::read(from).with_context(|| format!("reading {}", from.display()))?;
    let data = if library {
        elf::without_rustc_metadata(&data).unwrap_or(data)
    } else {
        data
    };
    let tmp = to.with_extension("unstripped");
    std::fs::write(&tmp, data)?;
    let status = Command::new("strip")
        .arg("--strip-all")
        .arg("-o")
        .arg(to)
        .arg(&tmp)
        .status()
        .context("running `strip` (install binutils)")?;
    std::fs::remove_file(&tmp)?;
    if !status.success() {
        bail!("strip failed on {}", from.display());
    }
    // The linker's build-id hashed the unstripped file, symbol table included, where local
    // symbols carry LLVM's per-module `.llvm.NNNN` suffixes: a binary whose code did not change
    // would still differ in its stripped copy. The stripped copy gets a build-id of its own
    // bytes, as the store's runtime copies of libraries do.
    let mut stripped = std::fs::read(to)?;
    elf::rehash_build_id(&mut stripped)
        .with_context(|| format!("giving {} its own build-id", to.display()))?;
    std::fs::write(to, &stripped)?;
    Ok(stripped.len() as u64)
}

/// The first k (in list order) for which shared binaries plus the union of their libraries is
/// no larger than the static binaries.
pub(crate) fn break_even(
    order: &[String],
    static_bytes: &BTreeMap<String, u64>,
    shared_bytes: &BTreeMap<String, u64>,
    needs: &BTreeMap<String, Vec<String>>,
    library_bytes: &BTreeMap<String, u64>,
) -> Option<usize> {
    let mut libs = BTreeSet::new();
    let (mut st, mut sh) = (0u64, 0u64);
    for (k, program) in order.iter().enumerate() {
        st += static_bytes.get(program).copied().unwrap_or(0);
        sh += shared_bytes.get(program).copied().unwrap_or(0);
        for lib in needs.get(program).into_iter().flatten() {
            if libs.insert(lib.clone()) {
                sh += library_bytes.get(lib).copied().unwrap_or(0);
            }
        }
        if sh <= st {
            return Some(k + 1);
        }
    }
    None
}

/// Static total minus every repeated function (same name and size) across the binaries.
pub(crate) fn ideal_bytes(static_total: u64, binaries: &[PathBuf]) -> Result<Option<u64>> {
    use object::{Object, ObjectSymbol, SymbolKind};
    let mut seen: BTreeMap<(String, u64), usize> = BTreeMap::new();
    for b in binaries {
        let data = std::fs::read(b)?;
        let file = object::File::parse(&*data)?;
        if file.symbols().next().is_none() {
            return Ok(None);
        }
        let mut here = BTreeSet::new();
        for sym in file.symbols() {
            if sym.kind() == SymbolKind::Text && sym.size() > 0 {
                if let Ok(name) = sym.name() {
                    here.insert((name.to_string(), sym.size()));
                }
            }
        }
        for key in here {
            *seen.entry(key).or_default() += 1;
        }
    }
    let repeated: u64 = seen
        .iter()
        .map(|((_, size), n)| size * (*n as u64 - 1))
        .sum();
    Ok(Some(static_total.saturating_sub(repeated)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn break_even_counts_libraries_once() {
        let order = vec!["a".to_string(), "b".into(), "c".into()];
        let sizes = |pairs: &[(&str, u64)]| -> BTreeMap<String, u64> {
            pairs.iter().map(|(k, v)| (k.to_string(), *v)).collect()
        };
        let st = sizes(&[("a", 100), ("b", 100), ("c", 100)]);
        let sh = sizes(&[("a", 10), ("b", 10), ("c", 10)]);
        let needs: BTreeMap<String, Vec<String>> = ["a", "b", "c"]
            .into_iter()
            .map(|k| (k.to_string(), vec!["libx.so".to_string()]))
            .collect();
        let libs = sizes(&[("libx.so", 150)]);
        // 1: 160 > 100; 2: 170 <= 200.
        assert_eq!(break_even(&order, &st, &sh, &needs, &libs), Some(2));
        let big = sizes(&[("libx.so", 1000)]);
        assert_eq!(break_even(&order, &st, &sh, &needs, &big), None);
    }
}
