//! The HTML report of `cargo share bench`: one self-contained HTML5 document (inline CSS, inline
//! SVG charts drawn here as strings, no JavaScript, nothing fetched) rendered from a
//! [`BenchReport`].
//!
//! Sizes are shown in decimal megabytes (1 MB = 10^6 bytes) with one decimal, times in
//! milliseconds. Ratios compare a variant with the static one (the first variant with
//! `shared == false`). Every string taken from the report is HTML-escaped.

use super::model::{BenchReport, Distribution, ProgramFigures, Variant};

/// One colour per variant, in variant order (wrapping after ten).
const PALETTE: [&str; 10] = [
    "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f",
    "#bcbd22", "#17becf",
];

/// Chart geometry, in viewBox units.
const WIDTH: f64 = 1000.0;
const LABEL_WIDTH: f64 = 230.0;
const VALUE_WIDTH: f64 = 110.0;
const BAR_HEIGHT: f64 = 16.0;
const BAR_GAP: f64 = 3.0;
const GROUP_GAP: f64 = 14.0;
const STRIP_ROW: f64 = 16.0;
const LEGEND_ROW: f64 = 20.0;
const AXIS_SPACE: f64 = 48.0;
/// Longest group label drawn in full; longer ones are shortened with an ellipsis.
const LABEL_CHARS: usize = 32;

const STYLE: &str = "
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
pub fn render(report: &BenchReport) -> String {
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
    out.push_str("</body>\n</html>\n");
    out
}

