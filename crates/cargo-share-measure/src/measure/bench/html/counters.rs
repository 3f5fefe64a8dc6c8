//! Report sections for the figures beside the charts: the ratio summary of every shared variant
//! (short and long run time apart), the start-up counters, the long workloads and cold start,
//! each a table per program with one column group per variant.

use crate::measure::bench::html::format::{esc, human_ratio, ms};
use crate::measure::bench::model::{BenchReport, Distribution, ProgramFigures, Variant};

/// What each figure of [`crate::measure::bench::model::RatioSummary`] is, for the reader.
const FIGURE_NAMES: [(&str, &str); 9] = [
    ("startup", "start-up (--version or as given)"),
    ("run-short", "run time, short workloads"),
    ("run-long", "run time, long workloads (>= 100 ms static)"),
    ("cold-start", "cold start (page cache dropped)"),
    (
        "cold-full",
        "fully cold start (page cache dropped, nothing run before)",
    ),
    (
        "cold-preloaded",
        "fully cold start after a preload, against static fully cold",
    ),
    ("instructions", "instructions per start (callgrind)"),
    ("symbol-lookups", "symbol lookups per start (LD_DEBUG)"),
    ("file-syscalls", "file syscalls per start (strace)"),
];

/// The sections, in order; empty figures are left out.
pub(crate) fn sections(report: &BenchReport) -> String {
    let mut out = ratio_section(report);
    out.push_str(&counter_section(report));
    out.push_str(&long_section(report));
    out.push_str(&cold_section(report));
    out
}

fn header(report: &BenchReport, first: &str, per_variant: &[&str]) -> String {
    let mut out = format!("<thead><tr><th>{first}</th>");
    for v in &report.variants {
        for (i, col) in per_variant.iter().enumerate() {
            let name = if i == 0 {
                format!("{} {col}", esc(&v.name))
            } else {
                col.to_string()
            };
            out.push_str(&format!("<th>{name}</th>"));
        }
    }
    out.push_str("</tr></thead>\n<tbody>\n");
    out
}

/// The programs of the report's first variant, in its order.
fn programs(report: &BenchReport) -> Vec<&ProgramFigures> {
    report
        .variants
        .first()
        .map(|v| v.programs.iter().collect())
        .unwrap_or_default()
}

fn find<'a>(v: &'a Variant, program: &str) -> Option<&'a ProgramFigures> {
    v.programs.iter().find(|p| p.program == program)
}

fn num(col: &str, value: Option<String>) -> String {
    format!(
        "<td class=\"num\" data-col=\"{col}\">{}</td>",
        value.unwrap_or_else(|| "n/a".into())
    )
}

fn ratio_section(report: &BenchReport) -> String {
    let shared: Vec<&Variant> = report
        .variants
        .iter()
        .filter(|v| v.shared && !v.ratios.is_empty())
        .collect();
    if shared.is_empty() {
        return String::new();
    }
    let mut out = String::from(
        "<h2>Shared against static, per figure</h2>\n<p>Per-program ratios of the medians \
         (shared / static): their median and range.</p>\n<table class=\"ratios\">\n\
         <thead><tr><th>Variant</th><th>Figure</th><th>Median</th><th>Range</th>\
         <th>Programs</th></tr></thead>\n<tbody>\n",
    );
    for v in shared {
        for r in &v.ratios {
            let name = FIGURE_NAMES
                .iter()
                .find(|(k, _)| *k == r.figure)
                .map_or(r.figure.as_str(), |(_, n)| n);
            out.push_str(&format!(
                "<tr data-figure=\"{}\"><td>{}</td><td>{}</td><td class=\"num\">{:.2}x</td>\
                 <td class=\"num\">{:.2}x-{:.2}x</td><td class=\"num\">{}</td></tr>\n",
                esc(&r.figure),
                esc(&v.name),
                esc(name),
                r.median,
                r.min,
                r.max,
                r.programs
            ));
        }
    }
    out.push_str("</tbody>\n</table>\n");
    out
}

