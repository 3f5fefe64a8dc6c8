//! The layout's rules, checked on the source tree itself (ARCHITECTURE.md, "Crates" and "Code
//! map"), in each crate's `src/` on its own: no import cycle between files, no source file much
//! over the size of one job and no function over 120 lines; in the wrapper crate, the modules
//! below the wrapper name only each other, and its dependencies hold neither the core, rusqlite
//! nor ureq; the core's hold neither the cache, the measurements nor ureq; and the crates depend
//! on each other as ARCHITECTURE.md's crate table says.
//!
//! A file depends on another when it names a path inside it (`crate::a::b::Item`, or `use
//! crate::a::b;` followed by `b::Item`), and a folder's `mod.rs` depends on the children it
//! re-exports (`pub use child::…`). Inside a folder, files name their siblings directly; code
//! outside names the folder's facade (`crate::store::Store`). A file that reached its own folder
//! through the facade would close a cycle, and this test names it.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Module path (`store::install`) of every file under a crate's `src/` except its roots.
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

/// The source folders of the workspace's crates, each checked on its own (`crate::` is each
/// crate's own root): the root package (the command line), the core, the binary cache, the
/// measurements with the audit and adopt, and the wrapper crate.
const CRATE_SOURCES: [&str; 5] = [
    "src",
    "crates/cargo-share-core/src",
    "crates/cargo-share-cache/src",
    "crates/cargo-share-measure/src",
    "crates/cargo-share-compile/src",
];

/// The wrapper crate's modules that sit below everything (ARCHITECTURE.md, "Crates"): they name
/// only each other, never the wrapper or the linker.
const BELOW_THE_WRAPPER: [&str; 6] = [
    "digest",
    "elf",
    "elf_position",
    "elf_rewrite",
    "semver_range",
    "toolchain",
];

fn sources(crate_src: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(crate_src)
}

/// Which files each file depends on, inside one crate.
fn edges(modules: &BTreeMap<String, PathBuf>) -> BTreeMap<String, BTreeSet<String>> {
    let mut edges: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (module, path) in modules {
        let code = code_of(path);
        for named in named_paths(&code, module) {
            if let Some(to) = owner(&named, modules) {
                if to != module {
                    edges
                        .entry(module.clone())
                        .or_default()
                        .insert(to.to_string());
                }
            }
        }
    }
    edges
}

/// Every import cycle a depth-first search finds, as `a -> b -> a`.
fn cycles(edges: &BTreeMap<String, BTreeSet<String>>) -> Vec<String> {
    fn visit<'a>(
        node: &'a str,
        edges: &'a BTreeMap<String, BTreeSet<String>>,
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
    for module in edges.keys() {
        visit(module, edges, &mut Vec::new(), &mut done, &mut cycles);
    }
    cycles
}

#[test]
fn no_import_cycle_between_files() {
    let mut all_edges = BTreeMap::new();
    for crate_src in CRATE_SOURCES {
        let modules = modules(&sources(crate_src));
        assert!(
            modules.len() > 5,
            "found only {} modules in {crate_src}",
            modules.len()
        );
        let edges = edges(&modules);
        let cycles = cycles(&edges);
        assert!(
            cycles.is_empty(),
            "import cycles between files of {crate_src} (name a sibling directly, or move what both need below both):\n{}",
            cycles.join("\n")
        );
        all_edges.insert(crate_src, edges);
    }
    // The check sees real edges: the wrapper depends on its plan, the store on identities.
    assert!(all_edges["crates/cargo-share-compile/src"]["wrapper"].contains("plan"));
    assert!(all_edges["crates/cargo-share-core/src"]["store::bind"].contains("store::identity"));
}

#[test]
fn below_the_wrapper_names_only_what_is_below_the_wrapper() {
    let modules = modules(&sources("crates/cargo-share-compile/src"));
    let edges = edges(&modules);
    let mut upward = Vec::new();
    for from in BELOW_THE_WRAPPER {
        assert!(
            modules.contains_key(from),
            "no module {from} in the wrapper crate"
        );
        for to in edges.get(from).into_iter().flatten() {
            if !BELOW_THE_WRAPPER.contains(&to.as_str()) {
                upward.push(format!("{from} -> {to}"));
            }
        }
    }
    assert!(
        upward.is_empty(),
        "modules below the wrapper name the wrapper's (move what they need below them):\n{}",
        upward.join("\n")
    );
}

