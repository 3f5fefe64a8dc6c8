//! What sharing saves as the set grows: the sets the book's results measured (grouped layout, no
//! options) and the report's own run, programs against the disk and PSS ratios to static, drawn
//! as an SVG scatter chart with issue 34's target for a desktop set. The book shows the measured
//! sets' chart (`docs/src/set-growth.svg`, written by this file's test:
//! `UPDATE_SET_GROWTH=1 cargo test --lib set_growth`).

use crate::measure::bench::html::chart::{axis, colour, legend, LABEL_WIDTH, VALUE_WIDTH, WIDTH};
use crate::measure::bench::html::format::esc;
use crate::measure::bench::model::{BenchReport, Variant};

/// One measured set: its name, how many programs, and shared / static for stripped disk
/// (binaries and libraries, libstd included) and for PSS with all its programs running.
pub(crate) struct SetPoint {
    pub(crate) name: String,
    pub(crate) programs: usize,
    pub(crate) disk: f64,
    pub(crate) pss: f64,
}

/// The sets of `docs/src/results.md` built grouped with no options, at the ratios it gives
/// (from exact byte counts): the desktop set's first part (alacritty, hexyl, sd; 2026-12-06:
/// disk 9.8 of 12.1 MB, PSS 6.3 of 7.5 MB), the reference set (2026-12-01: 20.2 of 33.9 MB,
/// 34.9 of 44.9 MB) and the second set (2026-12-01: 44.6 of 59.5 MB, 27.0 of 27.4 MB).
pub(crate) fn measured() -> Vec<SetPoint> {
    let point = |name: &str, programs, disk, pss| SetPoint {
        name: name.to_string(),
        programs,
        disk,
        pss,
    };
    vec![
        point("desktop set, part 1", 3, 0.81, 0.83),
        point("reference set", 10, 0.60, 0.78),
        point("second set", 10, 0.75, 0.99),
    ]
}

/// Issue 34's target for a desktop set of 25 programs: disk <= 0.55x, PSS <= 0.75x.
pub(crate) fn target() -> SetPoint {
    SetPoint {
        name: "target, desktop set".to_string(),
        programs: 25,
        disk: 0.55,
        pss: 0.75,
    }
}

/// The report's own set as a point: its first shared variant against the static one, when both
/// were measured (disk always, PSS where both have it).
fn this_run(report: &BenchReport) -> Option<SetPoint> {
    let base = report.variants.iter().find(|v| !v.shared)?;
    let shared = report.variants.iter().find(|v| v.shared)?;
    let pss = |v: &Variant| v.pss_total_bytes.map(|b| b as f64);
    Some(SetPoint {
        name: format!("this run ({})", shared.name),
        programs: base.programs.len(),
        disk: shared.disk_total() as f64 / base.disk_total().max(1) as f64,
        pss: pss(shared)? / pss(base)?,
    })
}

/// The report's section: the chart of the measured sets and this run.
pub(crate) fn section(report: &BenchReport) -> String {
    let mut sets = measured();
    sets.extend(this_run(report));
    format!(
        "<h2>What sharing saves as the set grows</h2>\n<p>Disk and PSS of the grouped layout \
         against static for the sets measured in the book's results (2026-12-01 and \
         2026-12-06){}; hollow: issue 34's target for a desktop set of 25 programs.</p>\n{}",
        if sets.len() > measured().len() {
            " and this run"
        } else {
            ""
        },
        chart(&sets, &target())
    )
}

const PLOT_HEIGHT: f64 = 300.0;
const AXIS_SPACE: f64 = 48.0;