fn counter_section(report: &BenchReport) -> String {
    let any = report.variants.iter().flat_map(|v| &v.programs).any(|p| {
        p.counters.instructions.is_some()
            || p.counters.symbol_lookups.is_some()
            || p.counters.file_syscalls.is_some()
    });
    if !any {
        return String::new();
    }
    let mut out = String::from(
        "<h2>Start-up counters</h2>\n<p>One <code>--version</code> start: instructions \
         (callgrind, median of 3), symbol lookups by the dynamic loader (<code>LD_DEBUG=statistics\
         </code>, from its cache in brackets), file syscalls (<code>strace -f -c -e trace=%file\
         </code>, failed ones in brackets).</p>\n<table class=\"counters\">\n",
    );
    out.push_str(&header(
        report,
        "Program",
        &["instructions", "lookups", "file syscalls"],
    ));
    for p in programs(report) {
        out.push_str(&format!("<tr><td>{}</td>", esc(&p.program)));
        for v in &report.variants {
            let c = find(v, &p.program).map(|f| &f.counters);
            let bracket = |x: Option<u64>, y: Option<u64>| {
                x.map(|x| match y {
                    Some(y) => format!("{x} ({y})"),
                    None => x.to_string(),
                })
            };
            out.push_str(&num(
                "instructions",
                c.and_then(|c| c.instructions).map(|i| i.to_string()),
            ));
            out.push_str(&num(
                "lookups",
                c.and_then(|c| bracket(c.symbol_lookups, c.symbol_lookups_from_cache)),
            ));
            out.push_str(&num(
                "file-syscalls",
                c.and_then(|c| bracket(c.file_syscalls, c.file_syscalls_failed)),
            ));
        }
        out.push_str("</tr>\n");
    }
    out.push_str("</tbody>\n</table>\n");
    out
}

/// Median with the 10th-90th percentile spread, and the ratio to `base`.
fn timed(d: Option<&Distribution>, base: Option<&Distribution>) -> (Option<String>, String) {
    let shown = d.map(|d| {
        format!(
            "{} ({}-{})",
            ms(d.median_us),
            ms(d.p10_us).trim_end_matches(" ms"),
            ms(d.p90_us)
        )
    });
    let ratio = match (d, base) {
        (Some(d), Some(b)) => human_ratio(d.median_us, b.median_us),
        _ => "n/a".into(),
    };
    (shown, ratio)
}

fn long_section(report: &BenchReport) -> String {
    let rows: Vec<(&ProgramFigures, String)> = programs(report)
        .into_iter()
        .filter_map(|p| {
            let command = p.long_workload.as_deref()?;
            let under = p
                .long_runtime
                .as_ref()
                .is_some_and(|d| d.median_us < 100_000.0);
            let mark = if under { " (under 100 ms)" } else { "" };
            let label = format!("{}{mark} <code>{}</code>", esc(&p.program), esc(command));
            Some((p, label))
        })
        .collect();
    if rows.is_empty() {
        return String::new();
    }
    let intro = "<h2>Long workloads</h2>\n<p>Run time over large generated inputs, meant to \
         take at least 100 ms static (marked where the static median is below), so start-up \
         does not hide code speed; reported apart from the short workloads: median (10th-90th \
         percentile).</p>\n";
    timed_table(report, intro, "Program (workload)", "long", &rows, |f| {
        f.long_runtime.as_ref()
    })
}

