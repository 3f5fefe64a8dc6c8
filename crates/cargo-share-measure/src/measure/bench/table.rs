//! The bench report as a table on stdout.

use crate::measure::bench::model::*;
use cargo_share_core::shell::{human_bytes, Shell};

fn ratio(a: Option<f64>, b: Option<f64>) -> String {
    match (a, b) {
        (Some(a), Some(b)) if b > 0.0 => format!("{:.2}x", a / b),
        _ => "n/a".into(),
    }
}

fn median(values: impl Iterator<Item = f64>) -> Option<f64> {
    let mut v: Vec<f64> = values.collect();
    if v.is_empty() {
        return None;
    }
    v.sort_by(|a, b| a.total_cmp(b));
    Some(v[v.len() / 2])
}

/// The terminal table: per program and totals, each shared variant against static.
pub(crate) fn print_table(report: &BenchReport, shell: &Shell) {
    let Some(st) = report.variants.iter().find(|v| !v.shared) else {
        return;
    };
    let m = &report.machine;
    shell.result(format!(
        "\ncargo share bench, {}, {}, {} CPUs, {:.0} GiB, {}",
        m.date,
        m.system,
        m.cpus,
        m.memory_bytes as f64 / (1u64 << 30) as f64,
        m.rustc
    ));
    for v in report.variants.iter().filter(|v| v.shared) {
        shell.result(format!("\n{} against static", v.name));
        program_rows(st, v, shell);
        disk_and_memory_rows(report, st, v, shell);
        counter_rows(st, v, shell);
        fully_cold_rows(st, v, shell);
        summary_row(st, v, shell);
    }
    if let Some(r) = report.cold_resident_after_drop {
        shell.result(format!(
            "cold start: at most {:.1}% of the dropped files' pages were still cached right after a drop",
            r * 100.0
        ));
    }
    if let Some(update) = &report.update {
        update_rows(update, shell);
    }
    for m in &report.missing {
        shell.result(format!("not measured: {m}"));
    }
}

/// Per program: binary size, libraries, PSS and start-up, static then this variant, and the
/// start-up and run-time ratios.
fn program_rows(st: &Variant, v: &Variant, shell: &Shell) {
    shell.result(format!(
        "{:<12} {:>9} {:>9} {:>5} {:>9} {:>9} {:>12} {:>12} {:>8} {:>8}",
        "program",
        "bin st",
        "bin sh",
        "libs",
        "PSS st",
        "PSS sh",
        "start st",
        "start sh",
        "start",
        "run"
    ));
    for p in &v.programs {
        let s = st.programs.iter().find(|q| q.program == p.program);
        let us =
            |d: Option<&Distribution>| d.map_or("n/a".into(), |d| format!("{:.0}us", d.median_us));
        let pss = |x: Option<u64>| x.map_or("n/a".into(), human_bytes);
        shell.result(format!(
            "{:<12} {:>9} {:>9} {:>5} {:>9} {:>9} {:>12} {:>12} {:>8} {:>8}",
            p.program,
            s.map_or("n/a".into(), |s| human_bytes(s.binary_bytes)),
            human_bytes(p.binary_bytes),
            p.libraries,
            pss(s.and_then(|s| s.pss_bytes)),
            pss(p.pss_bytes),
            us(s.and_then(|s| s.startup.as_ref())),
            us(p.startup.as_ref()),
            ratio(
                p.startup.as_ref().map(|d| d.median_us),
                s.and_then(|s| s.startup.as_ref()).map(|d| d.median_us)
            ),
            ratio(
                p.runtime.as_ref().map(|d| d.median_us),
                s.and_then(|s| s.runtime.as_ref()).map(|d| d.median_us)
            ),
        ));
    }
}

/// Totals: disk (against static, the ideal and the break-even) and memory with all programs
/// running at once.
fn disk_and_memory_rows(report: &BenchReport, st: &Variant, v: &Variant, shell: &Shell) {
    let f = |x: u64| Some(x as f64);
    shell.result(format!(
        "disk: static {} | shared {} (binaries {} + {} libraries {}) = {} | ideal {} = {} | break-even: {}",
        human_bytes(st.disk_total()),
        human_bytes(v.disk_total()),
        human_bytes(v.binaries_bytes),
        v.libraries.len(),
        human_bytes(v.libraries_bytes),
        ratio(f(v.disk_total()), f(st.disk_total())),
        report.ideal_bytes.map_or("n/a".into(), human_bytes),
        ratio(report.ideal_bytes.map(|x| x as f64), f(st.disk_total())),
        v.break_even_programs.map_or(
            format!("not within these {} programs", v.programs.len()),
            |k| format!("from {k} programs")
        ),
    ));
    shell.result(format!(
        "memory, all at once: PSS static {} | shared {} = {} ; USS {} | {} = {}",
        st.pss_total_bytes.map_or("n/a".into(), human_bytes),
        v.pss_total_bytes.map_or("n/a".into(), human_bytes),
        ratio(
            v.pss_total_bytes.map(|x| x as f64),
            st.pss_total_bytes.map(|x| x as f64)
        ),
        st.uss_total_bytes.map_or("n/a".into(), human_bytes),
        v.uss_total_bytes.map_or("n/a".into(), human_bytes),
        ratio(
            v.uss_total_bytes.map(|x| x as f64),
            st.uss_total_bytes.map(|x| x as f64)
        ),
    ));
}

