//! ONLINE: reaches crates.io (downloads regex, serde, clap, ...). Three
//! small programs of one user (examples/three-programs), built with one `cargo share build`
//! (grouped layout), each printing what its static build prints, with regex in one group object
//! in OUT/lib that all three load.

mod common;

use std::collections::BTreeSet;
use std::path::Path;

use cargo_share_compile::elf::library_closure;
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

/// Whether a shared object holds code of crate `name` (v0 mangling spells it `<len><name>`),
/// read from its symbol table: its dynamic symbols have short names (`_cs` + 16 hex digits).
fn defines_crate(lib: &Path, name: &str) -> bool {
    use object::{Object, ObjectSymbol};
    let data = std::fs::read(lib).unwrap();
    let file = object::File::parse(&*data).unwrap();
    let needle = format!("{}{name}", name.len());
    file.symbols().any(|s| {
        s.is_definition()
            && s.name()
                .is_ok_and(|n| n.starts_with("_R") && n.contains(&needle))
    })
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
    let mut closures = Vec::new();
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
        closures.push(closure.keys().cloned().collect::<BTreeSet<String>>());
        assert!(loads_by_path(&shared_bin)
            .iter()
            .any(|n| n.starts_with("libstd-")));
    }
    // Grouped layout (the default): regex is in a group object that all three load, and
    // there is no per-crate regex library.
    let common: BTreeSet<String> = closures.iter().skip(1).fold(closures[0].clone(), |acc, c| {
        acc.intersection(c).cloned().collect()
    });
    let regex_group: Vec<&String> = common
        .iter()
        .filter(|n| {
            n.starts_with("libcargo_share_group_")
                && defines_crate(&out.join("lib").join(n), "regex")
        })
        .collect();
    assert_eq!(regex_group.len(), 1, "groups all three load: {common:?}");
    assert!(
        !file_names(&out.join("lib"))
            .iter()
            .any(|n| n.starts_with("libregex-")),
        "OUT/lib: {:?}",
        file_names(&out.join("lib"))
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
