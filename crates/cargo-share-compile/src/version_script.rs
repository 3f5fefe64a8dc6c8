//! rustc's linker version scripts: finding one on a link line, adding exports to it, cutting it
//! down to what a set imports, and writing it so the linker can read every name in it.
//!
//! rustc writes one exported name a line, as is (`    NAME;`). A name the script syntax cannot
//! hold unquoted (defmt's `#[export_name = "_defmt_encoding_ = rzcobs"]`, its JSON-named log
//! strings) makes GNU ld and lld refuse the whole script, so a shared library holding such a
//! crate fails to link (rust-lang/rust#38238; a plain `cargo build` of such a dylib fails too).
//! [`linker_readable`] rewrites those entries just before the real linker runs: quoted when the
//! name holds no `"` or `\` (both linkers take a quoted name literally), otherwise as a pattern
//! with `?` for every character the syntax cannot hold, which matches the name itself and only
//! names of the same length that agree on every other character (rustc's own symbols are
//! mangled and cannot). Saved links keep rustc's script as it was, so that the symbol names in
//! it still compare equal to the names programs import.

/// The script named by a linker argument (`-Wl,--version-script=FILE` as rustc passes it to
/// `cc`, or `--version-script=FILE`).
pub(crate) fn version_script_arg(arg: &str) -> Option<&str> {
    arg.strip_prefix("-Wl,--version-script=")
        .or_else(|| arg.strip_prefix("--version-script="))
}

/// Add `symbols` to the `global:` list of a version script as rustc writes it.
pub(crate) fn extend_version_script(script: &str, symbols: &[String]) -> String {
    let mut extra = String::new();
    for s in symbols {
        extra.push_str(&format!("    {s};\n"));
    }
    if let Some(pos) = script.find("global:") {
        let insert_at = pos + "global:".len();
        let (head, tail) = script.split_at(insert_at);
        format!("{head}\n{extra}{tail}")
    } else if let Some(pos) = script.find('{') {
        let (head, tail) = script.split_at(pos + 1);
        format!("{head}\n  global:\n{extra}{tail}")
    } else {
        script.to_string()
    }
}

/// Keep only the `global:` entries of a version script that are in `keep`. Returns the new
/// script and how many entries were kept and dropped.
pub(crate) fn filter_version_script(
    script: &str,
    keep: &std::collections::BTreeSet<String>,
) -> (String, usize, usize) {
    let mut kept = 0;
    let mut dropped = 0;
    let out = map_global_entries(script, |name| {
        if keep.contains(name) {
            kept += 1;
            Some(format!("{name};"))
        } else {
            dropped += 1;
            None
        }
    });
    (out, kept, dropped)
}

/// The names of a version script's `global:` list, as rustc wrote them.
pub(crate) fn global_names(script: &str) -> Vec<String> {
    let mut names = Vec::new();
    map_global_entries(script, |name| {
        names.push(name.to_string());
        None
    });
    names
}

/// The script with every `global:` name the linker cannot read as is rewritten (see the module
/// docs), and how many were rewritten.
pub(crate) fn linker_readable(script: &str) -> (String, usize) {
    let mut rewritten = 0;
    let out = map_global_entries(script, |name| {
        let entry = readable_entry(name);
        if entry != name {
            rewritten += 1;
        }
        Some(format!("{entry};"))
    });
    (out, rewritten)
}

/// How one exported name is written in a version script the linker reads.
fn readable_entry(name: &str) -> String {
    if name.chars().all(plain) {
        name.to_string()
    } else if !name.contains(['"', '\\']) {
        format!("\"{name}\"")
    } else {
        name.chars()
            .map(|c| if plain(c) { c } else { '?' })
            .collect()
    }
}

/// A character a version script holds unquoted, outside patterns.
fn plain(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '$')
}

/// Rewrite the entries of the `global:` list (`    NAME;` lines) with `entry`, which returns
/// the new entry or `None` to drop it; everything else is kept as it is.
fn map_global_entries(script: &str, mut entry: impl FnMut(&str) -> Option<String>) -> String {
    let mut out = String::with_capacity(script.len());
    let mut in_global = false;
    for line in script.lines() {
        let t = line.trim();
        if t == "global:" {
            in_global = true;
        } else if t == "local:" || t.starts_with('}') {
            in_global = false;
        } else if in_global {
            if let Some(name) = t.strip_suffix(';') {
                let indent = &line[..line.len() - line.trim_start().len()];
                if let Some(new) = entry(name.trim()) {
                    out.push_str(indent);
                    out.push_str(&new);
                    out.push('\n');
                }
                continue;
            }
        }
        out.push_str(line);
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    #[test]
    fn version_script_gains_globals() {
        let script = "{\n  global:\n    _ZN3foo3bar;\n  local:\n    *;\n};\n";
        let out = extend_version_script(script, &["git_repository_open".into()]);
        assert!(out.contains("global:\n    git_repository_open;\n"), "{out}");
        assert!(out.contains("local:\n    *;"));
        let bare = "{\n  local:\n    *;\n};\n";
        let out = extend_version_script(bare, &["x".into()]);
        assert!(out.starts_with("{\n  global:\n    x;\n"), "{out}");
    }

    #[test]
    fn version_script_keeps_only_the_symbols_asked_for() {
        let script = "{\n  global:\n    a;\n    b;\n    c;\n\n  local:\n    *;\n};\n";
        let keep: BTreeSet<String> = ["a".to_string(), "c".to_string()].into();
        let (out, kept, dropped) = filter_version_script(script, &keep);
        assert_eq!((kept, dropped), (2, 1));
        assert_eq!(
            out,
            "{\n  global:\n    a;\n    c;\n\n  local:\n    *;\n};\n"
        );
    }

    #[test]
    fn names_the_linker_cannot_read_are_quoted_or_matched() {
        let script = "{\n  global:\n    _ZN3foo3bar;\n    rust_eh$x.1;\n    \
                      _defmt_encoding_ = rzcobs;\n    {\"tag\":\"str\"};\n\n  local:\n    *;\n};\n";
        let (out, rewritten) = linker_readable(script);
        assert_eq!(rewritten, 2);
        assert_eq!(
            out,
            "{\n  global:\n    _ZN3foo3bar;\n    rust_eh$x.1;\n    \
             \"_defmt_encoding_ = rzcobs\";\n    ??tag???str??;\n\n  local:\n    *;\n};\n"
        );
        // A script that needs nothing is returned unchanged.
        let plain = "{\n  global:\n    a;\n  local:\n    *;\n};\n";
        assert_eq!(linker_readable(plain), (plain.to_string(), 0));
    }
}