fn cold_section(report: &BenchReport) -> String {
    let rows: Vec<(&ProgramFigures, String)> = programs(report)
        .into_iter()
        .filter(|p| p.cold_start.is_some())
        .map(|p| {
            let after = p.cold_after.as_deref().unwrap_or("nothing");
            (p, format!("{} (after {})", esc(&p.program), esc(after)))
        })
        .collect();
    if rows.is_empty() {
        return String::new();
    }
    let mut intro = String::from(
        "<h2>Cold start</h2>\n<p>First <code>--version</code> start of a program after the page \
         cache of every file of every build was dropped (<code>posix_fadvise(DONTNEED)</code>, \
         per file) and the program before it ran once: median (10th-90th percentile).",
    );
    if let Some(r) = report.cold_resident_after_drop {
        intro.push_str(&format!(
            " Right after a drop, at most {:.1}% of those files' pages were still cached.",
            r * 100.0
        ));
    }
    intro.push_str("</p>\n");
    timed_table(report, &intro, "Program (after)", "cold", &rows, |f| {
        f.cold_start.as_ref()
    })
}

/// `intro`, then a table: a row per program (its label already HTML), per variant the median
/// of `get` with its spread and its ratio to the first variant's.
fn timed_table(
    report: &BenchReport,
    intro: &str,
    first: &str,
    class: &str,
    rows: &[(&ProgramFigures, String)],
    get: fn(&ProgramFigures) -> Option<&Distribution>,
) -> String {
    let mut out = format!("{intro}<table class=\"{class}\">\n");
    out.push_str(&header(report, first, &["median", "vs static"]));
    for (p, label) in rows {
        out.push_str(&format!("<tr><td>{label}</td>"));
        let base = get(p);
        for v in &report.variants {
            let (shown, ratio) = timed(find(v, &p.program).and_then(get), base);
            out.push_str(&num(class, shown));
            out.push_str(&format!("<td class=\"ratio\">{ratio}</td>"));
        }
        out.push_str("</tr>\n");
    }
    out.push_str("</tbody>\n</table>\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::measure::bench::model::{ratio_summaries, StartupCounters};
    use crate::measure::bench::timing::distribution;

    fn program(long_ms: f64, instructions: u64, cold_ms: f64) -> ProgramFigures {
        ProgramFigures {
            program: "tool".into(),
            long_runtime: Some(distribution(vec![long_ms * 1e3; 3])),
            long_workload: Some("tool <big>".into()),
            counters: StartupCounters {
                instructions: Some(instructions),
                symbol_lookups: Some(instructions / 1000),
                ..Default::default()
            },
            cold_start: Some(distribution(vec![cold_ms * 1e3; 3])),
            cold_after: Some("other".into()),
            ..Default::default()
        }
    }

    #[test]
    fn tables_of_counters_long_workloads_and_cold_start() {
        let st = Variant {
            name: "static".into(),
            programs: vec![program(80.0, 300_000, 4.0)],
            ..Default::default()
        };
        let mut sh = Variant {
            name: "shared".into(),
            shared: true,
            programs: vec![program(100.0, 900_000, 2.0)],
            ..Default::default()
        };
        sh.ratios = ratio_summaries(&sh, &st);
        let figures: Vec<&str> = sh.ratios.iter().map(|r| r.figure.as_str()).collect();
        assert_eq!(
            figures,
            ["run-long", "cold-start", "instructions", "symbol-lookups"]
        );
        let report = BenchReport {
            variants: vec![st, sh],
            cold_resident_after_drop: Some(0.0),
            ..Default::default()
        };
        let html = sections(&report);
        assert!(html.contains("<td class=\"num\">3.00x</td><td class=\"num\">3.00x-3.00x</td>"));
        assert!(html.contains("<td class=\"num\" data-col=\"instructions\">900000</td>"));
        // The static long run is under 100 ms: marked; the workload's text is escaped.
        assert!(html.contains("tool (under 100 ms) <code>tool &lt;big&gt;</code>"));
        assert!(html.contains("<td class=\"ratio\">1.25x</td>"));
        assert!(html.contains("tool (after other)"));
        assert!(html.contains("<td class=\"ratio\">0.50x</td>"));
        assert!(html.contains("at most 0.0% of those files' pages"));
        assert!(sections(&BenchReport::default()).is_empty());
    }
}
