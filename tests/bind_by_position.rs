//! Binding by position (`build::positions`): a program bound to a library's table runs against a
//! body-only fix of the library with its own bytes unchanged, and refuses to load against a
//! library whose table is laid out differently, instead of jumping into the wrong entry.
//!
//! The library and the program are C (`cc`), with functions named like v0-mangled Rust ones, so
//! that the test needs no Rust build; they go through the same rewrite as a build's run-time
//! copies (`lib_paths::bind_to_lib_dir`, `positions::DynamicNames`) and run under the real loader.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use cargo_share_core::build::lib_paths::{bind_to_lib_dir, Place};
use cargo_share_core::build::positions::{DynamicNames, Library};

const FIRST: &str = "_RNvCs4sk5n7o1c3_7fixture5first";
const SECOND: &str = "_RNvCs4sk5n7o1c3_7fixture6second";
/// Sorts before both: a library that also exports it has another layout.
const EARLIER: &str = "_RNvCs4sk5n7o1c3_7fixture5aaaaa";

/// A library defining `FIRST` and `SECOND` (printing `tag`), and `EARLIER` when asked.
fn library_source(tag: &str, earlier: bool) -> String {
    let mut src = format!(
        "#include <stdio.h>\n\
         void {FIRST}(void) {{ printf(\"first {tag}\\n\"); }}\n\
         void {SECOND}(void) {{ printf(\"second {tag}\\n\"); }}\n"
    );
    if earlier {
        src.push_str(&format!(
            "void {EARLIER}(void) {{ printf(\"earlier\\n\"); }}\n"
        ));
    }
    src
}

/// The program calls both through the GOT (as rustc compiles: no PLT, bound at start) and keeps
/// one's address in data.
fn program_source() -> String {
    format!(
        "void {FIRST}(void); void {SECOND}(void);\n\
         void (*const later)(void) = {SECOND};\n\
         int main(void) {{ {FIRST}(); later(); return 0; }}\n"
    )
}

fn cc(dir: &Path, source: &str, out: &Path, args: &[&str]) {
    let c = dir.join(format!("{}.c", out.file_name().unwrap().to_str().unwrap()));
    std::fs::write(&c, source).unwrap();
    let status = Command::new("cc")
        .args(["-O1", "-fPIC", "-fno-plt", "-Wl,-z,now", "-o"])
        .arg(out)
        .arg(&c)
        .args(args)
        .status()
        .unwrap();
    assert!(status.success(), "cc {}", c.display());
}

/// `OUT/bin/prog` and `OUT/lib/libfix.so` as a build lays them out: both rewritten with the
/// names and tables of `lib`.
fn lay_out(out: &Path, lib: &Path, program: Option<&Path>) {
    let names = DynamicNames::of(&[Library {
        name: "libfix.so",
        layout_from: lib,
        runtime: lib,
    }])
    .unwrap();
    let provided: BTreeSet<String> = ["libfix.so".to_string()].into();
    std::fs::create_dir_all(out.join("lib")).unwrap();
    std::fs::create_dir_all(out.join("bin")).unwrap();
    let bytes = bind_to_lib_dir(lib, &provided, Place::InLibDir, &names)
        .unwrap()
        .expect("the library exports renamed functions");
    std::fs::write(out.join("lib/libfix.so"), bytes).unwrap();
    if let Some(program) = program {
        let bytes = bind_to_lib_dir(program, &provided, Place::BesideLibDir, &names)
            .unwrap()
            .expect("the program imports from libfix.so");
        write_executable(&out.join("bin/prog"), &bytes);
    }
}

fn write_executable(path: &Path, bytes: &[u8]) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::write(path, bytes).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
}

fn run(out: &Path, debug: bool) -> Output {
    let mut cmd = Command::new(out.join("bin/prog"));
    cmd.env_clear();
    if debug {
        cmd.env("LD_DEBUG", "statistics");
    }
    cmd.output().unwrap()
}

/// The loader's "final number of relocations" (symbol lookups) for the program's start.
fn lookups(out: &Output) -> u64 {
    String::from_utf8_lossy(&out.stderr)
        .lines()
        .filter_map(|l| l.split("final number of relocations:").nth(1))
        .map(|n| n.trim().parse::<u64>().unwrap())
        .next_back()
        .expect("LD_DEBUG=statistics printed the relocations")
}

struct Fixture {
    _tmp: tempfile::TempDir,
    dir: PathBuf,
}

impl Fixture {
    fn new() -> Self {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().to_path_buf();
        Fixture { _tmp: tmp, dir }
    }

    /// Builds a library version and a program linked against the first one.
    fn library(&self, name: &str, tag: &str, earlier: bool) -> PathBuf {
        let dir = self.dir.join(name);
        std::fs::create_dir_all(&dir).unwrap();
        let lib = dir.join("libfix.so");
        cc(
            &dir,
            &library_source(tag, earlier),
            &lib,
            &["-shared", "-Wl,-soname,libfix.so"],
        );
        lib
    }

