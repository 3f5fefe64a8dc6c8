//! Cargo's stderr during a build, forwarded as it comes: what Cargo and rustc say of a program
//! copied into a set workspace names the program's own directory (the user's), never the copy
//! (`CACHE/sets/…`), and a diagnostic an earlier Cargo run of the same command showed is not
//! shown again (a program that fails in its set is built once more alone, `build::own_features`,
//! and a compile error of its own would otherwise be printed twice).

use std::collections::HashSet;
use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use crate::build::failures::strip_ansi;

/// A program's copy in a set workspace and the directory it was copied from.
#[derive(Debug, Clone)]
pub(crate) struct CopiedPackage {
    /// The copy's directory, absolute (Cargo's `Compiling NAME vX (DIR)` line).
    pub(crate) copy: PathBuf,
    /// The copy's directory relative to its workspace root (rustc's `--> DIR/src/main.rs`).
    pub(crate) copy_in_workspace: PathBuf,
    /// The package directory it was copied from.
    pub(crate) original: PathBuf,
    /// Whether the original is a package cargo-share fetched (crates.io, another registry, a
    /// git repository) rather than the user's own directory: Cargo says nothing of such a
    /// package's manifest to `cargo install`, so its warnings about it are not shown.
    pub(crate) fetched: bool,
}

/// How one command forwards the stderr of the Cargo runs it makes.
#[derive(Debug, Clone, Default)]
pub(crate) struct StderrForwarding {
    copies: Vec<CopiedPackage>,
    /// cargo-share's own directories (its cache: fetched sources, generated workspaces), which
    /// a status line does not name: `Compiling vivid v0.10.1`, as `cargo install` says it.
    internal: Vec<PathBuf>,
    /// The diagnostics shown so far by this command, without colours.
    shown: Arc<Mutex<HashSet<String>>>,
}

impl StderrForwarding {
    /// Forward the stderr of a Cargo run that builds `copies`.
    pub(crate) fn with_copies(&self, copies: Vec<CopiedPackage>) -> StderrForwarding {
        StderrForwarding {
            copies,
            internal: self.internal.clone(),
            shown: self.shown.clone(),
        }
    }

    /// The same forwarding, not naming the packages under `dir` (see `internal`).
    pub(crate) fn hiding(mut self, dir: PathBuf) -> StderrForwarding {
        self.internal.push(dir);
        self
    }

    /// One line of Cargo's as the user is shown it: copies named by their originals, and no
    /// package named by a directory of cargo-share's own.
    pub(crate) fn for_user(&self, line: &str, replacements: &[(String, String)]) -> String {
        let mut text = replace_all(line, replacements);
        for dir in &self.internal {
            let named = format!(" ({}", dir.display());
            while let Some(start) = text.find(&named) {
                let Some(len) = text[start..].find(')') else {
                    break;
                };
                text.replace_range(start..start + len + 1, "");
            }
        }
        text
    }

    /// Forward `stream` to our stderr line by line (colours and all), each line with the copies'
    /// directories replaced by the originals; the text (without colours, as shown) is returned
    /// once the stream ends, for reading the errors from.
    pub(crate) fn forward(
        &self,
        stream: Option<impl Read + Send + 'static>,
        cwd: &Path,
    ) -> JoinHandle<String> {
        let replacements = self.replacements(cwd);
        let unshown = self.unshown_manifest_warnings();
        let shown = self.shown.clone();
        let this = self.clone();
        std::thread::spawn(move || {
            let Some(stream) = stream else {
                return String::new();
            };
            let mut lines = Lines {
                out: std::io::stderr(),
                kept: String::new(),
                block: Vec::new(),
                shown,
                unshown,
            };
            let mut reader = BufReader::new(stream);
            let mut line = Vec::new();
            while matches!(reader.read_until(b'\n', &mut line), Ok(n) if n > 0) {
                let text = String::from_utf8_lossy(&line);
                lines.take(this.for_user(&text, &replacements));
                line.clear();
            }
            lines.end_block();
            lines.kept
        })
    }

