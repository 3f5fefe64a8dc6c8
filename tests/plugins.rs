//! Plugins (`cargo share build --plugin-for`) on the `plugins` fixture: a host with a plugin API
//! crate (a trait, `Box<dyn Plugin>`, `String`, `Vec`, `HashMap` and `serde_json::Value` both
//! ways) and two plugins, one using a crate the host does not use. Third-party crates
//! (serde_json, and object and libloading for `cargo-share-plugin-host`) come from Cargo's local
//! cache at the versions cargo-share's own Cargo.lock has, offline (`CARGO_NET_OFFLINE`).

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::*;

fn plugin_build(scratch: &Path, fixture_dir: &Path, plugins: &[&str], out: &Path) -> Command {
    let mut cmd = cargo_share(scratch);
    cmd.env("CARGO_NET_OFFLINE", "true")
        .arg("build")
        .arg("--plugin-for")
        .arg(fixture_dir.join("host"));
    for p in plugins {
        cmd.arg("--manifest-path").arg(fixture_dir.join(p));
    }
    cmd.arg("--out").arg(out);
    cmd
}

/// The fixture copied into `to`, its path to `cargo-share-plugin-host` made absolute, and
/// `plug-api`'s `loud` feature turned on in the host: another build of the plugin API crate.
fn loud_copy(to: &Path) -> PathBuf {
    copy_dir(&fixture("plugins"), to);
    let manifest = to.join("host/Cargo.toml");
    let host_lib = Path::new(env!("CARGO_MANIFEST_DIR")).join("plugin-host");
    let text = std::fs::read_to_string(&manifest)
        .unwrap()
        .replace(
            "\"../../../../plugin-host\"",
            &format!("{:?}", host_lib.display().to_string()),
        )
        .replace(
            "plug-api = { path = \"../api\" }",
            "plug-api = { path = \"../api\", features = [\"loud\"] }",
        );
    std::fs::write(&manifest, text).unwrap();
    to.to_path_buf()
}

fn run_host(out: &Path) -> std::process::Output {
    Command::new(out.join("bin/plug-host"))
        .env_clear()
        .current_dir("/")
        .output()
        .unwrap()
}

