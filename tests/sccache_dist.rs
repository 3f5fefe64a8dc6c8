//! A set's compiles distributed by sccache-dist (issue 34, item 4): a scheduler and a build
//! server on 127.0.0.1, the client (sccache built with `dist-client`) chained behind
//! cargo-share's rustc wrapper as in `tests/sccache.rs`. Checked: every compile cargo-share gives
//! the chained wrapper ran on the build server, the rest stayed local, and the outputs (the
//! installed tree and every rlib of the target directory) are the same bytes as a build without
//! any wrapper; printed: how the compile CPU time split between this machine and the server.
//!
//! Ignored by default: its tools are built from crates.io (several minutes on two cores), which
//! `.ci/run` does not do, and the build server must run as root. How to run it:
//! docs/src/guide/sccache-dist.md. Run, it fails (never skips) when a tool is missing.
//! `online_sccache_dist_figures` measures real programs from crates.io the same way
//! (`CARGO_SHARE_DIST_CRATES`, default `sd@1.0.0,hexyl@0.17.0`), for the book's results.

mod common;

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::io::Read;
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::*;

/// The programs this test runs: the dist-capable sccache client and `sccache-dist` (found on
/// `PATH`, the client taken from `sccache-dist`'s directory so that an older `sccache` earlier
/// on `PATH`, such as Debian's 0.4, is not used) and bubblewrap for the build server.
struct Tools {
    sccache: PathBuf,
    sccache_dist: PathBuf,
    bwrap: PathBuf,
}

fn on_path(name: &str) -> Option<PathBuf> {
    std::env::split_paths(&std::env::var_os("PATH")?)
        .map(|dir| dir.join(name))
        .find(|p| p.is_file())
}

/// The tools, or a failure that says what is missing and how to get it.
fn tools() -> Tools {
    let how = "see docs/src/guide/sccache-dist.md: `cargo install sccache --locked \
               --no-default-features --features dist-client,dist-server --root DIR`, DIR/bin on \
               PATH, and `apt install bubblewrap`";
    let sccache_dist =
        on_path("sccache-dist").unwrap_or_else(|| panic!("sccache-dist is not on PATH: {how}"));
    let sccache = sccache_dist.with_file_name("sccache");
    assert!(
        sccache.is_file(),
        "{} has no sccache client beside it: {how}",
        sccache_dist.display()
    );
    let bwrap = on_path("bwrap").unwrap_or_else(|| panic!("bwrap is not on PATH: {how}"));
    // SAFETY: geteuid has no preconditions.
    let euid = unsafe { libc::geteuid() };
    assert_eq!(euid, 0, "sccache-dist's build server must run as root");
    Tools {
        sccache,
        sccache_dist,
        bwrap,
    }
}

/// CPU time in seconds of a process itself and of its children it has waited for.
#[derive(Clone, Copy, Debug, Default)]
struct Cpu {
    own: f64,
    children: f64,
}

impl std::ops::Sub for Cpu {
    type Output = Cpu;
    fn sub(self, rhs: Cpu) -> Cpu {
        Cpu {
            own: self.own - rhs.own,
            children: self.children - rhs.children,
        }
    }
}

/// CPU time of process `pid` from `/proc/PID/stat` (utime, stime, cutime, cstime).
fn cpu_of(pid: u32) -> Cpu {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    // Fields after the command name, which is in parentheses and may hold spaces.
    let fields: Vec<f64> = stat[stat.rfind(')').unwrap() + 2..]
        .split(' ')
        .map(|f| f.parse().unwrap_or(0.0))
        .collect();
    // SAFETY: sysconf has no preconditions.
    let ticks = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as f64;
    // utime is field 14 of the whole line, the 12th after the name (index 11).
    Cpu {
        own: (fields[11] + fields[12]) / ticks,
        children: (fields[13] + fields[14]) / ticks,
    }
}

/// CPU time of this test process's children that have been waited for (every build command).
fn cpu_of_waited_children() -> f64 {
    // SAFETY: getrusage writes into the struct we pass.
    let usage = unsafe {
        let mut usage: libc::rusage = std::mem::zeroed();
        assert_eq!(libc::getrusage(libc::RUSAGE_CHILDREN, &mut usage), 0);
        usage
    };
    seconds_of(usage)
}

