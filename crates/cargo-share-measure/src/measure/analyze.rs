//! `cargo share analyze`: before building anything, how many distinct crate builds a set of
//! programs needs under each unification policy, and which builds are shared by how many
//! programs.
//!
//! A crate build is what Cargo would compile once: a package with one feature set and one set of
//! dependency builds (the same thing that goes into Cargo's unit hash). For each policy the
//! programs are prepared exactly as `build` would (own lockfiles, or the generated set), and
//! `cargo tree -e normal,no-proc-macro` is run once per Cargo invocation the build would make,
//! so features are resolved the way that build resolves them. A build's key is a hash over the
//! package id, its features and its dependencies' keys.

use std::collections::{BTreeMap, BTreeSet};

use anyhow::{bail, Context, Result};
use serde::Serialize;

use cargo_share_compile::digest::sha256_hex;
use cargo_share_core::build;
use cargo_share_core::build::BuildOptions;
use cargo_share_core::message::{Message, Report};
use cargo_share_core::resolve::set::Unify;
use cargo_share_core::shell::{human_bytes, Shell};

/// What one policy needs.
#[derive(Debug, Clone, Serialize)]
pub struct PolicyAnalysis {
    pub(crate) unify: Unify,
    pub(crate) programs: usize,
    /// Distinct library crate builds (programs themselves not counted).
    pub(crate) crate_builds: usize,
    /// Distinct crate names among them.
    pub(crate) crate_names: usize,
    /// Builds used by two or more programs.
    pub(crate) shared_builds: usize,
    /// Number of programs using a build -> number of builds.
    pub(crate) users_histogram: BTreeMap<usize, usize>,
    /// Crate names with more than one build, most builds first.
    pub(crate) most_built: Vec<(String, usize)>,
    /// Program -> crate builds in its closure.
    pub(crate) builds_per_program: BTreeMap<String, usize>,
    /// Rust source bytes of the crate builds, counted once per program that uses them: what
    /// static linking compiles and ships, each program its own copy.
    pub(crate) static_source_bytes: u64,
    /// The same, each distinct crate build counted once: what sharing compiles and ships.
    pub(crate) shared_source_bytes: u64,
}

impl PolicyAnalysis {
    /// Projected saving of sharing under this policy over static builds whose per-program
    /// source total is `static_bytes` (normally the `none` analysis: each program with its own
    /// lockfile, as `cargo install` builds it), by source size, a proxy for the machine code
    /// (`cargo share bench` measures the real bytes): 0.4 means 40% less.
    pub(crate) fn projected_saving(&self, static_bytes: u64) -> Option<f64> {
        (static_bytes > 0).then(|| 1.0 - self.shared_source_bytes as f64 / static_bytes as f64)
    }
}

/// One line of `cargo tree --prefix depth --format '{p}|{f}'`.
#[derive(Debug, PartialEq, Eq)]
struct TreeLine {
    depth: usize,
    package: String,
    features: String,
}

fn parse_tree_line(line: &str) -> Option<TreeLine> {
    let digits = line.chars().take_while(|c| c.is_ascii_digit()).count();
    let depth = line[..digits].parse().ok()?;
    let rest = line[digits..].trim_end();
    let rest = rest.strip_suffix(" (*)").unwrap_or(rest);
    let (package, features) = rest.rsplit_once('|')?;
    Some(TreeLine {
        depth,
        package: package.to_string(),
        features: features.to_string(),
    })
}

/// Crate build keys per program from one `cargo tree` output (one or more root trees).
fn builds_from_tree(output: &str) -> Result<BTreeMap<String, BTreeSet<(String, String)>>> {
    // package -> (features, children) as first printed; later copies are deduplicated.
    let mut nodes: BTreeMap<String, (String, BTreeSet<String>)> = BTreeMap::new();
    let mut roots: Vec<String> = Vec::new();
    let mut stack: Vec<String> = Vec::new();
    for line in output.lines().filter(|l| !l.trim().is_empty()) {
        let Some(t) = parse_tree_line(line) else {
            bail!("unexpected `cargo tree` line: {line}");
        };
        stack.truncate(t.depth);
        if let Some(parent) = stack.last() {
            if let Some(node) = nodes.get_mut(parent) {
                node.1.insert(t.package.clone());
            }
        } else {
            roots.push(t.package.clone());
        }
        nodes
            .entry(t.package.clone())
            .or_insert_with(|| (t.features.clone(), BTreeSet::new()));
        stack.push(t.package);
    }
    fn key_of(
        pkg: &str,
        nodes: &BTreeMap<String, (String, BTreeSet<String>)>,
        memo: &mut BTreeMap<String, String>,
        path: &mut Vec<String>,
    ) -> String {
        if let Some(k) = memo.get(pkg) {
            return k.clone();
        }
        if path.iter().any(|p| p == pkg) {
            return sha256_hex(pkg.as_bytes());
        }
        path.push(pkg.to_string());
        let (features, children) = nodes.get(pkg).cloned().unwrap_or_default();
        let mut child_keys: Vec<String> = children
            .iter()
            .map(|c| key_of(c, nodes, memo, path))
            .collect();
        child_keys.sort();
        path.pop();
        let key = sha256_hex(format!("{pkg}\n{features}\n{}", child_keys.join(",")).as_bytes());
        memo.insert(pkg.to_string(), key.clone());
        key
    }
    let mut memo = BTreeMap::new();
    let mut out = BTreeMap::new();
    for root in &roots {
        // Everything below the root, by walking the recorded children.
        let mut seen = BTreeSet::new();
        let mut queue: Vec<String> = nodes
            .get(root)
            .map(|n| n.1.iter().cloned().collect())
            .unwrap_or_default();
        while let Some(p) = queue.pop() {
            if !seen.insert(p.clone()) {
                continue;
            }
            if let Some(n) = nodes.get(&p) {
                queue.extend(n.1.iter().cloned());
            }
        }
        let builds: BTreeSet<(String, String)> = seen
            .into_iter()
            .map(|p| {
                let k = key_of(&p, &nodes, &mut memo, &mut Vec::new());
                (p, k)
            })
            .collect();
        let name = root.split(' ').next().unwrap_or(root).to_string();
        out.insert(name, builds);
    }
    Ok(out)
}

