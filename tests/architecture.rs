//! The layout's rules, checked on the source tree itself (ARCHITECTURE.md, "Code map"):
//! no import cycle between files, and no source file much over the size of one job.
//!
//! A file depends on another when it names a path inside it (`crate::a::b::Item`, or `use
//! crate::a::b;` followed by `b::Item`), and a folder's `mod.rs` depends on the children it
//! re-exports (`pub use child::…`). Inside a folder, files name their siblings directly; code
//! outside names the folder's facade (`crate::store::Store`). A file that reached its own folder
//! through the facade would close a cycle, and this test names it.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Module path (`store::install`) of every file under `src/` except the two crate roots.
fn modules(src: &Path) -> BTreeMap<String, PathBuf> {
    let mut out = BTreeMap::new();
    let mut stack = vec![src.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
                continue;
            }
            if path.extension().and_then(|e| e.to_str()) != Some("rs") {
                continue;
            }
            let rel = path.strip_prefix(src).unwrap().with_extension("");
            let mut parts: Vec<String> = rel
                .components()
                .map(|c| c.as_os_str().to_string_lossy().into_owned())
                .collect();
            if parts == ["lib"] || parts == ["main"] {
                continue;
            }
            if parts.last().map(String::as_str) == Some("mod") {
                parts.pop();
            }
            out.insert(parts.join("::"), path);
        }
    }
    out
}

/// The code of a file without comments and without its `#[cfg(test)] mod tests` (tests may
/// use whatever they test).
fn code_of(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap();
    let code = match text.find("#[cfg(test)]\nmod tests {") {
        Some(i) => &text[..i],
        None => &text[..],
    };
    // Comments name paths for the reader, not the compiler.
    code.lines()
        .filter(|line| !line.trim_start().starts_with("//"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Every `crate::…` path in the text, plus paths through module aliases brought in by `use`.
fn named_paths(code: &str, module: &str) -> BTreeSet<String> {
    let ident = |c: char| c.is_ascii_alphanumeric() || c == '_' || c == ':';
    let mut paths = BTreeSet::new();
    // `crate::a::b::{c, d}` and `crate::a::b::c`.
    for (i, _) in code.match_indices("crate::") {
        if i > 0 && code[..i].ends_with(|c: char| c.is_ascii_alphanumeric() || c == '_') {
            continue;
        }
        let rest = &code[i + "crate::".len()..];
        let end = rest.find(|c: char| !ident(c)).unwrap_or(rest.len());
        let path = rest[..end].trim_end_matches(':');
        if rest[end..].starts_with('{') {
            let close = rest[end..].find('}').unwrap_or(0);
            for item in rest[end + 1..end + close].split(',') {
                let item = item.split_whitespace().next().unwrap_or("");
                if item == "self" || item.is_empty() {
                    paths.insert(path.to_string());
                } else {
                    paths.insert(format!("{path}::{item}"));
                }
            }
        } else {
            paths.insert(path.to_string());
        }
    }
    // `pub use child::{…}` in a folder's mod.rs: the facade depends on its children.
    for line in code.lines() {
        if let Some(rest) = line.strip_prefix("pub use ") {
            if !rest.starts_with("crate::") {
                let end = rest.find(|c: char| !ident(c)).unwrap_or(rest.len());
                let path = rest[..end].trim_end_matches(':');
                paths.insert(format!("{module}::{path}"));
            }
        }
    }
    paths
}

/// The file a path lands in: the longest module prefix that is a file.
fn owner<'a>(path: &str, modules: &'a BTreeMap<String, PathBuf>) -> Option<&'a str> {
    let mut parts: Vec<&str> = path.split("::").collect();
    while !parts.is_empty() {
        let candidate = parts.join("::");
        if let Some((name, _)) = modules.get_key_value(&candidate) {
            return Some(name);
        }
        parts.pop();
    }
    None
}

#[test]
fn no_import_cycle_between_files() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let modules = modules(&src);
    assert!(modules.len() > 20, "found only {} modules", modules.len());
    let mut edges: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
    for (module, path) in &modules {
        let code = code_of(path);
        for named in named_paths(&code, module) {
            if let Some(to) = owner(&named, &modules) {
                if to != module {
                    edges.entry(module.as_str()).or_default().insert(to);
                }
            }
        }
    }
    // Depth-first search for a back edge; report the cycle it closes.
    fn visit<'a>(
        node: &'a str,
        edges: &BTreeMap<&'a str, BTreeSet<&'a str>>,
        stack: &mut Vec<&'a str>,
        done: &mut BTreeSet<&'a str>,
        cycles: &mut Vec<String>,
    ) {
        if done.contains(node) {
            return;
        }
        if let Some(at) = stack.iter().position(|&n| n == node) {
            let mut cycle: Vec<&str> = stack[at..].to_vec();
            cycle.push(node);
            cycles.push(cycle.join(" -> "));
            return;
        }
        stack.push(node);
        for next in edges.get(node).into_iter().flatten() {
            visit(next, edges, stack, done, cycles);
        }
        stack.pop();
        done.insert(node);
    }
    let mut cycles = Vec::new();
    let mut done = BTreeSet::new();
    for module in modules.keys() {
        visit(module, &edges, &mut Vec::new(), &mut done, &mut cycles);
    }
    assert!(
        cycles.is_empty(),
        "import cycles between files (name a sibling directly, or move what both need below both):\n{}",
        cycles.join("\n")
    );
    // The check sees real edges: the driver depends on the wrapper plan, the store on identities.
    assert!(edges["build::prepare"].contains("compile::plan"));
    assert!(edges["store::bind"].contains("store::identity"));
}

#[test]
fn no_source_file_holds_more_than_one_job() {
    // A guide, not a proof: past about 800 lines a file has almost always grown a second job.
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut large = Vec::new();
    for (module, path) in modules(&src) {
        let lines = code_of(&path).lines().count();
        if lines > 800 {
            large.push(format!("{module}: {lines} lines"));
        }
    }
    assert!(
        large.is_empty(),
        "split these files by job:\n{}",
        large.join("\n")
    );
}
