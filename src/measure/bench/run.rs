//! The bench run: builds every variant, then measures each figure in turn.

use std::collections::BTreeMap;
use std::path::PathBuf;

use anyhow::{Context, Result};

use crate::measure::bench::cold_start::{measure_cold_start, measure_fully_cold};
use crate::measure::bench::disk::{break_even, ideal_bytes};
use crate::measure::bench::long_workload::prepare_long;
use crate::measure::bench::machine::machine;
use crate::measure::bench::memory::{measure_memory, stop_at_exit_library};
use crate::measure::bench::model::*;
use crate::measure::bench::options::{BenchOptions, BuiltVariant};
use crate::measure::bench::shared_variant::{build_shared, shared_dir_name};
use crate::measure::bench::startup_counters::measure_counters;
use crate::measure::bench::static_build::build_static;
use crate::measure::bench::table::print_table;
use crate::measure::bench::timing::interleaved;
use crate::measure::bench::update_cost::update_cost;
use crate::measure::bench::workload::{startup_invocations, Workload};
use crate::shell::Shell;
use crate::source::ProgramSource;
use crate::toolchain::Toolchain;

/// Where one class of workload (short, long) puts its figures in a program's.
type Slot = fn(&mut ProgramFigures) -> (&mut Option<Distribution>, &mut Option<String>);