/// Analyse one policy: prepare as `build` would, then `cargo tree` per Cargo invocation.
pub(crate) fn analyze_policy(options: &BuildOptions, shell: &Shell) -> Result<PolicyAnalysis> {
    // Counting crate builds does not depend on how they are packed into objects; the per-crate
    // layout accepts every policy.
    let options = BuildOptions {
        layout: cargo_share_core::build::Layout::PerCrate,
        ..options.clone()
    };
    let prepared = build::prepare(&options, shell)?;
    let mut per_program: BTreeMap<String, BTreeSet<(String, String)>> = BTreeMap::new();
    for (wi, programs) in prepared.invocations() {
        let ws = &prepared.graph.workspaces[wi];
        let mut cmd = cargo_share_core::source::cargo_command();
        cmd.args(["tree", "--target", &prepared.toolchain.host])
            .args(["-e", "normal,no-proc-macro", "--prefix", "depth"])
            .args(["--format", "{p}|{f}", "--locked"])
            .arg("--manifest-path")
            .arg(&ws.manifest_path);
        for &p in &programs {
            let p = &prepared.graph.programs[p];
            // The package id, not NAME@VERSION: a program another program of the set also uses as
            // a crates.io library (git-delta uses bat) is there twice under one name and version.
            cmd.args(["-p", &p.package_id.repr]);
        }
        let names: Vec<&str> = programs
            .iter()
            .map(|&p| prepared.graph.programs[p].name.as_str())
            .collect();
        cmd.args(prepared.options.features.cargo_args(&names));
        let out = cmd.output().context("running cargo tree")?;
        if !out.status.success() {
            bail!(
                "cargo tree failed for {}:\n{}",
                ws.manifest_path.display(),
                String::from_utf8_lossy(&out.stderr).trim_end()
            );
        }
        per_program.extend(builds_from_tree(&String::from_utf8_lossy(&out.stdout))?);
    }
    // Source size of each package, by "name version" as `cargo tree` prints it.
    let mut dirs: BTreeMap<String, std::path::PathBuf> = BTreeMap::new();
    for ws in &prepared.graph.workspaces {
        for p in &ws.metadata.packages {
            if let Some(dir) = p.manifest_path.parent() {
                dirs.insert(format!("{} v{}", p.name, p.version), dir.into());
            }
        }
    }
    let mut source_bytes: BTreeMap<String, u64> = BTreeMap::new();
    let mut bytes_of = |pkg: &str| -> u64 {
        let key: String = pkg.split(' ').take(2).collect::<Vec<_>>().join(" ");
        *source_bytes.entry(key.clone()).or_insert_with(|| {
            dirs.get(&key)
                .map(|d| cargo_share_core::resolve::grouping::rust_source_bytes(d))
                .unwrap_or(0)
        })
    };
    let mut static_source_bytes = 0;
    let mut shared_source_bytes = 0;
    let mut counted: BTreeSet<&str> = BTreeSet::new();
    for builds in per_program.values() {
        for (pkg, key) in builds {
            let bytes = bytes_of(pkg);
            static_source_bytes += bytes;
            if counted.insert(key) {
                shared_source_bytes += bytes;
            }
        }
    }
    let mut users: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
    let mut names_of_build: BTreeMap<&str, &str> = BTreeMap::new();
    for (program, builds) in &per_program {
        for (pkg, key) in builds {
            users.entry(key).or_default().insert(program);
            names_of_build.insert(key, pkg.split(' ').next().unwrap_or(pkg));
        }
    }
    let mut per_name: BTreeMap<&str, usize> = BTreeMap::new();
    for name in names_of_build.values() {
        *per_name.entry(name).or_default() += 1;
    }
    let mut most_built: Vec<(String, usize)> = per_name
        .iter()
        .filter(|(_, n)| **n > 1)
        .map(|(k, n)| (k.to_string(), *n))
        .collect();
    most_built.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    let mut users_histogram = BTreeMap::new();
    for who in users.values() {
        *users_histogram.entry(who.len()).or_default() += 1;
    }
    Ok(PolicyAnalysis {
        unify: options.unify.policy,
        programs: per_program.len(),
        crate_builds: users.len(),
        crate_names: per_name.len(),
        shared_builds: users.values().filter(|u| u.len() > 1).count(),
        users_histogram,
        most_built,
        builds_per_program: per_program
            .iter()
            .map(|(p, b)| (p.clone(), b.len()))
            .collect(),
        static_source_bytes,
        shared_source_bytes,
    })
}