/// Makes this test process a child subreaper (`PR_SET_CHILD_SUBREAPER`). The build server runs
/// each compile as `bwrap --unshare-pid ... rustc`: bubblewrap's outer process exits as soon as
/// the inner one (PID 1 of the new namespace, which waits for rustc) reports the exit status,
/// without waiting for it, so the compile's CPU time would reach no ancestor (`time bwrap
/// --unshare-pid ...` shows none). As a subreaper, this process inherits the inner process
/// when its parent exits, and [`reap_orphaned_sandboxes`] collects its CPU time.
fn become_subreaper() {
    // SAFETY: prctl with PR_SET_CHILD_SUBREAPER takes one integer argument.
    let done = unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) };
    assert_eq!(done, 0, "{}", std::io::Error::last_os_error());
}

/// Waits for the ended `bwrap` processes this process inherited (never for the test's own
/// children, none of which is `bwrap`) and returns their CPU time in seconds, rustc's included.
fn reap_orphaned_sandboxes() -> f64 {
    let me = std::process::id().to_string();
    let mut seconds = 0.0;
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<libc::pid_t>() else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else {
            continue;
        };
        let Some((name, rest)) = stat.split_once(" (").and_then(|(_, r)| r.rsplit_once(") "))
        else {
            continue;
        };
        let mut fields = rest.split(' ');
        let (state, parent) = (fields.next(), fields.next());
        if name != "bwrap" || state != Some("Z") || parent != Some(me.as_str()) {
            continue;
        }
        // SAFETY: wait4 writes the status and the usage into the values we pass.
        let usage = unsafe {
            let mut usage: libc::rusage = std::mem::zeroed();
            let mut status = 0;
            (libc::wait4(pid, &mut status, libc::WNOHANG, &mut usage) == pid).then_some(usage)
        };
        if let Some(usage) = usage {
            seconds += seconds_of(usage);
        }
    }
    seconds
}

fn seconds_of(usage: libc::rusage) -> f64 {
    let secs = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    secs(usage.ru_utime) + secs(usage.ru_stime)
}

/// A server process this test started (in the foreground, `SCCACHE_NO_DAEMON=1`), ended when
/// dropped. Its output goes to `LOG`.
struct Daemon {
    child: Child,
    log: PathBuf,
}

impl Daemon {
    fn spawn(cmd: &mut Command, log: PathBuf) -> Daemon {
        let file = std::fs::File::create(&log).unwrap();
        let child = cmd
            .env("SCCACHE_NO_DAEMON", "1")
            .env("SCCACHE_LOG", "info")
            .stdin(Stdio::null())
            .stdout(file.try_clone().unwrap())
            .stderr(file)
            .spawn()
            .unwrap_or_else(|e| panic!("starting {cmd:?}: {e}"));
        Daemon { child, log }
    }

    fn cpu(&self) -> Cpu {
        cpu_of(self.child.id())
    }

