//! The report's SVG charts (bars per program and variant, start-up strips), drawn as strings.

use crate::measure::bench::html::format::{esc, mb, ms};
use crate::measure::bench::model::{BenchReport, Distribution, ProgramFigures};

/// One colour per variant, in variant order (wrapping after ten).
const PALETTE: [&str; 10] = [
    "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f",
    "#bcbd22", "#17becf",
];

/// Chart geometry, in viewBox units.
pub(crate) const WIDTH: f64 = 1000.0;
pub(crate) const LABEL_WIDTH: f64 = 230.0;
pub(crate) const VALUE_WIDTH: f64 = 110.0;
const BAR_HEIGHT: f64 = 16.0;
const BAR_GAP: f64 = 3.0;
const GROUP_GAP: f64 = 14.0;
const STRIP_ROW: f64 = 16.0;
const LEGEND_ROW: f64 = 20.0;
const AXIS_SPACE: f64 = 48.0;
/// Longest group label drawn in full; longer ones are shortened with an ellipsis.
const LABEL_CHARS: usize = 32;

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

pub(crate) fn charts(report: &BenchReport) -> String {
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
pub(crate) fn axis(max: f64) -> (f64, f64) {
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
pub(crate) fn legend(names: &[&str]) -> (String, f64) {
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
        "Start-up distributions (exec of --version, else --help or --startup-args)",
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

pub(crate) fn colour(variant: usize) -> &'static str {
    PALETTE[variant % PALETTE.len()]
}
