//! The report page: document, styles, machine and summary sections.

use crate::measure::bench::html::chart::{charts, colour};
use crate::measure::bench::html::counters::sections;
use crate::measure::bench::html::format::{esc, human_ratio, mb, ms, seconds};
use crate::measure::bench::html::growth;
use crate::measure::bench::model::{BenchReport, Variant};

pub(crate) const STYLE: &str = "
body { font-family: system-ui, -apple-system, 'Segoe UI', sans-serif; color: #222;
       max-width: 1100px; margin: 2em auto; padding: 0 1em; line-height: 1.4; }
h1 { margin-bottom: 0.2em; }
h2 { margin-top: 2em; border-bottom: 1px solid #ddd; padding-bottom: 0.2em; }
dl.machine { display: grid; grid-template-columns: max-content auto; gap: 0.2em 1em; }
dl.machine dt { font-weight: 600; }
dl.machine dd { margin: 0; font-family: ui-monospace, monospace; }
table { border-collapse: collapse; margin: 1em 0; }
th, td { border: 1px solid #ddd; padding: 0.3em 0.6em; }
th { background: #f4f4f4; text-align: left; }
td.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
td.ratio { text-align: right; color: #666; font-variant-numeric: tabular-nums; }
.swatch-inline { display: inline-block; width: 0.8em; height: 0.8em; margin-right: 0.4em; }
svg.chart { display: block; margin: 1em 0; font-size: 12px; }
svg.chart text { fill: #222; }
svg.chart .grid { stroke: #e3e3e3; stroke-width: 1; }
svg.chart .axis { stroke: #555; stroke-width: 1; }
svg.chart .median { stroke: #111; stroke-width: 2; }
code { font-family: ui-monospace, monospace; }
";

/// The whole report as an HTML5 document.
pub(crate) fn render(report: &BenchReport) -> String {
    let mut out = String::new();
    out.push_str("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n");
    out.push_str(
        "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>cargo-share bench</title>\n",
    );
    out.push_str(&format!("<style>{STYLE}</style>\n</head>\n<body>\n"));
    out.push_str("<h1>cargo-share bench</h1>\n");
    out.push_str(&machine_section(report));
    out.push_str(&summary_section(report));
    out.push_str(&charts(report));
    out.push_str(&growth::section(report));
    out.push_str(&sections(report));
    out.push_str("</body>\n</html>\n");
    out
}

fn machine_section(report: &BenchReport) -> String {
    let m = &report.machine;
    let mut out = String::from("<dl class=\"machine\">\n");
    let rows = [
        ("Date", m.date.clone()),
        ("System", m.system.clone()),
        ("CPUs", m.cpus.to_string()),
        ("Memory", format!("{:.1} GB", m.memory_bytes as f64 / 1e9)),
        ("rustc", m.rustc.clone()),
        ("cargo-share", m.cargo_share.clone()),
    ];
    for (name, value) in rows {
        out.push_str(&format!("<dt>{name}</dt><dd>{}</dd>\n", esc(&value)));
    }
    out.push_str("</dl>\n");
    out.push_str("<h2>Programs</h2>\n<ol class=\"programs\">\n");
    for program in &report.programs {
        out.push_str(&format!("<li><code>{}</code></li>\n", esc(program)));
    }
    out.push_str("</ol>\n");
    out
}

/// The variant every ratio is relative to.
fn static_variant(report: &BenchReport) -> Option<&Variant> {
    report.variants.iter().find(|v| !v.shared)
}

/// The median over the programs of their start-up medians.
fn median_startup_us(variant: &Variant) -> Option<f64> {
    median(
        variant
            .programs
            .iter()
            .filter_map(|p| p.startup.as_ref().map(|d| d.median_us))
            .collect(),
    )
}

pub(crate) fn median(mut values: Vec<f64>) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    values.sort_by(f64::total_cmp);
    let mid = values.len() / 2;
    Some(if values.len() % 2 == 1 {
        values[mid]
    } else {
        (values[mid - 1] + values[mid]) / 2.0
    })
}

/// A value cell and its ratio-to-static cell.
fn figure_cells(
    col: &str,
    value: Option<f64>,
    base: Option<f64>,
    show: fn(f64) -> String,
) -> String {
    let shown = value.map_or_else(|| "n/a".to_string(), show);
    let ratio = match (value, base) {
        (Some(v), Some(b)) => human_ratio(v, b),
        _ => "n/a".to_string(),
    };
    format!(
        "<td class=\"num\" data-col=\"{col}\">{shown}</td>\
         <td class=\"ratio\" data-col=\"{col}-ratio\">{ratio}</td>"
    )
}

fn summary_section(report: &BenchReport) -> String {
    let base = static_variant(report);
    let disk = |v: &Variant| Some(v.disk_total() as f64);
    let pss = |v: &Variant| v.pss_total_bytes.map(|b| b as f64);
    let uss = |v: &Variant| v.uss_total_bytes.map(|b| b as f64);
    let build = |v: &Variant| v.build_cpu_seconds;

    let mut out = String::from("<h2>Summary</h2>\n<table class=\"summary\">\n<thead><tr>");
    out.push_str(
        "<th>Variant</th><th>Disk (binaries + libraries)</th><th>vs static</th>\
         <th>PSS total</th><th>vs static</th><th>USS total</th><th>vs static</th>\
         <th>Median start-up</th><th>vs static</th><th>Build CPU</th><th>vs static</th>\
         <th>Break-even (programs)</th></tr></thead>\n<tbody>\n",
    );
    for (index, variant) in report.variants.iter().enumerate() {
        let break_even = match (variant.shared, variant.break_even_programs) {
            (_, Some(n)) => n.to_string(),
            (true, None) => "never".to_string(),
            (false, None) => "n/a".to_string(),
        };
        out.push_str(&format!(
            "<tr><td><span class=\"swatch-inline\" style=\"background:{}\"></span>{}</td>",
            colour(index),
            esc(&variant.name)
        ));
        out.push_str(&figure_cells(
            "disk",
            disk(variant),
            base.and_then(disk),
            mb,
        ));
        out.push_str(&figure_cells("pss", pss(variant), base.and_then(pss), mb));
        out.push_str(&figure_cells("uss", uss(variant), base.and_then(uss), mb));
        out.push_str(&figure_cells(
            "startup",
            median_startup_us(variant),
            base.and_then(median_startup_us),
            ms,
        ));
        out.push_str(&figure_cells(
            "build",
            build(variant),
            base.and_then(build),
            seconds,
        ));
        out.push_str(&format!(
            "<td class=\"num\" data-col=\"break-even\">{break_even}</td></tr>\n"
        ));
    }
    out.push_str("</tbody>\n</table>\n");

    if let Some(ideal) = report.ideal_bytes {
        let ratio = base.map_or_else(
            || "n/a".to_string(),
            |b| human_ratio(ideal as f64, b.disk_total() as f64),
        );
        out.push_str(&format!(
            "<p class=\"ideal\">Ideal (identical functions of the static binaries stored once): \
             <strong>{}</strong>, {ratio} of static.</p>\n",
            mb(ideal as f64)
        ));
    }

    if let Some(update) = &report.update {
        out.push_str(&format!(
            "<h2>Update cost</h2>\n<p>Bytes shipped when <code>{}</code> gets a fix, for each kind of \
             fix: the stripped files whose bytes changed.</p>\n",
            esc(&update.crate_name)
        ));
        for fix in &update.fixes {
            let base_bytes = base.and_then(|b| {
                fix.per_variant
                    .iter()
                    .find(|v| v.variant == b.name)
                    .map(|v| v.bytes as f64)
            });
            out.push_str(&format!(
                "<h3>A {} fix: <code>{}</code> ({})</h3>\n<table class=\"update\">\n<thead><tr>\
                 <th>Variant</th><th>Files changed</th><th>Bytes</th><th>vs static</th>\
                 <th>Byte-identical files</th></tr></thead>\n<tbody>\n",
                esc(&fix.kind),
                esc(&fix.function),
                esc(&fix.source)
            ));
            for v in &fix.per_variant {
                out.push_str(&format!(
                    "<tr><td>{}</td><td class=\"num\">{}</td>{}<td class=\"num\">{} of {}</td></tr>\n",
                    esc(&v.variant),
                    v.files,
                    figure_cells("update", Some(v.bytes as f64), base_bytes, mb),
                    v.identical_files,
                    v.total_files
                ));
            }
            out.push_str("</tbody>\n</table>\n");
        }
    }

    if !report.missing.is_empty() {
        out.push_str("<h2>Not measured</h2>\n<ul class=\"missing\">\n");
        for reason in &report.missing {
            out.push_str(&format!("<li>{}</li>\n", esc(reason)));
        }
        out.push_str("</ul>\n");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::measure::bench::html::chart::{axis, LABEL_WIDTH, VALUE_WIDTH, WIDTH};
    use crate::measure::bench::model::{
        Distribution, FixCost, Machine, ProgramFigures, ShippedFiles, UpdateCost,
    };

    fn distribution(samples: &[f64]) -> Distribution {
        Distribution {
            median_us: median(samples.to_vec()).unwrap(),
            p10_us: samples[0],
            p90_us: samples[samples.len() - 1],
            samples_us: samples.to_vec(),
        }
    }

    fn program(name: &str, bytes: u64, pss: Option<u64>, startup: &[f64]) -> ProgramFigures {
        ProgramFigures {
            program: name.to_string(),
            binary: name.to_string(),
            binary_bytes: bytes,
            libraries: 0,
            pss_bytes: pss,
            uss_bytes: pss.map(|b| b / 2),
            startup: Some(distribution(startup)),
            ..Default::default()
        }
    }

    /// Two programs (one with a name that needs escaping), a static and a shared variant; the
    /// shared variant has no PSS for `tool` and no PSS total, only `tool` has a run time.
    fn sample() -> BenchReport {
        let mut tool_static = program(
            "tool",
            3_000_000,
            Some(2_500_000),
            &[900.0, 950.0, 1000.0, 1200.0],
        );
        tool_static.runtime = Some(distribution(&[40_000.0, 41_000.0, 45_000.0]));
        tool_static.workload = Some("tool --scan .".to_string());
        let mut tool_shared = program("tool", 400_000, None, &[1500.0, 1550.0, 1600.0, 2100.0]);
        tool_shared.runtime = Some(distribution(&[42_000.0, 43_000.0, 44_000.0]));
        tool_shared.libraries = 3;
        let mut abc_shared = program("a<b&c", 300_000, Some(1_200_000), &[1400.0, 1450.0, 1500.0]);
        abc_shared.libraries = 2;
        BenchReport {
            machine: Machine {
                date: "2026-01-02".to_string(),
                system: "Linux 6.1.0 x86_64".to_string(),
                cpus: 2,
                memory_bytes: 8_000_000_000,
                rustc: "rustc 1.89.0".to_string(),
                cargo_share: "0.1.0".to_string(),
            },
            programs: vec!["a<b&c@1.0.0".to_string(), "tool@2.0.0".to_string()],
            variants: vec![
                Variant {
                    name: "static".to_string(),
                    shared: false,
                    binaries_bytes: 5_000_000,
                    libraries_bytes: 0,
                    build_cpu_seconds: Some(100.0),
                    build_wall_seconds: Some(60.0),
                    programs: vec![
                        program("a<b&c", 2_000_000, Some(1_500_000), &[800.0, 850.0, 900.0]),
                        tool_static,
                    ],
                    libraries: vec![],
                    pss_total_bytes: Some(4_000_000),
                    uss_total_bytes: Some(2_000_000),
                    break_even_programs: None,
                    ratios: vec![],
                },
                Variant {
                    name: "shared per-crate (unify semver)".to_string(),
                    shared: true,
                    binaries_bytes: 700_000,
                    libraries_bytes: 2_750_000,
                    build_cpu_seconds: None,
                    build_wall_seconds: None,
                    programs: vec![abc_shared, tool_shared],
                    libraries: vec![],
                    pss_total_bytes: None,
                    uss_total_bytes: Some(1_000_000),
                    break_even_programs: Some(2),
                    ratios: vec![],
                },
            ],
            ideal_bytes: Some(4_000_000),
            update: Some(UpdateCost {
                crate_name: "memchr".to_string(),
                fixes: vec![FixCost {
                    kind: "body-only".to_string(),
                    function: "memchr::memchr".to_string(),
                    source: "src/lib.rs:10".to_string(),
                    per_variant: vec![
                        ShippedFiles {
                            variant: "static".to_string(),
                            files: 2,
                            bytes: 5_000_000,
                            total_files: 2,
                            identical_files: 0,
                        },
                        ShippedFiles {
                            variant: "shared per-crate (unify semver)".to_string(),
                            files: 1,
                            bytes: 250_000,
                            total_files: 9,
                            identical_files: 8,
                        },
                    ],
                }],
            }),
            missing: vec!["perf counters: <not permitted>".to_string()],
            cold_resident_after_drop: None,
        }
    }

    /// The SVG elements of a document, in order.
    fn svgs(html: &str) -> Vec<&str> {
        html.split("<svg")
            .skip(1)
            .map(|s| s.split("</svg>").next().unwrap())
            .collect()
    }

    /// The summary table row of the variant named `name`.
    fn summary_row<'a>(html: &'a str, name: &str) -> &'a str {
        let table = html.split("<table class=\"summary\">").nth(1).unwrap();
        let table = table.split("</table>").next().unwrap();
        table
            .split("<tr>")
            .find(|row| row.contains(&format!("</span>{name}</td>")))
            .unwrap_or_else(|| panic!("no summary row for {name}"))
    }

    #[test]
    fn is_an_html5_document_with_five_charts() {
        let html = render(&sample());
        assert!(html.starts_with("<!DOCTYPE html>"));
        assert!(html.trim_end().ends_with("</html>"));
        assert!(html.contains("<title>cargo-share bench</title>"));
        assert_eq!(html.matches("<svg").count(), 5);
        assert_eq!(html.matches("<svg class=\"chart\"").count(), 5);
        for svg in svgs(&html) {
            assert!(svg.contains("width=\"100%\""));
            assert!(svg.contains("viewBox=\"0 0 1000 "));
            assert!(svg.contains("<title>"));
        }
        assert!(!html.contains("<script"));
        // Self-contained: the only URLs are the SVG namespace declarations.
        assert_eq!(html.matches("://").count(), 5);
        assert!(!html.contains("src=") && !html.contains("href=") && !html.contains("url("));
    }

    #[test]
    fn one_rect_per_bar() {
        let html = render(&sample());
        let charts = svgs(&html);
        let bars = |svg: &str| svg.matches("<rect class=\"bar\"").count();
        // Disk: 2 programs x 2 variants, plus the shared variant's libraries.
        assert_eq!(bars(charts[0]), 5);
        assert!(charts[0].contains("shared libraries"));
        // Memory: the shared `tool` has no PSS.
        assert_eq!(bars(charts[1]), 3);
        // Start-up is dots, not bars: one circle per sample, one median tick per row.
        assert_eq!(bars(charts[2]), 0);
        assert_eq!(charts[2].matches("<circle").count(), 3 + 4 + 3 + 4);
        assert_eq!(charts[2].matches("class=\"median\"").count(), 4);
        // Run time: only `tool`, in both variants.
        assert_eq!(bars(charts[3]), 2);
        // Besides the bars, the only rects are the legend swatches (one per variant per chart;
        // the set-growth chart's two are its series, disk and PSS).
        assert_eq!(html.matches("<rect").count(), 10 + 5 * 2);
        // The two variants get the first two palette colours.
        assert_eq!(charts[0].matches("fill=\"#1f77b4\"><title>").count(), 2);
        assert_eq!(charts[0].matches("fill=\"#ff7f0e\"><title>").count(), 3);
    }

    #[test]
    fn bars_scale_with_values() {
        let html = render(&sample());
        let disk = svgs(&html)[0];
        let widths: Vec<f64> = disk
            .split("<rect class=\"bar\"")
            .skip(1)
            .map(|r| {
                r.split("width=\"")
                    .nth(1)
                    .unwrap()
                    .split('"')
                    .next()
                    .unwrap()
                    .parse()
                    .unwrap()
            })
            .collect();
        // a<b&c static 2 MB, shared 0.3 MB; tool static 3 MB, shared 0.4 MB; libraries 2.75 MB.
        assert_eq!(widths.len(), 5);
        assert!((widths[0] / widths[1] - 2.0 / 0.3).abs() < 0.05);
        assert!((widths[2] / widths[0] - 1.5).abs() < 0.01);
        assert!(widths[2] <= WIDTH - LABEL_WIDTH - VALUE_WIDTH);
    }

    #[test]
    fn escapes_report_text() {
        let html = render(&sample());
        assert!(html.contains("a&lt;b&amp;c"));
        assert!(html.contains("a&lt;b&amp;c@1.0.0"));
        assert!(!html.contains("a<b&c"));
        assert!(!html.contains("<not permitted>"));
        assert!(html.contains("perf counters: &lt;not permitted&gt;"));
        assert_eq!(esc("\"x\" & 'y'"), "&quot;x&quot; &amp; &#39;y&#39;");
    }

    #[test]
    fn summary_figures_and_missing_values() {
        let html = render(&sample());
        let shared = summary_row(&html, "shared per-crate (unify semver)");
        let fixed = summary_row(&html, "static");
        assert!(shared.contains("data-col=\"pss\">n/a</td>"));
        assert!(shared.contains("data-col=\"pss-ratio\">n/a</td>"));
        assert!(fixed.contains("data-col=\"pss\">4.0 MB</td>"));
        // Disk: 0.7 + 2.75 = 3.45 MB against 5 MB.
        assert!(shared.contains("data-col=\"disk\">3.5 MB</td>"));
        assert!(shared.contains("data-col=\"disk-ratio\">0.69x</td>"));
        assert!(shared.contains("data-col=\"uss-ratio\">0.50x</td>"));
        // Median start-up over programs: static medians 0.85 and 0.975 ms -> 0.9125 ms;
        // shared 1.45 and 1.575 ms -> 1.5125 ms.
        assert!(fixed.contains("data-col=\"startup\">0.91 ms</td>"));
        assert!(shared.contains("data-col=\"startup\">1.51 ms</td>"));
        assert!(shared.contains("data-col=\"startup-ratio\">1.66x</td>"));
        assert!(shared.contains("data-col=\"build\">n/a</td>"));
        assert!(fixed.contains("data-col=\"build\">100.0 s</td>"));
        assert!(fixed.contains("data-col=\"disk-ratio\">1.00x</td>"));
        assert!(shared.contains("data-col=\"break-even\">2</td>"));
        assert!(html.contains("<strong>4.0 MB</strong>, 0.80x of static"));
        assert!(html.contains("<h2>Update cost</h2>"));
        assert!(html.contains("data-col=\"update-ratio\">0.05x</td>"));
        assert!(html.contains("<h2>Not measured</h2>"));
    }

    #[test]
    fn optional_sections_are_left_out() {
        let mut report = sample();
        report.ideal_bytes = None;
        report.update = None;
        report.missing.clear();
        for variant in &mut report.variants {
            for p in &mut variant.programs {
                p.runtime = None;
            }
        }
        let html = render(&report);
        assert_eq!(html.matches("<svg class=\"chart\"").count(), 4);
        assert!(!html.contains("Run time"));
        assert!(!html.contains("Update cost"));
        assert!(!html.contains("Not measured"));
        assert!(!html.contains("Ideal"));
    }

    #[test]
    fn ratios_and_medians() {
        assert_eq!(human_ratio(0.69, 1.0), "0.69x");
        assert_eq!(human_ratio(3.45, 5.0), "0.69x");
        assert_eq!(human_ratio(12.0, 4.0), "3.00x");
        assert_eq!(human_ratio(1.0, 0.0), "n/a");
        assert_eq!(median(vec![3.0, 1.0, 2.0]), Some(2.0));
        assert_eq!(median(vec![4.0, 1.0, 2.0, 3.0]), Some(2.5));
        assert_eq!(median(vec![]), None);
        assert_eq!(axis(3.0), (3.0, 1.0));
        assert_eq!(axis(3.45), (4.0, 1.0));
        assert_eq!(axis(0.0), (1.0, 0.2));
        assert_eq!(mb(3_450_000.0), "3.5 MB");
    }

    /// Writes the sample report to `$CARGO_SHARE_SAMPLE_REPORT` (for
    /// `scripts/check-report-html.sh`).
    #[test]
    #[ignore]
    fn write_sample_report() {
        let path = std::env::var("CARGO_SHARE_SAMPLE_REPORT")
            .expect("set CARGO_SHARE_SAMPLE_REPORT to the output path");
        std::fs::write(path, render(&sample())).unwrap();
    }
}
