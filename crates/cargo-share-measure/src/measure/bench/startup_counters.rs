//! Start-up counters: the work one `--version` start does, counted rather than timed, per
//! program and build.
//!
//! * **Instructions**: `valgrind --tool=callgrind`, total `Ir` of the out file (the dynamic
//!   loader included); three runs, the median kept (they differ by a few hundred at most).
//! * **Symbol lookups**: `LD_DEBUG=statistics` into `LD_DEBUG_OUTPUT` files, "final number of
//!   relocations" (and "... from cache") summed over namespaces and processes.
//! * **File syscalls**: `strace -f -c -e trace=%file`, the calls and errors of the total line.
//!
//! Each runs the binary exactly as the timed start-up does ([`Workload::command`]: the same
//! environment, no `LD_LIBRARY_PATH`; the shared binaries find their libraries through their
//! `$ORIGIN` run paths). A tool that is missing or cannot run here leaves its figure `None` and
//! says why in the report's `missing`.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

use anyhow::{bail, Context, Result};

use crate::measure::bench::options::BuiltVariant;
use crate::measure::bench::workload::Workload;

/// Callgrind runs per program and build (the median is kept).
const CALLGRIND_RUNS: usize = 3;

/// Count every program of every variant; `scratch` holds the tools' out files.
pub(crate) fn measure_counters(
    variants: &mut [BuiltVariant],
    order: &[String],
    startups: &BTreeMap<String, Workload>,
    scratch: &Path,
    missing: &mut Vec<String>,
) -> Result<()> {
    std::fs::create_dir_all(scratch).with_context(|| format!("creating {}", scratch.display()))?;
    let valgrind = tool_works("valgrind", &["--tool=callgrind", "--version"]);
    let strace = tool_works("strace", &["-f", "-c", "-o", "/dev/null", "true"]);
    if let Err(e) = &valgrind {
        missing.push(format!("start-up instructions (callgrind): {e:#}"));
    }
    if let Err(e) = &strace {
        missing.push(format!("start-up file syscalls (strace): {e:#}"));
    }
    let mut failures = Vec::new();
    for v in variants.iter_mut() {
        for program in order {
            let (Some(bin), Some(version)) =
                (v.binaries.get(program).cloned(), startups.get(program))
            else {
                continue;
            };
            let label = format!("{program} ({})", v.figures.name);
            let Some(f) = v.figures.program_mut(program) else {
                continue;
            };
            if valgrind.is_ok() {
                let mut samples = Vec::new();
                for _ in 0..CALLGRIND_RUNS {
                    match instructions(version, &bin, scratch) {
                        Ok(n) => samples.push(n),
                        Err(e) => {
                            failures.push(format!("start-up instructions of {label}: {e:#}"));
                            break;
                        }
                    }
                }
                if samples.len() == CALLGRIND_RUNS {
                    let mut sorted = samples.clone();
                    sorted.sort_unstable();
                    f.counters.instructions = Some(sorted[sorted.len() / 2]);
                    f.counters.instructions_samples = samples;
                }
            }
            match symbol_lookups(version, &bin, scratch) {
                Ok((lookups, cached)) => {
                    f.counters.symbol_lookups = Some(lookups);
                    f.counters.symbol_lookups_from_cache = cached;
                }
                Err(e) => failures.push(format!("symbol lookups of {label}: {e:#}")),
            }
            if strace.is_ok() {
                match file_syscalls(version, &bin, scratch) {
                    Ok((calls, errors)) => {
                        f.counters.file_syscalls = Some(calls);
                        f.counters.file_syscalls_failed = Some(errors);
                    }
                    Err(e) => failures.push(format!("file syscalls of {label}: {e:#}")),
                }
            }
        }
    }
    missing.extend(failures);
    Ok(())
}

/// `Ok` if `tool ARGS` runs and succeeds here, else why not.
fn tool_works(tool: &str, args: &[&str]) -> Result<()> {
    let out = Command::new(tool)
        .args(args)
        .output()
        .with_context(|| format!("{tool} is not installed (or cannot be started)"))?;
    if !out.status.success() {
        bail!(
            "`{tool} {}` fails here ({}): {}",
            args.join(" "),
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(())
}

fn run_ok(mut cmd: Command, what: &str) -> Result<()> {
    let status = cmd.status().with_context(|| format!("starting {what}"))?;
    if !status.success() {
        bail!("{what} failed with {status}");
    }
    Ok(())
}

/// Instructions of one run of `workload` on `binary` under callgrind.
fn instructions(workload: &Workload, binary: &Path, scratch: &Path) -> Result<u64> {
    let out = scratch.join("callgrind.out");
    let _ = std::fs::remove_file(&out);
    let args = vec![
        "--tool=callgrind".to_string(),
        format!("--callgrind-out-file={}", out.display()),
    ];
    run_ok(
        workload.command_under("valgrind", &args, binary),
        "callgrind",
    )?;
    let text =
        std::fs::read_to_string(&out).with_context(|| format!("reading {}", out.display()))?;
    callgrind_total(&text).context("no `totals:` or `summary:` line in callgrind's out file")
}

/// The total `Ir` of a callgrind out file: its `totals:` line, else its `summary:` line.
pub(crate) fn callgrind_total(text: &str) -> Option<u64> {
    let value = |key: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(key))
            .and_then(|rest| rest.split_whitespace().next()?.parse().ok())
    };
    value("totals:").or_else(|| value("summary:"))
}

