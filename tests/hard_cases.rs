//! The hard cases of a shared build, on hermetic fixture workspaces (tests/fixtures, no network):
//! each built binary runs with an empty environment, prints what its static build prints, and
//! NEEDs the crate dylibs, read with the ELF reader.

mod common;

use std::collections::BTreeSet;
use std::path::Path;

use cargo_share_compile::elf::{dynamic_info, dynamic_symbols};
use cargo_share_core::build::short_names::short_name;
use common::*;

/// Crate-name prefixes of the dylibs a suite binary must NEED.
const SUITE_CRATE_LIBS: &[&str] = &[
    "libnostd-",        // #![no_std] library
    "libgen_consts-",   // build script writing OUT_DIR
    "libtwover-",       // two versions of one crate (checked for two files below)
    "libgeneric-",      // generics instantiated across crates
    "libtls-",          // thread-locals
    "liboddnames-",     // exported names a version script cannot hold (defmt's)
    "libdeclared_type", // manifest declares crate-type = ["rlib", "cdylib"]
    "libcsys-",         // -sys crate bundling a static C library
    "libcwrap-",        // another crate calling that C library
    "libstd-",          // the toolchain's libstd, shared
];

/// What `file` imports: its undefined dynamic symbols, and the other undefined symbols of its
/// symbol table, since functions bound by position (`build::positions`) are imported through
/// their library's anchor, not by name: a Rust function by its short dynamic name, the allocator
/// shim and C functions (bound through libstd's table) by their own.
fn imported_names(file: &Path) -> BTreeSet<String> {
    use object::{Object, ObjectSymbol};
    let data = std::fs::read(file).unwrap();
    let elf = object::File::parse(&*data).unwrap();
    let by_name = dynamic_symbols(file).unwrap().0;
    let by_position: Vec<String> = elf
        .symbols()
        .filter(|s| s.is_undefined())
        .filter_map(|s| s.name().ok())
        .filter(|n| !n.is_empty() && !by_name.contains(*n))
        .map(|n| match n.starts_with("_R") && !is_interposable(n) {
            true => short_name(n),
            false => n.to_string(),
        })
        .collect();
    let mut imports = by_name;
    imports.extend(by_position);
    imports
}

/// The allocator shim and the panic runtime's entry point, which keep their long names.
fn is_interposable(name: &str) -> bool {
    [
        "___rust_alloc",
        "___rust_dealloc",
        "___rust_realloc",
        "___rust_alloc_zeroed",
        "___rust_start_panic",
    ]
    .iter()
    .any(|s| name.ends_with(s))
}

/// Every binary of `out/bin` and library of `out/lib` but `std_file`.
fn files_but(out: &Path, std_file: &str) -> Vec<std::path::PathBuf> {
    let bins = file_names(&out.join("bin"));
    let libs = file_names(&out.join("lib"));
    bins.iter()
        .map(|b| out.join("bin").join(b))
        .chain(
            libs.iter()
                .filter(|l| *l != std_file)
                .map(|l| out.join("lib").join(l)),
        )
        .collect()
}

fn needed(binary: &Path) -> Vec<String> {
    loads_by_path(binary)
}

