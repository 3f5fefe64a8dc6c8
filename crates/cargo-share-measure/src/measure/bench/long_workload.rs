//! The long workloads of the bench: the same invocations as the short ones ([`workload`]) over
//! inputs large enough that a static run takes about 100 ms or more, so start-up does not hide
//! the speed of the code. Reported apart from the short ones; the report shows the measured
//! static time, so a reader sees whether a workload reached 100 ms on that machine.
//!
//! Inputs, generated deterministically under `WORK/corpus-long` (about 215 MB, once):
//! * `tree/`: 64 directories of 800 files of 12 functions (51,200 files, about 145 MB) for rg,
//!   fd, tokei and dust (fd and dust cost per file, rg and tokei per byte);
//! * one Rust-like file each for bat (2 MB: highlighting is slow), hexyl (4 MB) and sd (64 MB).
//!
//! Measured static on a 2-CPU x86_64 VM (rustc 1.95): hexyl on 8 MB took 400 ms and sd on
//! 32 MB 70 ms, hence 4 MB and 64 MB; rg over the tree 450 ms. fd, tokei, dust and bat are
//! sized from the short ones' speed, not yet measured at this size.
//!
//! [`workload`]: crate::measure::bench::workload

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::{Context, Result};

use crate::measure::bench::workload::{write_tree, SourceText, Workload};

/// Bytes of one generated function, roughly (for sizing the long files).
const FUNCTION_BYTES: usize = 235;

/// Generate the long inputs (under `work_dir`) and return the long workload of every program of
/// `binaries` (program name to binary file name) that has one.
pub(crate) fn prepare_long(
    work_dir: &Path,
    binaries: &BTreeMap<String, String>,
) -> Result<BTreeMap<String, Workload>> {
    let root = work_dir.join("corpus-long");
    let wanted = |names: &[&str]| binaries.values().any(|b| names.contains(&b.as_str()));
    let mut out = BTreeMap::new();
    if !wanted(&["rg", "fd", "tokei", "dust", "bat", "hexyl", "sd"]) {
        return Ok(out);
    }
    let tree = if wanted(&["rg", "fd", "tokei", "dust"]) {
        Some(write_tree(
            &root.join("tree"),
            64,
            800,
            12,
            0x9e37_79b9_7f4a_7c15,
        )?)
    } else {
        None
    };
    for (program, binary) in binaries {
        let plain = |args: &[&str]| Workload {
            args: args.iter().map(|a| a.to_string()).collect(),
            env: Vec::new(),
        };
        let t = tree.as_ref().map(|t| t.display().to_string());
        let file = |mb: usize| long_file(&root, mb).map(|f| f.display().to_string());
        let workload = match (binary.as_str(), t) {
            ("rg", Some(t)) => plain(&["-c", "fn_[0-9]+_1[0-9]_", &t]),
            ("fd", Some(t)) => plain(&["-e", "rs", "file_1", &t]),
            ("tokei", Some(t)) => plain(&[&t]),
            ("dust", Some(t)) => plain(&["-n", "10", &t]),
            ("bat", _) => plain(&["--color=always", "--paging=never", &file(2)?]),
            ("hexyl", _) => plain(&[&file(4)?]),
            ("sd", _) => plain(&["-p", "wrapping_mul", "saturating_mul", &file(64)?]),
            _ => continue,
        };
        out.insert(program.clone(), workload);
    }
    Ok(out)
}

/// `ROOT/long_{mb}mb.rs`: about `mb` MB of generated functions, written once.
fn long_file(root: &Path, mb: usize) -> Result<std::path::PathBuf> {
    let path = root.join(format!("long_{mb}mb.rs"));
    if path.is_file() {
        return Ok(path);
    }
    std::fs::create_dir_all(root)?;
    let text = SourceText::new(0x5851_f42d_4c95_7f2d ^ mb as u64)
        .file(&format!("long{mb}"), mb * 1_000_000 / FUNCTION_BYTES);
    // Complete or absent: written under another name, then renamed.
    let partial = root.join(format!(".long_{mb}mb.rs.partial"));
    std::fs::write(&partial, text).with_context(|| format!("writing {}", partial.display()))?;
    std::fs::rename(&partial, &path)?;
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_inputs_only_for_programs_that_have_them() {
        let dir = tempfile::tempdir().unwrap();
        let binaries: BTreeMap<String, String> = [
            ("hexyl".to_string(), "hexyl".to_string()),
            ("mytool".to_string(), "mytool".to_string()),
        ]
        .into();
        let w = prepare_long(dir.path(), &binaries).unwrap();
        assert_eq!(w.keys().collect::<Vec<_>>(), ["hexyl"]);
        let file = dir.path().join("corpus-long/long_4mb.rs");
        assert_eq!(w["hexyl"].args, [file.display().to_string()]);
        let bytes = std::fs::metadata(&file).unwrap().len();
        assert!((3_500_000..4_500_000).contains(&bytes), "{bytes}");
        // No tree for programs that do not walk one.
        assert!(!dir.path().join("corpus-long/tree").exists());
        let none = prepare_long(dir.path(), &BTreeMap::new()).unwrap();
        assert!(none.is_empty());
    }
}