/// Symbol lookups (and lookups served from the loader's cache, if it says) of one run.
fn symbol_lookups(
    workload: &Workload,
    binary: &Path,
    scratch: &Path,
) -> Result<(u64, Option<u64>)> {
    let dir = scratch.join("ld-debug");
    if dir.exists() {
        std::fs::remove_dir_all(&dir)?;
    }
    std::fs::create_dir_all(&dir)?;
    let mut cmd = workload.command(binary);
    cmd.env("LD_DEBUG", "statistics")
        .env("LD_DEBUG_OUTPUT", dir.join("ld"));
    run_ok(cmd, "the program with LD_DEBUG=statistics")?;
    let mut text = String::new();
    for e in std::fs::read_dir(&dir)? {
        text.push_str(&std::fs::read_to_string(e?.path())?);
    }
    ld_statistics(&text).context("the dynamic loader wrote no statistics (a fully static binary?)")
}

/// "final number of relocations" summed over every statistics block, and "final number of
/// relocations from cache" summed likewise (`None` if the loader never says).
pub(crate) fn ld_statistics(text: &str) -> Option<(u64, Option<u64>)> {
    let (mut lookups, mut cached) = (None::<u64>, None::<u64>);
    for line in text.lines() {
        // `PID:\t<key>: <value>`
        let Some((_, rest)) = line.split_once(':') else {
            continue;
        };
        let Some((key, value)) = rest.rsplit_once(':') else {
            continue;
        };
        let Ok(value) = value.trim().parse::<u64>() else {
            continue;
        };
        match key.trim() {
            "final number of relocations" => *lookups.get_or_insert(0) += value,
            "final number of relocations from cache" => *cached.get_or_insert(0) += value,
            _ => {}
        }
    }
    Some((lookups?, cached))
}

/// File syscalls (and how many failed) of one run under strace.
fn file_syscalls(workload: &Workload, binary: &Path, scratch: &Path) -> Result<(u64, u64)> {
    let out = scratch.join("strace.out");
    let _ = std::fs::remove_file(&out);
    let args = ["-f", "-c", "-e", "trace=%file", "-o"]
        .map(String::from)
        .into_iter()
        .chain([out.display().to_string()])
        .collect::<Vec<_>>();
    run_ok(workload.command_under("strace", &args, binary), "strace")?;
    let text =
        std::fs::read_to_string(&out).with_context(|| format!("reading {}", out.display()))?;
    strace_total(&text).context("no `total` line in strace's summary")
}

/// Calls and errors of the `total` line of `strace -c` (errors 0 when the column is empty).
pub(crate) fn strace_total(text: &str) -> Option<(u64, u64)> {
    let line = text
        .lines()
        .find(|l| l.split_whitespace().last() == Some("total"))?;
    let words: Vec<&str> = line.split_whitespace().collect();
    // % time, seconds, usecs/call, calls, [errors,] total
    let calls = words.get(3)?.parse().ok()?;
    let errors = if words.len() >= 6 {
        words[4].parse().ok()?
    } else {
        0
    };
    Some((calls, errors))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_tools_outputs() {
        let callgrind = "version: 1\ncmd: ./hello\nevents: Ir\nfl=(1) x\n0 5\nsummary: 298123\n\ntotals: 298124\n";
        assert_eq!(callgrind_total(callgrind), Some(298124));
        assert_eq!(callgrind_total("summary: 42\n"), Some(42));
        assert_eq!(callgrind_total("events: Ir\n"), None);

        let ld = "     12:\t\n     12:\truntime linker statistics:\n     12:\t  total startup time in dynamic loader: 1000 cycles\n     12:\t            time needed for relocation: 100 cycles (10.0%)\n     12:\t                 number of relocations: 150\n     12:\t      number of relocations from cache: 3\n     12:\t\n     12:\truntime linker statistics:\n     12:\t           final number of relocations: 163\n     12:\tfinal number of relocations from cache: 4\n     13:\t           final number of relocations: 7\n";
        assert_eq!(ld_statistics(ld), Some((170, Some(4))));
        assert_eq!(
            ld_statistics("  1:\t final number of relocations: 9\n"),
            Some((9, None))
        );
        assert_eq!(ld_statistics("nothing here\n"), None);

        let strace = "% time     seconds  usecs/call     calls    errors syscall\n------ ----------- ----------- --------- --------- ----------------\n 60.00    0.000060           2        30        25 openat\n 40.00    0.000040           4        10           newfstatat\n------ ----------- ----------- --------- --------- ----------------\n100.00    0.000100           2        40        25 total\n";
        assert_eq!(strace_total(strace), Some((40, 25)));
        let no_errors = "100.00    0.000010           1         8           total\n";
        assert_eq!(strace_total(no_errors), Some((8, 0)));
        assert_eq!(strace_total(""), None);
    }
}
