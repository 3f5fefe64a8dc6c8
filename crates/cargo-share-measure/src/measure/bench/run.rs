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
use cargo_share_compile::toolchain::Toolchain;
use cargo_share_core::message::{Message, Report};
use cargo_share_core::shell::Shell;
use cargo_share_core::source::ProgramSource;

/// Where one class of workload (short, long) puts its figures in a program's.
type Slot = fn(&mut ProgramFigures) -> (&mut Option<Distribution>, &mut Option<String>);

/// `cargo share bench`.
pub fn bench(options: &BenchOptions, shell: &Shell) -> Result<BenchReport> {
    clear_outputs(options)?;
    let toolchain = Toolchain::detect()?;
    let report = new_report(options, &toolchain);
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
    let mut run = BenchRun {
        options,
        shell,
        variants,
        order,
        report,
    };
    run.measure_disk()?;
    let inputs = run.prepare_inputs()?;
    run.measure_memory(&inputs)?;
    run.measure_times(&inputs)?;
    run.measure_start(&inputs.startups)?;
    let mut report = run.finish();
    add_update_cost(options, &toolchain, &mut report, shell);
    print_table(&report, shell);
    shell.message(&Message::BenchFinished(Report::of(&report)));
    if let Some(path) = &options.html {
        std::fs::write(path, crate::measure::bench::html::render(&report))
            .with_context(|| format!("writing {}", path.display()))?;
        shell.status("Wrote", format!("the report to {}", path.display()));
    }
    Ok(report)
}

/// Makes the work directory. Cold builds unless told to reuse: build outputs of an earlier run
/// are removed (fetched sources and the corpus stay).
fn clear_outputs(options: &BenchOptions) -> Result<()> {
    std::fs::create_dir_all(&options.work_dir)
        .with_context(|| format!("creating {}", options.work_dir.display()))?;
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
    Ok(())
}

/// The report before anything is measured: the machine and the programs as given.
fn new_report(options: &BenchOptions, toolchain: &Toolchain) -> BenchReport {
    BenchReport {
        machine: machine(toolchain),
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
    }
}

/// What each program is run with: its short and long workloads and its start-up invocation.
struct Inputs {
    workloads: BTreeMap<String, Workload>,
    long_workloads: BTreeMap<String, Workload>,
    /// `--version`, else `--help`, or as given.
    startups: BTreeMap<String, Workload>,
}

/// A bench run once its variants are built (the static one first), measuring into `report`.
struct BenchRun<'a> {
    options: &'a BenchOptions,
    shell: &'a Shell,
    variants: Vec<BuiltVariant>,
    /// The programs, in the static build's order.
    order: Vec<String>,
    report: BenchReport,
}

