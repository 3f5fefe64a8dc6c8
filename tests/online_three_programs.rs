//! ONLINE: reaches crates.io (downloads regex, serde, clap, ...). The README's scenario: three
//! small programs of one user (examples/three-programs), built with one `cargo share build`,
//! each printing what its static build prints, with one regex library in OUT/lib that all three
//! load.

mod common;

use std::path::Path;

use cargo_share::elf::{dynamic_info, library_closure};
use common::*;

const PROGRAMS: &[(&str, &[&str])] = &[
    ("words", &[]),
    ("config", &["--pretty"]),
    ("stamp", &["1", "22", "333"]),
];

fn example(name: &str) -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("examples/three-programs")
        .join(name)
}

fn run_with(binary: &Path, args: &[&str]) -> String {
    let out = run_ok(
        std::process::Command::new(binary)
            .args(args)
            .env_clear()
            .current_dir("/"),
    );
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn online_three_programs_share_one_regex_library() {
    let scratch = tempfile::tempdir().unwrap();
    let out = scratch.path().join("out");
    let mut cmd = cargo_share(scratch.path());
    cmd.args(["build", "-q"]);
    for (name, _) in PROGRAMS {
        cmd.arg("--manifest-path").arg(example(name));
    }
    run_ok(cmd.arg("--out").arg(&out));

    let static_target = scratch.path().join("static-target");
    let mut regex_libs = Vec::new();
    for (name, args) in PROGRAMS {
        run_ok(
            std::process::Command::new(env!("CARGO"))
                .args(["build", "--release", "--locked", "-q", "--manifest-path"])
                .arg(example(name).join("Cargo.toml"))
                .env("CARGO_TARGET_DIR", &static_target),
        );
        let shared_bin = out.join("bin").join(name);
        let static_bin = static_target.join("release").join(name);
        assert_eq!(
            run_with(&shared_bin, args),
            run_with(&static_bin, args),
            "{name}"
        );
        assert_eq!(
            run_with(&shared_bin, &["--version"]),
            run_with(&static_bin, &["--version"])
        );

        let closure = library_closure(&shared_bin, &[out.join("lib")]).unwrap();
        let regex: Vec<&String> = closure
            .keys()
            .filter(|n| n.starts_with("libregex-"))
            .collect();
        assert_eq!(regex.len(), 1, "{name} loads {regex:?}");
        regex_libs.push(regex[0].clone());
        assert!(dynamic_info(&shared_bin)
            .unwrap()
            .needed
            .iter()
            .any(|n| n.starts_with("libstd-")));
    }
    regex_libs.dedup();
    assert_eq!(
        regex_libs.len(),
        1,
        "the programs load different regex builds"
    );
    let in_lib: Vec<String> = file_names(&out.join("lib"))
        .into_iter()
        .filter(|n| n.starts_with("libregex-"))
        .collect();
    assert_eq!(
        in_lib, regex_libs,
        "OUT/lib holds exactly one regex library"
    );

    // stamp uses both itoa versions. Their API is generic, so the code is instantiated in
    // the caller and the linker (--as-needed) keeps a NEEDED entry only where a call remains:
    // the check is the output of both, compared with the static build above.
    let stamp = run_with(&out.join("bin/stamp"), &["1000"]);
    assert_eq!(
        stamp,
        "itoa 1: 1000 itoa 0.4: 1000\n1 numbers, 1 distinct\n"
    );
}
