//! The run-time workloads of the bench: a generated source tree and, per known program, a real
//! invocation over it (arguments and environment).
//!
//! Every input is generated deterministically inside the bench's work directory, so two runs (and
//! the static and shared builds of one run) see the same bytes. A workload must leave its inputs
//! as it found them: each is run many times, for every build.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};

/// One program's workload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Workload {
    pub(crate) args: Vec<String>,
    /// Extra environment (zoxide's database directory).
    pub(crate) env: Vec<(String, String)>,
}

impl Workload {
    /// The command line as the report shows it.
    pub(crate) fn describe(&self) -> String {
        let env: Vec<String> = self.env.iter().map(|(k, v)| format!("{k}={v}")).collect();
        let mut words = env;
        words.extend(self.args.iter().cloned());
        words.join(" ")
    }

    /// A `Command` running `binary` with this workload, its output discarded.
    pub(crate) fn command(&self, binary: &Path) -> Command {
        let mut cmd = Command::new(binary);
        cmd.args(&self.args)
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        cmd
    }

    /// A `Command` running `binary` with this workload under `tool` (`valgrind`, `strace`):
    /// `tool TOOL_ARGS BINARY ARGS`, with the workload's environment; output discarded.
    pub(crate) fn command_under(&self, tool: &str, tool_args: &[String], binary: &Path) -> Command {
        let mut cmd = Command::new(tool);
        cmd.args(tool_args)
            .arg(binary)
            .args(&self.args)
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        cmd
    }

    /// Run once to completion; the wall time. A failure is an error naming the command.
    pub(crate) fn run_once(&self, binary: &Path) -> Result<Duration> {
        let start = Instant::now();
        let status = self
            .command(binary)
            .status()
            .with_context(|| format!("running {}", binary.display()))?;
        let elapsed = start.elapsed();
        if !status.success() {
            bail!(
                "{} {} failed with {status}",
                binary.display(),
                self.describe()
            );
        }
        Ok(elapsed)
    }
}

/// The start-up invocation of each program: the arguments given with `--startup-args`, else
/// `--version` if it exits 0 on the static binary, else `--help` if that does. A program with
/// neither is left out, and why is added to `missing` (its start-up figures are then "not
/// measured", never a failed run).
pub(crate) fn startup_invocations(
    static_binaries: &BTreeMap<String, PathBuf>,
    given: &BTreeMap<String, Vec<String>>,
    missing: &mut Vec<String>,
) -> BTreeMap<String, Workload> {
    let mut out = BTreeMap::new();
    for (program, binary) in static_binaries {
        if let Some(args) = given.get(program) {
            out.insert(
                program.clone(),
                Workload {
                    args: args.clone(),
                    env: Vec::new(),
                },
            );
            continue;
        }
        let found = ["--version", "--help"].into_iter().find_map(|arg| {
            let w = Workload {
                args: vec![arg.to_string()],
                env: Vec::new(),
            };
            w.run_once(binary).is_ok().then_some(w)
        });
        match found {
            Some(w) => {
                out.insert(program.clone(), w);
            }
            None => missing.push(format!(
                "start-up of {program}: neither `--version` nor `--help` exits 0; give a trivial \
                 command line with --startup-args '{program}=ARGS'"
            )),
        }
    }
    out
}

/// Generate the inputs (under `work_dir`) and return the workload of every program of
/// `binaries` (program name to its binary file name) that has one. `zoxide` needs a database:
/// `reference_binary` gives the binary (of the static build) that fills it.
pub(crate) fn prepare(
    work_dir: &Path,
    binaries: &BTreeMap<String, String>,
    reference_binary: &dyn Fn(&str) -> Option<PathBuf>,
) -> Result<BTreeMap<String, Workload>> {
    let corpus = make_corpus(&work_dir.join("corpus"))?;
    let c = corpus.display().to_string();
    let f = corpus.join("module_00/file_00.rs").display().to_string();
    let mut out = BTreeMap::new();
    for (program, binary) in binaries {
        let plain = |args: &[&str]| Workload {
            args: args.iter().map(|a| a.to_string()).collect(),
            env: Vec::new(),
        };
        let workload = match binary.as_str() {
            "rg" => plain(&["-c", "fn_[0-9]+_1[0-9]_", &c]),
            "fd" => plain(&["-e", "rs", "file_1", &c]),
            "tokei" => plain(&[&c]),
            "hyperfine" => plain(&[
                "-N", "--runs", "20", "--warmup", "2", "--style", "none", "true",
            ]),
            "dust" => plain(&["-n", "10", &c]),
            "sd" => plain(&["-p", "wrapping_mul", "saturating_mul", &f]),
            "hexyl" => plain(&[&f]),
            "bat" => plain(&["--color=always", "--paging=never", &f]),
            "just" => {
                let justfile = make_justfile(&work_dir.join("just"))?;
                let dir = justfile.parent().unwrap_or(work_dir).display().to_string();
                plain(&[
                    "--justfile",
                    &justfile.display().to_string(),
                    "--working-directory",
                    &dir,
                    "--dump",
                    "--dump-format",
                    "json",
                ])
            }
            "zoxide" => {
                let Some(reference) = reference_binary(program) else {
                    continue;
                };
                let data = make_zoxide_database(&work_dir.join("zoxide"), &reference)?;
                Workload {
                    args: ["query", "--list", "--score", "d_1"]
                        .map(String::from)
                        .to_vec(),
                    env: vec![("_ZO_DATA_DIR".into(), data.display().to_string())],
                }
            }
            _ => continue,
        };
        out.insert(program.clone(), workload);
    }
    Ok(out)
}

