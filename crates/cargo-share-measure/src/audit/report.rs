//! The audit as text: the summary table `cargo share audit` prints on stdout.

use crate::audit::estimate::STD_ROW;
use crate::audit::model::{AuditReport, Projection};
use cargo_share_core::shell::{human_bytes, Shell};

/// Crate rows shown in the table (all are in `--json` and `--html`).
const TABLE_ROWS: usize = 25;

fn percent(f: f64) -> String {
    format!("{:.1}%", f * 100.0)
}

/// Prints the report's tables through the shell (stdout; nothing in JSON mode).
pub(crate) fn print_table(report: &AuditReport, shell: &Shell) {
    let p = &report.projection;
    shell.result(format!(
        "{} Rust binaries in {} ELF files ({} files examined, {} unreadable)",
        report.binaries.len(),
        report.elf_files,
        report.files_examined,
        report.unreadable.len()
    ));
    if report.binaries.is_empty() {
        return;
    }
    shell.result("");
    shell.result(format!(
        "{:<40} {:>10} {:>10} {:>10} {:>10}  {:<9} {:<16} {}",
        "binary", "size", "code", "shared", "own", "rustc", "crates from", "sure"
    ));
    for b in &report.binaries {
        shell.result(format!(
            "{:<40} {:>10} {:>10} {:>10} {:>10}  {:<9} {:<16} {:?}",
            shorten(&b.path, 40),
            human_bytes(b.file_bytes),
            human_bytes(b.code_bytes),
            human_bytes(b.shared_bytes),
            human_bytes(b.own_bytes),
            b.rustc.as_deref().unwrap_or("?"),
            serde_json::to_value(b.crates_from)
                .ok()
                .and_then(|v| v.as_str().map(str::to_string))
                .unwrap_or_default(),
            b.confidence
        ));
    }
    shell.result("");
    shell.result(format!(
        "{:<32} {:<14} {:>6} {:>12} {:>12}  {}",
        "crate", "version", "copies", "per copy", "saving", "rustc"
    ));
    for r in report
        .crates
        .iter()
        .filter(|r| r.copies > 1)
        .take(TABLE_ROWS)
    {
        let version = if r.name == STD_ROW { "" } else { &r.version };
        shell.result(format!(
            "{:<32} {:<14} {:>6} {:>12} {:>12}  {}",
            shorten(&r.name, 32),
            shorten(version, 14),
            r.copies,
            human_bytes(r.bytes_per_copy),
            human_bytes(r.saving_bytes),
            r.rustc
        ));
    }
    let shared_versions = report.crates.iter().filter(|r| r.copies > 1).count();
    if shared_versions > TABLE_ROWS {
        shell.result(format!(
            "... {} more crate versions carried by two or more binaries (--json, --html)",
            shared_versions - TABLE_ROWS
        ));
    }
    if !report.version_spread.is_empty() {
        shell.result("");
        shell.result("Several versions in the way (one version would save more):");
        for s in report.version_spread.iter().take(10) {
            let versions: Vec<String> = s
                .versions
                .iter()
                .map(|(v, n)| format!("{v} x{n}"))
                .collect();
            shell.result(format!(
                "  {:<30} {:<40} {:>10}  {}",
                s.name,
                versions.join(", "),
                human_bytes(s.extra_saving_bytes),
                s.rustc
            ));
        }
    }
    shell.result("");
    let compilers: Vec<String> = p
        .rustc_versions
        .iter()
        .map(|(r, n)| format!("{r} ({n})"))
        .collect();
    shell.result(format!("Compilers: {}", compilers.join(", ")));
    shell.result(projection_line(p));
}

/// The projected saving in one sentence (`audit`'s last line, `adopt --dry-run`'s).
pub(crate) fn projection_line(p: &Projection) -> String {
    let stripped = if p.stripped_bytes < p.file_bytes {
        format!(
            ", {} of {} stripped",
            percent(p.stripped_disk_saving),
            human_bytes(p.stripped_bytes)
        )
    } else {
        String::new()
    };
    format!(
        "Projected saving if binaries of one rustc shared their common crate versions: \
         {} of {} on disk ({}{stripped}), {} of mapped code ({}); one version per crate would \
         save {} more. With the data that goes with the code (read-only data, unwind tables, \
         relocations): {} of {} stripped ({}), {} more with one version per crate",
        human_bytes(p.saving_bytes),
        human_bytes(p.file_bytes),
        percent(p.disk_saving),
        human_bytes(p.code_bytes),
        percent(p.code_saving),
        human_bytes(p.unify_saving_bytes),
        human_bytes(p.file_saving_bytes),
        human_bytes(p.stripped_bytes),
        percent(p.stripped_file_saving),
        human_bytes(p.unify_file_saving_bytes)
    )
}

/// `text` cut to `width` characters from the left (`…` marks the cut).
pub(crate) fn shorten(text: &str, width: usize) -> String {
    let n = text.chars().count();
    if n <= width {
        return text.to_string();
    }
    let tail: String = text.chars().skip(n - (width - 1)).collect();
    format!("…{tail}")
}
