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

use std::collections::BTreeMap;
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

use crate::measure::bench::options::BuiltVariant;
use crate::measure::bench::timing::{distribution, nth_in_round};
use crate::measure::bench::workload::Workload;

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
        let mut samples = vec![Vec::new(); variants.len()];
        for round in 0..rounds {
            for k in 0..variants.len() {
                let v = nth_in_round(round, k, variants.len());
                let Some(bin) = variants[v].binaries.get(program) else {
                    continue;
                };
                drop_page_cache(&files)?;
                worst_resident = worst_resident.max(resident_share(&files)?);
                if let Some((a, a_startup)) =
                    before.and_then(|a| Some((variants[v].binaries.get(a)?, startups.get(a)?)))
                {
                    a_startup.run_once(a)?;
                }
                samples[v].push(startup.run_once(bin)?.as_secs_f64() * 1e6);
            }
        }
        for (v, s) in variants.iter_mut().zip(samples) {
            if let Some(f) = v.figures.program_mut(program) {
                f.cold_after = before.cloned();
                f.cold_start = (!s.is_empty()).then(|| distribution(s));
            }
        }
    }
    Ok(worst_resident)
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

/// Write back and drop the cached pages of each file.
pub(crate) fn drop_page_cache(files: &[PathBuf]) -> Result<()> {
    for path in files {
        let file =
            std::fs::File::open(path).with_context(|| format!("opening {}", path.display()))?;
        file.sync_all()
            .with_context(|| format!("syncing {}", path.display()))?;
        // SAFETY: a valid open descriptor; the call only advises the kernel.
        let err = unsafe { libc::posix_fadvise(file.as_raw_fd(), 0, 0, libc::POSIX_FADV_DONTNEED) };
        if err != 0 {
            return Err(std::io::Error::from_raw_os_error(err))
                .with_context(|| format!("posix_fadvise(DONTNEED) on {}", path.display()));
        }
    }
    Ok(())
}

/// The share of the files' pages that are in the page cache (0 to 1; 0 for no pages).
pub(crate) fn resident_share(files: &[PathBuf]) -> Result<f64> {
    let (mut resident, mut total) = (0usize, 0usize);
    for path in files {
        let (r, t) = resident_pages(path)?;
        resident += r;
        total += t;
    }
    Ok(if total == 0 {
        0.0
    } else {
        resident as f64 / total as f64
    })
}

/// Resident and total pages of one file (`mmap` without touching, then `mincore`).
fn resident_pages(path: &Path) -> Result<(usize, usize)> {
    let file = std::fs::File::open(path).with_context(|| format!("opening {}", path.display()))?;
    let len = file.metadata()?.len() as usize;
    if len == 0 {
        return Ok((0, 0));
    }
    // SAFETY: sysconf has no preconditions.
    let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) }.max(4096) as usize;
    let pages = len.div_ceil(page);
    // SAFETY: a read-only shared mapping of an open file, never dereferenced, unmapped below.
    let addr = unsafe {
        libc::mmap(
            std::ptr::null_mut(),
            len,
            libc::PROT_READ,
            libc::MAP_SHARED,
            file.as_raw_fd(),
            0,
        )
    };
    if addr == libc::MAP_FAILED {
        return Err(std::io::Error::last_os_error())
            .with_context(|| format!("mapping {}", path.display()));
    }
    let mut vec = vec![0u8; pages];
    // SAFETY: `addr` maps `len` bytes; `vec` has one byte per page of it.
    let rc = unsafe { libc::mincore(addr, len, vec.as_mut_ptr()) };
    let err = std::io::Error::last_os_error();
    // SAFETY: the mapping made above.
    unsafe { libc::munmap(addr, len) };
    if rc != 0 {
        return Err(err).with_context(|| format!("mincore on {}", path.display()));
    }
    Ok((vec.iter().filter(|b| *b & 1 == 1).count(), pages))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_dropped_file_leaves_the_page_cache() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("lib")).unwrap();
        let file = dir.path().join("lib/data.bin");
        std::fs::write(&file, vec![7u8; 1 << 20]).unwrap();
        std::fs::write(dir.path().join("empty"), b"").unwrap();
        let files = files_under(dir.path()).unwrap();
        assert_eq!(files.len(), 2);
        // Just written: in the cache.
        assert!(resident_share(&files).unwrap() > 0.5);
        drop_page_cache(&files).unwrap();
        let after = resident_share(&files).unwrap();
        // tmpfs keeps file data in the page cache whatever the advice: nothing to check there.
        if !on_tmpfs(dir.path()) {
            assert!(after < 0.1, "{after} of the pages still resident");
        }
        std::fs::read(&file).unwrap();
        assert!(resident_share(&files).unwrap() > 0.5);
    }

    fn on_tmpfs(path: &Path) -> bool {
        let c = std::ffi::CString::new(path.as_os_str().as_encoded_bytes()).unwrap();
        // SAFETY: a zeroed statfs is a valid out buffer; `c` is a NUL-terminated path.
        let mut s: libc::statfs = unsafe { std::mem::zeroed() };
        let rc = unsafe { libc::statfs(c.as_ptr(), &mut s) };
        rc == 0 && s.f_type == libc::TMPFS_MAGIC
    }
}
