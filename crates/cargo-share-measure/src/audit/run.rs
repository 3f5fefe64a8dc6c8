//! `cargo share audit`, in order: walk the paths, audit each ELF file, estimate, and write the
//! table, the JSON record and the HTML page.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};

use crate::audit::detect::{detect, Detected, KnownRustc};
use crate::audit::estimate::estimate;
use crate::audit::html::render;
use crate::audit::model::{AuditReport, BinaryAudit};
use crate::audit::report::print_table;
use crate::audit::scan::{scan, Unreadable};
use cargo_share_core::message::{Message, Report};
use cargo_share_core::shell::Shell;

#[derive(Debug, Clone, Default)]
pub struct AuditOptions {
    /// Files and directories; empty means [`default_roots`].
    pub paths: Vec<PathBuf>,
    pub html: Option<PathBuf>,
}

/// `$CARGO_HOME/bin` (default `~/.cargo/bin`), `/usr/bin`, `/usr/local/bin`, `/usr/lib`.
pub(crate) fn default_roots() -> Vec<PathBuf> {
    let cargo_home = cargo_share_core::dirs::cargo_home().ok();
    let mut roots: Vec<PathBuf> = cargo_home.map(|c| c.join("bin")).into_iter().collect();
    roots.extend(["/usr/bin", "/usr/local/bin", "/usr/lib"].map(PathBuf::from));
    roots
}

/// Audits every ELF file under the paths and reports as the shell says.
pub fn audit(options: &AuditOptions, shell: &Shell) -> Result<AuditReport> {
    let report = collect(&options.paths, shell)?;
    if let Some(html) = &options.html {
        std::fs::write(html, render(&report))
            .with_context(|| format!("writing {}", html.display()))?;
        shell.status("Wrote", html.display().to_string());
    }
    shell.message(&Message::AuditFinished(Report::of(&report)));
    print_table(&report, shell);
    Ok(report)
}

/// The audit of every ELF file under `paths` (empty: [`default_roots`]), with progress and
/// warnings on the shell but no table or record.
pub(crate) fn collect(paths: &[PathBuf], shell: &Shell) -> Result<AuditReport> {
    let explicit = !paths.is_empty();
    let roots = if explicit {
        paths.to_vec()
    } else {
        default_roots()
    };
    let shown: Vec<String> = roots.iter().map(|r| r.display().to_string()).collect();
    shell.status("Scanning", shown.join(", "));
    let started = std::time::Instant::now();
    let scanned = scan(&roots, |_| {});
    let mut unreadable = scanned.unreadable;
    if explicit && scanned.files_examined == 0 && !unreadable.is_empty() {
        let list: Vec<String> = unreadable
            .iter()
            .map(|u| format!("{}: {}", u.path, u.error))
            .collect();
        bail!("nothing to audit: {}", list.join("; "));
    }
    // Default paths that do not exist on this machine (no ~/.cargo/bin) are not worth a word.
    if !explicit {
        unreadable.retain(|u| roots.iter().all(|r| Path::new(&u.path) != r));
    }
    let known: Vec<KnownRustc> = cargo_share_compile::toolchain::Toolchain::detect()
        .ok()
        .and_then(|t| KnownRustc::from_version_text(&t.version_text))
        .into_iter()
        .collect();
    let mut binaries: Vec<BinaryAudit> = Vec::new();
    for path in &scanned.elf_files {
        let shown = path.display().to_string();
        let data = match std::fs::read(path) {
            Ok(d) => d,
            Err(e) => {
                unreadable.push(Unreadable {
                    path: shown,
                    error: e.to_string(),
                });
                continue;
            }
        };
        match detect(&shown, &data, &known) {
            Detected::Rust(b) => {
                shell.status(
                    "Audited",
                    format!(
                        "{shown} ({} crates, {})",
                        b.crates.iter().filter(|c| c.version.is_some()).count(),
                        b.note.split(';').next().unwrap_or_default()
                    ),
                );
                binaries.push(*b);
            }
            Detected::NotRust => {}
            Detected::Broken(error) => unreadable.push(Unreadable { path: shown, error }),
        }
    }
    for u in &unreadable {
        shell.warn(format!("skipped {}: {}", u.path, u.error));
    }
    let (crates, version_spread, projection) = estimate(&mut binaries);
    shell.status(
        "Finished",
        format!(
            "{} files, {} ELF, {} Rust in {:.1}s",
            scanned.files_examined,
            scanned.elf_files.len(),
            binaries.len(),
            started.elapsed().as_secs_f64()
        ),
    );
    Ok(AuditReport {
        date: crate::measure::bench::machine::utc_date(),
        roots: shown,
        files_examined: scanned.files_examined,
        elf_files: scanned.elf_files.len(),
        binaries,
        unreadable,
        crates,
        version_spread,
        projection,
    })
}