/// The run-time libstd in `out/lib` is the relinked one: no run path, only the C runtime as
/// NEEDED, everything the binaries and libraries of `out` import from the toolchain's copy
/// exported and, with `--exports used` (`limited`), nothing else but the allocator shim.
fn check_relinked_std(out: &Path, limited: bool) {
    let libs = file_names(&out.join("lib"));
    let std_file = libs.iter().find(|l| l.starts_with("libstd-")).unwrap();
    let std = out.join("lib").join(std_file);
    let info = dynamic_info(&std).unwrap();
    assert!(
        info.runpath.is_empty(),
        "{std_file} has a run path {info:?}"
    );
    for n in &info.needed {
        assert!(
            ["libgcc_s.so.1", "libc.so.6"].contains(&n.as_str()) || n.starts_with("ld-linux"),
            "{std_file} NEEDs {n}"
        );
    }
    let others = files_but(out, std_file);
    let mut imports = BTreeSet::new();
    for file in &others {
        imports.extend(imported_names(file));
    }
    let toolchain = cargo_share_compile::toolchain::Toolchain::detect().unwrap();
    let (_, stock) = dynamic_symbols(&toolchain.libstd().unwrap()).unwrap();
    let (_, exports) = dynamic_symbols(&std).unwrap();
    // The run-time copies bind std's functions by their short dynamic names.
    let stock_names: BTreeSet<String> = stock
        .iter()
        .flat_map(|s| [s.clone(), short_name(s)])
        .collect();
    let missing: Vec<&String> = imports
        .intersection(&stock_names)
        .filter(|s| !exports.contains(*s))
        .collect();
    assert!(
        exports.iter().any(|e| e.starts_with("_cs")),
        "{std_file} exports no short name"
    );
    assert!(missing.is_empty(), "{std_file} does not export {missing:?}");
    let allocator = [
        "___rust_alloc",
        "___rust_dealloc",
        "___rust_realloc",
        "___rust_alloc_zeroed",
    ];
    for a in allocator {
        assert!(
            exports.iter().any(|e| e.ends_with(a)),
            "{std_file} does not export the allocator shim {a}"
        );
    }
    // The shim stays interposable (a program exporting its `#[global_allocator]` is what libstd
    // allocates with): libstd's own calls go through a GOT slot bound by symbol, not locally.
    let bound = interposable_calls(&std);
    for a in allocator {
        assert!(
            bound.iter().any(|s| s.ends_with(a)),
            "{std_file} binds {a} locally: {bound:?}"
        );
    }
    // Every other file binds the C functions libstd binds through a GOT slot, and the allocator
    // shim, through libstd's table (`build::positions`): none of them by name.
    if cfg!(target_arch = "x86_64") {
        let through_std = got_bound(&std);
        for file in &others {
            let by_name: Vec<String> = got_bound(file)
                .intersection(&through_std)
                .cloned()
                .collect();
            assert!(
                by_name.is_empty(),
                "{} binds {by_name:?} by name, not through {std_file}'s table",
                file.display()
            );
        }
    }
    // So does the panic runtime's entry point (a `panic = "abort"` program supplies its own).
    assert!(
        bound.iter().any(|s| s.ends_with("___rust_start_panic")),
        "{std_file} binds __rust_start_panic locally: {bound:?}"
    );
    if limited {
        // The shim marker, a function, is exported by its short name.
        let marker: BTreeSet<String> = stock
            .iter()
            .filter(|s| s.ends_with("___rust_no_alloc_shim_is_unstable_v2"))
            .flat_map(|s| [s.clone(), short_name(s)])
            .collect();
        let extra: Vec<&String> = exports
            .difference(&imports)
            .filter(|e| !allocator.iter().any(|a| e.ends_with(a)))
            .filter(|e| !marker.contains(*e))
            .filter(|e| !e.ends_with("___rust_start_panic"))
            .collect();
        assert!(extra.is_empty(), "{std_file} exports unused {extra:?}");
    } else {
        // ... and the anchor of its table of functions (binding by position, x86-64).
        let anchors = exports.iter().filter(|e| e.starts_with("_csT")).count();
        assert_eq!(anchors, usize::from(cfg!(target_arch = "x86_64")));
        assert_eq!(
            exports.len() - anchors + 1,
            stock.len(),
            "all but the metadata symbol"
        );
    }
}