/// What `cargo ARGS` prints at the workspace's root, which must succeed.
fn cargo_output(args: &[&str]) -> Vec<u8> {
    let out = std::process::Command::new(env!("CARGO"))
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "cargo {} failed: {}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

/// The packages `cargo tree` lists for one package of the workspace: everything Cargo would build
/// for it, every dependency kind.
fn tree_of(package: &str) -> BTreeSet<String> {
    let out = cargo_output(&[
        "tree",
        "--offline",
        "--locked",
        "-p",
        package,
        "-e",
        "normal,build,dev",
        "--prefix",
        "none",
        "--format",
        "{p}",
    ]);
    String::from_utf8(out)
        .unwrap()
        .lines()
        .filter_map(|line| line.split_whitespace().next())
        .map(str::to_string)
        .collect()
}

/// `cargo tree -p package` holds `present` (so the check reads a real tree) and none of
/// `forbidden`.
fn assert_tree_of(package: &str, present: &str, forbidden: &[&str]) {
    let packages = tree_of(package);
    assert!(
        packages.contains(present),
        "cargo tree printed {packages:?}"
    );
    for name in forbidden {
        assert!(
            !packages.contains(*name),
            "{package} depends on {name}: {packages:?}"
        );
    }
}

#[test]
fn the_wrapper_crate_depends_on_neither_the_store_database_nor_the_network() {
    // The wrapper and linker run inside every rustc invocation of a build: they must not pull in
    // the crates above them, the store's database (rusqlite) or the binary cache's HTTP client
    // (ureq).
    assert_tree_of(
        "cargo-share-compile",
        "object",
        &[
            "cargo-share",
            "cargo-share-core",
            "cargo-share-cache",
            "cargo-share-measure",
            "rusqlite",
            "ureq",
        ],
    );
}

#[test]
fn the_core_depends_on_neither_the_cache_nor_the_measurements_nor_the_network() {
    assert_tree_of(
        "cargo-share-core",
        "rusqlite",
        &[
            "cargo-share",
            "cargo-share-cache",
            "cargo-share-measure",
            "ureq",
        ],
    );
}

/// Each package of the workspace and the packages of ours it names in its manifest, any kind
/// (ARCHITECTURE.md, "Crates"): the executable on top, the cache and the measurements beside
/// each other on the core, the core on the wrapper crate, which names none.
const CRATE_GRAPH: [(&str, &[&str]); 6] = [
    (
        "cargo-share",
        &[
            "cargo-share-cache",
            "cargo-share-compile",
            "cargo-share-core",
            "cargo-share-measure",
        ],
    ),
    (
        "cargo-share-cache",
        &["cargo-share-compile", "cargo-share-core"],
    ),
    (
        "cargo-share-measure",
        &["cargo-share-compile", "cargo-share-core"],
    ),
    ("cargo-share-core", &["cargo-share-compile"]),
    ("cargo-share-compile", &[]),
    ("cargo-share-plugin-host", &[]),
];

#[test]
fn the_crates_depend_on_each_other_as_architecture_md_says() {
    let out = cargo_output(&[
        "metadata",
        "--format-version",
        "1",
        "--no-deps",
        "--offline",
        "--locked",
    ]);
    let metadata: serde_json::Value = serde_json::from_slice(&out).unwrap();
    let packages = metadata["packages"].as_array().unwrap();
    let ours: BTreeSet<&str> = packages
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    let mut found = BTreeMap::new();
    for package in packages {
        let depends_on: BTreeSet<&str> = package["dependencies"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| d["name"].as_str().unwrap())
            .filter(|name| ours.contains(name))
            .collect();
        found.insert(package["name"].as_str().unwrap(), depends_on);
    }
    let stated: BTreeMap<&str, BTreeSet<&str>> = CRATE_GRAPH
        .iter()
        .map(|(name, deps)| (*name, deps.iter().copied().collect()))
        .collect();
    assert_eq!(
        found, stated,
        "the workspace's crates (left) and ARCHITECTURE.md's crate graph (right, CRATE_GRAPH)"
    );
}

#[test]
fn no_source_file_holds_more_than_one_job() {
    // A guide, not a proof: past about 800 lines a file has almost always grown a second job.
    let mut large = Vec::new();
    for crate_src in CRATE_SOURCES {
        for (module, path) in modules(&sources(crate_src)) {
            let lines = code_of(&path).lines().count();
            if lines > 800 {
                large.push(format!("{crate_src}: {module}: {lines} lines"));
            }
        }
    }
    assert!(
        large.is_empty(),
        "split these files by job:\n{}",
        large.join("\n")
    );
}

/// The limit of [`no_function_holds_more_than_one_job`], in lines from `fn` to the closing brace.
const FUNCTION_LINES: usize = 120;

/// Every `.rs` file under `dir`.
fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().and_then(|e| e.to_str()) == Some("rs") {
            out.push(path);
        }
    }
}