    /// What is replaced by what, longest first: absolute copies by absolute originals (as
    /// Cargo names packages), and a copy's place in its workspace after a space or a colour
    /// code (as rustc names files) by the original relative to `cwd` where it is under it.
    pub(crate) fn replacements(&self, cwd: &Path) -> Vec<(String, String)> {
        let mut pairs = Vec::new();
        for c in &self.copies {
            pairs.push((
                c.copy.display().to_string(),
                c.original.display().to_string(),
            ));
            // Run from inside the original, rustc's own way: `src/main.rs`.
            let shown = match c.original.strip_prefix(cwd) {
                Ok(inside) if inside.as_os_str().is_empty() => String::new(),
                Ok(inside) => format!("{}/", inside.display()),
                Err(_) => format!("{}/", c.original.display()),
            };
            for before in [" ", "m"] {
                pairs.push((
                    format!("{before}{}/", c.copy_in_workspace.display()),
                    format!("{before}{shown}"),
                ));
            }
        }
        pairs.sort_by_key(|(from, _)| std::cmp::Reverse(from.len()));
        pairs
    }

    /// How Cargo's warnings about a fetched package's manifest begin, once its copy is named by
    /// its original (`warning: ORIGINAL/Cargo.toml: …`).
    fn unshown_manifest_warnings(&self) -> Vec<String> {
        self.copies
            .iter()
            .filter(|c| c.fetched)
            .map(|c| format!("warning: {}: ", c.original.join("Cargo.toml").display()))
            .collect()
    }
}

fn replace_all(text: &str, replacements: &[(String, String)]) -> String {
    let mut text = text.to_string();
    for (from, to) in replacements {
        if text.contains(from.as_str()) {
            text = text.replace(from.as_str(), to);
        }
    }
    text
}

/// The lines of one Cargo run, shown as they come except a diagnostic (from its `error` or
/// `warning` line to the next diagnostic or status line, blank lines and all: rustc ends its
/// diagnostics with one, but Cargo's own warnings about a manifest run over several
/// paragraphs), which is held until it ends and shown only if the command has not shown the
/// same one before.
struct Lines<W: Write> {
    out: W,
    kept: String,
    /// The diagnostic being read: its lines as they came.
    block: Vec<String>,
    shown: Arc<Mutex<HashSet<String>>>,
    /// How the diagnostics that are never shown begin (`unshown_manifest_warnings`).
    unshown: Vec<String>,
}

impl<W: Write> Lines<W> {
    fn take(&mut self, line: String) {
        let plain = strip_ansi(&line);
        if starts_diagnostic(&plain) {
            self.end_block();
            self.block.push(line);
        } else if self.block.is_empty() {
            self.show(&line);
        } else if is_status_line(&plain) {
            self.end_block();
            self.show(&line);
        } else {
            self.block.push(line);
        }
    }

    fn end_block(&mut self) {
        if self.block.is_empty() {
            return;
        }
        let block = std::mem::take(&mut self.block).concat();
        let plain = strip_ansi(&block);
        if self.unshown.iter().any(|start| plain.starts_with(start)) {
            return;
        }
        let new = self
            .shown
            .lock()
            .map(|mut shown| shown.insert(plain.clone()))
            .unwrap_or(true);
        if new {
            let _ = self.out.write_all(block.as_bytes());
        }
        // Kept whether shown or not: the errors say why a program failed.
        self.kept.push_str(&plain);
    }

    fn show(&mut self, text: &str) {
        let _ = self.out.write_all(text.as_bytes());
        self.kept.push_str(&strip_ansi(text));
    }
}

/// `error: …`, `error[E0308]: …`, `warning: …`: the first line of a diagnostic (and rustc's
/// `For more information about this error, …` after the last one of a crate).
fn starts_diagnostic(plain: &str) -> bool {
    if plain.starts_with("For more information about") {
        return true;
    }
    ["error", "warning"].iter().any(|word| {
        plain.strip_prefix(word).is_some_and(|rest| {
            rest.starts_with(": ")
                || (rest.starts_with('[')
                    && rest
                        .split_once("]: ")
                        .is_some_and(|(code, _)| !code.contains(' ')))
        })
    })
}

