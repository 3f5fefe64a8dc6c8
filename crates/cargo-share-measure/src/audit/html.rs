//! `cargo share audit --html FILE`: a self-contained page (inline CSS and SVG, no script, nothing
//! fetched) in the style of the bench report: the projection, a stacked bar per binary (code in
//! crate versions another binary also carries vs the rest), the crate versions that would save
//! most, the versions in the way, and every binary's source and confidence.

use crate::audit::estimate::STD_ROW;
use crate::audit::model::AuditReport;
use crate::audit::report::shorten;
use crate::measure::bench::html::chart::{axis, colour};
use crate::measure::bench::html::format::esc;
use crate::measure::bench::html::page::STYLE;
use cargo_share_core::shell::human_bytes;

const WIDTH: f64 = 1000.0;
const LABEL: f64 = 260.0;
const VALUE: f64 = 120.0;
const ROW: f64 = 18.0;
/// Bars in the crate chart.
const CRATE_BARS: usize = 30;

/// One bar: a label and its stacked segments (legend index, bytes).
struct Bar {
    label: String,
    segments: Vec<(usize, u64)>,
}

/// A horizontal stacked bar chart in megabytes.
fn bar_chart(title: &str, legend: &[&str], bars: &[Bar]) -> String {
    let max = bars
        .iter()
        .map(|b| b.segments.iter().map(|s| s.1).sum::<u64>())
        .max()
        .unwrap_or(0) as f64
        / 1e6;
    let (end, step) = axis(max);
    let top = 24.0 + 20.0;
    let height = top + bars.len() as f64 * ROW + 30.0;
    let plot = WIDTH - LABEL - VALUE;
    let x = |mbytes: f64| LABEL + plot * mbytes / end;
    let mut out = format!(
        "<svg class=\"chart\" xmlns=\"http://www.w3.org/2000/svg\" role=\"img\" width=\"100%\" \
         viewBox=\"0 0 {WIDTH} {height:.0}\" preserveAspectRatio=\"xMinYMin meet\">\n\
         <title>{}</title>\n",
        esc(title)
    );
    let drawn = legend.iter().enumerate().filter(|(_, n)| !n.is_empty());
    for (slot, (i, name)) in drawn.enumerate() {
        let lx = LABEL + slot as f64 * 260.0;
        out.push_str(&format!(
            "<rect x=\"{lx:.1}\" y=\"4\" width=\"12\" height=\"12\" fill=\"{}\"/>\
             <text x=\"{:.1}\" y=\"14\">{}</text>\n",
            colour(i),
            lx + 16.0,
            esc(name)
        ));
    }
    let bottom = top + bars.len() as f64 * ROW;
    let mut tick = 0.0;
    while tick <= end + 1e-9 {
        out.push_str(&format!(
            "<line class=\"grid\" x1=\"{0:.1}\" y1=\"{top:.1}\" x2=\"{0:.1}\" y2=\"{bottom:.1}\"/>\
             <text x=\"{0:.1}\" y=\"{1:.1}\" text-anchor=\"middle\">{tick} MB</text>\n",
            x(tick),
            bottom + 16.0
        ));
        tick += step;
    }
    for (row, bar) in bars.iter().enumerate() {
        let y = top + row as f64 * ROW;
        out.push_str(&format!(
            "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\">{}</text>\n",
            LABEL - 6.0,
            y + 12.0,
            esc(&shorten(&bar.label, 40))
        ));
        let mut at = 0.0;
        for &(index, bytes) in &bar.segments {
            let w = bytes as f64 / 1e6;
            out.push_str(&format!(
                "<rect data-bytes=\"{bytes}\" x=\"{:.1}\" y=\"{:.1}\" width=\"{:.1}\" \
                 height=\"{:.1}\" fill=\"{}\"><title>{}: {}</title></rect>\n",
                x(at),
                y + 2.0,
                (x(at + w) - x(at)).max(0.0),
                ROW - 4.0,
                colour(index),
                esc(legend.get(index).copied().unwrap_or("")),
                human_bytes(bytes)
            ));
            at += w;
        }
        let total: u64 = bar.segments.iter().map(|s| s.1).sum();
        out.push_str(&format!(
            "<text x=\"{:.1}\" y=\"{:.1}\">{}</text>\n",
            x(at) + 6.0,
            y + 12.0,
            human_bytes(total)
        ));
    }
    out.push_str(&format!(
        "<line class=\"axis\" x1=\"{LABEL}\" y1=\"{top:.1}\" x2=\"{LABEL}\" y2=\"{bottom:.1}\"/>\n</svg>\n"
    ));
    out
}

