//! The page cache of single files: drop a file's cached pages, ask it to read a file ahead, lock
//! a file in memory and count how much of it is resident. Used by `cargo share preload` and by
//! the bench's cold starts, which drop what preload warms.
//!
//! All of it is `posix_fadvise`, `mmap`, `mlock` and `mincore` through `libc`: no crate wraps
//! these few calls on a file descriptor more simply than the calls themselves.

use std::fs::File;
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

/// Write back and drop the cached pages of each file (`posix_fadvise(DONTNEED)`, no root
/// needed). A page stays when a running process maps it, or when the file lives on tmpfs.
pub fn drop_page_cache(files: &[PathBuf]) -> Result<()> {
    for path in files {
        let file = File::open(path).with_context(|| format!("opening {}", path.display()))?;
        file.sync_all()
            .with_context(|| format!("syncing {}", path.display()))?;
        advise(&file, libc::POSIX_FADV_DONTNEED)
            .with_context(|| format!("posix_fadvise(DONTNEED) on {}", path.display()))?;
    }
    Ok(())
}

/// Ask the kernel to read the whole file into the page cache (`posix_fadvise(WILLNEED)`); it
/// returns at once, the reads go on in the background.
pub(crate) fn read_ahead(file: &File) -> std::io::Result<()> {
    advise(file, libc::POSIX_FADV_WILLNEED)
}

fn advise(file: &File, advice: libc::c_int) -> std::io::Result<()> {
    // SAFETY: a valid open descriptor; the call only advises the kernel.
    let err = unsafe { libc::posix_fadvise(file.as_raw_fd(), 0, 0, advice) };
    if err != 0 {
        return Err(std::io::Error::from_raw_os_error(err));
    }
    Ok(())
}

/// Read the file through (into a reused buffer): returns once every page is in the page cache.
/// Pages a read-ahead already brought in cost a copy each, nothing from the disk.
pub(crate) fn read_through(mut file: &File) -> std::io::Result<()> {
    use std::io::Read;
    let mut buf = vec![0u8; 1 << 20];
    while file.read(&mut buf)? != 0 {}
    Ok(())
}

/// Bring whole files into the page cache as `cargo share preload` does: a read-ahead queued for
/// every file first, then each read through.
pub fn warm_files(files: &[PathBuf]) -> Result<()> {
    let mut opened = Vec::new();
    for path in files {
        let file = File::open(path).with_context(|| format!("opening {}", path.display()))?;
        read_ahead(&file)
            .with_context(|| format!("posix_fadvise(WILLNEED) on {}", path.display()))?;
        opened.push((path, file));
    }
    for (path, file) in opened {
        read_through(&file).with_context(|| format!("reading {}", path.display()))?;
    }
    Ok(())
}

/// A read-only shared mapping of a whole file, unmapped on drop.
#[derive(Debug)]
pub(crate) struct Mapping {
    addr: *mut libc::c_void,
    len: usize,
}

impl Mapping {
    /// Map `file` (`len` bytes, not zero) without touching it.
    pub(crate) fn new(file: &File, len: usize) -> std::io::Result<Mapping> {
        // SAFETY: a read-only shared mapping of an open file; never dereferenced here.
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
            return Err(std::io::Error::last_os_error());
        }
        Ok(Mapping { addr, len })
    }

    /// Lock the mapped pages in memory (`mlock`: faults them in, and they stay until the
    /// mapping goes). Fails with `ENOMEM`/`EPERM` beyond `RLIMIT_MEMLOCK`.
    pub(crate) fn lock(&self) -> std::io::Result<()> {
        // SAFETY: the range is this mapping.
        if unsafe { libc::mlock(self.addr, self.len) } != 0 {
            return Err(std::io::Error::last_os_error());
        }
        Ok(())
    }

    /// Resident and total pages of the mapping (`mincore`).
    fn resident_pages(&self) -> std::io::Result<(usize, usize)> {
        let pages = self.len.div_ceil(page_size());
        let mut vec = vec![0u8; pages];
        // SAFETY: the range is this mapping; `vec` has one byte per page of it.
        if unsafe { libc::mincore(self.addr, self.len, vec.as_mut_ptr()) } != 0 {
            return Err(std::io::Error::last_os_error());
        }
        Ok((vec.iter().filter(|b| *b & 1 == 1).count(), pages))
    }
}

impl Drop for Mapping {
    fn drop(&mut self) {
        // SAFETY: the mapping made in `new`, unmapped once.
        unsafe { libc::munmap(self.addr, self.len) };
    }
}

fn page_size() -> usize {
    // SAFETY: sysconf has no preconditions.
    unsafe { libc::sysconf(libc::_SC_PAGESIZE) }.max(4096) as usize
}

/// The bytes of an open file that are in the page cache (whole pages, at most its length).
pub(crate) fn resident_bytes_of(file: &File) -> std::io::Result<u64> {
    let len = file.metadata()?.len();
    if len == 0 {
        return Ok(0);
    }
    let (resident, _) = Mapping::new(file, len as usize)?.resident_pages()?;
    Ok(((resident * page_size()) as u64).min(len))
}

/// Resident and total pages of one file.
fn resident_pages(path: &Path) -> Result<(usize, usize)> {
    let file = File::open(path).with_context(|| format!("opening {}", path.display()))?;
    let len = file.metadata()?.len() as usize;
    if len == 0 {
        return Ok((0, 0));
    }
    Mapping::new(&file, len)
        .and_then(|m| m.resident_pages())
        .with_context(|| format!("mincore on {}", path.display()))
}

/// The share of the files' pages that are in the page cache (0 to 1; 0 for no pages).
pub fn resident_share(files: &[PathBuf]) -> Result<f64> {
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

/// Whether `path` is on tmpfs, where file data stays in the page cache whatever the advice.
pub fn on_tmpfs(path: &Path) -> bool {
    let Ok(c) = std::ffi::CString::new(path.as_os_str().as_encoded_bytes()) else {
        return false;
    };
    // SAFETY: a zeroed statfs is a valid out buffer; `c` is a NUL-terminated path.
    let mut s: libc::statfs = unsafe { std::mem::zeroed() };
    let rc = unsafe { libc::statfs(c.as_ptr(), &mut s) };
    rc == 0 && s.f_type == libc::TMPFS_MAGIC
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_dropped_file_leaves_the_page_cache_and_a_read_ahead_brings_it_back() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("data.bin");
        std::fs::write(&path, vec![7u8; 1 << 20]).unwrap();
        std::fs::write(dir.path().join("empty"), b"").unwrap();
        let files = vec![path.clone(), dir.path().join("empty")];
        // Just written: in the cache.
        assert!(resident_share(&files).unwrap() > 0.5);
        drop_page_cache(&files).unwrap();
        let after = resident_share(&files).unwrap();
        // tmpfs keeps file data in the page cache whatever the advice: nothing to check there.
        if !on_tmpfs(dir.path()) {
            assert!(after < 0.1, "{after} of the pages still resident");
        }
        warm_files(&files).unwrap();
        let file = File::open(&path).unwrap();
        assert_eq!(resident_bytes_of(&file).unwrap(), 1 << 20);
    }
}
