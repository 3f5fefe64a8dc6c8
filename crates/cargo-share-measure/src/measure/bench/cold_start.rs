//! Cold start: a program's first `--version` start after the page cache of every file of every
//! build was dropped and one other program of the same build ran.
//!
//! Per round and build (builds interleaved, their order alternating): every file under
//! `WORK/stripped` (the binaries and libraries all builds run) is `fsync`ed (a page must be
//! clean to be dropped) and dropped with `posix_fadvise(POSIX_FADV_DONTNEED)`, which needs no
//! root; program A (the previous one in list order, the last for the first) runs `--version`
//! once, then program B's `--version` is timed. The shared promise this tests: libraries A
//! loaded are in memory when B starts. The drop is per file and only takes clean pages that no
//! running process maps; how much was still resident right after each drop is checked with
//! `mincore` and reported. The C library and the loader are not dropped (both builds use them).
//!
//! Fully cold ([`measure_fully_cold`]): the same drop, then program B's start timed with nothing
//! run before it; and for shared builds once more, after the build's libraries that two or more
//! programs of the set load were warmed as `cargo share preload` warms a store's
//! (`preload::page_cache::warm_files`: read-ahead for all, then each read through).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

use crate::measure::bench::options::BuiltVariant;
use crate::measure::bench::timing::{distribution, nth_in_round};
use crate::measure::bench::workload::Workload;
use cargo_share_core::preload::page_cache::{drop_page_cache, resident_share, warm_files};

/// Time the cold start of every program in every variant, `rounds` times. Returns the largest
/// share of the dropped files' pages found resident right after a drop.
pub(crate) fn measure_cold_start(
    variants: &mut [BuiltVariant],
    order: &[String],
    startups: &BTreeMap<String, Workload>,
    stripped: &Path,
    rounds: usize,
) -> Result<f64> {
    let files = files_under(stripped)?;
    let mut worst_resident = 0.0f64;
    for (i, program) in order.iter().enumerate() {
        let Some(startup) = startups.get(program) else {
            continue;
        };
        let before = match (i, order.len()) {
            (_, 1) => None,
            (0, n) => Some(&order[n - 1]),
            (i, _) => Some(&order[i - 1]),
        };
        let samples = interleaved_rounds(variants, program, rounds, |variant, bin| {
            drop_page_cache(&files)?;
            worst_resident = worst_resident.max(resident_share(&files)?);
            if let Some((a, a_startup)) =
                before.and_then(|a| Some((variant.binaries.get(a)?, startups.get(a)?)))
            {
                a_startup.run_once(a)?;
            }
            Ok((startup.run_once(bin)?.as_secs_f64() * 1e6, None))
        })?;
        for (v, (s, _)) in variants.iter_mut().zip(samples) {
            if let Some(f) = v.figures.program_mut(program) {
                f.cold_after = before.cloned();
                f.cold_start = (!s.is_empty()).then(|| distribution(s));
            }
        }
    }
    Ok(worst_resident)
}

/// Time the fully cold start of every program in every variant, `rounds` times, and for shared
/// variants the fully cold start after a preload. Returns the largest share of the dropped
/// files' pages found resident right after a drop.
pub(crate) fn measure_fully_cold(
    variants: &mut [BuiltVariant],
    order: &[String],
    startups: &BTreeMap<String, Workload>,
    stripped: &Path,
    rounds: usize,
) -> Result<f64> {
    let files = files_under(stripped)?;
    let mut worst_resident = 0.0f64;
    for program in order {
        let Some(startup) = startups.get(program) else {
            continue;
        };
        let samples = interleaved_rounds(variants, program, rounds, |variant, bin| {
            drop_page_cache(&files)?;
            worst_resident = worst_resident.max(resident_share(&files)?);
            let full = startup.run_once(bin)?.as_secs_f64() * 1e6;
            if !variant.figures.shared {
                return Ok((full, None));
            }
            drop_page_cache(&files)?;
            warm_files(&preloaded_files(variant))?;
            Ok((full, Some(startup.run_once(bin)?.as_secs_f64() * 1e6)))
        })?;
        for (v, (full, preloaded)) in variants.iter_mut().zip(samples) {
            if let Some(f) = v.figures.program_mut(program) {
                f.cold_full = (!full.is_empty()).then(|| distribution(full));
                f.cold_preloaded = (!preloaded.is_empty()).then(|| distribution(preloaded));
            }
        }
    }
    Ok(worst_resident)
}

/// Per variant, the samples of `rounds` calls of `sample(variant, binary of program)` (variants
/// interleaved, their order alternating; a variant without the program gets none): a first
/// figure every call, a second where `sample` gives one.
fn interleaved_rounds(
    variants: &[BuiltVariant],
    program: &str,
    rounds: usize,
    mut sample: impl FnMut(&BuiltVariant, &Path) -> Result<(f64, Option<f64>)>,
) -> Result<Vec<(Vec<f64>, Vec<f64>)>> {
    let mut samples = vec![(Vec::new(), Vec::new()); variants.len()];
    for round in 0..rounds {
        for k in 0..variants.len() {
            let v = nth_in_round(round, k, variants.len());
            let Some(bin) = variants[v].binaries.get(program) else {
                continue;
            };
            let (first, second) = sample(&variants[v], bin)?;
            samples[v].0.push(first);
            samples[v].1.extend(second);
        }
    }
    Ok(samples)
}

/// The library files of a shared variant that a preload warms: those two or more programs of
/// the set load (as `cargo share preload`'s default, `--min-programs 2`).
fn preloaded_files(variant: &BuiltVariant) -> Vec<PathBuf> {
    let Some(lib_dir) = variant
        .binaries
        .values()
        .next()
        .and_then(|bin| Some(bin.parent()?.parent()?.join("lib")))
    else {
        return Vec::new();
    };
    variant
        .figures
        .libraries
        .iter()
        .filter(|l| l.users >= 2)
        .map(|l| lib_dir.join(&l.file))
        .filter(|p| p.is_file())
        .collect()
}

/// Every regular file under `dir`, recursively.
pub(crate) fn files_under(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        for e in std::fs::read_dir(&d).with_context(|| format!("reading {}", d.display()))? {
            let e = e?;
            let kind = e.file_type()?;
            if kind.is_dir() {
                todo.push(e.path());
            } else if kind.is_file() {
                out.push(e.path());
            }
        }
    }
    out.sort();
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_under_lists_regular_files_recursively() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("lib")).unwrap();
        std::fs::write(dir.path().join("lib/data.bin"), b"x").unwrap();
        std::fs::write(dir.path().join("empty"), b"").unwrap();
        let files = files_under(dir.path()).unwrap();
        assert_eq!(
            files,
            vec![dir.path().join("empty"), dir.path().join("lib/data.bin")]
        );
    }
}
