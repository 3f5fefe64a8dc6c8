//! Faults at every step that writes, for every command that writes: each injection site a
//! command reaches (found with `CARGO_SHARE_FAULT_LOG`) is tried with SIGKILL, ENOSPC and EIO.
//! After each, the programs installed before still run, the next commands (the same one again,
//! or what a user would run: `verify --repair` after a replaced entry) succeed, and then `verify`
//! passes. The test prints how many sites and faults it covered.

mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
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

/// The programs of `tests/fixtures/unrelated` that the later scenarios install run.
fn unrelated_run(env: &Env) {
    for bin in ["one-a", "one-b", "three"] {
        let out = run_clean(&env.root().join("bin").join(bin));
        assert!(out.starts_with(&format!("hello, {bin}")), "{bin}: {out}");
    }
}

/// Remove a store (or any tree) with read-only directories in it.
fn remove_all(dir: &Path) {
    fn unlock(dir: &Path) {
        let _ = std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o755));
        for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
            if e.file_type().is_ok_and(|t| t.is_dir()) {
                unlock(&e.path());
            }
        }
    }
    if dir.exists() {
        unlock(dir);
        std::fs::remove_dir_all(dir).unwrap();
    }
}

/// The program build directory a link in `ROOT/bin` points into.
fn program_dir(link: &Path) -> std::path::PathBuf {
    let target = std::fs::canonicalize(link).unwrap();
    target.parent().unwrap().parent().unwrap().to_path_buf()
}

/// Replace `lib/name` (a hard link to an entry's file) with a copy whose last byte is flipped.
fn damage_program_library(lib: &Path, prefix: &str) {
    let name = file_names(lib)
        .into_iter()
        .find(|n| n.starts_with(prefix))
        .unwrap();
    let mut data = std::fs::read(lib.join(&name)).unwrap();
    let last = data.len() - 1;
    data[last] ^= 0xff;
    std::fs::set_permissions(lib, std::fs::Permissions::from_mode(0o755)).unwrap();
    let copy = lib.join(format!(".{name}.copy"));
    std::fs::write(&copy, data).unwrap();
    std::fs::rename(&copy, lib.join(&name)).unwrap();
    std::fs::set_permissions(lib, std::fs::Permissions::from_mode(0o555)).unwrap();
}

/// One command's fault runs: the command, the state it starts from (`setup`), what brings the
/// store back after a fault (`recover`: the same command again, or the way back), what must hold
/// then (`check`, after `verify` of the test's store), whether `verify` passes in the starting
/// state (and so right after a fault), and which points are tried (`only`, when the other points
/// the command reaches are the same steps another scenario tries; empty: all).
struct Scenario<'a> {
    name: &'a str,
    command: &'a dyn Fn() -> Command,
    setup: &'a dyn Fn(),
    recover: &'a dyn Fn(),
    check: &'a dyn Fn(),
    verifiable: bool,
    only: &'a [&'a str],
}

/// Try every site of the scenario's command with every mode. Returns (sites, faults).
fn try_every_site(env: &Env, s: &Scenario) -> (usize, usize) {
    (s.setup)();
    let found: Vec<String> = sites(env, &mut (s.command)())
        .into_iter()
        .filter(|site| {
            let point = site.split('#').next().unwrap_or_default();
            s.only.is_empty() || s.only.contains(&point)
        })
        .collect();
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
            // The next commands recover.
            (s.recover)();
            env.verify_ok();
            lto_runs(env, &spec);
            (s.check)();
            faults += 1;
        }
    }
    eprintln!(
        "{}: {} sites, {faults} faults: {found:?}",
        s.name,
        found.len()
    );
    (found.len(), faults)
}