/// A deterministic source tree for the workloads (about 6 MB of Rust-like text).
fn make_corpus(dir: &Path) -> Result<PathBuf> {
    write_tree(dir, 40, 40, 60, 0x2545_f491_4f6c_dd1d)
}

/// Deterministic Rust-like text: `dirs` directories `module_DD` of `files` files `file_FF.rs`,
/// each of `funcs` functions, from the xorshift `seed`. Written once: `.complete` marks a
/// finished tree.
pub(crate) fn write_tree(
    dir: &Path,
    dirs: usize,
    files: usize,
    funcs: usize,
    seed: u64,
) -> Result<PathBuf> {
    let done = dir.join(".complete");
    if done.is_file() {
        return Ok(dir.to_path_buf());
    }
    let mut text = SourceText::new(seed);
    for d in 0..dirs {
        let sub = dir.join(format!("module_{d:02}"));
        std::fs::create_dir_all(&sub)?;
        for f in 0..files {
            let body = text.file(&format!("{d}_{f}"), funcs);
            std::fs::write(sub.join(format!("file_{f:02}.rs")), body)
                .with_context(|| format!("writing into {}", sub.display()))?;
        }
    }
    std::fs::write(done, "")?;
    Ok(dir.to_path_buf())
}

/// A generator of Rust-like source text (functions with comments), deterministic per seed.
pub(crate) struct SourceText {
    seed: u64,
}

impl SourceText {
    pub(crate) fn new(seed: u64) -> Self {
        Self { seed }
    }

    fn next(&mut self) -> u64 {
        self.seed ^= self.seed << 13;
        self.seed ^= self.seed >> 7;
        self.seed ^= self.seed << 17;
        self.seed
    }

    /// `funcs` functions named `fn_{prefix}_{n}`, each with three comment lines of 8 words.
    pub(crate) fn file(&mut self, prefix: &str, funcs: usize) -> String {
        const WORDS: [&str; 20] = [
            "let", "match", "impl", "struct", "value", "buffer", "index", "error", "shared",
            "crate", "library", "Result", "Option", "String", "vec", "map", "iter", "self",
            "return", "unsafe",
        ];
        let mut text = String::new();
        for func in 0..funcs {
            text.push_str(&format!("pub fn fn_{prefix}_{func}(x: u64) -> u64 {{\n"));
            for _ in 0..3 {
                let line: Vec<&str> = (0..8).map(|_| WORDS[(self.next() % 20) as usize]).collect();
                text.push_str(&format!("    // {}\n", line.join(" ")));
            }
            text.push_str(&format!(
                "    x.wrapping_mul({})\n}}\n\n",
                self.next() % 1000
            ));
        }
        text
    }
}

/// A justfile of 400 recipes (documented, with parameters, dependencies and several body lines)
/// and 100 variables built with just's functions. `just --dump --dump-format json` parses,
/// checks and serializes it all; no recipe runs, so no shell is started.
fn make_justfile(dir: &Path) -> Result<PathBuf> {
    std::fs::create_dir_all(dir)?;
    let mut text = String::from("set shell := [\"sh\", \"-c\"]\n\nroot := justfile_directory()\n");
    for v in 0..100 {
        text.push_str(&format!(
            "var_{v} := uppercase(\"value-{v}\") + \"/\" + replace(\"a-b-{v}\", \"-\", \"_\")\n"
        ));
    }
    for r in 0..400 {
        text.push_str(&format!(
            "\n# Recipe {r}: builds part {r} of the project.\n"
        ));
        let dep = if r > 0 {
            format!(" recipe_{}", r - 1)
        } else {
            String::new()
        };
        text.push_str(&format!(
            "recipe_{r} target=\"out/{r}\" mode=\"release\":{dep}\n"
        ));
        for line in 0..4 {
            text.push_str(&format!(
                "    echo \"{{{{target}}}} {{{{mode}}}} step {line} {{{{var_{}}}}}\"\n",
                (r + line) % 100
            ));
        }
    }
    let file = dir.join("justfile");
    if std::fs::read_to_string(&file).ok().as_deref() != Some(text.as_str()) {
        std::fs::write(&file, text)?;
    }
    Ok(file)
}

