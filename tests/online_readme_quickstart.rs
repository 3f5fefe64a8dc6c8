//! ONLINE: reaches crates.io (installs sd 1.0.0 and hexyl 0.17.0, about 2 minutes on two cores).
//! The README's quickstart, run as written: the commands are read from the README's first
//! `console` block under "## Quickstart" (lines starting with `$ `), run one by one with
//! `cargo share` on PATH and the store, cache and install root in a temporary directory, and
//! each must succeed and print what the README shows. Store ids, hashes and sizes may differ
//! (another toolchain, another machine): runs of 8 or more hex digits and the numbers before a
//! size unit are compared as placeholders. Where the README shows a `...` line, the lines it
//! shows must appear in that order; otherwise the output must be exactly the lines shown.

use std::path::{Path, PathBuf};
use std::process::Command;

/// The commands of the README's quickstart, each with the output lines the README shows.
fn quickstart() -> Vec<(String, Vec<String>)> {
    let readme =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md")).unwrap();
    let block: Vec<&str> = readme
        .lines()
        .skip_while(|l| *l != "## Quickstart")
        .skip_while(|l| *l != "```console")
        .skip(1)
        .take_while(|l| *l != "```")
        .collect();
    let mut steps: Vec<(String, Vec<String>)> = Vec::new();
    for line in block {
        if let Some(cmd) = line.strip_prefix("$ ") {
            steps.push((cmd.to_string(), Vec::new()));
        } else if let Some((_, shown)) = steps.last_mut() {
            shown.push(line.to_string());
        }
    }
    steps
}

/// A line with machine-dependent parts replaced: hex runs of 8 or more digits by `HASH`, the
/// number before a size unit by `N`; surrounding spaces trimmed.
fn normalize(line: &str) -> String {
    let chars: Vec<char> = line.trim().chars().collect();
    let mut out = String::new();
    let mut i = 0;
    while i < chars.len() {
        let starts_word = i == 0 || !chars[i - 1].is_ascii_alphanumeric();
        let run = chars[i..]
            .iter()
            .take_while(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase())
            .count();
        let ends_word = chars
            .get(i + run)
            .is_none_or(|c| !c.is_ascii_alphanumeric());
        if starts_word && run >= 8 && ends_word {
            out.push_str("HASH");
            i += run;
        } else {
            out.push(chars[i]);
            i += 1;
        }
    }
    let words: Vec<&str> = out.split(' ').collect();
    let mut normalized = Vec::new();
    for (n, word) in words.iter().enumerate() {
        let unit = words
            .get(n + 1)
            .map(|w| w.trim_end_matches([',', ')', ';', ':']));
        let is_size = matches!(unit, Some("B" | "KB" | "MB" | "GB"));
        if is_size && word.parse::<f64>().is_ok() {
            normalized.push("N");
        } else {
            normalized.push(word);
        }
    }
    normalized.join(" ")
}

#[test]
fn normalize_keeps_what_is_the_same_on_every_machine() {
    assert_eq!(
        normalize(
            "  cargo-share-group-1-950ba1cc v0.1.0 (8765d8ee4d3c) 1.4 MB, used by 2: hexyl, sd"
        ),
        "cargo-share-group-1-HASH v0.1.0 (HASH) N MB, used by 2: hexyl, sd"
    );
    assert_eq!(normalize("deadbee 18 crates"), "deadbee 18 crates");
}

#[test]
fn online_readme_quickstart_runs_as_written() {
    let steps = quickstart();
    assert!(
        steps.len() >= 5 && steps[0].0.starts_with("cargo share install "),
        "the README's quickstart block was not found: {steps:?}"
    );
    for needed in ["list", "why", "uninstall"] {
        assert!(
            steps
                .iter()
                .any(|(c, _)| c.starts_with(&format!("cargo share {needed}"))),
            "the quickstart does not show `cargo share {needed}`"
        );
    }

    let scratch = tempfile::tempdir().unwrap();
    let base = scratch.path();
    let (store, cache, root) = (base.join("store"), base.join("cache"), base.join("root"));
    let tool_dir = PathBuf::from(env!("CARGO_BIN_EXE_cargo-share"))
        .parent()
        .unwrap()
        .to_path_buf();
    let path = std::env::join_paths(
        [root.join("bin"), tool_dir]
            .into_iter()
            .chain(std::env::split_paths(&std::env::var_os("PATH").unwrap())),
    )
    .unwrap();

    for (command, shown) in &steps {
        let out = Command::new("sh")
            .arg("-c")
            .arg(format!("{command} 2>&1"))
            .current_dir(base)
            .env("PATH", &path)
            .env("CARGO_SHARE_STORE", &store)
            .env("CARGO_SHARE_CACHE", &cache)
            .env("CARGO_INSTALL_ROOT", &root)
            .env_remove("CARGO_SHARE_PLAN")
            .env_remove("RUSTC_WRAPPER")
            .env_remove("CARGO_TARGET_DIR")
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout)
            .replace(&root.display().to_string(), "~/.cargo")
            .replace(
                &store.display().to_string(),
                "~/.local/share/cargo-share/store",
            );
        assert!(out.status.success(), "`{command}` failed:\n{text}");
        let actual: Vec<String> = text
            .lines()
            .map(normalize)
            .filter(|l| !l.is_empty())
            .collect();
        let expected: Vec<String> = shown
            .iter()
            .map(|l| normalize(l))
            .filter(|l| !l.is_empty())
            .collect();
        if expected.iter().any(|l| l == "...") {
            let mut rest = actual.iter();
            for line in expected.iter().filter(|l| *l != "...") {
                assert!(
                    rest.any(|a| a == line),
                    "`{command}` did not print, in the README's order: {line}\nit printed:\n{text}"
                );
            }
        } else {
            assert_eq!(
                actual, expected,
                "`{command}` printed other lines than the README shows"
            );
        }
    }
}