/// `cargo share bench`.
pub fn bench(options: &BenchOptions, shell: &Shell) -> Result<BenchReport> {
    std::fs::create_dir_all(&options.work_dir)
        .with_context(|| format!("creating {}", options.work_dir.display()))?;
    // Cold builds unless told to reuse: build outputs of an earlier run are removed (fetched
    // sources and the corpus stay).
    let mut outputs = vec!["static-target".to_string(), "stripped".to_string()];
    outputs.extend(
        options
            .layouts
            .iter()
            .map(|&l| shared_dir_name(l, options.build.binding)),
    );
    for dir in outputs {
        let d = options.work_dir.join(dir);
        if !options.reuse && d.exists() {
            std::fs::remove_dir_all(&d).with_context(|| format!("removing {}", d.display()))?;
        }
    }
    if !options.reuse {
        if let Ok(entries) = std::fs::read_dir(options.work_dir.join("cache")) {
            for e in entries.flatten() {
                if e.file_name().to_string_lossy().starts_with("target-") {
                    std::fs::remove_dir_all(e.path())?;
                }
            }
        }
    }
    let toolchain = Toolchain::detect()?;
    let mut report = BenchReport {
        reason: "bench-finished".into(),
        machine: machine(&toolchain),
        programs: options
            .build
            .programs
            .iter()
            .map(|p| match p {
                ProgramSource::Path(p) => p.display().to_string(),
                ProgramSource::Registry(s) => s.to_string(),
                ProgramSource::OtherRegistry(s, registry) => format!("{s} ({registry})"),
                ProgramSource::Git(s) => s.to_string(),
            })
            .collect(),
        ..Default::default()
    };
    let mut variants = vec![build_static(options, &toolchain, shell)?];
    for &layout in &options.layouts {
        variants.push(build_shared(options, layout, shell)?);
    }
    let order: Vec<String> = variants[0]
        .figures
        .programs
        .iter()
        .map(|p| p.program.clone())
        .collect();

    // Disk: break-even and ideal.
    let sizes = |v: &BuiltVariant| -> BTreeMap<String, u64> {
        v.figures
            .programs
            .iter()
            .map(|p| (p.program.clone(), p.binary_bytes))
            .collect()
    };
    let static_sizes = sizes(&variants[0]);
    for v in variants.iter_mut().skip(1) {
        let lib_sizes: BTreeMap<String, u64> = v
            .figures
            .libraries
            .iter()
            .map(|l| (l.file.clone(), l.bytes))
            .collect();
        v.figures.break_even_programs =
            break_even(&order, &static_sizes, &sizes(v), &v.needs, &lib_sizes);
    }
    let static_unstripped: Vec<PathBuf> =
        variants[0].unstripped.values().flatten().cloned().collect();
    report.ideal_bytes = ideal_bytes(variants[0].figures.binaries_bytes, &static_unstripped)?;
    if report.ideal_bytes.is_none() {
        report
            .missing
            .push("ideal: a static binary has no symbol table".into());
    }

    // Workloads.
    shell.status("Preparing", "workload inputs");
    let binary_names: BTreeMap<String, String> = variants[0]
        .figures
        .programs
        .iter()
        .map(|p| (p.program.clone(), p.binary.clone()))
        .collect();
    let static_binary = |program: &str| variants[0].binaries.get(program).cloned();
    let workloads =
        crate::measure::bench::workload::prepare(&options.work_dir, &binary_names, &static_binary)?;
    let long_workloads = prepare_long(&options.work_dir, &binary_names)?;

    // The start-up invocation of each program (`--version`, else `--help`, or as given).
    let static_binaries: BTreeMap<String, PathBuf> = variants[0]
        .binaries
        .iter()
        .map(|(p, b)| (p.clone(), b.clone()))
        .collect();
    let startups =
        startup_invocations(&static_binaries, &options.startup_args, &mut report.missing);

    // Memory.
    shell.status("Measuring", "memory (all programs at once, held at exit)");
    match stop_at_exit_library(&options.work_dir.join("harness")) {
        Ok(preload) => {
            for v in &mut variants {
                measure_memory(v, &preload, &workloads, &startups, &mut report.missing)?;
            }
        }
        Err(e) => report.missing.push(format!("memory: {e:#}")),
    }

    // Start-up and run time.
    shell.status(
        "Measuring",
        format!("start-up ({} runs per program and build)", options.runs),
    );
    for program in &order {
        if let Some(startup) = startups.get(program) {
            let d = interleaved(&variants, program, startup, options.runs)?;
            for (v, d) in variants.iter_mut().zip(d) {
                if let Some(f) = v.figures.program_mut(program) {
                    f.startup = d;
                    f.startup_command = Some(startup.describe());
                }
            }
        }
        let classes: [(&str, &BTreeMap<String, Workload>, usize, Slot); 2] = [
            ("", &workloads, (options.runs / 3).max(5), |f| {
                (&mut f.runtime, &mut f.workload)
            }),
            ("long ", &long_workloads, (options.runs / 10).max(3), |f| {
                (&mut f.long_runtime, &mut f.long_workload)
            }),
        ];
        for (class, set, runs, slot) in classes {
            let Some(workload) = set.get(program) else {
                report.missing.push(format!(
                    "{class}run time of {program}: no {class}workload defined for it"
                ));
                continue;
            };
            shell.status(
                "Measuring",
                format!("{program} {class}{}", workload.describe()),
            );
            let d = interleaved(&variants, program, workload, runs)?;
            for (v, d) in variants.iter_mut().zip(d) {
                if let Some(f) = v.figures.program_mut(program) {
                    let (time, command) = slot(f);
                    *time = d;
                    *command = Some(workload.describe());
                }
            }
        }
    }

    // Start-up counters and cold start.
    shell.status(
        "Measuring",
        "start-up counters (callgrind, LD_DEBUG=statistics, strace)",
    );
    measure_counters(
        &mut variants,
        &order,
        &startups,
        &options.work_dir.join("counters"),
        &mut report.missing,
    )?;
    let rounds = (options.runs / 3).max(3);
    shell.status(
        "Measuring",
        format!("cold start ({rounds} rounds per program and build)"),
    );
    match measure_cold_start(
        &mut variants,
        &order,
        &startups,
        &options.work_dir.join("stripped"),
        rounds,
    ) {
        Ok(resident) => report.cold_resident_after_drop = Some(resident),
        Err(e) => report.missing.push(format!("cold start: {e:#}")),
    }
    shell.status(
        "Measuring",
        format!("fully cold start, and shared after a preload ({rounds} rounds)"),
    );
    match measure_fully_cold(
        &mut variants,
        &order,
        &startups,
        &options.work_dir.join("stripped"),
        rounds,
    ) {
        Ok(resident) => {
            let worst = report.cold_resident_after_drop.unwrap_or(0.0).max(resident);
            report.cold_resident_after_drop = Some(worst);
        }
        Err(e) => report.missing.push(format!("fully cold start: {e:#}")),
    }
    report.variants = variants.into_iter().map(|v| v.figures).collect();
    if let Some(st) = report.variants.iter().find(|v| !v.shared).cloned() {
        for v in report.variants.iter_mut().filter(|v| v.shared) {
            v.ratios = ratio_summaries(v, &st);
        }
    }
    if report
        .variants
        .iter()
        .any(|v| v.build_cpu_seconds.is_none())
    {
        report
            .missing
            .push("build time of reused builds (--reuse) that were never built cold in this work directory".into());
    }
    if let Some(crate_name) = &options.update_crate {
        match update_cost(options, crate_name, &toolchain, shell) {
            Ok((cost, missing)) => {
                report.update = Some(cost);
                report.missing.extend(missing);
            }
            Err(e) => report.missing.push(format!("update cost: {e:#}")),
        }
    } else {
        report
            .missing
            .push("update cost: not asked for (--update-crate NAME)".into());
    }
    print_table(&report, shell);
    shell.json(&report);
    if let Some(path) = &options.html {
        std::fs::write(path, crate::measure::bench::html::render(&report))
            .with_context(|| format!("writing {}", path.display()))?;
        shell.status("Wrote", format!("the report to {}", path.display()));
    }
    Ok(report)
}