fn percent(f: f64) -> String {
    format!("{:.1}%", f * 100.0)
}

fn summary(report: &AuditReport) -> String {
    let p = &report.projection;
    let compilers: Vec<String> = p
        .rustc_versions
        .iter()
        .map(|(r, n)| format!("{} ({n})", esc(r)))
        .collect();
    let rows = [
        ("Date", esc(&report.date)),
        ("Paths", esc(&report.roots.join(", "))),
        (
            "Files",
            format!(
                "{} examined, {} ELF, {} Rust, {} unreadable",
                report.files_examined,
                report.elf_files,
                report.binaries.len(),
                report.unreadable.len()
            ),
        ),
        ("Compilers", compilers.join(", ")),
    ];
    let mut out = String::from("<dl class=\"machine\">\n");
    for (k, v) in rows {
        out.push_str(&format!("<dt>{k}</dt><dd>{v}</dd>\n"));
    }
    out.push_str("</dl>\n<h2>Projected saving</h2>\n<table class=\"summary\">\n");
    out.push_str(&format!(
        "<tr><th>Binaries, on disk</th><td class=\"num\" data-col=\"file-bytes\">{}</td></tr>\n\
         <tr><th>Code (executable sections)</th><td class=\"num\" data-col=\"code-bytes\">{}</td></tr>\n\
         <tr><th>Saved if binaries of one rustc shared their common crate versions</th>\
         <td class=\"num\" data-col=\"saving-bytes\">{}</td></tr>\n\
         <tr><th>Disk saving</th><td class=\"num\" data-col=\"disk-saving\">{}</td></tr>\n\
         <tr><th>Disk saving over stripped sizes ({})</th>\
         <td class=\"num\" data-col=\"stripped-disk-saving\">{}</td></tr>\n\
         <tr><th>Mapped code saving</th><td class=\"num\" data-col=\"code-saving\">{}</td></tr>\n\
         <tr><th>More if each crate had one version</th><td class=\"num\">{}</td></tr>\n\
         <tr><th>Saved with the data that goes with the code (stripped)</th>\
         <td class=\"num\" data-col=\"file-saving-bytes\">{}</td></tr>\n\
         <tr><th>Disk saving over stripped sizes, with that data</th>\
         <td class=\"num\" data-col=\"stripped-file-saving\">{}</td></tr>\n\
         <tr><th>More with that data if each crate had one version</th>\
         <td class=\"num\">{}</td></tr>\n</table>\n",
        human_bytes(p.file_bytes),
        human_bytes(p.code_bytes),
        human_bytes(p.saving_bytes),
        percent(p.disk_saving),
        human_bytes(p.stripped_bytes),
        percent(p.stripped_disk_saving),
        percent(p.code_saving),
        human_bytes(p.unify_saving_bytes),
        human_bytes(p.file_saving_bytes),
        percent(p.stripped_file_saving),
        human_bytes(p.unify_file_saving_bytes)
    ));
    out
}

fn binaries_table(report: &AuditReport) -> String {
    let mut out = String::from(
        "<h2>Binaries</h2>\n<table class=\"binaries\">\n<thead><tr><th>Binary</th><th>Kind</th>\
         <th>Size</th><th>Code</th><th>Shared</th><th>Own</th><th>rustc</th>\
         <th>Crates from</th><th>Confidence</th><th>Why</th></tr></thead>\n<tbody>\n",
    );
    for b in &report.binaries {
        let from = serde_json::to_value(b.crates_from)
            .ok()
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_default();
        let confidence = serde_json::to_value(b.confidence)
            .ok()
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_default();
        out.push_str(&format!(
            "<tr><td><code>{}</code></td><td>{}</td><td class=\"num\">{}</td>\
             <td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td>\
             <td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>\n",
            esc(&b.path),
            b.kind,
            human_bytes(b.file_bytes),
            human_bytes(b.code_bytes),
            human_bytes(b.shared_bytes),
            human_bytes(b.own_bytes),
            esc(b.rustc.as_deref().unwrap_or("?")),
            from,
            confidence,
            esc(&b.note)
        ));
    }
    out.push_str("</tbody>\n</table>\n");
    out
}

