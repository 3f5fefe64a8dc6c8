//! One preload: select, open, read ahead, read through, lock (the method: `preload`'s module
//! documentation).

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use serde::Serialize;

use crate::message::{self, Message};
use crate::preload::open::open_store_file;
use crate::preload::page_cache::{self, Mapping};
use crate::preload::select::{self, Candidate, Selection};
use crate::shell::{human_bytes, Shell};

/// What `cargo share preload` was asked.
#[derive(Debug, Clone)]
pub struct PreloadOptions {
    pub store: PathBuf,
    pub selection: Selection,
    /// Lock the files in memory and stay running to hold them.
    pub lock: bool,
}

/// One file preload warmed.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Warmed {
    #[serde(flatten)]
    pub(crate) file: Candidate,
    /// Its bytes in the page cache when preload was done with it.
    pub(crate) resident_bytes: u64,
    pub(crate) locked: bool,
}

/// What a preload did.
#[derive(Debug, Default, Serialize)]
pub struct PreloadReport {
    pub(crate) installed_programs: usize,
    pub(crate) warmed: Vec<Warmed>,
    /// Files refused, with the reason (`open`).
    pub(crate) skipped: Vec<(PathBuf, String)>,
    /// The file mappings holding locked pages (dropped: unlocked).
    #[serde(skip)]
    locks: Vec<Mapping>,
}

impl PreloadReport {
    pub(crate) fn bytes(&self) -> u64 {
        self.warmed.iter().map(|w| w.file.bytes).sum()
    }
    pub(crate) fn resident_bytes(&self) -> u64 {
        self.warmed.iter().map(|w| w.resident_bytes).sum()
    }
    pub(crate) fn locked_bytes(&self) -> u64 {
        self.warmed
            .iter()
            .filter(|w| w.locked)
            .map(|w| w.file.bytes)
            .sum()
    }
}

/// `cargo share preload`: warm (and with `--lock` lock, then wait until stopped).
pub fn preload(options: &PreloadOptions, shell: &Shell) -> Result<PreloadReport> {
    let report = warm_store(options, shell)?;
    summarize(&report, options, shell);
    if !report.locks.is_empty() {
        shell.status(
            "Holding",
            format!(
                "{} locked in memory until this process is stopped",
                human_bytes(report.locked_bytes())
            ),
        );
        loop {
            // SAFETY: pause has no preconditions; it returns when a handled signal arrives, and
            // SIGTERM/SIGINT end the process (and its locks) by their default action.
            unsafe { libc::pause() };
        }
    }
    Ok(report)
}

/// Select the store's files, open the safe ones and bring them into memory.
pub(crate) fn warm_store(options: &PreloadOptions, shell: &Shell) -> Result<PreloadReport> {
    let mut report = PreloadReport::default();
    if !options.store.exists() {
        shell.status("Preloading", "nothing: no program is installed yet");
        return Ok(report);
    }
    let ranking = select::rank(&options.store)?;
    report.installed_programs = ranking.installed_programs;
    let store_real = options
        .store
        .canonicalize()
        .with_context(|| format!("resolving the store {}", options.store.display()))?;
    let opened = open_selected(
        &store_real,
        ranking.select(options.selection),
        &mut report,
        shell,
    );
    let mut lock_failed = false;
    for (candidate, file) in opened {
        page_cache::read_through(&file).map_err(|e| {
            anyhow::anyhow!(
                "reading {} into memory: {e} (check the store with `cargo share verify`)",
                candidate.path.display()
            )
        })?;
        let mut locked = false;
        if options.lock && !lock_failed && candidate.bytes > 0 {
            match lock_file(&file, &candidate.path) {
                Ok(m) => {
                    report.locks.push(m);
                    locked = true;
                }
                Err(e) => {
                    shell.warn(e);
                    lock_failed = true;
                }
            }
        }
        let resident_bytes = page_cache::resident_bytes_of(&file).unwrap_or(0);
        let warmed = Warmed {
            file: candidate,
            resident_bytes,
            locked,
        };
        shell.line(format!(
            "{:>12} {} v{} ({}, loaded by {} program{}){}",
            "Warmed",
            warmed.file.package,
            warmed.file.version,
            human_bytes(warmed.file.bytes),
            warmed.file.programs,
            if warmed.file.programs == 1 { "" } else { "s" },
            if locked { ", locked" } else { "" }
        ));
        shell.message(&Message::PreloadFile {
            file: message::value(&warmed),
        });
        report.warmed.push(warmed);
    }
    Ok(report)
}

