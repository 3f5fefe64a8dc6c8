//! Memory figures: every program of a variant held at exit by a preloaded SIGSTOP library,
//! PSS and USS summed from `/proc/PID/smaps_rollup`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};

use crate::measure::bench::options::BuiltVariant;
use crate::measure::bench::workload::Workload;

const STOP_ENV: &str = "CARGO_SHARE_STOP_AT_EXIT";

/// The preloaded library that stops a process at exit (see the module docs).
pub(crate) fn stop_at_exit_library(dir: &Path) -> Result<PathBuf> {
    std::fs::create_dir_all(dir)?;
    let src = dir.join("stop_at_exit.c");
    let lib = dir.join("libstop_at_exit.so");
    std::fs::write(
        &src,
        format!(
            "#include <signal.h>\n#include <stdlib.h>\n\
             static int cargo_share_stop;\n\
             __attribute__((constructor)) static void cargo_share_arm(void) {{\n\
             \x20   cargo_share_stop = getenv(\"{STOP_ENV}\") != NULL;\n\
             \x20   unsetenv(\"{STOP_ENV}\");\n}}\n\
             __attribute__((destructor)) static void cargo_share_stop_at_exit(void) {{\n\
             \x20   if (cargo_share_stop) raise(SIGSTOP);\n}}\n"
        ),
    )?;
    let cc = std::env::var("CC").unwrap_or_else(|_| "cc".into());
    let status = Command::new(&cc)
        .args(["-shared", "-fPIC", "-O2", "-o"])
        .arg(&lib)
        .arg(&src)
        .status()
        .with_context(|| format!("running the C compiler `{cc}` for the memory harness"))?;
    if !status.success() {
        bail!("compiling the memory harness failed");
    }
    Ok(lib)
}

fn process_state(pid: u32) -> Option<char> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    stat.rsplit_once(") ")?.1.chars().next()
}

/// PSS and USS of a live process, bytes.
fn pss_uss(pid: u32) -> Result<(u64, u64)> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/smaps_rollup"))?;
    let field = |name: &str| -> u64 {
        text.lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|rest| rest.split_whitespace().next())
            .and_then(|n| n.parse::<u64>().ok())
            .unwrap_or(0)
            * 1024
    };
    Ok((
        field("Pss:"),
        field("Private_Clean:") + field("Private_Dirty:"),
    ))
}

/// Run every program of a variant at once, each stopped at exit; measure; kill.
pub(crate) fn measure_memory(
    variant: &mut BuiltVariant,
    preload: &Path,
    workloads: &BTreeMap<String, Workload>,
    startups: &BTreeMap<String, Workload>,
    missing: &mut Vec<String>,
) -> Result<()> {
    let mut children = Vec::new();
    for (program, bin) in &variant.binaries {
        // Its workload, else its start-up invocation; a program with neither is not measured
        // (the start-up choice said why).
        let Some(workload) = workloads.get(program).or_else(|| startups.get(program)) else {
            continue;
        };
        let child = workload
            .command(bin)
            .env("LD_PRELOAD", preload)
            .env(STOP_ENV, "1")
            .spawn()
            .with_context(|| format!("running {}", bin.display()))?;
        children.push((program.clone(), child));
    }
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut pss_total = 0;
    let mut uss_total = 0;
    let mut all = true;
    for (program, child) in &mut children {
        let pid = child.id();
        let stopped = loop {
            match process_state(pid) {
                Some('T') | Some('t') => break true,
                Some('Z') | None => break false,
                _ if Instant::now() > deadline => break false,
                _ => std::thread::sleep(Duration::from_millis(5)),
            }
        };
        let fig = variant
            .figures
            .program_mut(program)
            .expect("figures for every program");
        if stopped {
            let (pss, uss) = pss_uss(pid)?;
            fig.pss_bytes = Some(pss);
            fig.uss_bytes = Some(uss);
            pss_total += pss;
            uss_total += uss;
        } else {
            all = false;
            missing.push(format!(
                "memory of {program} ({}): it did not reach exit with the harness within 60 s, or exited without running ELF destructors",
                variant.figures.name
            ));
        }
    }
    for (_, child) in &mut children {
        let _ = child.kill();
        let _ = child.wait();
    }
    if all || pss_total > 0 {
        variant.figures.pss_total_bytes = Some(pss_total);
        variant.figures.uss_total_bytes = Some(uss_total);
    }
    Ok(())
}