#[test]
fn plugins_bind_to_the_program_and_a_plugin_of_another_build_is_refused() {
    let scratch = tempfile::tempdir().unwrap();
    let out = scratch.path().join("out");
    let built = run_ok(&mut plugin_build(
        scratch.path(),
        &fixture("plugins"),
        &["upper", "stats"],
        &out,
    ));
    let said = String::from_utf8_lossy(&built.stderr);
    assert!(
        said.contains("plugins/libplug_upper.so") && said.contains("plugins/libplug_stats.so"),
        "the output says where the plugins went:\n{said}"
    );

    // Both plugins run with an empty environment, types passed both ways.
    let ran = run_host(&out);
    let stdout = String::from_utf8_lossy(&ran.stdout);
    assert!(
        ran.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&ran.stderr)
    );
    assert!(stdout.contains(
        "[host] upper: [upper] hello items=[\"APPLE\", \"BANANA\", \"APPLE\"] counts=[(\"APPLE\", 2), (\"BANANA\", 1)] output={\"n_times_2\":6,\"tags\":[\"a\",\"b\"]}"
    ), "{stdout}");
    assert!(stdout.contains(
        "[host] stats: [stats] run 1 items=[\"apple\", \"banana\"] counts=[(\"apple\", 2), (\"banana\", 1)] output={\"keys\":2,\"mean_len\":5.333333333333333}"
    ), "{stdout}");
    assert!(stdout.contains("2 plugins run, 0 refused"), "{stdout}");

    // Each plugin loads exactly the program's own files, by path, and nothing else of ours.
    let host_needs = cargo_share_compile::elf::dynamic_info(&out.join("bin/plug-host"))
        .unwrap()
        .needed;
    for plugin in ["libplug_upper.so", "libplug_stats.so"] {
        let needed = cargo_share_compile::elf::dynamic_info(&out.join("plugins").join(plugin))
            .unwrap()
            .needed;
        let ours: Vec<&String> = needed.iter().filter(|n| n.starts_with("$ORIGIN")).collect();
        assert!(!ours.is_empty(), "{plugin}: {needed:?}");
        for n in ours {
            assert!(
                host_needs.contains(n),
                "{plugin} needs {n}, the host does not: {host_needs:?}"
            );
        }
    }
    // The crate only `stats` uses is static in it, not in the program's group.
    let (_, stats_exports) =
        cargo_share_compile::elf::dynamic_symbols(&out.join("plugins/libplug_stats.so")).unwrap();
    assert!(
        stats_exports.iter().any(|s| s.contains("10plug_extra")),
        "{stats_exports:?}"
    );
    for lib in file_names(&out.join("lib")) {
        let (_, exports) =
            cargo_share_compile::elf::dynamic_symbols(&out.join("lib").join(&lib)).unwrap();
        assert!(
            !exports.iter().any(|s| s.contains("10plug_extra")),
            "{lib} has plug_extra"
        );
    }

    // A plugin built against another build of plug-api (its `loud` feature on) is refused
    // before it runs, naming the crate; the other build's own host runs it.
    let loud = loud_copy(&scratch.path().join("loud"));
    let out_loud = scratch.path().join("out-loud");
    run_ok(&mut plugin_build(
        scratch.path(),
        &loud,
        &["upper"],
        &out_loud,
    ));
    let ran = run_host(&out_loud);
    assert!(
        String::from_utf8_lossy(&ran.stdout).contains("== HOST == upper: == UPPER == hello"),
        "{}",
        String::from_utf8_lossy(&ran.stdout)
    );
    std::fs::copy(
        out_loud.join("plugins/libplug_upper.so"),
        out.join("plugins/libplug_upper_loud.so"),
    )
    .unwrap();
    let ran = run_host(&out);
    let stderr = String::from_utf8_lossy(&ran.stderr);
    let stdout = String::from_utf8_lossy(&ran.stdout);
    assert_eq!(ran.status.code(), Some(2), "{stdout}\n{stderr}");
    assert!(
        stderr.contains("refusing plugin")
            && stderr
                .contains("libplug_upper_loud.so: it was built against plug-api 0.1.0 (build ")
            && stderr.contains("but this program has plug-api 0.1.0 (build "),
        "{stderr}"
    );
    assert!(stdout.contains("2 plugins run, 1 refused"), "{stdout}");
    assert!(
        !stdout.contains("== UPPER =="),
        "no code of the refused plugin ran: {stdout}"
    );

    // Building into the same directory again names the plugin its program would refuse.
    let again = run_ok(&mut plugin_build(
        scratch.path(),
        &fixture("plugins"),
        &["upper", "stats"],
        &out,
    ));
    let said = String::from_utf8_lossy(&again.stderr);
    assert!(
        said.contains("libplug_upper_loud.so was built by an earlier build and plug-host will refuse it (it was built against another build of plug-api 0.1.0"),
        "{said}"
    );

    // A shared object cargo-share did not build as a plugin is refused too.
    std::fs::remove_file(out.join("plugins/libplug_upper_loud.so")).unwrap();
    let std_lib = file_names(&out.join("lib"))
        .into_iter()
        .find(|f| f.starts_with("libstd-"))
        .unwrap();
    std::fs::copy(
        out.join("lib").join(std_lib),
        out.join("plugins/libnot_a_plugin.so"),
    )
    .unwrap();
    let ran = run_host(&out);
    let stderr = String::from_utf8_lossy(&ran.stderr);
    assert!(
        stderr.contains("has no cargo-share closure note"),
        "{stderr}"
    );
}

