//! Faults at every step that writes, for every command that writes: each injection site a
//! command reaches (found with `CARGO_SHARE_FAULT_LOG`) is tried with SIGKILL, ENOSPC and EIO.
//! After each, `verify` passes, the programs installed before still run, and the next commands
//! (the same one again, then the way back to the starting state) succeed. The test prints how
//! many sites and faults it covered.

mod common;

use std::process::{Command, Output};

use common::store_env::Env;
use common::*;

const MODES: [&str; 3] = ["kill", "enospc", "eio"];

/// The injection sites `cmd` reaches, in order (`POINT#N`), and its output.
fn sites(env: &Env, cmd: &mut Command) -> Vec<String> {
    let log = env.base.join("fault-log");
    let _ = std::fs::remove_file(&log);
    run_ok(cmd.env("CARGO_SHARE_FAULT_LOG", &log));
    std::fs::read_to_string(&log)
        .unwrap_or_default()
        .lines()
        .map(str::to_string)
        .collect()
}

fn faulted(out: &Output, site: &str, mode: &str) {
    use std::os::unix::process::ExitStatusExt;
    let err = String::from_utf8_lossy(&out.stderr);
    if mode == "kill" {
        assert_eq!(out.status.signal(), Some(9), "{site}: not killed\n{err}");
    } else {
        assert!(!out.status.success(), "{site}:{mode}: did not fail\n{err}");
        let said = if mode == "enospc" {
            "No space left on device"
        } else {
            "Input/output error"
        };
        assert!(
            err.contains(said) && err.contains(site),
            "{site}:{mode}: the error does not say what failed where\n{err}"
        );
    }
}

/// The programs installed before every fault still run.
fn lto_runs(env: &Env, after: &str) {
    assert!(
        run_clean(&env.root().join("bin/lto-one")).contains("385"),
        "lto-one after {after}"
    );
    assert!(
        run_clean(&env.root().join("bin/lto-two")).contains("sum_squares(100)"),
        "lto-two after {after}"
    );
}

/// What one command's fault runs need: the command, the state it starts from (`setup`), whether
/// running it again after a fault must succeed (`again`; an uninstall that got past its commit
/// point has nothing left to do), and whether `verify` passes in the starting state.
struct Scenario<'a> {
    name: &'a str,
    command: &'a dyn Fn() -> Command,
    setup: &'a dyn Fn(),
    again: bool,
    verifiable: bool,
}

/// Try every site of the scenario's command with every mode. Returns (sites, faults).
fn try_every_site(env: &Env, s: &Scenario) -> (usize, usize) {
    (s.setup)();
    let found = sites(env, &mut (s.command)());
    assert!(!found.is_empty(), "{} reached no fault point", s.name);
    let mut faults = 0;
    for site in &found {
        for mode in MODES {
            (s.setup)();
            let spec = format!("{site}:{mode}");
            let out = (s.command)()
                .env("CARGO_SHARE_FAULT", &spec)
                .output()
                .unwrap();
            faulted(&out, site, mode);
            if s.verifiable {
                env.verify_ok();
            }
            lto_runs(env, &spec);
            // The next command recovers.
            if s.again {
                run_ok(&mut (s.command)());
            }
            (s.setup)();
            if s.verifiable {
                env.verify_ok();
            }
            lto_runs(env, &spec);
            faults += 1;
        }
    }
    eprintln!("{}: {} sites, {faults} faults", s.name, found.len());
    (found.len(), faults)
}

#[test]
fn every_write_of_every_command_survives_kill_enospc_and_eio() {
    let env = Env::new();
    run_ok(&mut env.install(&fixture("lto")));
    let cmd = |args: &[&str]| {
        let mut c = env.cmd();
        c.args(args);
        c
    };
    let pa = fixture("panic-abort");
    let install_pa = || env.install(&pa);
    let uninstall_pa = || cmd(&["uninstall", "pa-one", "pa-two"]);
    let pa_installed = || env.root().join("bin/pa-one").exists();
    // Starting states: nothing of pa in the store; pa installed; pa uninstalled, not collected.
    let clean = || {
        if pa_installed() {
            run_ok(&mut uninstall_pa());
        }
        run_ok(&mut cmd(&["gc"]));
    };
    let installed = || {
        if !pa_installed() {
            run_ok(&mut install_pa());
        }
    };
    let garbage = || {
        installed();
        run_ok(&mut uninstall_pa());
    };
    // Identical files not yet linked: the libraries of lto's program builds, copied in place.
    let unlinked = || {
        use std::os::unix::fs::PermissionsExt;
        for bin in ["lto-one", "lto-two"] {
            let target = std::fs::canonicalize(env.root().join("bin").join(bin)).unwrap();
            let lib = target.parent().unwrap().parent().unwrap().join("lib");
            std::fs::set_permissions(&lib, std::fs::Permissions::from_mode(0o755)).unwrap();
            for name in file_names(&lib) {
                let file = lib.join(&name);
                let copy = lib.join(format!(".{name}.copy"));
                std::fs::copy(&file, &copy).unwrap();
                std::fs::rename(&copy, &file).unwrap();
            }
            std::fs::set_permissions(&lib, std::fs::Permissions::from_mode(0o555)).unwrap();
        }
    };
    let index = env.store().join("index.sqlite");
    let emptied = || std::fs::write(&index, b"").unwrap();
    let scenarios = [
        Scenario {
            name: "install",
            command: &install_pa,
            setup: &clean,
            again: true,
            verifiable: true,
        },
        Scenario {
            name: "uninstall",
            command: &uninstall_pa,
            setup: &installed,
            again: false,
            verifiable: true,
        },
        Scenario {
            name: "gc",
            command: &|| cmd(&["gc"]),
            setup: &garbage,
            again: true,
            verifiable: true,
        },
        Scenario {
            name: "optimise",
            command: &|| cmd(&["optimise"]),
            setup: &unlinked,
            again: true,
            verifiable: true,
        },
        Scenario {
            name: "verify --repair",
            command: &|| cmd(&["verify", "--repair"]),
            setup: &emptied,
            again: true,
            verifiable: false,
        },
    ];
    let (mut sites_total, mut faults_total) = (0, 0);
    for s in &scenarios {
        let (sites, faults) = try_every_site(&env, s);
        sites_total += sites;
        faults_total += faults;
    }
    run_ok(&mut cmd(&["verify", "--repair"]));
    env.verify_ok();
    lto_runs(&env, "the end");
    eprintln!(
        "fault injection: {sites_total} sites across install, uninstall, gc, optimise and verify --repair, \
         {faults_total} faults (SIGKILL, ENOSPC, EIO), programs lost: 0"
    );
    assert!(sites_total >= 20, "only {sites_total} sites");
}