/// Install: into a new store, and into one that holds programs.
const INSTALLS: &[&str] = &["install into a new store", "install"];
/// The commands that remove, collect, deduplicate or rebuild the index.
const UPKEEP: &[&str] = &[
    "uninstall",
    "gc",
    "optimise",
    "verify --repair of an emptied index",
];
/// What replaces or repairs a damaged entry and the programs that hold it.
const REPAIRS: &[&str] = &[
    "install over a damaged entry",
    "verify --repair of program libraries and links",
];

// Three tests, each in a store of its own from the same start, so that they run in parallel.

#[test]
fn every_write_of_install_survives_kill_enospc_and_eio() {
    fault_scenarios(INSTALLS);
}

#[test]
fn every_write_of_uninstall_gc_optimise_and_repair_survives_kill_enospc_and_eio() {
    fault_scenarios(UPKEEP);
}

#[test]
fn every_write_of_replacing_a_damaged_entry_survives_kill_enospc_and_eio() {
    fault_scenarios(REPAIRS);
}

/// The fewest sites each part must reach (2026-12-07: 32, 20 and 6), together at least 50.
fn min_sites(part: &[&str]) -> usize {
    match part {
        p if p == INSTALLS => 28,
        p if p == UPKEEP => 18,
        _ => 6,
    }
}

/// No scenario is in two of the tests above (`fault_scenarios` checks that each of its
/// scenarios is in one), and their floors add up to at least 50 sites.
#[test]
fn the_fault_tests_cover_every_scenario_once() {
    let all: Vec<&str> = [INSTALLS, UPKEEP, REPAIRS].concat();
    let unique: std::collections::BTreeSet<&&str> = all.iter().collect();
    assert_eq!(unique.len(), all.len());
    let floors: usize = [INSTALLS, UPKEEP, REPAIRS].into_iter().map(min_sites).sum();
    assert!(floors >= 50, "{floors}");
}