fn crates_table(report: &AuditReport) -> String {
    let mut out = String::from(
        "<h2>Crate versions carried by two or more binaries</h2>\n<table class=\"crates\">\n\
         <thead><tr><th>Crate</th><th>Version</th><th>rustc</th><th>Copies</th>\
         <th>Per copy</th><th>Saving</th></tr></thead>\n<tbody>\n",
    );
    for r in report.crates.iter().filter(|r| r.copies > 1) {
        out.push_str(&format!(
            "<tr><td>{}</td><td>{}</td><td>{}</td><td class=\"num\">{}</td>\
             <td class=\"num\">{}</td><td class=\"num\">{}</td></tr>\n",
            esc(&r.name),
            esc(if r.name == STD_ROW { "" } else { &r.version }),
            esc(&r.rustc),
            r.copies,
            human_bytes(r.bytes_per_copy),
            human_bytes(r.saving_bytes)
        ));
    }
    out.push_str("</tbody>\n</table>\n");
    if !report.version_spread.is_empty() {
        out.push_str(
            "<h2>Versions in the way</h2>\n<table class=\"spread\">\n<thead><tr><th>Crate</th>\
             <th>rustc</th><th>Versions (copies)</th><th>More saving with one version</th>\
             </tr></thead>\n<tbody>\n",
        );
        for s in &report.version_spread {
            let versions: Vec<String> = s
                .versions
                .iter()
                .map(|(v, n)| format!("{} ({n})", esc(v)))
                .collect();
            out.push_str(&format!(
                "<tr><td>{}</td><td>{}</td><td>{}</td><td class=\"num\">{}</td></tr>\n",
                esc(&s.name),
                esc(&s.rustc),
                versions.join(", "),
                human_bytes(s.extra_saving_bytes)
            ));
        }
        out.push_str("</tbody>\n</table>\n");
    }
    if !report.unreadable.is_empty() {
        out.push_str("<h2>Unreadable</h2>\n<ul class=\"unreadable\">\n");
        for u in &report.unreadable {
            out.push_str(&format!(
                "<li><code>{}</code>: {}</li>\n",
                esc(&u.path),
                esc(&u.error)
            ));
        }
        out.push_str("</ul>\n");
    }
    out
}

/// The whole page.
pub(crate) fn render(report: &AuditReport) -> String {
    let mut out = String::from(
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>cargo-share audit</title>\n",
    );
    out.push_str(&format!(
        "<style>{STYLE}\ntable.binaries code {{ word-break: break-all; }}\n</style>\n</head>\n<body>\n"
    ));
    out.push_str("<h1>cargo-share audit</h1>\n");
    out.push_str(&summary(report));
    let per_binary: Vec<Bar> = report
        .binaries
        .iter()
        .map(|b| Bar {
            label: b.path.rsplit('/').next().unwrap_or(&b.path).to_string(),
            segments: vec![
                (0, b.shared_bytes),
                (1, b.code_bytes.saturating_sub(b.shared_bytes)),
            ],
        })
        .collect();
    out.push_str("<h2>Code per binary</h2>\n");
    out.push_str(&bar_chart(
        "Code per binary: in crate versions another binary carries, and the rest",
        &[
            "shared crate versions (std included)",
            "own code and unshared crates",
        ],
        &per_binary,
    ));
    let top: Vec<Bar> = report
        .crates
        .iter()
        .filter(|r| r.copies > 1)
        .take(CRATE_BARS)
        .map(|r| Bar {
            label: format!("{} {} x{}", r.name, r.version, r.copies),
            segments: vec![(2, r.saving_bytes)],
        })
        .collect();
    if !top.is_empty() {
        out.push_str("<h2>What sharing saves, per crate version</h2>\n");
        out.push_str(&bar_chart(
            "Bytes saved per crate version (every copy but one)",
            &["", "", "saving"],
            &top,
        ));
    }
    out.push_str(&crates_table(report));
    out.push_str(&binaries_table(report));
    out.push_str("</body>\n</html>\n");
    out
}