/// Open each candidate that is a file of the store and queue its read-ahead; the others are
/// skipped with a warning (and a `preload-skipped` record).
fn open_selected(
    store_real: &Path,
    candidates: Vec<Candidate>,
    report: &mut PreloadReport,
    shell: &Shell,
) -> Vec<(Candidate, std::fs::File)> {
    let mut opened = Vec::new();
    for candidate in candidates {
        match open_store_file(store_real, &candidate.path) {
            Ok(file) => {
                // Every read queued first: the kernel reads them all at once.
                if let Err(e) = page_cache::read_ahead(&file) {
                    shell.warn(format!(
                        "posix_fadvise(WILLNEED) on {}: {e}",
                        candidate.path.display()
                    ));
                }
                opened.push((candidate, file));
            }
            Err(refusal) => {
                shell.warn(format!(
                    "not preloading {}: it {}",
                    candidate.path.display(),
                    refusal.0
                ));
                shell.message(&Message::PreloadSkipped {
                    path: &candidate.path,
                    cause: &refusal.0,
                });
                report.skipped.push((candidate.path, refusal.0));
            }
        }
    }
    opened
}

/// Map and lock one file; the error says what the limit is and how to raise it.
fn lock_file(file: &std::fs::File, path: &Path) -> std::result::Result<Mapping, String> {
    let len = file.metadata().map(|m| m.len() as usize).unwrap_or(0);
    let mapping =
        Mapping::new(file, len).map_err(|e| format!("mapping {}: {e}", path.display()))?;
    mapping.lock().map_err(|e| {
        format!(
            "not locking {} or the files after it in memory: mlock: {e} (RLIMIT_MEMLOCK is {}; \
             the files are warmed but the kernel may drop them again; raise the limit with \
             `LimitMEMLOCK=` in the unit or /etc/security/limits.conf, or lock fewer files \
             with a higher --min-programs)",
            path.display(),
            memlock_limit()
        )
    })?;
    Ok(mapping)
}

/// The soft `RLIMIT_MEMLOCK`, for people.
fn memlock_limit() -> String {
    // SAFETY: a zeroed rlimit is a valid out buffer.
    let mut limit: libc::rlimit = unsafe { std::mem::zeroed() };
    // SAFETY: RLIMIT_MEMLOCK is a valid resource; `limit` is writable.
    if unsafe { libc::getrlimit(libc::RLIMIT_MEMLOCK, &mut limit) } != 0 {
        return "unknown".into();
    }
    if limit.rlim_cur == libc::RLIM_INFINITY {
        "unlimited".into()
    } else {
        human_bytes(limit.rlim_cur)
    }
}

/// The closing status line and JSON record.
fn summarize(report: &PreloadReport, options: &PreloadOptions, shell: &Shell) {
    shell.status(
        "Preloaded",
        format!(
            "{} file{} ({}, {} resident{}) {} (of {}){}",
            report.warmed.len(),
            if report.warmed.len() == 1 { "" } else { "s" },
            human_bytes(report.bytes()),
            human_bytes(report.resident_bytes()),
            if options.lock {
                format!(", {} locked", human_bytes(report.locked_bytes()))
            } else {
                String::new()
            },
            options.selection.describe(),
            report.installed_programs,
            if report.skipped.is_empty() {
                String::new()
            } else {
                format!("; {} skipped", report.skipped.len())
            }
        ),
    );
    shell.message(&Message::PreloadFinished {
        installed_programs: report.installed_programs,
        files: report.warmed.len(),
        bytes: report.bytes(),
        resident_bytes: report.resident_bytes(),
        locked_bytes: report.locked_bytes(),
        skipped: report.skipped.len(),
    });
}