/// `value / base` as `0.69x`; `n/a` when the base is zero (or either is not a finite number).
pub fn human_ratio(value: f64, base: f64) -> String {
    if base == 0.0 || !base.is_finite() || !value.is_finite() {
        return "n/a".to_string();
    }
    format!("{:.2}x", value / base)
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
    if !report.reason.is_empty() {
        out.push_str(&format!("<p>{}</p>\n", esc(&report.reason)));
    }
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

fn median(mut values: Vec<f64>) -> Option<f64> {
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
        let base_bytes = base.and_then(|b| {
            update
                .per_variant
                .iter()
                .find(|(name, _, _)| *name == b.name)
                .map(|&(_, _, bytes)| bytes as f64)
        });
        out.push_str(&format!(
            "<h2>Update cost</h2>\n<p>Bytes shipped when <code>{}</code> gets a fix.</p>\n\
             <table class=\"update\">\n<thead><tr><th>Variant</th><th>Files changed</th>\
             <th>Bytes</th><th>vs static</th></tr></thead>\n<tbody>\n",
            esc(&update.crate_name)
        ));
        for (name, files, bytes) in &update.per_variant {
            out.push_str(&format!(
                "<tr><td>{}</td><td class=\"num\">{files}</td>{}</tr>\n",
                esc(name),
                figure_cells("update", Some(*bytes as f64), base_bytes, mb)
            ));
        }
        out.push_str("</tbody>\n</table>\n");
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

/// How a chart's values (bytes or microseconds) are shown on its axis.
#[derive(Clone, Copy)]
enum Unit {
    Megabytes,
    Milliseconds,
}

impl Unit {
    fn scale(self) -> f64 {
        match self {
            Unit::Megabytes => 1e6,
            Unit::Milliseconds => 1e3,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Unit::Megabytes => "MB",
            Unit::Milliseconds => "ms",
        }
    }

    fn show(self, raw: f64) -> String {
        match self {
            Unit::Megabytes => mb(raw),
            Unit::Milliseconds => ms(raw),
        }
    }
}

struct Bar {
    variant: usize,
    value: f64,
}

struct Group {
    label: String,
    bars: Vec<Bar>,
}

/// A program's name as the charts label it.
fn program_label(p: &ProgramFigures) -> String {
    if p.binary.is_empty() || p.binary == p.program {
        p.program.clone()
    } else {
        format!("{} ({})", p.program, p.binary)
    }
}

/// The programs of all variants, in order of first appearance, keyed by package name.
fn program_order(report: &BenchReport) -> Vec<(String, String)> {
    let mut order: Vec<(String, String)> = Vec::new();
    for variant in &report.variants {
        for p in &variant.programs {
            if !order.iter().any(|(name, _)| *name == p.program) {
                order.push((p.program.clone(), program_label(p)));
            }
        }
    }
    order
}

/// One group per program, one bar per variant that has a value for it; empty groups dropped.
fn program_groups(
    report: &BenchReport,
    value: impl Fn(&ProgramFigures) -> Option<f64>,
) -> Vec<Group> {
    program_order(report)
        .into_iter()
        .map(|(name, label)| Group {
            label,
            bars: report
                .variants
                .iter()
                .enumerate()
                .filter_map(|(variant, v)| {
                    let p = v.programs.iter().find(|p| p.program == name)?;
                    Some(Bar {
                        variant,
                        value: value(p)?,
                    })
                })
                .collect(),
        })
        .filter(|g| !g.bars.is_empty())
        .collect()
}

fn charts(report: &BenchReport) -> String {
    let names: Vec<&str> = report.variants.iter().map(|v| v.name.as_str()).collect();
    let mut out = String::new();

    let mut disk = program_groups(report, |p| Some(p.binary_bytes as f64));
    let libraries: Vec<Bar> = report
        .variants
        .iter()
        .enumerate()
        .filter(|(_, v)| v.shared)
        .map(|(variant, v)| Bar {
            variant,
            value: v.libraries_bytes as f64,
        })
        .collect();
    if !libraries.is_empty() {
        disk.push(Group {
            label: "shared libraries".to_string(),
            bars: libraries,
        });
    }
    out.push_str("<h2>Disk per program</h2>\n");
    out.push_str(&bar_chart(
        "Disk per program (stripped bytes)",
        Unit::Megabytes,
        &disk,
        &names,
    ));

    let memory = program_groups(report, |p| p.pss_bytes.map(|b| b as f64));
    out.push_str("<h2>Memory (PSS) per program</h2>\n");
    out.push_str(&bar_chart(
        "Memory (PSS) per program, all programs running together",
        Unit::Megabytes,
        &memory,
        &names,
    ));

    out.push_str("<h2>Start-up distributions</h2>\n");
    out.push_str(&strip_chart(report, &names));

    let runtime = program_groups(report, |p| p.runtime.as_ref().map(|d| d.median_us));
    if !runtime.is_empty() {
        out.push_str("<h2>Run time</h2>\n");
        out.push_str(&bar_chart(
            "Run time (median of the workload)",
            Unit::Milliseconds,
            &runtime,
            &names,
        ));
    }
    out
}

/// Axis end and tick step (in display units) for values up to `max` (display units).
fn axis(max: f64) -> (f64, f64) {
    if max <= 0.0 || !max.is_finite() {
        return (1.0, 0.2);
    }
    let rough = max / 5.0;
    let magnitude = 10f64.powf(rough.log10().floor());
    let step = [1.0, 2.0, 2.5, 5.0, 10.0]
        .iter()
        .map(|m| m * magnitude)
        .find(|s| *s >= rough)
        .unwrap_or(10.0 * magnitude);
    ((max / step).ceil().max(1.0) * step, step)
}

fn svg_open(title: &str, height: f64) -> String {
    format!(
        "<svg class=\"chart\" xmlns=\"http://www.w3.org/2000/svg\" role=\"img\" width=\"100%\" \
         viewBox=\"0 0 {WIDTH} {height:.0}\" preserveAspectRatio=\"xMinYMin meet\">\
         \n<title>{}</title>\n",
        esc(title)
    )
}

/// The opening of a chart: the `<svg>` with its title, the legend, the x axis for
/// `(unit, axis_max, step)` between `top` and `bottom`, and a note when nothing was measured.
fn chart_start(
    title: &str,
    legend: &str,
    (unit, axis_max, step): (Unit, f64, f64),
    top: f64,
    bottom: f64,
    empty: bool,
) -> String {
    let mut out = svg_open(title, bottom + AXIS_SPACE);
    out.push_str(legend);
    out.push_str(&x_axis(unit, axis_max, step, top - 4.0, bottom));
    if empty {
        out.push_str(&format!(
            "<text x=\"{LABEL_WIDTH}\" y=\"{:.1}\">nothing measured</text>\n",
            top + 16.0
        ));
    }
    out
}

/// The legend (one swatch per variant) from y = 0; returns it and its height.
fn legend(names: &[&str]) -> (String, f64) {
    let mut out = String::new();
    let (mut x, mut y) = (LABEL_WIDTH, 4.0);
    for (index, name) in names.iter().enumerate() {
        let width = 30.0 + 7.0 * name.chars().count() as f64;
        if x + width > WIDTH && x > LABEL_WIDTH {
            x = LABEL_WIDTH;
            y += LEGEND_ROW;
        }
        out.push_str(&format!(
            "<rect class=\"swatch\" x=\"{x:.1}\" y=\"{y:.1}\" width=\"12\" height=\"12\" fill=\"{}\"/>\
             <text x=\"{:.1}\" y=\"{:.1}\">{}</text>\n",
            colour(index),
            x + 17.0,
            y + 10.5,
            esc(name)
        ));
        x += width;
    }
    (out, y + LEGEND_ROW + 8.0)
}

/// Vertical grid lines, the axis line and its labels for a plot spanning `top..bottom`.
fn x_axis(unit: Unit, axis_max: f64, step: f64, top: f64, bottom: f64) -> String {
    let plot = WIDTH - LABEL_WIDTH - VALUE_WIDTH;
    let mut out = String::new();
    let ticks = (axis_max / step).round() as usize;
    for i in 0..=ticks {
        let value = step * i as f64;
        let x = LABEL_WIDTH + value / axis_max * plot;
        let decimals = if step.fract() == 0.0 {
            0
        } else if (step * 10.0).fract() == 0.0 {
            1
        } else {
            2
        };
        out.push_str(&format!(
            "<line class=\"grid\" x1=\"{x:.1}\" y1=\"{top:.1}\" x2=\"{x:.1}\" y2=\"{bottom:.1}\"/>\
             <text x=\"{x:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{value:.decimals$}</text>\n",
            bottom + 16.0
        ));
    }
    out.push_str(&format!(
        "<line class=\"axis\" x1=\"{LABEL_WIDTH}\" y1=\"{bottom:.1}\" x2=\"{:.1}\" y2=\"{bottom:.1}\"/>\
         <text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{}</text>\n",
        LABEL_WIDTH + plot,
        LABEL_WIDTH + plot / 2.0,
        bottom + 36.0,
        unit.name()
    ));
    out
}

/// Group label text, shortened and escaped.
fn group_label(label: &str) -> String {
    if label.chars().count() <= LABEL_CHARS {
        esc(label)
    } else {
        let short: String = label.chars().take(LABEL_CHARS - 1).collect();
        format!(
            "<tspan>{}…</tspan><title>{}</title>",
            esc(&short),
            esc(label)
        )
    }
}

/// Grouped horizontal bars: one group per row label, one bar per variant.
fn bar_chart(title: &str, unit: Unit, groups: &[Group], names: &[&str]) -> String {
    let (legend, top) = legend(names);
    let rows: usize = groups.iter().map(|g| g.bars.len()).sum();
    let plot_height = rows as f64 * (BAR_HEIGHT + BAR_GAP)
        + groups.len().saturating_sub(1) as f64 * GROUP_GAP
        + if groups.is_empty() { 24.0 } else { 0.0 };
    let bottom = top + plot_height;
    let max = groups
        .iter()
        .flat_map(|g| g.bars.iter().map(|b| b.value))
        .fold(0.0, f64::max);
    let (axis_max, step) = axis(max / unit.scale());
    let plot = WIDTH - LABEL_WIDTH - VALUE_WIDTH;

    let mut out = chart_start(
        title,
        &legend,
        (unit, axis_max, step),
        top,
        bottom,
        groups.is_empty(),
    );
    let mut y = top;
    for group in groups {
        let height = group.bars.len() as f64 * (BAR_HEIGHT + BAR_GAP) - BAR_GAP;
        out.push_str(&format!(
            "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\">{}</text>\n",
            LABEL_WIDTH - 8.0,
            y + height / 2.0 + 4.0,
            group_label(&group.label)
        ));
        for bar in &group.bars {
            let width = (bar.value / unit.scale() / axis_max * plot).max(0.0);
            out.push_str(&format!(
                "<rect class=\"bar\" x=\"{LABEL_WIDTH}\" y=\"{y:.1}\" width=\"{width:.1}\" \
                 height=\"{BAR_HEIGHT}\" fill=\"{}\"><title>{}: {}</title></rect>\
                 <text x=\"{:.1}\" y=\"{:.1}\">{}</text>\n",
                colour(bar.variant),
                esc(names[bar.variant]),
                unit.show(bar.value),
                LABEL_WIDTH + width + 4.0,
                y + BAR_HEIGHT - 4.0,
                unit.show(bar.value)
            ));
            y += BAR_HEIGHT + BAR_GAP;
        }
        y += GROUP_GAP;
    }
    out.push_str("</svg>\n");
    out
}

/// Start-up strip plot: per program, one row per variant, a dot per sample and a tick at the
/// median, all on one time axis.
fn strip_chart(report: &BenchReport, names: &[&str]) -> String {
    let groups: Vec<(String, Vec<(usize, &Distribution)>)> = program_order(report)
        .into_iter()
        .map(|(name, label)| {
            let rows = report
                .variants
                .iter()
                .enumerate()
                .filter_map(|(variant, v)| {
                    let p = v.programs.iter().find(|p| p.program == name)?;
                    Some((variant, p.startup.as_ref()?))
                })
                .collect::<Vec<_>>();
            (label, rows)
        })
        .filter(|(_, rows)| !rows.is_empty())
        .collect();

    let unit = Unit::Milliseconds;
    let (legend, top) = legend(names);
    let rows: usize = groups.iter().map(|(_, r)| r.len()).sum();
    let plot_height = rows as f64 * STRIP_ROW
        + groups.len().saturating_sub(1) as f64 * GROUP_GAP
        + if groups.is_empty() { 24.0 } else { 0.0 };
    let bottom = top + plot_height;
    let max = groups
        .iter()
        .flat_map(|(_, r)| r.iter())
        .flat_map(|(_, d)| d.samples_us.iter().copied().chain([d.median_us]))
        .fold(0.0, f64::max);
    let (axis_max, step) = axis(max / unit.scale());
    let plot = WIDTH - LABEL_WIDTH - VALUE_WIDTH;
    let x_of = |us: f64| LABEL_WIDTH + (us / unit.scale() / axis_max * plot).max(0.0);

    let mut out = chart_start(
        "Start-up distributions (exec of --version)",
        &legend,
        (unit, axis_max, step),
        top,
        bottom,
        groups.is_empty(),
    );
    let mut y = top;
    for (label, rows) in &groups {
        let height = rows.len() as f64 * STRIP_ROW;
        out.push_str(&format!(
            "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\">{}</text>\n",
            LABEL_WIDTH - 8.0,
            y + height / 2.0 + 4.0,
            group_label(label)
        ));
        for (variant, d) in rows {
            let centre = y + STRIP_ROW / 2.0;
            out.push_str(&format!(
                "<g fill=\"{}\" fill-opacity=\"0.6\">",
                colour(*variant)
            ));
            for (i, sample) in d.samples_us.iter().enumerate() {
                // A small deterministic vertical jitter so equal samples stay visible.
                let jitter = ((i * 7) % 5) as f64 - 2.0;
                out.push_str(&format!(
                    "<circle cx=\"{:.1}\" cy=\"{:.1}\" r=\"2.5\"/>",
                    x_of(*sample),
                    centre + jitter * 1.2
                ));
            }
            let x = x_of(d.median_us);
            out.push_str(&format!(
                "</g><line class=\"median\" x1=\"{x:.1}\" y1=\"{:.1}\" x2=\"{x:.1}\" y2=\"{:.1}\">\
                 <title>{}: median {}</title></line>\
                 <text x=\"{:.1}\" y=\"{:.1}\">{}</text>\n",
                centre - 7.0,
                centre + 7.0,
                esc(names[*variant]),
                ms(d.median_us),
                WIDTH - VALUE_WIDTH + 8.0,
                centre + 4.0,
                ms(d.median_us)
            ));
            y += STRIP_ROW;
        }
        y += GROUP_GAP;
    }
    out.push_str("</svg>\n");
    out
}

fn colour(variant: usize) -> &'static str {
    PALETTE[variant % PALETTE.len()]
}

fn mb(bytes: f64) -> String {
    format!("{:.1} MB", bytes / 1e6)
}

fn ms(us: f64) -> String {
    format!("{:.2} ms", us / 1e3)
}

fn seconds(s: f64) -> String {
    format!("{s:.1} s")
}

/// Text escaped for HTML element content and attribute values.
fn esc(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::super::model::{Machine, UpdateCost};
    use super::*;

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
            runtime: None,
            workload: None,
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
            reason: "bench-report".to_string(),
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
                },
            ],
            ideal_bytes: Some(4_000_000),
            update: Some(UpdateCost {
                crate_name: "memchr".to_string(),
                per_variant: vec![
                    ("static".to_string(), 2, 5_000_000),
                    ("shared per-crate (unify semver)".to_string(), 1, 250_000),
                ],
            }),
            missing: vec!["perf counters: <not permitted>".to_string()],
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
    fn is_an_html5_document_with_four_charts() {
        let html = render(&sample());
        assert!(html.starts_with("<!DOCTYPE html>"));
        assert!(html.trim_end().ends_with("</html>"));
        assert!(html.contains("<title>cargo-share bench</title>"));
        assert_eq!(html.matches("<svg").count(), 4);
        assert_eq!(html.matches("<svg class=\"chart\"").count(), 4);
        for svg in svgs(&html) {
            assert!(svg.contains("width=\"100%\""));
            assert!(svg.contains("viewBox=\"0 0 1000 "));
            assert!(svg.contains("<title>"));
        }
        assert!(!html.contains("<script"));
        // Self-contained: the only URLs are the SVG namespace declarations.
        assert_eq!(html.matches("://").count(), 4);
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
        // Besides the bars, the only rects are the legend swatches (one per variant per chart).
        assert_eq!(html.matches("<rect").count(), 10 + 4 * 2);
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
        assert_eq!(html.matches("<svg class=\"chart\"").count(), 3);
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