/// A zoxide database of 300 directories with varied ranks, filled once by `reference` (the
/// static build's zoxide). Returns the data directory.
fn make_zoxide_database(dir: &Path, reference: &Path) -> Result<PathBuf> {
    let data = dir.join("data");
    let done = dir.join(".complete");
    if done.is_file() {
        return Ok(data);
    }
    if data.exists() {
        std::fs::remove_dir_all(&data)?;
    }
    std::fs::create_dir_all(&data)?;
    let mut dirs = Vec::new();
    for d in 0..300 {
        let path = dir.join("dirs").join(format!("d_{d:03}"));
        std::fs::create_dir_all(&path)?;
        dirs.push(path);
    }
    for (i, chunk) in dirs.chunks(50).enumerate() {
        let status = Command::new(reference)
            .arg("add")
            .arg("--score")
            .arg(format!("{}", i + 1))
            .args(chunk)
            .env("_ZO_DATA_DIR", &data)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .status()
            .with_context(|| format!("running {}", reference.display()))?;
        if !status.success() {
            bail!(
                "filling the zoxide database with {} failed with {status}",
                reference.display()
            );
        }
    }
    std::fs::write(done, "")?;
    Ok(data)
}

#[cfg(test)]
mod tests {

    #[test]
    fn startup_falls_back_to_help_and_reports_programs_with_neither() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let script = |name: &str, body: &str| {
            let path = dir.path().join(name);
            std::fs::write(&path, format!("#!/bin/sh\n{body}\n")).unwrap();
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
            (name.to_string(), path)
        };
        let binaries: BTreeMap<String, PathBuf> = [
            script("versioned", "exit 0"),
            script("helpful", "[ \"$1\" = --help ] && exit 0; exit 2"),
            script("mute", "exit 2"),
            script("given", "[ \"$1\" = list ] && exit 0; exit 2"),
        ]
        .into();
        let given: BTreeMap<String, Vec<String>> =
            [("given".to_string(), vec!["list".to_string()])].into();
        let mut missing = Vec::new();
        let chosen = startup_invocations(&binaries, &given, &mut missing);
        let args = |p: &str| chosen.get(p).map(|w| w.args.join(" "));
        assert_eq!(args("versioned").as_deref(), Some("--version"));
        assert_eq!(args("helpful").as_deref(), Some("--help"));
        assert_eq!(args("given").as_deref(), Some("list"));
        assert_eq!(args("mute"), None);
        assert_eq!(missing.len(), 1);
        assert!(missing[0].contains("start-up of mute") && missing[0].contains("--startup-args"));
    }

    use super::*;

    #[test]
    fn only_known_programs_get_a_workload_and_inputs_are_generated_once() {
        let dir = tempfile::tempdir().unwrap();
        let binaries: BTreeMap<String, String> = [
            ("ripgrep".to_string(), "rg".to_string()),
            ("just".to_string(), "just".to_string()),
            ("mytool".to_string(), "mytool".to_string()),
        ]
        .into();
        let none = |_: &str| None;
        let w = prepare(dir.path(), &binaries, &none).unwrap();
        assert_eq!(w.keys().collect::<Vec<_>>(), ["just", "ripgrep"]);
        assert!(w["ripgrep"].args.last().unwrap().ends_with("corpus"));
        let justfile = dir.path().join("just/justfile");
        let text = std::fs::read_to_string(&justfile).unwrap();
        assert_eq!(text.matches("\nrecipe_").count(), 400);
        assert!(text.contains("recipe_1 target=\"out/1\" mode=\"release\": recipe_0\n"));
        assert!(text.contains("    echo \"{{target}} {{mode}} step 0 {{var_1}}\"\n"));
        let before = std::fs::metadata(&justfile).unwrap().modified().unwrap();
        prepare(dir.path(), &binaries, &none).unwrap();
        assert_eq!(
            std::fs::metadata(&justfile).unwrap().modified().unwrap(),
            before
        );
    }
}