/// The length of every function with a body in a file, outside `#[cfg(test)]` modules: lines
/// from the `fn` keyword to the closing brace, nested functions counted on their own too.
struct FunctionLengths(Vec<(String, usize)>);

impl FunctionLengths {
    fn add(&mut self, name: &syn::Ident, fn_token: &syn::token::Fn, block: &syn::Block) {
        let first = fn_token.span.start().line;
        let last = block.brace_token.span.close().end().line;
        self.0.push((name.to_string(), last - first + 1));
    }
}

impl<'ast> syn::visit::Visit<'ast> for FunctionLengths {
    fn visit_item_mod(&mut self, item: &'ast syn::ItemMod) {
        let cfg_test = item.attrs.iter().any(|a| {
            a.path().is_ident("cfg") && a.parse_args::<syn::Ident>().is_ok_and(|arg| arg == "test")
        });
        if !cfg_test {
            syn::visit::visit_item_mod(self, item);
        }
    }
    fn visit_item_fn(&mut self, item: &'ast syn::ItemFn) {
        self.add(&item.sig.ident, &item.sig.fn_token, &item.block);
        syn::visit::visit_item_fn(self, item);
    }
    fn visit_impl_item_fn(&mut self, item: &'ast syn::ImplItemFn) {
        self.add(&item.sig.ident, &item.sig.fn_token, &item.block);
        syn::visit::visit_impl_item_fn(self, item);
    }
    fn visit_trait_item_fn(&mut self, item: &'ast syn::TraitItemFn) {
        if let Some(block) = &item.default {
            self.add(&item.sig.ident, &item.sig.fn_token, block);
        }
        syn::visit::visit_trait_item_fn(self, item);
    }
}

#[test]
fn no_function_holds_more_than_one_job() {
    use syn::visit::Visit;
    let mut long = BTreeSet::new();
    let mut counted = 0;
    for crate_src in CRATE_SOURCES.iter().chain(&["plugin-host/src"]) {
        let mut files = Vec::new();
        rust_files(&sources(crate_src), &mut files);
        for path in files {
            let text = std::fs::read_to_string(&path).unwrap();
            let file = syn::parse_file(&text)
                .unwrap_or_else(|e| panic!("{} does not parse: {e}", path.display()));
            let mut lengths = FunctionLengths(Vec::new());
            lengths.visit_file(&file);
            counted += lengths.0.len();
            let rel = path.strip_prefix(env!("CARGO_MANIFEST_DIR")).unwrap();
            for (name, lines) in lengths.0 {
                if lines > FUNCTION_LINES {
                    long.insert((format!("{}: {name}", rel.display()), lines));
                }
            }
        }
    }
    assert!(counted > 1000, "found only {counted} functions");
    let over: Vec<String> = long
        .iter()
        .map(|(name, lines)| format!("{name}: {lines} lines"))
        .collect();
    assert!(
        over.is_empty(),
        "split these functions into named steps, one job each:\n{}",
        over.join("\n")
    );
}