/// Cargo's status lines: a right-aligned verb (`   Compiling x v1 (…)`).
fn is_status_line(plain: &str) -> bool {
    let trimmed = plain.trim_start();
    trimmed.len() < plain.len()
        && trimmed
            .split_once(' ')
            .is_some_and(|(verb, _)| verb.chars().all(|c| c.is_ascii_alphabetic()))
        && trimmed.starts_with(|c: char| c.is_ascii_uppercase())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What `text` shows, and what is kept of it.
    fn run_keeping(text: &str, shown: &Arc<Mutex<HashSet<String>>>) -> (String, String) {
        let mut lines = Lines {
            out: Vec::new(),
            kept: String::new(),
            block: Vec::new(),
            shown: shown.clone(),
            unshown: Vec::new(),
        };
        for line in text.split_inclusive('\n') {
            lines.take(line.to_string());
        }
        lines.end_block();
        (String::from_utf8(lines.out).unwrap(), lines.kept)
    }

    fn run(text: &str, shown: &Arc<Mutex<HashSet<String>>>) -> String {
        run_keeping(text, shown).0
    }

    const FIRST: &str = "   Compiling two-a v0.1.0 (/c/sets/s/two-a-0.1.0)\n\
        error[E0308]: mismatched types\n --> two-a-0.1.0/src/main.rs:1:26\n  |\n\n\
        error: could not compile `two-a` (bin \"two-a\") due to 1 previous error\n";

    #[test]
    fn a_diagnostic_is_shown_once_per_command_and_status_lines_always() {
        let shown = Arc::default();
        assert_eq!(run(FIRST, &shown), FIRST);
        let (again, kept) = run_keeping(FIRST, &shown);
        assert_eq!(again, "   Compiling two-a v0.1.0 (/c/sets/s/two-a-0.1.0)\n");
        assert_eq!(kept, FIRST, "what was not shown again is still read");
        let other = "error[E0308]: mismatched types\n --> two-a-0.1.0/src/main.rs:2:1\n\n";
        assert_eq!(run(other, &shown), other);
    }

    #[test]
    fn a_warning_of_several_paragraphs_is_shown_once_whole() {
        // Cargo's warning about a manifest with an explicit `[[test]]` (xsv 0.13.0), said by
        // every Cargo run that reads the workspace.
        let warning = "warning: /c/x/Cargo.toml: An explicit [[test]] section is specified\n\
            files will be included as a test target:\n\n* tests/test_sort.rs\n\
            * tests/test_split.rs\n\nThis is likely to break cargo build\n";
        let run_of = |verb: &str| format!("{warning}    {verb} x v0.13.0 (/c/x)\n");
        let shown = Arc::default();
        assert_eq!(run(&run_of("Compiling"), &shown), run_of("Compiling"));
        assert_eq!(
            run(&run_of("Finished"), &shown),
            "    Finished x v0.13.0 (/c/x)\n",
            "no paragraph of it is shown again"
        );
    }

    #[test]
    fn copies_are_named_by_their_originals() {
        let forwarding = StderrForwarding::default().with_copies(vec![CopiedPackage {
            copy: "/c/sets/s/two-a-0.1.0".into(),
            copy_in_workspace: "two-a-0.1.0".into(),
            original: "/home/u/ws/two-a".into(),
            fetched: false,
        }]);
        let pairs = forwarding.replacements(Path::new("/home/u"));
        let line = replace_all(FIRST, &pairs);
        assert!(
            line.contains("Compiling two-a v0.1.0 (/home/u/ws/two-a)"),
            "{line}"
        );
        assert!(line.contains(" --> ws/two-a/src/main.rs:1:26"), "{line}");
        let coloured = "\x1b[1m\x1b[94m--> \x1b[0mtwo-a-0.1.0/src/main.rs:1:26\n";
        assert_eq!(
            replace_all(coloured, &pairs),
            "\x1b[1m\x1b[94m--> \x1b[0mws/two-a/src/main.rs:1:26\n"
        );
        let elsewhere = forwarding.replacements(Path::new("/srv"));
        assert!(replace_all(FIRST, &elsewhere).contains(" --> /home/u/ws/two-a/src/main.rs"));
        let inside = forwarding.replacements(Path::new("/home/u/ws/two-a"));
        assert!(replace_all(FIRST, &inside).contains(" --> src/main.rs"));
    }

    /// htmlq 0.4.0's manifest gives both `license` and `license-file`: `cargo install htmlq`
    /// says nothing of it, and the copy's warning named cargo-share's fetched sources.
    #[test]
    fn warnings_about_a_fetched_programs_manifest_are_not_shown() {
        let copy = |name: &str, original: &str, fetched| CopiedPackage {
            copy: format!("/c/sets/s/{name}-0.4.0").into(),
            copy_in_workspace: format!("{name}-0.4.0").into(),
            original: original.into(),
            fetched,
        };
        let forwarding = StderrForwarding::default().with_copies(vec![
            copy("htmlq", "/s/build/sources/htmlq-0.4.0", true),
            copy("mine", "/home/u/mine", false),
        ]);
        let pairs = forwarding.replacements(Path::new("/home/u"));
        let mut lines = Lines {
            out: Vec::new(),
            kept: String::new(),
            block: Vec::new(),
            shown: Arc::default(),
            unshown: forwarding.unshown_manifest_warnings(),
        };
        let text = "warning: /c/sets/s/htmlq-0.4.0/Cargo.toml: only one of `license` or \
                    `license-file` is necessary\n`license` should be used if ...\n\
                    warning: /c/sets/s/mine-0.4.0/Cargo.toml: unused manifest key: x\n\
                    \x20   Building x\n";
        for line in text.split_inclusive('\n') {
            lines.take(replace_all(line, &pairs));
        }
        lines.end_block();
        assert_eq!(
            String::from_utf8(lines.out).unwrap(),
            "warning: /home/u/mine/Cargo.toml: unused manifest key: x\n    Building x\n"
        );
    }

    #[test]
    fn packages_in_cargo_shares_own_directories_are_named_without_them() {
        let forwarding = StderrForwarding::default()
            .with_copies(vec![CopiedPackage {
                copy: "/s/build/sets/s/htmlq-0.4.0".into(),
                copy_in_workspace: "htmlq-0.4.0".into(),
                original: "/s/build/sources/htmlq-0.4.0".into(),
                fetched: true,
            }])
            .hiding("/s/build".into());
        let pairs = forwarding.replacements(Path::new("/home/u"));
        for (line, shown) in [
            (
                "   Compiling htmlq v0.4.0 (/s/build/sets/s/htmlq-0.4.0)\n",
                "   Compiling htmlq v0.4.0\n",
            ),
            (
                "\x1b[1m\x1b[92m   Compiling\x1b[0m g v0.1.0 (/s/build/sets/s/g)\n",
                "\x1b[1m\x1b[92m   Compiling\x1b[0m g v0.1.0\n",
            ),
            (
                "   Compiling mine v0.1.0 (/home/u/mine)\n",
                "   Compiling mine v0.1.0 (/home/u/mine)\n",
            ),
        ] {
            assert_eq!(forwarding.for_user(line, &pairs), shown);
        }
    }

    #[test]
    fn diagnostics_and_status_lines_are_told_apart() {
        assert!(starts_diagnostic("error[E0308]: mismatched types"));
        assert!(starts_diagnostic("warning: unused variable: `x`"));
        assert!(!starts_diagnostic("errors: 3"));
        assert!(starts_diagnostic(
            "For more information about this error, try `rustc --explain E0308`."
        ));
        assert!(is_status_line("   Compiling two-a v0.1.0 (/x)"));
        assert!(!is_status_line("  |"));
        assert!(!is_status_line(" --> src/main.rs:1:1"));
    }
}