#[test]
fn a_plugin_that_is_not_a_plugin_library_is_refused_with_what_to_do() {
    let scratch = tempfile::tempdir().unwrap();
    let out = scratch.path().join("out");
    let failed = plugin_build(scratch.path(), &fixture("plugins"), &["extra"], &out)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&failed.stderr);
    assert!(!failed.status.success());
    assert!(
        stderr.contains(
            "plug-extra v0.1.0 is not a plugin library: its [lib] needs crate-type = [\"dylib\"]"
        ),
        "{stderr}"
    );
    assert!(!out.exists(), "nothing written");
}

#[test]
fn installed_plugins_live_in_their_program_and_go_with_it() {
    use std::os::unix::fs::PermissionsExt;
    let env = common::store_env::Env::new();
    let install = |host: &std::ffi::OsStr, plugin: &str| {
        let mut c = env.cmd();
        c.env("CARGO_NET_OFFLINE", "true")
            .arg("install")
            .arg("--plugin-for")
            .arg(host)
            .arg("--path")
            .arg(fixture("plugins").join(plugin))
            .arg("--root")
            .arg(env.root());
        String::from_utf8_lossy(&run_ok(&mut c).stderr).into_owned()
    };
    let said = install(fixture("plugins/host").as_os_str(), "upper");
    assert!(
        said.contains("Installed plugin libplug_upper.so for plug-host: "),
        "{said}"
    );
    let host = env.root().join("bin/plug-host");
    let ran = run_clean(&host);
    assert!(
        ran.contains("[host] upper: [upper] hello") && ran.contains("1 plugins run, 0 refused"),
        "{ran}"
    );

    // A second plugin later, for the installed program by its name (built again from where it
    // was installed from): the program build is the same, so the first plugin is kept.
    let said = install("plug-host".as_ref(), "stats");
    assert!(
        said.contains("Installed plugin libplug_stats.so for plug-host: "),
        "{said}"
    );
    let ran = run_clean(&host);
    assert!(
        ran.contains("[host] stats: [stats] run 1") && ran.contains("2 plugins run, 0 refused"),
        "{ran}"
    );
    let program_dir = std::fs::canonicalize(&host)
        .unwrap()
        .parent()
        .unwrap()
        .parent()
        .unwrap()
        .to_path_buf();
    assert_eq!(
        file_names(&program_dir.join("plugins")),
        ["libplug_stats.so", "libplug_upper.so"]
    );
    env.verify_ok();
    let listed = String::from_utf8_lossy(&run_ok(env.cmd().arg("list")).stdout).into_owned();
    assert!(
        listed.contains("plugins: libplug_stats.so, libplug_upper.so"),
        "{listed}"
    );

    // verify checks the plugins: a changed one is named, then put back.
    let plugin = program_dir.join("plugins/libplug_upper.so");
    let original = std::fs::read(&plugin).unwrap();
    std::fs::set_permissions(&plugin, std::fs::Permissions::from_mode(0o644)).unwrap();
    let mut changed = original.clone();
    changed.push(0);
    std::fs::write(&plugin, &changed).unwrap();
    let out = env.cmd().arg("verify").output().unwrap();
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!out.status.success(), "{said}");
    assert!(
        said.contains("program plug-host: plugin libplug_upper.so missing or changed"),
        "{said}"
    );
    std::fs::write(&plugin, &original).unwrap();
    std::fs::set_permissions(&plugin, std::fs::Permissions::from_mode(0o444)).unwrap();
    env.verify_ok();

    // Uninstalling the program and gc remove its plugins and every entry they loaded.
    assert!(!env.entries().is_empty());
    run_ok(env.cmd().args(["uninstall", "plug-host"]));
    run_ok(env.cmd().arg("gc"));
    assert!(
        !program_dir.exists(),
        "the program build and its plugins are gone"
    );
    assert!(env.entries().is_empty(), "{:?}", env.entries());
    env.verify_ok();
}