/// Run the scenarios named in `part` (each site with each mode), then check the store.
fn fault_scenarios(part: &[&str]) {
    let env = Env::new();
    run_ok(&mut env.install(&fixture("lto")));
    let cmd = |args: &[&str]| {
        let mut c = env.cmd();
        c.args(args);
        c
    };
    let nothing = || {};
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
        for bin in ["lto-one", "lto-two"] {
            let lib = program_dir(&env.root().join("bin").join(bin)).join("lib");
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
    let again = |c: &dyn Fn() -> Command| run_ok(&mut c());
    let repair = || cmd(&["verify", "--repair"]);

    // A new store: the first install into a missing directory, with its own root.
    let new_store = env.base.join("new-store");
    let new_root = env.base.join("new-root");
    let install_new = || {
        let mut c = cargo_share(&env.base);
        c.arg("--store").arg(&new_store);
        c.args(["install", "--json", "--layout", "per-crate", "--path"])
            .arg(&pa)
            .arg("--root")
            .arg(&new_root);
        c
    };
    let no_new_store = || {
        remove_all(&new_store);
        remove_all(&new_root);
    };
    let new_store_works = || {
        run_ok(
            cargo_share(&env.base)
                .arg("--store")
                .arg(&new_store)
                .arg("verify"),
        );
        assert!(run_clean(&new_root.join("bin/pa-one")).starts_with("pa-one"));
    };

    // A damaged entry (unrelated-common, which ws-one's programs use) that installing ws-three
    // replaces by its own build; ws-three not installed.
    let ws_one = fixture("unrelated/ws-one");
    let ws_three = fixture("unrelated/ws-three");
    let install_three = || env.install(&ws_three);
    let good = std::cell::OnceCell::new();
    let damaged_entry = || {
        if env.root().join("bin/three").exists() {
            run_ok(&mut cmd(&["uninstall", "three"]));
        }
        if !env.root().join("bin/one-a").exists() {
            run_ok(&mut env.install(&ws_one));
        }
        run_ok(&mut cmd(&["gc"]));
        let lib = env.entry_runtime_file("unrelated-common");
        let good = good.get_or_init(|| std::fs::read(&lib).unwrap());
        if &std::fs::read(&lib).unwrap() == good {
            env.damage_entry("unrelated-common");
        }
    };
    let replaced_and_repaired = || {
        again(&install_three);
        again(&repair);
    };
    let unrelated = || unrelated_run(&env);
    // ws-one's programs hold a damaged copy of their entry's library and lost their links in
    // ROOT/bin: `verify --repair` relinks the libraries and puts the links back.
    let unlinked_programs = || {
        for bin in ["one-a", "one-b"] {
            let link = env.root().join("bin").join(bin);
            damage_program_library(&program_dir(&link).join("lib"), "libunrelated_common");
            std::fs::remove_file(&link).unwrap();
        }
    };

    let scenarios = [
        Scenario {
            name: "install into a new store",
            command: &install_new,
            setup: &no_new_store,
            recover: &|| {
                again(&install_new);
            },
            check: &new_store_works,
            verifiable: true,
            only: &[
                "store-created",
                "store-marked",
                "store-subdir-created",
                "store-lock-created",
                "index-created",
            ],
        },
        Scenario {
            name: "install",
            command: &install_pa,
            setup: &clean,
            recover: &|| {
                again(&install_pa);
            },
            check: &nothing,
            verifiable: true,
            only: &[],
        },
        Scenario {
            name: "uninstall",
            command: &uninstall_pa,
            setup: &installed,
            // An uninstall that got past its commit point has nothing left to do: back to pa
            // installed.
            recover: &installed,
            check: &nothing,
            verifiable: true,
            only: &[],
        },
        Scenario {
            name: "gc",
            command: &|| cmd(&["gc"]),
            setup: &garbage,
            recover: &|| {
                run_ok(&mut cmd(&["gc"]));
            },
            check: &nothing,
            verifiable: true,
            only: &[],
        },
        Scenario {
            name: "optimise",
            command: &|| cmd(&["optimise"]),
            setup: &unlinked,
            recover: &|| {
                run_ok(&mut cmd(&["optimise"]));
            },
            check: &nothing,
            verifiable: true,
            only: &[],
        },
        Scenario {
            name: "verify --repair of an emptied index",
            command: &repair,
            setup: &emptied,
            recover: &|| {
                again(&repair);
            },
            check: &nothing,
            verifiable: false,
            only: &[],
        },
        Scenario {
            name: "install over a damaged entry",
            command: &install_three,
            setup: &damaged_entry,
            recover: &replaced_and_repaired,
            check: &unrelated,
            verifiable: false,
            // The entry's other steps are an install's, tried above.
            only: &["entry-exchanged", "damaged-entry-removed"],
        },
        Scenario {
            name: "verify --repair of program libraries and links",
            command: &repair,
            setup: &unlinked_programs,
            recover: &|| {
                again(&repair);
            },
            check: &unrelated,
            verifiable: false,
            // The index rebuilt is tried above.
            only: &["program-relinked", "link-rolled-forward"],
        },
    ];
    // Each name of a part is a scenario, and each scenario is in a part.
    assert!(part.iter().all(|p| scenarios.iter().any(|s| s.name == *p)));
    let parts = [INSTALLS, UPKEEP, REPAIRS].concat();
    assert!(scenarios.iter().all(|s| parts.contains(&s.name)));
    let (mut sites_total, mut faults_total) = (0, 0);
    for s in scenarios.iter().filter(|s| part.contains(&s.name)) {
        let (sites, faults) = try_every_site(&env, s);
        sites_total += sites;
        faults_total += faults;
    }
    run_ok(&mut cmd(&["verify", "--repair"]));
    env.verify_ok();
    lto_runs(&env, "the end");
    if part == REPAIRS {
        unrelated_run(&env);
    }
    eprintln!(
        "fault injection: {sites_total} sites across {part:?}, {faults_total} faults (SIGKILL, \
         ENOSPC, EIO), programs lost: 0"
    );
    assert!(
        sites_total >= min_sites(part),
        "only {sites_total} sites for {part:?}"
    );
}