#[test]
fn suite_binaries_match_static_builds_and_need_crate_dylibs() {
    let scratch = tempfile::tempdir().unwrap();
    let out = scratch.path().join("out");
    let log = scratch.path().join("units.jsonl");
    run_ok(
        cargo_share(scratch.path())
            .args(["build", "--layout", "per-crate", "--manifest-path"])
            .arg(fixture("suite"))
            .arg("--out")
            .arg(&out)
            .arg("--unit-log")
            .arg(&log),
    );
    let static_dir = static_build(&fixture("suite"), scratch.path());

    for bin in ["hard-a", "hard-b"] {
        let shared = run_clean(&out.join("bin").join(bin));
        let expected = run_clean(&static_dir.join(bin));
        assert_eq!(shared, expected, "{bin}: shared output differs from static");

        let needed = needed(&out.join("bin").join(bin));
        for prefix in SUITE_CRATE_LIBS {
            assert!(
                needed.iter().any(|n| n.starts_with(prefix)),
                "{bin} does not NEED {prefix}*: {needed:?}"
            );
        }
        let twovers = needed.iter().filter(|n| n.starts_with("libtwover-"));
        assert_eq!(twovers.count(), 2, "{bin} should load both twover versions");
        for lib in &needed {
            if lib.starts_with("lib") && lib.contains('-') || lib.starts_with("libdeclared") {
                assert!(
                    out.join("lib").join(lib).is_file(),
                    "{lib} missing in OUT/lib"
                );
            }
        }
    }
    check_relinked_std(&out, true);
    // The allocator case: hard-a's #[global_allocator] puts a header before every block and
    // aborts on a block without one, so a block that crossed from libstd.so's or a dylib's
    // allocator kills the run above; the number of blocks it made equals the static build's.
    let hard_a = run_clean(&out.join("bin/hard-a"));
    assert!(
        hard_a.contains("allocator: every block carried its header"),
        "{hard_a}"
    );
    // The executable exports the allocator shim, so libstd.so and the dylibs bind to it.
    let (_, exported) = dynamic_symbols(&out.join("bin/hard-a")).unwrap();
    let shim: Vec<&String> = exported
        .iter()
        .filter(|s| cargo_share_compile::allocator::is_allocator_shim(s))
        .collect();
    assert_eq!(shim.len(), 4, "allocator shim exported: {shim:?}");
    // hard-b has no allocator of its own: it exports none and uses the default one.
    let (_, exported) = dynamic_symbols(&out.join("bin/hard-b")).unwrap();
    assert!(!exported
        .iter()
        .any(|s| cargo_share_compile::allocator::is_allocator_shim(s)));
    // A build script probing the compiler through the wrapper saw plain stable rustc.
    assert!(run_clean(&out.join("bin/hard-a")).contains("gen probe: stable compiler"));

    // Both programs load the same library files; each is in OUT/lib once.
    let a: BTreeSet<String> = needed(&out.join("bin/hard-a")).into_iter().collect();
    let b: BTreeSet<String> = needed(&out.join("bin/hard-b")).into_iter().collect();
    assert!(a.iter().any(|n| n.starts_with("libgeneric-")));
    assert_eq!(
        a.iter()
            .filter(|n| n.starts_with("libgeneric-"))
            .collect::<Vec<_>>(),
        b.iter()
            .filter(|n| n.starts_with("libgeneric-"))
            .collect::<Vec<_>>()
    );
    // Every file in OUT/lib is needed by someone (directly or through another library).
    let libs = file_names(&out.join("lib"));
    for lib in &libs {
        let used = a.contains(lib)
            || b.contains(lib)
            || libs
                .iter()
                .any(|other| needed(&out.join("lib").join(other)).contains(lib));
        assert!(used, "{lib} in OUT/lib is needed by nothing");
    }

    // The no_std dylib links libstd (force:std), and the C symbols are exported by csys.
    let nostd = libs.iter().find(|n| n.starts_with("libnostd-")).unwrap();
    assert!(needed(&out.join("lib").join(nostd))
        .iter()
        .any(|n| n.starts_with("libstd-")));
    let csys = libs.iter().find(|n| n.starts_with("libcsys-")).unwrap();
    let exported = exported_symbols(&out.join("lib").join(csys));
    for sym in ["csys_add", "csys_name", "csys_count"] {
        assert!(exported.contains(sym), "{sym} not exported by {csys}");
    }
    // Names rustc's version script cannot hold are still exported, as they are.
    let odd = libs.iter().find(|n| n.starts_with("liboddnames-")).unwrap();
    let exported = exported_symbols(&out.join("lib").join(odd));
    for sym in [
        "_oddnames_encoding_ = rzcobs",
        "{\"package\":\"oddnames\",\"tag\":\"defmt_str\",\"data\":\"hi\"}",
    ] {
        assert!(exported.contains(sym), "{sym} not exported by {odd}");
    }

    // The wrapper saw the units it should: no proc-macro (host) among them.
    let log = std::fs::read_to_string(&log).unwrap();
    let kinds: Vec<serde_json::Value> = log
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let kind_of = |name: &str| -> Vec<String> {
        kinds
            .iter()
            .filter(|k| k["crate_name"] == name)
            .map(|k| k["kind"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(kind_of("nostd"), vec!["shared-lib"]);
    assert_eq!(kind_of("hard_a"), vec!["executable"]);
    assert!(
        kind_of("describe_derive").is_empty(),
        "proc-macro went through as a target unit"
    );
    assert!(kinds
        .iter()
        .any(|k| k["crate_name"] == "nostd" && k["no_std"] == true));
}

/// The symbols a shared object's dynamic relocations name (its own calls to them can be
/// interposed).
fn interposable_calls(lib: &Path) -> BTreeSet<String> {
    use object::{Object, ObjectSymbol, ObjectSymbolTable, RelocationTarget};
    let data = std::fs::read(lib).unwrap();
    let file = object::File::parse(&*data).unwrap();
    let table = file.dynamic_symbol_table().unwrap();
    file.dynamic_relocations()
        .into_iter()
        .flatten()
        .filter_map(|(_, r)| match r.target() {
            RelocationTarget::Symbol(i) => table.symbol_by_index(i).ok(),
            _ => None,
        })
        .filter_map(|s| s.name().ok().map(String::from))
        .collect()
}

/// The symbols a file's `R_X86_64_GLOB_DAT` relocations name (bound by name at start).
fn got_bound(file: &Path) -> BTreeSet<String> {
    use object::{Object, ObjectSymbol, ObjectSymbolTable, RelocationFlags, RelocationTarget};
    let data = std::fs::read(file).unwrap();
    let elf = object::File::parse(&*data).unwrap();
    let Some(table) = elf.dynamic_symbol_table() else {
        return BTreeSet::new();
    };
    elf.dynamic_relocations()
        .into_iter()
        .flatten()
        .filter(|(_, r)| {
            r.flags()
                == RelocationFlags::Elf {
                    r_type: object::elf::R_X86_64_GLOB_DAT,
                }
        })
        .filter_map(|(_, r)| match r.target() {
            RelocationTarget::Symbol(i) => table.symbol_by_index(i).ok(),
            _ => None,
        })
        .filter(|s| !s.is_weak())
        .filter_map(|s| s.name().ok().map(String::from))
        .collect()
}

fn exported_symbols(lib: &Path) -> BTreeSet<String> {
    use object::{Object, ObjectSymbol};
    let data = std::fs::read(lib).unwrap();
    let file = object::File::parse(&*data).unwrap();
    file.dynamic_symbols()
        .filter(|s| s.is_definition())
        .filter_map(|s| s.name().ok().map(String::from))
        .collect()
}

#[test]
fn same_program_in_two_directories_gives_identical_libraries() {
    let scratch = tempfile::tempdir().unwrap();
    let mut outs = Vec::new();
    for copy in ["one", "two"] {
        let dir = scratch.path().join(copy).join("src");
        copy_dir(&fixture("suite"), &dir);
        let out = scratch.path().join(copy).join("out");
        run_ok(
            cargo_share(&scratch.path().join(copy))
                .args(["build", "-q", "--layout", "per-crate", "--manifest-path"])
                .arg(&dir)
                .arg("--out")
                .arg(&out),
        );
        outs.push(out);
    }
    let names = file_names(&outs[0].join("lib"));
    assert_eq!(names, file_names(&outs[1].join("lib")));
    assert!(names.len() >= 8, "{names:?}");
    // Code `include!`d from a build script's OUT_DIR names it by package, not by Cargo's hash
    // of the build script's unit (which changes with its build dependencies).
    let gen = names
        .iter()
        .find(|n| n.starts_with("libgen_consts-"))
        .unwrap();
    let bytes = std::fs::read(outs[0].join("lib").join(gen)).unwrap();
    let has = |needle: &str| bytes.windows(needle.len()).any(|w| w == needle.as_bytes());
    assert!(has("/target/out/gen-consts-0.1/generated.rs"), "{gen}");
    assert!(
        !has("/build/gen-consts-"),
        "{gen} names the build script's hashed directory"
    );
    for name in &names {
        let a = std::fs::read(outs[0].join("lib").join(name)).unwrap();
        let b = std::fs::read(outs[1].join("lib").join(name)).unwrap();
        assert!(a == b, "{name} differs between the two directories");
    }
}

#[test]
fn second_build_compiles_nothing_again() {
    for layout in ["per-crate", "grouped"] {
        let scratch = tempfile::tempdir().unwrap();
        let out = scratch.path().join("out");
        let build = |log: &Path| {
            run_ok(
                cargo_share(scratch.path())
                    .args(["build", "-q", "--layout", layout, "--manifest-path"])
                    .arg(fixture("suite"))
                    .arg("--out")
                    .arg(&out)
                    .arg("--unit-log")
                    .arg(log),
            );
        };
        let first = scratch.path().join("first.jsonl");
        let second = scratch.path().join("second.jsonl");
        build(&first);
        build(&second);
        let compiled = std::fs::read_to_string(&first).unwrap().lines().count();
        assert!(
            compiled >= 10,
            "{layout}: first build compiled {compiled} target units"
        );
        assert!(
            !second.exists() || std::fs::read_to_string(&second).unwrap().is_empty(),
            "{layout}: second build recompiled: {}",
            std::fs::read_to_string(&second).unwrap_or_default()
        );
    }
}

#[test]
fn grouped_suite_loads_one_group_and_matches_static_builds() {
    let scratch = tempfile::tempdir().unwrap();
    let out = scratch.path().join("out");
    // The plan first: one group for the eleven crates both programs use, nothing built.
    let plan = run_ok(
        cargo_share(scratch.path())
            .args(["build", "--dry-run", "--manifest-path"])
            .arg(fixture("suite")),
    );
    let plan = String::from_utf8_lossy(&plan.stdout).into_owned();
    let groups: Vec<&str> = plan.lines().filter(|l| l.starts_with("group ")).collect();
    assert_eq!(groups.len(), 1, "{plan}");
    assert!(
        groups[0].contains("11 crates") && groups[0].contains("for hard-a, hard-b"),
        "{plan}"
    );
    assert!(plan.contains("twover 1.0.0, twover 2.0.0"), "{plan}");
    // One Cargo command per program where builds are confined (build::sandbox), else one.
    let builds: Vec<&str> = plan
        .lines()
        .filter_map(|l| l.strip_prefix("would build: "))
        .flat_map(|l| l.split(", "))
        .collect();
    assert_eq!(builds, ["hard-a v0.1.0", "hard-b v0.1.0"], "{plan}");
    let target = scratch.path().join(format!(
        "cache/target-{}-grouped",
        cargo_share_compile::unit_record::WRAPPER_ABI
    ));
    assert!(
        std::fs::read_dir(&target).map_or(true, |mut d| d.next().is_none()),
        "--dry-run built something in {}",
        target.display()
    );

    run_ok(
        cargo_share(scratch.path())
            .args(["build", "-q", "--manifest-path"])
            .arg(fixture("suite"))
            .arg("--out")
            .arg(&out),
    );
    let static_dir = static_build(&fixture("suite"), scratch.path());
    for bin in ["hard-a", "hard-b"] {
        let shared = run_clean(&out.join("bin").join(bin));
        assert_eq!(
            shared,
            run_clean(&static_dir.join(bin)),
            "{bin}: output differs from static"
        );
        let needed = needed(&out.join("bin").join(bin));
        let rust: Vec<&String> = needed
            .iter()
            .filter(|n| {
                !n.starts_with("libc.") && !n.starts_with("libgcc_s") && !n.starts_with("libm.")
            })
            .collect();
        assert_eq!(rust.len(), 2, "{bin} needs {needed:?}");
        assert!(
            rust.iter()
                .any(|n| n.starts_with("libcargo_share_group_1_")),
            "{rust:?}"
        );
        assert!(rust.iter().any(|n| n.starts_with("libstd-")), "{rust:?}");
    }
    check_relinked_std(&out, true);
    // The group holds the C library too: hard-b calls it directly, through the group.
    assert!(run_clean(&out.join("bin/hard-b")).contains("raw_count=2"));
    let libs = file_names(&out.join("lib"));
    assert_eq!(libs.len(), 2, "{libs:?}");

    // The group's run-time copy exports only what the programs and libstd import, and fewer
    // symbols than the full build Cargo keeps for linking.
    let group = libs
        .iter()
        .find(|l| l.starts_with("libcargo_share_group_"))
        .unwrap();
    let (_, exports) = dynamic_symbols(&out.join("lib").join(group)).unwrap();
    let mut imports = BTreeSet::new();
    for file in ["bin/hard-a", "bin/hard-b"]
        .iter()
        .map(|f| out.join(f))
        .chain(libs.iter().map(|l| out.join("lib").join(l)))
    {
        imports.extend(imported_names(&file));
    }
    let unused: Vec<&String> = exports.difference(&imports).collect();
    assert!(unused.is_empty(), "{group} exports unused {unused:?}");
    let full_build = std::fs::read_dir(&target)
        .unwrap()
        .map(|e| e.unwrap().path().join("release/deps").join(group))
        .find(|p| p.is_file())
        .expect("the group's full build in the target directory");
    let (_, full) = dynamic_symbols(&full_build).unwrap();
    assert!(
        exports.len() < full.len(),
        "{} of {} exports kept",
        exports.len(),
        full.len()
    );
}

#[test]
fn a_local_crate_used_by_one_program_stays_static() {
    // Only lto-one is built: lto-lib has one user, so it is linked into the binary statically
    // (the `lto` fixture's two programs share it; see profiles_and_errors.rs).
    let scratch = tempfile::tempdir().unwrap();
    let out = scratch.path().join("out");
    run_ok(
        cargo_share(scratch.path())
            .args(["build", "-q", "--manifest-path"])
            .arg(fixture("lto").join("lto-one"))
            .arg("--out")
            .arg(&out),
    );
    let lto_needs = needed(&out.join("bin/lto-one"));
    assert!(
        !lto_needs.iter().any(|n| n.starts_with("liblto_lib")),
        "{lto_needs:?}"
    );
    assert!(lto_needs.iter().any(|n| n.starts_with("libstd-")));
    assert_eq!(
        file_names(&out.join("lib")).len(),
        1,
        "only libstd is needed"
    );
    assert!(run_clean(&out.join("bin/lto-one")).contains("sum_squares(10) = 385"));
    check_relinked_std(&out, true);

    // `--exports all` (install's default): the relinked libstd keeps every export.
    let all = scratch.path().join("all");
    run_ok(
        cargo_share(scratch.path())
            .args(["build", "-q", "--exports", "all", "--manifest-path"])
            .arg(fixture("lto").join("lto-one"))
            .arg("--out")
            .arg(&all),
    );
    check_relinked_std(&all, false);
    assert!(run_clean(&all.join("bin/lto-one")).contains("sum_squares(10) = 385"));
}

/// The loader's count of symbol lookups ("final number of relocations", `LD_DEBUG=statistics`)
/// for one run of `binary`: deterministic for a given binary and environment.
fn symbol_lookups(binary: &Path, scratch: &Path) -> u64 {
    let log = scratch.join(format!(
        "ld-{}",
        binary.file_name().unwrap().to_string_lossy()
    ));
    run_ok(
        std::process::Command::new(binary)
            .env_clear()
            .env("LD_DEBUG", "statistics")
            .env("LD_DEBUG_OUTPUT", &log)
            .current_dir("/"),
    );
    let mut lookups = 0;
    for entry in std::fs::read_dir(scratch).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        if !name.starts_with(&*log.file_name().unwrap().to_string_lossy()) {
            continue;
        }
        let text = std::fs::read_to_string(&path).unwrap();
        std::fs::remove_file(&path).unwrap();
        for line in text.lines() {
            if let Some(n) = line.split("final number of relocations:").nth(1) {
                lookups += n.trim().parse::<u64>().unwrap();
            }
        }
    }
    assert!(lookups > 0, "no loader statistics for {}", binary.display());
    lookups
}

#[test]
fn lazy_binding_behaves_the_same_and_binding_by_position_looks_up_less() {
    let scratch = tempfile::tempdir().unwrap();
    let logs = tempfile::tempdir().unwrap();
    let static_dir = static_build(&fixture("suite"), scratch.path());
    let mut lookups = Vec::new();
    for bind in ["now", "lazy"] {
        let out = scratch.path().join(format!("out-{bind}"));
        run_ok(
            cargo_share(scratch.path())
                .args(["build", "-q", "--bind", bind, "--manifest-path"])
                .arg(fixture("suite"))
                .arg("--out")
                .arg(&out),
        );
        let mut total = 0;
        for bin in ["hard-a", "hard-b"] {
            let binary = out.join("bin").join(bin);
            assert_eq!(
                run_clean(&binary),
                run_clean(&static_dir.join(bin)),
                "--bind {bind}: {bin}'s output differs from static"
            );
            let info = dynamic_info(&binary).unwrap();
            assert_eq!(
                info.bind_now,
                bind == "now",
                "--bind {bind}: {bin} {info:?}"
            );
            // Executables pack their relative relocations, as groups and libstd do.
            assert!(info.packed_relative, "{bin} has no DT_RELR: {info:?}");
            total += symbol_lookups(&binary, logs.path());
        }
        for lib in file_names(&out.join("lib")) {
            let info = dynamic_info(&out.join("lib").join(&lib)).unwrap();
            assert!(info.packed_relative, "{lib} has no DT_RELR: {info:?}");
            // libstd keeps full RELRO either way: its calls into libc are bound through the
            // GOT (its rlibs are compiled so), which lazy binding could not defer.
            let now = bind == "now" || lib.starts_with("libstd-");
            assert_eq!(info.bind_now, now, "--bind {bind}: {lib} {info:?}");
        }
        lookups.push(total);
    }
    // Binding by position (x86-64) makes `now` look up once per library what `lazy` looks up
    // once per function called.
    let fewer = if cfg!(target_arch = "x86_64") {
        lookups[0] < lookups[1]
    } else {
        lookups[1] < lookups[0]
    };
    assert!(
        fewer,
        "symbol lookups at start, now {} and lazy {}",
        lookups[0], lookups[1]
    );
}
