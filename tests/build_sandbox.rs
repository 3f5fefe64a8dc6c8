//! Builds are confined (Landlock): a build script may write its own output, but not into the
//! store nor into its package's sources, and the store's path is not in its environment.
//! Fixture `tests/fixtures/hostile`: a build script that tries and reports what it could do.

mod common;

use common::store_env::Env;
use common::*;

#[test]
fn a_build_script_cannot_write_into_the_store_or_its_sources() {
    if !kernel_has_landlock() {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI: this kernel has no Landlock, so builds cannot be confined"
        );
        eprintln!("skipped: this kernel has no Landlock");
        return;
    }
    let env = Env::new();
    let program = env.base.join("hostile");
    copy_dir(&fixture("hostile"), &program);
    // The temporary directory, which builds may write, is not the one the store is in.
    let tmp = env.base.join("tmp");
    std::fs::create_dir_all(&tmp).unwrap();
    std::fs::create_dir_all(env.store()).unwrap();
    let out = run_ok(
        env.cmd()
            .args(["install", "--path"])
            .arg(&program)
            .arg("--root")
            .arg(env.root())
            .env("TMPDIR", &tmp)
            .env("CARGO_SHARE_STORE", env.store())
            .env("HOSTILE_WRITE_INTO", env.store()),
    );
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(!said.contains("Unconfined"), "{said}");
    // Its own package directory (cargo-share's copy of it) it may write, as Cargo lets a
    // build script (zoxide writes its shell completions there); the set workspace beside it,
    // where the other programs' copies are, it may not.
    assert_eq!(
        run_clean(&env.root().join("bin/hostile")),
        "store: refused, own sources: written, beside them: refused, out dir: written, \
         store path known: false\n"
    );
    assert!(!env.store().join("hostile-was-here").exists());
    env.verify_ok();

    // Turned off: the script writes into its sources (cargo-share's copy of them), which the
    // check after the build finds; nothing is installed, and the next build copies them again.
    let before = run_clean(&env.root().join("bin/hostile"));
    let out = env
        .cmd()
        .args(["install", "--force", "--path"])
        .arg(&program)
        .arg("--root")
        .arg(env.root())
        .env("TMPDIR", &tmp)
        .env("CARGO_SHARE_NO_SANDBOX", "1")
        .env("HOSTILE_WRITE_INTO", &tmp)
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{said}");
    assert!(said.contains("Unconfined"), "{said}");
    assert!(
        said.contains("the sources of hostile-0.1.0 (cargo-share's copy of them) changed while")
            && said.contains("nothing was installed"),
        "{said}"
    );
    assert_eq!(run_clean(&env.root().join("bin/hostile")), before);
    env.verify_ok();
}