impl BenchRun<'_> {
    /// Disk: each shared variant's break-even number of programs, and the ideal size.
    fn measure_disk(&mut self) -> Result<()> {
        let variants = &mut self.variants;
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
                break_even(&self.order, &static_sizes, &sizes(v), &v.needs, &lib_sizes);
        }
        let static_unstripped: Vec<PathBuf> =
            variants[0].unstripped.values().flatten().cloned().collect();
        let report = &mut self.report;
        report.ideal_bytes = ideal_bytes(variants[0].figures.binaries_bytes, &static_unstripped)?;
        if report.ideal_bytes.is_none() {
            report
                .missing
                .push("ideal: a static binary has no symbol table".into());
        }
        Ok(())
    }

    /// The workload inputs (made from the static binaries) and the start-up invocations.
    fn prepare_inputs(&mut self) -> Result<Inputs> {
        self.shell.status("Preparing", "workload inputs");
        let work_dir = &self.options.work_dir;
        let binary_names: BTreeMap<String, String> = self.variants[0]
            .figures
            .programs
            .iter()
            .map(|p| (p.program.clone(), p.binary.clone()))
            .collect();
        let static_binary = |program: &str| self.variants[0].binaries.get(program).cloned();
        let workloads =
            crate::measure::bench::workload::prepare(work_dir, &binary_names, &static_binary)?;
        let long_workloads = prepare_long(work_dir, &binary_names)?;
        // The start-up invocation of each program (`--version`, else `--help`, or as given).
        let static_binaries: BTreeMap<String, PathBuf> = self.variants[0]
            .binaries
            .iter()
            .map(|(p, b)| (p.clone(), b.clone()))
            .collect();
        let startups = startup_invocations(
            &static_binaries,
            &self.options.startup_args,
            &mut self.report.missing,
        );
        Ok(Inputs {
            workloads,
            long_workloads,
            startups,
        })
    }

    /// Memory: all programs at once, held at exit (missing when the harness cannot be built).
    fn measure_memory(&mut self, inputs: &Inputs) -> Result<()> {
        self.shell
            .status("Measuring", "memory (all programs at once, held at exit)");
        match stop_at_exit_library(&self.options.work_dir.join("harness")) {
            Ok(preload) => {
                for v in &mut self.variants {
                    measure_memory(
                        v,
                        &preload,
                        &inputs.workloads,
                        &inputs.startups,
                        &mut self.report.missing,
                    )?;
                }
            }
            Err(e) => self.report.missing.push(format!("memory: {e:#}")),
        }
        Ok(())
    }

    /// Start-up and run time (short and long workloads) of each program, interleaved across
    /// the variants.
    fn measure_times(&mut self, inputs: &Inputs) -> Result<()> {
        let runs = self.options.runs;
        self.shell.status(
            "Measuring",
            format!("start-up ({runs} runs per program and build)"),
        );
        for program in &self.order {
            if let Some(startup) = inputs.startups.get(program) {
                let d = interleaved(&self.variants, program, startup, runs)?;
                for (v, d) in self.variants.iter_mut().zip(d) {
                    if let Some(f) = v.figures.program_mut(program) {
                        f.startup = d;
                        f.startup_command = Some(startup.describe());
                    }
                }
            }
            let classes: [(&str, &BTreeMap<String, Workload>, usize, Slot); 2] = [
                ("", &inputs.workloads, (runs / 3).max(5), |f| {
                    (&mut f.runtime, &mut f.workload)
                }),
                ("long ", &inputs.long_workloads, (runs / 10).max(3), |f| {
                    (&mut f.long_runtime, &mut f.long_workload)
                }),
            ];
            for (class, set, runs, slot) in classes {
                let Some(workload) = set.get(program) else {
                    self.report.missing.push(format!(
                        "{class}run time of {program}: no {class}workload defined for it"
                    ));
                    continue;
                };
                self.shell.status(
                    "Measuring",
                    format!("{program} {class}{}", workload.describe()),
                );
                let d = interleaved(&self.variants, program, workload, runs)?;
                for (v, d) in self.variants.iter_mut().zip(d) {
                    if let Some(f) = v.figures.program_mut(program) {
                        let (time, command) = slot(f);
                        *time = d;
                        *command = Some(workload.describe());
                    }
                }
            }
        }
        Ok(())
    }

    /// Start-up counters, cold start and fully cold start (the worst page-cache residue after a
    /// drop is reported).
    fn measure_start(&mut self, startups: &BTreeMap<String, Workload>) -> Result<()> {
        let (options, shell, report) = (self.options, self.shell, &mut self.report);
        shell.status(
            "Measuring",
            "start-up counters (callgrind, LD_DEBUG=statistics, strace)",
        );
        measure_counters(
            &mut self.variants,
            &self.order,
            startups,
            &options.work_dir.join("counters"),
            &mut report.missing,
        )?;
        let rounds = (options.runs / 3).max(3);
        shell.status(
            "Measuring",
            format!("cold start ({rounds} rounds per program and build)"),
        );
        match measure_cold_start(
            &mut self.variants,
            &self.order,
            startups,
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
            &mut self.variants,
            &self.order,
            startups,
            &options.work_dir.join("stripped"),
            rounds,
        ) {
            Ok(resident) => {
                let worst = report.cold_resident_after_drop.unwrap_or(0.0).max(resident);
                report.cold_resident_after_drop = Some(worst);
            }
            Err(e) => report.missing.push(format!("fully cold start: {e:#}")),
        }
        Ok(())
    }

    /// The variants' figures into the report, each shared one with its ratios to the static
    /// one; reused builds' missing build times are said.
    fn finish(self) -> BenchReport {
        let mut report = self.report;
        report.variants = self.variants.into_iter().map(|v| v.figures).collect();
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
        report
    }
}

/// The update cost of `--update-crate NAME` (missing, with why, when not asked for or when it
/// cannot be measured).
fn add_update_cost(
    options: &BenchOptions,
    toolchain: &Toolchain,
    report: &mut BenchReport,
    shell: &Shell,
) {
    if let Some(crate_name) = &options.update_crate {
        match update_cost(options, crate_name, toolchain, shell) {
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
}