/// The medians of the programs' start-up and run-time medians, and the build CPU time, this
/// variant against static.
fn summary_row(st: &Variant, v: &Variant, shell: &Shell) {
    let startup = |v: &Variant| {
        median(
            v.programs
                .iter()
                .filter_map(|p| p.startup.as_ref().map(|d| d.median_us)),
        )
    };
    let runtime = |v: &Variant| {
        median(
            v.programs
                .iter()
                .filter_map(|p| p.runtime.as_ref().map(|d| d.median_us)),
        )
    };
    shell.result(format!(
        "start-up, median of medians: {} | run time: {} | build CPU: static {} | shared {} = {}",
        ratio(startup(v), startup(st)),
        ratio(runtime(v), runtime(st)),
        st.build_cpu_seconds
            .map_or("n/a".into(), |s| format!("{s:.0}s")),
        v.build_cpu_seconds
            .map_or("n/a".into(), |s| format!("{s:.0}s")),
        ratio(v.build_cpu_seconds, st.build_cpu_seconds),
    ));
}

/// Per fix of the update cost: what each variant ships (against static) and how many of its
/// files stay byte-identical.
fn update_rows(update: &UpdateCost, shell: &Shell) {
    for fix in &update.fixes {
        shell.result(format!(
            "\nupdate cost: a {} fix to {} (`{}`, {}) ships (stripped files that changed)",
            fix.kind, update.crate_name, fix.function, fix.source
        ));
        let base = fix
            .per_variant
            .iter()
            .find(|v| v.variant == "static")
            .map(|v| v.bytes as f64);
        for v in &fix.per_variant {
            shell.result(format!(
                "{:<32} {:>4} files {:>10} {}   {} of {} files byte-identical",
                v.variant,
                v.files,
                human_bytes(v.bytes),
                ratio(Some(v.bytes as f64), base),
                v.identical_files,
                v.total_files
            ));
        }
    }
}

/// Per program: the fully cold start, static against this variant without and after a preload
/// (medians, and each against static's).
fn fully_cold_rows(st: &Variant, v: &Variant, shell: &Shell) {
    if v.programs.iter().all(|p| p.cold_full.is_none()) {
        return;
    }
    shell.result(format!(
        "{:<12} {:>12} {:>12} {:>7} {:>16} {:>7}",
        "fully cold", "static", "shared", "", "after preload", ""
    ));
    for p in &v.programs {
        let s = st
            .programs
            .iter()
            .find(|q| q.program == p.program)
            .and_then(|s| s.cold_full.as_ref())
            .map(|d| d.median_us);
        let full = p.cold_full.as_ref().map(|d| d.median_us);
        let preloaded = p.cold_preloaded.as_ref().map(|d| d.median_us);
        let millis = |x: Option<f64>| x.map_or("n/a".into(), |x| format!("{:.1}ms", x / 1e3));
        shell.result(format!(
            "{:<12} {:>12} {:>12} {:>7} {:>16} {:>7}",
            p.program,
            millis(s),
            millis(full),
            ratio(full, s),
            millis(preloaded),
            ratio(preloaded, s)
        ));
    }
}

/// Per program: start-up counters, long run time and cold start, static then this variant;
/// then the per-figure ratio summaries (median and range over the programs).
fn counter_rows(st: &Variant, v: &Variant, shell: &Shell) {
    shell.result(format!(
        "{:<12} {:>19} {:>11} {:>9} {:>19} {:>8} {:>19} {:>8}",
        "program",
        "instructions st/sh",
        "lookups",
        "file sc",
        "long run st/sh",
        "long",
        "cold start st/sh",
        "cold"
    ));
    for p in &v.programs {
        let s = st.programs.iter().find(|q| q.program == p.program);
        let pair = |get: &dyn Fn(&ProgramFigures) -> Option<String>| {
            format!(
                "{}/{}",
                s.and_then(get).unwrap_or_else(|| "n/a".into()),
                get(p).unwrap_or_else(|| "n/a".into())
            )
        };
        let kilo = |x: Option<u64>| x.map(|x| format!("{}k", x / 1000));
        let num = |x: Option<u64>| x.map(|x| x.to_string());
        let millis = |d: Option<&Distribution>| d.map(|d| format!("{:.1}ms", d.median_us / 1e3));
        let median = |d: Option<&Distribution>| d.map(|d| d.median_us);
        shell.result(format!(
            "{:<12} {:>19} {:>11} {:>9} {:>19} {:>8} {:>19} {:>8}",
            p.program,
            pair(&|f| kilo(f.counters.instructions)),
            pair(&|f| num(f.counters.symbol_lookups)),
            pair(&|f| num(f.counters.file_syscalls)),
            pair(&|f| millis(f.long_runtime.as_ref())),
            ratio(
                median(p.long_runtime.as_ref()),
                median(s.and_then(|s| s.long_runtime.as_ref()))
            ),
            pair(&|f| millis(f.cold_start.as_ref())),
            ratio(
                median(p.cold_start.as_ref()),
                median(s.and_then(|s| s.cold_start.as_ref()))
            ),
        ));
    }
    let shown: Vec<String> = v
        .ratios
        .iter()
        .map(|r| {
            format!(
                "{} {:.2}x ({:.2}x-{:.2}x, {} programs)",
                r.figure, r.median, r.min, r.max, r.programs
            )
        })
        .collect();
    if !shown.is_empty() {
        shell.result(format!(
            "shared/static per program, median (range): {}",
            shown.join(" | ")
        ));
    }
}
