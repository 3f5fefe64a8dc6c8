//! What a program delivers: its executables, as `cargo install` installs them, and not the
//! `cdylib` its package may also build (found installing grex 1.4.6, whose library is a cdylib
//! for its Python bindings: `libgrex.so` landed in `ROOT/bin`).

mod common;

use common::*;

#[test]
fn a_program_whose_library_is_also_a_cdylib_delivers_only_its_binary() {
    let scratch = tempfile::tempdir().unwrap();
    let out = scratch.path().join("out");
    run_ok(
        cargo_share(scratch.path())
            .args(["build", "-q", "--manifest-path"])
            .arg(fixture("cdylib-too"))
            .arg("--out")
            .arg(&out),
    );
    assert_eq!(file_names(&out.join("bin")), vec!["cdylib-too".to_string()]);
    assert_eq!(
        run_clean(&out.join("bin/cdylib-too")),
        "hello, cdylib-too\n"
    );

    let (store, root) = (scratch.path().join("store"), scratch.path().join("root"));
    run_ok(
        cargo_share(scratch.path())
            .args(["install", "-q", "--path"])
            .arg(fixture("cdylib-too"))
            .arg("--store")
            .arg(&store)
            .arg("--root")
            .arg(&root),
    );
    assert_eq!(
        file_names(&root.join("bin")),
        vec!["cdylib-too".to_string()]
    );
    assert_eq!(
        run_clean(&root.join("bin/cdylib-too")),
        "hello, cdylib-too\n"
    );
}