/// `cargo share analyze`: every policy asked for, then a table.
pub fn analyze(
    options: &BuildOptions,
    policies: &[Unify],
    shell: &Shell,
) -> Result<Vec<PolicyAnalysis>> {
    let mut results = Vec::new();
    for &policy in policies {
        let mut o = options.clone();
        o.unify.policy = policy;
        if policy == Unify::None {
            o.unify.pins.clear();
            o.unify.own_lock.clear();
            o.unify.lock_file = None;
        }
        shell.status("Analyzing", format!("--unify {policy}"));
        let a = analyze_policy(&o, shell)?;
        shell.message(&Message::Analysis(Report::of(&a)));
        results.push(a);
    }
    let none = results.iter().find(|a| a.unify == Unify::None);
    let baseline = none.map(|a| a.crate_builds);
    shell.result(format!(
        "\n{:<10} {:>8} {:>12} {:>11} {:>13} {:>15} {:>22}",
        "unify",
        "programs",
        "crate builds",
        "crate names",
        "shared by 2+",
        "vs none",
        "projected saving"
    ));
    for a in &results {
        let saving = match baseline {
            Some(b) if b > 0 => format!(
                "{:+.0}% builds",
                (a.crate_builds as f64 / b as f64 - 1.0) * 100.0
            ),
            _ => String::new(),
        };
        // Static builds are the `none` resolution whatever the policy (unifying features makes
        // each program's own closure larger, not its static build).
        let static_bytes = none.map_or(a.static_source_bytes, |n| n.static_source_bytes);
        let projected = a.projected_saving(static_bytes).map_or(String::new(), |p| {
            format!(
                "{:.0}% ({} of {})",
                p * 100.0,
                human_bytes(static_bytes.saturating_sub(a.shared_source_bytes)),
                human_bytes(static_bytes)
            )
        });
        shell.result(format!(
            "{:<10} {:>8} {:>12} {:>11} {:>13} {:>15} {:>22}",
            a.unify.to_string(),
            a.programs,
            a.crate_builds,
            a.crate_names,
            a.shared_builds,
            saving,
            projected
        ));
    }
    shell.result(
        "projected saving: Rust source of the crate builds each program links statically (its own \
         lockfile, `none`), less each distinct build of the policy once (a proxy for code size; \
         `cargo share bench` measures bytes)",
    );
    for a in &results {
        if a.most_built.is_empty() {
            continue;
        }
        let top: Vec<String> = a
            .most_built
            .iter()
            .take(8)
            .map(|(n, c)| format!("{n} x{c}"))
            .collect();
        shell.result(format!(
            "--unify {}: crates built more than once: {}{}",
            a.unify,
            top.join(", "),
            if a.most_built.len() > 8 {
                format!(" (and {} more)", a.most_built.len() - 8)
            } else {
                String::new()
            }
        ));
    }
    Ok(results)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tree_builds_tell_feature_sets_and_dependency_builds_apart() {
        // Two programs; `dep` has the same features in both but depends on different builds of
        // `leaf`, so it is two builds; `other` is one build used by both.
        let tree = "0p1 v0.1.0 (/x/p1)|\n1dep v1.0.0|default\n2leaf v1.0.0|a\n1other v1.0.0|\n\
                    0p2 v0.1.0 (/x/p2)|\n1other v1.0.0| (*)\n";
        let first = builds_from_tree(tree).unwrap();
        assert_eq!(first["p1"].len(), 3);
        assert_eq!(first["p2"].len(), 1);
        let a = "0p1 v0.1.0 (/x/p1)|\n1dep v1.0.0|default\n2leaf v1.0.0|a\n";
        let b = "0p2 v0.1.0 (/x/p2)|\n1dep v1.0.0|default\n2leaf v1.0.0|b\n";
        let (a, b) = (builds_from_tree(a).unwrap(), builds_from_tree(b).unwrap());
        let dep_key = |m: &BTreeMap<String, BTreeSet<(String, String)>>, p: &str| {
            m[p].iter()
                .find(|(n, _)| n.starts_with("dep "))
                .unwrap()
                .1
                .clone()
        };
        assert_ne!(dep_key(&a, "p1"), dep_key(&b, "p2"));
        assert_eq!(
            parse_tree_line("2memchr v2.8.3|alloc,std (*)"),
            Some(TreeLine {
                depth: 2,
                package: "memchr v2.8.3".into(),
                features: "alloc,std".into()
            })
        );
    }
}