/// The chart: x the number of programs, y shared / static; a filled dot per measured set and
/// figure (disk, PSS), hollow ones for the target, and a line at 1.0 (static).
pub(crate) fn chart(sets: &[SetPoint], target: &SetPoint) -> String {
    let (legend, top) = legend(&["disk, shared / static", "PSS, shared / static"]);
    let bottom = top + PLOT_HEIGHT;
    let plot = WIDTH - LABEL_WIDTH - VALUE_WIDTH;
    let most = sets.iter().chain([target]).map(|s| s.programs).max();
    // Room on the right for the last point's label.
    let (x_max, x_step) = axis(most.unwrap_or(1) as f64 * 1.2);
    let highest = sets
        .iter()
        .flat_map(|s| [s.disk, s.pss])
        .fold(1.0, f64::max);
    let (y_max, y_step) = axis(highest);
    let x = |programs: f64| LABEL_WIDTH + programs / x_max * plot;
    let y = |ratio: f64| bottom - ratio / y_max * PLOT_HEIGHT;
    let title = "What sharing saves as the set grows: shared / static against programs";
    let mut out = format!(
        "<svg class=\"chart\" xmlns=\"http://www.w3.org/2000/svg\" role=\"img\" width=\"100%\" \
         viewBox=\"0 0 {WIDTH} {:.0}\" font-size=\"12\" font-family=\"sans-serif\">\n\
         <title>{}</title>\n{legend}",
        bottom + AXIS_SPACE,
        esc(title)
    );
    out.push_str(&grid(x_max, x_step, y_max, y_step, &x, &y, (top, bottom)));
    out.push_str(&format!(
        "<line x1=\"{LABEL_WIDTH}\" y1=\"{0:.1}\" x2=\"{1:.1}\" y2=\"{0:.1}\" stroke=\"#555\" \
         stroke-dasharray=\"6 4\"/><text x=\"{1:.1}\" y=\"{2:.1}\" text-anchor=\"end\">static \
         (1.0)</text>\n",
        y(1.0),
        LABEL_WIDTH + plot,
        y(1.0) - 4.0
    ));
    // Labels: PSS above its dot, disk below; every other set's on the left, so that two sets
    // with as many programs do not write over each other.
    let points = sets.iter().map(|s| (s, false)).chain([(target, true)]);
    for (index, (set, hollow)) in points.enumerate() {
        let (dx, anchor) = if index % 2 == 0 {
            (9.0, "start")
        } else {
            (-9.0, "end")
        };
        for (series, ratio, dy) in [(0, set.disk, 16.0), (1, set.pss, -8.0)] {
            let fill = if hollow { "white" } else { colour(series) };
            let (cx, cy) = (x(set.programs as f64), y(ratio));
            out.push_str(&format!(
                "<circle cx=\"{cx:.1}\" cy=\"{cy:.1}\" r=\"5\" fill=\"{fill}\" stroke=\"{}\" \
                 stroke-width=\"2\"><title>{}: {} programs, {ratio:.2}x</title></circle>\
                 <text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"{anchor}\">{ratio:.2}x {}</text>\n",
                colour(series),
                esc(&set.name),
                set.programs,
                cx + dx,
                cy + dy,
                esc(&set.name)
            ));
        }
    }
    out.push_str("</svg>\n");
    out
}

/// Grid lines and labels of both axes.
fn grid(
    x_max: f64,
    x_step: f64,
    y_max: f64,
    y_step: f64,
    x: &dyn Fn(f64) -> f64,
    y: &dyn Fn(f64) -> f64,
    (top, bottom): (f64, f64),
) -> String {
    let mut out = String::new();
    let line = "stroke=\"#e3e3e3\"";
    for i in 0..=(x_max / x_step).round() as usize {
        let v = x_step * i as f64;
        out.push_str(&format!(
            "<line x1=\"{0:.1}\" y1=\"{top:.1}\" x2=\"{0:.1}\" y2=\"{bottom:.1}\" {line}/>\
             <text x=\"{0:.1}\" y=\"{1:.1}\" text-anchor=\"middle\">{v}</text>\n",
            x(v),
            bottom + 16.0
        ));
    }
    for i in 0..=(y_max / y_step).round() as usize {
        let v = y_step * i as f64;
        out.push_str(&format!(
            "<line x1=\"{LABEL_WIDTH}\" y1=\"{0:.1}\" x2=\"{1:.1}\" y2=\"{0:.1}\" {line}/>\
             <text x=\"{2:.1}\" y=\"{3:.1}\" text-anchor=\"end\">{v:.1}x</text>\n",
            y(v),
            x(x_max),
            LABEL_WIDTH - 6.0,
            y(v) + 4.0
        ));
    }
    out.push_str(&format!(
        "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\">programs in the set</text>\n",
        x(x_max / 2.0),
        bottom + 36.0
    ));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The book's chart is this file's, from the measured sets: written again with
    /// `UPDATE_SET_GROWTH=1`.
    #[test]
    fn set_growth_chart_in_the_book_is_up_to_date() {
        let svg = chart(&measured(), &target());
        assert_eq!(svg.matches("<circle").count(), 2 * (measured().len() + 1));
        assert!(svg.contains("0.60x reference set") && svg.contains("0.99x second set"));
        let path =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/src/set-growth.svg");
        if std::env::var_os("UPDATE_SET_GROWTH").is_some() {
            std::fs::write(&path, &svg).unwrap();
        }
        let book = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(
            book == svg,
            "{} is not the chart of the measured sets: UPDATE_SET_GROWTH=1 cargo test --lib \
             set_growth",
            path.display()
        );
    }
}