    /// Fails with its log when it has exited.
    fn check_running(&mut self) {
        if let Some(status) = self.child.try_wait().unwrap() {
            panic!(
                "{} exited with {status}:\n{}",
                self.log.display(),
                std::fs::read_to_string(&self.log).unwrap_or_default()
            );
        }
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Waits until `ready` holds, checking that the daemons still run; fails after two minutes.
fn wait_for(what: &str, daemons: &mut [&mut Daemon], mut ready: impl FnMut() -> bool) {
    let start = Instant::now();
    while !ready() {
        for daemon in daemons.iter_mut() {
            daemon.check_running();
        }
        assert!(start.elapsed() < Duration::from_secs(120), "{what}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// A scheduler, one build server and a local sccache server configured as their client, all on
/// 127.0.0.1 with ports of their own, their files under one directory.
struct Cluster {
    sccache: PathBuf,
    client_port: u16,
    client_dir: PathBuf,
    server_addr: String,
    // Dropped in this order: the client, then the build server, then the scheduler.
    client: Daemon,
    server: Daemon,
    _scheduler: Daemon,
}

impl Cluster {
    fn start(tools: &Tools, dir: &Path) -> Cluster {
        become_subreaper();
        std::fs::create_dir_all(dir).unwrap();
        let scheduler_port = registry::free_port();
        let scheduler_url = format!("http://127.0.0.1:{scheduler_port}");
        let (client_token, server_token) =
            ("client-token-of-this-test", "server-token-of-this-test");
        let conf = dir.join("scheduler.conf");
        std::fs::write(
            &conf,
            format!(
                "public_addr = \"127.0.0.1:{scheduler_port}\"\n\
                 [client_auth]\ntype = \"token\"\ntoken = \"{client_token}\"\n\
                 [server_auth]\ntype = \"token\"\ntoken = \"{server_token}\"\n"
            ),
        )
        .unwrap();
        let mut scheduler = Daemon::spawn(
            Command::new(&tools.sccache_dist)
                .args(["scheduler", "--config"])
                .arg(&conf),
            dir.join("scheduler.log"),
        );
        wait_for(
            "the scheduler did not listen",
            &mut [&mut scheduler],
            || TcpStream::connect(("127.0.0.1", scheduler_port)).is_ok(),
        );

        let server_addr = format!("127.0.0.1:{}", registry::free_port());
        let conf = dir.join("server.conf");
        std::fs::write(
            &conf,
            format!(
                "cache_dir = {:?}\npublic_addr = \"{server_addr}\"\n\
                 scheduler_url = \"{scheduler_url}\"\n\
                 [builder]\ntype = \"overlay\"\nbuild_dir = {:?}\nbwrap_path = {:?}\n\
                 [scheduler_auth]\ntype = \"token\"\ntoken = \"{server_token}\"\n",
                dir.join("server-toolchains").display().to_string(),
                dir.join("server-builds").display().to_string(),
                tools.bwrap.display().to_string(),
            ),
        )
        .unwrap();
        let server = Daemon::spawn(
            Command::new(&tools.sccache_dist)
                .args(["server", "--config"])
                .arg(&conf),
            dir.join("server.log"),
        );

        let client_dir = dir.join("client-cache");
        let conf = dir.join("client.conf");
        std::fs::write(
            &conf,
            format!(
                "[dist]\nscheduler_url = \"{scheduler_url}\"\ntoolchains = []\ncache_dir = {:?}\n\
                 [dist.auth]\ntype = \"token\"\ntoken = \"{client_token}\"\n\
                 [cache.disk]\ndir = {:?}\n",
                dir.join("client-toolchains").display().to_string(),
                client_dir.display().to_string(),
            ),
        )
        .unwrap();
        let client_port = registry::free_port();
        let client = Daemon::spawn(
            Command::new(&tools.sccache)
                .env("SCCACHE_START_SERVER", "1")
                .env("SCCACHE_CONF", &conf)
                .env("SCCACHE_DIR", &client_dir)
                .env("SCCACHE_SERVER_PORT", client_port.to_string())
                .env_remove("RUSTC_WRAPPER"),
            dir.join("client.log"),
        );
        // Before any client command: one that finds no server starts one of its own.
        let mut client = client;
        wait_for(
            "the local sccache server did not listen",
            &mut [&mut client],
            || TcpStream::connect(("127.0.0.1", client_port)).is_ok(),
        );
        let mut cluster = Cluster {
            sccache: tools.sccache.clone(),
            client_port,
            client_dir,
            server_addr,
            client,
            server,
            _scheduler: scheduler,
        };
        cluster.wait_for_the_build_server();
        cluster
    }

    /// `sccache ARGS` talking to this cluster's local sccache server.
    fn client_command(&self) -> Command {
        let mut cmd = Command::new(&self.sccache);
        cmd.env("SCCACHE_SERVER_PORT", self.client_port.to_string())
            .env("SCCACHE_DIR", &self.client_dir)
            .env_remove("SCCACHE_LOG")
            .env_remove("RUSTC_WRAPPER");
        cmd
    }

    /// Waits until the scheduler knows the build server (`sccache --dist-status` through the
    /// client: the client reaches the scheduler, and the server has registered).
    fn wait_for_the_build_server(&mut self) {
        let mut status = String::new();
        let start = Instant::now();
        loop {
            if let Ok(out) = self.client_command().arg("--dist-status").output() {
                status = String::from_utf8_lossy(&out.stdout).into_owned();
                if status.contains("\"num_servers\":1") {
                    return;
                }
            }
            self.client.check_running();
            self.server.check_running();
            assert!(
                start.elapsed() < Duration::from_secs(120),
                "the build server did not register with the scheduler: {status}\nserver log: {}",
                std::fs::read_to_string(&self.server.log).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(300));
        }
    }

    /// The local sccache server's statistics (`--show-stats --stats-format json`).
    fn stats(&self) -> serde_json::Value {
        let out = run_ok(
            self.client_command()
                .args(["--show-stats", "--stats-format", "json"]),
        );
        serde_json::from_slice(&out.stdout).unwrap()
    }

    /// Has `cmd` (a `cargo share build`) use the cluster: sccache as the user's rustc wrapper,
    /// which cargo-share chains.
    fn chain(&self, cmd: &mut Command) {
        cmd.env("RUSTC_WRAPPER", &self.sccache)
            .env("SCCACHE_SERVER_PORT", self.client_port.to_string())
            .env("SCCACHE_DIR", &self.client_dir);
    }
}

/// Every file under `dir` (relative path), with its bytes, whose name `keep` accepts.
fn files(dir: &Path, keep: &dyn Fn(&Path) -> bool) -> BTreeMap<PathBuf, Vec<u8>> {
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() && !path.is_symlink() {
                stack.push(path);
            } else if keep(&path) {
                let mut bytes = Vec::new();
                std::fs::File::open(&path)
                    .and_then(|mut f| f.read_to_end(&mut bytes))
                    .unwrap();
                out.insert(path.strip_prefix(dir).unwrap().to_path_buf(), bytes);
            }
        }
    }
    out
}

fn has_extension(path: &Path, ext: &str) -> bool {
    path.extension().is_some_and(|e| e == ext)
}

/// The compiles of a build by what they made, from the target directory: each rustc unit writes
/// one dep-info file (`NAME-HASH.d`) beside its output in `deps/`, a build script's in
/// `build/NAME-HASH/` (Cargo's copies beside the uplifted outputs are not counted).
#[derive(Debug, Default)]
struct Units {
    rlibs: usize,
    shared_objects: usize,
    build_scripts: usize,
    executables: usize,
}

fn units(cache: &Path) -> Units {
    let mut units = Units::default();
    for dep_info in files(cache, &|p| has_extension(p, "d")).keys() {
        let full = cache.join(dep_info);
        let dir = full.parent().unwrap();
        let stem = full.file_stem().unwrap().to_string_lossy().into_owned();
        let lib = |ext: &str| dir.join(format!("lib{stem}.{ext}")).is_file();
        let in_build = dir.parent().and_then(Path::file_name) == Some("build".as_ref());
        if dir.file_name() != Some("deps".as_ref()) && !in_build {
            continue;
        }
        if lib("rlib") {
            units.rlibs += 1;
        } else if lib("so") {
            units.shared_objects += 1;
        } else if in_build {
            units.build_scripts += 1;
        } else if dir.join(&stem).is_file() {
            units.executables += 1;
        }
    }
    units
}

/// What one build with the cluster did, against the same build without any wrapper.
#[derive(Debug)]
struct Figures {
    units: Units,
    /// Compiles the local sccache server was given, and how many of them ran on the build server.
    requests: u64,
    /// Compiles sccache was given but could not cache (so could not distribute), by reason.
    not_cached: String,
    distributed: u64,
    dist_errors: u64,
    /// CPU seconds: the build without a wrapper (every descendant of `cargo share build`).
    plain_cpu: f64,
    /// CPU seconds of the build with the cluster: the build's descendants on this machine, the
    /// local sccache server's own work (hashing, packaging the toolchain and the inputs), its
    /// local compiles, the build server's compiles (rustc under bubblewrap) and its own work.
    local_build_cpu: f64,
    sccache_own_cpu: f64,
    sccache_local_compiles_cpu: f64,
    server_compiles_cpu: f64,
    server_own_cpu: f64,
    plain_wall: Duration,
    dist_wall: Duration,
}

impl Figures {
    /// The figures as the book gives them.
    fn report(&self) -> String {
        let u = &self.units;
        format!(
            "units: {} rlibs, {} shared objects (groups, dylibs, proc-macros), {} build scripts, \
             {} other executables\n\
             through sccache: {} compiles, {} ran on the build server, {} dist errors; not \
             cacheable: {}\n\
             without a wrapper: {:.1} s CPU, {:.1} s wall\n\
             with sccache-dist: {:.1} s wall; CPU: build here {:.1} s, sccache's rustc probes \
             and local compiles {:.1} s, sccache's own work {:.1} s, compiles on the build server {:.1} s, \
             the build server's own work {:.1} s\n\
             share of the compile CPU time on the build server: {:.1}%",
            u.rlibs,
            u.shared_objects,
            u.build_scripts,
            u.executables,
            self.requests,
            self.distributed,
            self.dist_errors,
            self.not_cached,
            self.plain_cpu,
            self.plain_wall.as_secs_f64(),
            self.dist_wall.as_secs_f64(),
            self.local_build_cpu,
            self.sccache_local_compiles_cpu,
            self.sccache_own_cpu,
            self.server_compiles_cpu,
            self.server_own_cpu,
            100.0 * self.server_share(),
        )
    }

    /// The share of the compile CPU time (rustc, the links it runs, build scripts, cargo and
    /// cargo-share) that ran on the build server.
    fn server_share(&self) -> f64 {
        self.server_compiles_cpu
            / (self.server_compiles_cpu + self.local_build_cpu + self.sccache_local_compiles_cpu)
    }
}

/// `cargo share build -q PROGRAMS... --out OUT` with cache directory `cache`, run in `base`.
fn build(base: &Path, cache: &Path, programs: &[OsString], out: &Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_cargo-share"));
    cmd.current_dir(base)
        .arg("--cache-dir")
        .arg(cache)
        .args(["build", "-q"])
        .args(programs)
        .arg("--out")
        .arg(out)
        .env_remove("CARGO_BUILD_RUSTC_WRAPPER");
    cmd
}

/// Builds `programs` twice from an empty cache directory at the same path, without a wrapper
/// and then through the cluster; checks that the outputs and every rlib are the same bytes, and
/// returns the figures.
fn compare(cluster: &Cluster, base: &Path, programs: &[OsString]) -> Figures {
    let cache = base.join("cache");
    let timed = |cmd: &mut Command| {
        let (cpu, start) = (cpu_of_waited_children(), Instant::now());
        run_ok(cmd);
        (cpu_of_waited_children() - cpu, start.elapsed())
    };
    let (plain_cpu, plain_wall) =
        timed(build(base, &cache, programs, &base.join("out-plain")).env("RUSTC_WRAPPER", ""));
    let plain_cache = base.join("cache-plain");
    std::fs::rename(&cache, &plain_cache).unwrap();

    let (client, server) = (cluster.client.cpu(), cluster.server.cpu());
    let mut dist = build(base, &cache, programs, &base.join("out-dist"));
    cluster.chain(&mut dist);
    let (local_build_cpu, dist_wall) = timed(&mut dist);
    let (client, server) = (cluster.client.cpu() - client, cluster.server.cpu() - server);
    // The sandboxes of the last compiles may still be ending.
    std::thread::sleep(Duration::from_millis(500));
    let sandboxes = reap_orphaned_sandboxes();

    let stats = cluster.stats();
    let count = |key: &str| stats["stats"][key]["counts"]["Rust"].as_u64().unwrap_or(0);
    let figures = Figures {
        units: units(&plain_cache),
        requests: count("cache_misses") + count("cache_hits"),
        not_cached: stats["stats"]["not_cached"].to_string(),
        distributed: stats["stats"]["dist_compiles"][&cluster.server_addr]
            .as_u64()
            .unwrap_or(0),
        dist_errors: stats["stats"]["dist_errors"].as_u64().unwrap_or(0),
        plain_cpu,
        local_build_cpu,
        sccache_own_cpu: client.own,
        sccache_local_compiles_cpu: client.children,
        server_compiles_cpu: server.children + sandboxes,
        server_own_cpu: server.own,
        plain_wall,
        dist_wall,
    };
    eprintln!("{}", figures.report());

    let outputs = |dir: &Path| files(dir, &|_| true);
    assert_eq!(
        outputs(&base.join("out-dist")),
        outputs(&base.join("out-plain")),
        "the installed files differ"
    );
    let rlibs = |dir: &Path| files(dir, &|p| has_extension(p, "rlib"));
    let plain_rlibs = rlibs(&plain_cache);
    assert!(!plain_rlibs.is_empty());
    let dist_rlibs = rlibs(&cache);
    for (path, bytes) in &plain_rlibs {
        assert!(
            dist_rlibs.get(path) == Some(bytes),
            "{} differs from a build without sccache-dist",
            path.display()
        );
    }
    assert_eq!(dist_rlibs.len(), plain_rlibs.len());
    figures
}

#[test]
#[ignore = "needs sccache-dist built from crates.io and root: docs/src/guide/sccache-dist.md"]
fn a_sets_rlib_compiles_run_on_the_build_server_with_identical_outputs() {
    let tools = tools();
    let scratch = tempfile::tempdir().unwrap();
    let base = scratch.path();
    let cluster = Cluster::start(&tools, &base.join("cluster"));
    let programs = ["--manifest-path".into(), fixture("chained").into()];
    let figures = compare(&cluster, base, &programs);
    // The three rlibs (two host crates a build script and a proc-macro use, one target crate)
    // went through sccache, and each ran on the build server.
    assert_eq!(figures.units.rlibs, 3, "{figures:?}");
    assert_eq!(figures.requests, 3, "{figures:?}");
    assert_eq!(figures.distributed, 3, "{figures:?}");
    assert_eq!(figures.dist_errors, 0, "{figures:?}");
    assert!(figures.server_compiles_cpu > 0.0, "{figures:?}");
    // The rest stayed here: the build script, the proc-macro and the program (one program
    // alone has no group; `online_sccache_dist_figures` builds a set with one).
    assert_eq!(figures.units.build_scripts, 1, "{figures:?}");
    assert_eq!(figures.units.shared_objects, 1, "{figures:?}");
    assert_eq!(figures.units.executables, 1, "{figures:?}");
    assert_eq!(
        run_clean(&base.join("out-dist/bin/chained-app")),
        "chained-lib: noted by build-helper\nApp greeted by derive-helper\n"
    );
}

/// Real programs from crates.io (`CARGO_SHARE_DIST_CRATES`, comma-separated `NAME@VERSION`,
/// default `sd@1.0.0,hexyl@0.17.0`, which share one group), built as one set: the figures for
/// the book. Reaches crates.io.
#[test]
#[ignore = "needs sccache-dist built from crates.io and root, reaches crates.io: docs/src/guide/sccache-dist.md"]
fn online_sccache_dist_figures() {
    let tools = tools();
    let crates =
        std::env::var("CARGO_SHARE_DIST_CRATES").unwrap_or_else(|_| "sd@1.0.0,hexyl@0.17.0".into());
    let scratch = tempfile::tempdir().unwrap();
    let base = scratch.path();
    let cluster = Cluster::start(&tools, &base.join("cluster"));
    let programs: Vec<OsString> = crates
        .split(',')
        .flat_map(|krate| ["--crate".into(), krate.trim().into()])
        .collect();
    let figures = compare(&cluster, base, &programs);
    assert_eq!(figures.dist_errors, 0, "{figures:?}");
    assert!(figures.distributed > 0, "{figures:?}");
}