    fn program(&self, lib: &Path) -> PathBuf {
        let prog = self.dir.join("prog");
        let libdir = lib.parent().unwrap().to_str().unwrap().to_string();
        cc(
            &self.dir,
            &program_source(),
            &prog,
            &[&format!("-L{libdir}"), "-lfix"],
        );
        prog
    }
}

#[test]
fn bound_by_position_a_body_fix_keeps_the_program_and_another_layout_refuses_to_load() {
    if !cfg!(target_arch = "x86_64") {
        eprintln!("binding by position is x86-64 only: skipped");
        return;
    }
    let f = Fixture::new();
    let v1 = f.library("v1", "v1", false);
    let prog = f.program(&v1);
    let out = f.dir.join("out");
    lay_out(&out, &v1, Some(&prog));

    let first = run(&out, true);
    assert!(first.status.success(), "{first:?}");
    assert_eq!(
        String::from_utf8_lossy(&first.stdout),
        "first v1\nsecond v1\n"
    );
    let program_bytes = std::fs::read(out.join("bin/prog")).unwrap();
    let bound = lookups(&first);

    // The same start bound by name (the files as linked): the two functions cost a lookup each,
    // against one for the anchor.
    let named = Command::new(&prog)
        .env_clear()
        .env("LD_LIBRARY_PATH", v1.parent().unwrap())
        .env("LD_DEBUG", "statistics")
        .output()
        .unwrap();
    assert!(named.status.success(), "{named:?}");
    assert!(
        lookups(&named) > bound,
        "by name: {named:?}\nby position: {first:?}"
    );
    eprintln!("lookups: by name {}, by position {bound}", lookups(&named));

    // A body-only fix: other code, other addresses, the same table. The program's file is not
    // rewritten and runs the fixed library.
    let v2 = f.library("v2", "fixed in v2, at other addresses", false);
    lay_out(&out, &v2, None);
    assert_eq!(std::fs::read(out.join("bin/prog")).unwrap(), program_bytes);
    let fixed = run(&out, false);
    assert!(fixed.status.success(), "{fixed:?}");
    assert_eq!(
        String::from_utf8_lossy(&fixed.stdout),
        "first fixed in v2, at other addresses\nsecond fixed in v2, at other addresses\n"
    );

    // A library whose table has one more entry before them: every position moved. The program
    // bound to the first layout does not load, rather than calling `EARLIER` for `FIRST`.
    let v3 = f.library("v3", "v3", true);
    lay_out(&out, &v3, None);
    let moved = run(&out, false);
    let stderr = String::from_utf8_lossy(&moved.stderr);
    assert!(!moved.status.success(), "{moved:?}");
    assert!(moved.stdout.is_empty(), "{moved:?}");
    assert!(
        stderr.contains("undefined symbol: _csT"),
        "the loader should name the missing anchor: {stderr}"
    );
}

/// The `DT_NEEDED` names of the laid-out program.
fn needed_of(out: &Path) -> Vec<String> {
    let bytes = std::fs::read(out.join("bin/prog")).unwrap();
    cargo_share_compile::elf::dynamic_info_of(&bytes)
        .unwrap()
        .needed
}

#[test]
fn system_libraries_come_first_unless_a_library_defines_a_c_name() {
    if !cfg!(target_arch = "x86_64") {
        eprintln!("binding by position is x86-64 only: skipped");
        return;
    }
    // A library defining only Rust names: the program names libc first (the loader then finds
    // the C functions without testing the library first), and runs as before.
    let f = Fixture::new();
    let lib = f.library("rust", "rust", false);
    let prog = f.program(&lib);
    let linked = cargo_share_compile::elf::dynamic_info_of(&std::fs::read(&prog).unwrap())
        .unwrap()
        .needed;
    assert_eq!(linked, ["libfix.so", "libc.so.6"]);
    let out = f.dir.join("out");
    lay_out(&out, &lib, Some(&prog));
    assert_eq!(needed_of(&out), ["libc.so.6", "$ORIGIN/../lib/libfix.so"]);
    let ran = run(&out, false);
    assert!(ran.status.success(), "{ran:?}");
    assert_eq!(
        String::from_utf8_lossy(&ran.stdout),
        "first rust\nsecond rust\n"
    );

    // A library also defining a C name, which a C library could define too: the order the link
    // gave, so that the library's definition still comes first.
    let dir = f.dir.join("c");
    std::fs::create_dir_all(&dir).unwrap();
    let with_c = dir.join("libfix.so");
    let source = library_source("c", false) + "void plain_c_function(void) {}\n";
    cc(
        &dir,
        &source,
        &with_c,
        &["-shared", "-Wl,-soname,libfix.so"],
    );
    let out_c = f.dir.join("out-c");
    lay_out(&out_c, &with_c, Some(&prog));
    assert_eq!(needed_of(&out_c), ["$ORIGIN/../lib/libfix.so", "libc.so.6"]);
    assert!(run(&out_c, false).status.success());
}
