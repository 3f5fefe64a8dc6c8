//! The documentation's own checks (hermetic, no network): every internal link of the README and
//! the book (`docs/src`) points at a file that exists and, with `#anchor`, at a heading of that
//! file (anchors as mdBook makes them); every page of the book is in its `SUMMARY.md`; and no
//! Markdown, Rust or shell file of the repository cites a file outside the repository.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Every file under `dir` whose name ends with one of `exts`, skipping build outputs.
fn files_under(dir: &Path, exts: &[&str], out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let entry = entry.unwrap();
        let path = entry.path();
        let name = entry.file_name().to_string_lossy().into_owned();
        let kind = entry.file_type().unwrap();
        if kind.is_dir() {
            if !matches!(name.as_str(), "target" | ".git" | "book") {
                files_under(&path, exts, out);
            }
        } else if kind.is_file() && exts.iter().any(|e| name.ends_with(e)) {
            out.push(path);
        }
    }
}

/// The lines of a Markdown text outside fenced code blocks, with inline code spans removed.
fn prose_lines(text: &str) -> Vec<(usize, String)> {
    let mut out = Vec::new();
    let mut fence: Option<&str> = None;
    for (n, line) in text.lines().enumerate() {
        let trimmed = line.trim_start();
        for marker in ["```", "~~~"] {
            if trimmed.starts_with(marker) {
                fence = match fence {
                    None => Some(marker),
                    Some(m) if m == marker => None,
                    other => other,
                };
            }
        }
        if fence.is_some() || trimmed.starts_with("```") || trimmed.starts_with("~~~") {
            continue;
        }
        let mut prose = String::new();
        let mut in_code = false;
        for c in line.chars() {
            if c == '`' {
                in_code = !in_code;
                prose.push(' ');
            } else if !in_code {
                prose.push(c);
            }
        }
        out.push((n + 1, prose));
    }
    out
}

/// mdBook's id for a heading: its text lowercased, whitespace as `-`, only alphanumerics, `-`
/// and `_` kept (inline code and link targets reduced to their text).
fn heading_id(heading: &str) -> String {
    let mut text = String::new();
    let mut chars = heading.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '`' | '*' => {}
            ']' if chars.peek() == Some(&'(') => {
                for c in chars.by_ref() {
                    if c == ')' {
                        break;
                    }
                }
            }
            '[' => {}
            c => text.push(c),
        }
    }
    text.trim()
        .chars()
        .filter_map(|c| {
            if c.is_alphanumeric() || c == '_' || c == '-' {
                Some(c.to_ascii_lowercase())
            } else if c.is_whitespace() {
                Some('-')
            } else {
                None
            }
        })
        .collect()
}

/// The anchors of a Markdown file: its headings' ids (a repeated id gets `-1`, `-2`, ...).
fn anchors(text: &str) -> BTreeSet<String> {
    let mut seen: BTreeMap<String, usize> = BTreeMap::new();
    let mut out = BTreeSet::new();
    let mut fence = false;
    for line in text.lines() {
        if line.trim_start().starts_with("```") {
            fence = !fence;
            continue;
        }
        if fence || !line.starts_with('#') {
            continue;
        }
        let id = heading_id(line.trim_start_matches('#'));
        let n = seen.entry(id.clone()).or_default();
        out.insert(if *n == 0 {
            id.clone()
        } else {
            format!("{id}-{n}")
        });
        *n += 1;
    }
    out
}

/// The link targets `[text](target)` of a Markdown text, with their line numbers.
fn links(text: &str) -> Vec<(usize, String)> {
    let mut out = Vec::new();
    for (n, line) in prose_lines(text) {
        let mut rest = line.as_str();
        while let Some(i) = rest.find("](") {
            let after = &rest[i + 2..];
            let end = after.find(')').unwrap_or(after.len());
            let target = after[..end].split_whitespace().next().unwrap_or("");
            out.push((n, target.to_string()));
            rest = &after[end..];
        }
    }
    out
}

fn markdown_files() -> Vec<PathBuf> {
    let mut files = vec![repo().join("README.md")];
    files_under(&repo().join("docs/src"), &[".md"], &mut files);
    files
}

#[test]
fn every_internal_link_of_the_readme_and_the_book_resolves() {
    let mut broken = Vec::new();
    let mut checked = 0;
    for file in markdown_files() {
        let text = std::fs::read_to_string(&file).unwrap();
        for (line, target) in links(&text) {
            if target.contains("://") || target.starts_with("mailto:") || target.is_empty() {
                continue;
            }
            let (path, anchor) = match target.split_once('#') {
                Some((p, a)) => (p, Some(a)),
                None => (target.as_str(), None),
            };
            let dest = if path.is_empty() {
                file.clone()
            } else {
                file.parent().unwrap().join(path)
            };
            // Resolves `..`; a file that does not exist is reported as such below.
            let dest = dest.canonicalize().unwrap_or(dest);
            checked += 1;
            let shown = format!(
                "{}:{line}: {target}",
                file.strip_prefix(repo()).unwrap().display()
            );
            if !dest.starts_with(repo().canonicalize().unwrap()) {
                broken.push(format!("{shown} (outside the repository)"));
            } else if !dest.exists() {
                broken.push(format!("{shown} (no such file)"));
            } else if let Some(anchor) = anchor {
                let is_md = dest.extension().is_some_and(|e| e == "md");
                if !is_md || !anchors(&std::fs::read_to_string(&dest).unwrap()).contains(anchor) {
                    broken.push(format!("{shown} (no heading with that anchor)"));
                }
            }
        }
    }
    assert!(checked > 100, "only {checked} internal links found");
    assert!(broken.is_empty(), "broken links:\n{}", broken.join("\n"));
}

#[test]
fn every_page_of_the_book_is_in_its_summary() {
    let src = repo().join("docs/src");
    let summary = std::fs::read_to_string(src.join("SUMMARY.md")).unwrap();
    let listed: BTreeSet<PathBuf> = links(&summary)
        .into_iter()
        .map(|(_, t)| src.join(t))
        .collect();
    let mut pages = Vec::new();
    files_under(&src, &[".md"], &mut pages);
    let pages: BTreeSet<PathBuf> = pages
        .into_iter()
        .filter(|p| !p.ends_with("SUMMARY.md"))
        .collect();
    let missing: Vec<_> = pages.difference(&listed).collect();
    let dangling: Vec<_> = listed.difference(&pages).collect();
    assert!(
        missing.is_empty() && dangling.is_empty(),
        "pages not in SUMMARY.md: {missing:?}; SUMMARY.md entries without a page: {dangling:?}"
    );
}

#[test]
fn no_file_of_the_repository_cites_a_file_outside_it() {
    // Spelled in pieces so that this file does not match itself.
    let outside = [
        format!("{}{}", "NOTES", ".md"),
        format!("{}{}", "../", "shared/"),
    ];
    let mut files = Vec::new();
    files_under(&repo(), &[".md", ".rs", ".sh"], &mut files);
    files.push(repo().join(".ci/run"));
    let mut hits = Vec::new();
    for file in &files {
        let Ok(text) = std::fs::read_to_string(file) else {
            continue;
        };
        for (n, line) in text.lines().enumerate() {
            if outside.iter().any(|o| line.contains(o.as_str())) {
                hits.push(format!(
                    "{}:{}: {line}",
                    file.strip_prefix(repo()).unwrap().display(),
                    n + 1
                ));
            }
        }
    }
    assert!(files.len() > 50, "only {} files read", files.len());
    assert!(
        hits.is_empty(),
        "files outside the repository cited:\n{}",
        hits.join("\n")
    );
}

#[test]
fn heading_ids_are_mdbooks() {
    assert_eq!(
        heading_id(" Specializations and `-Z share-generics` (2026-11-30)"),
        "specializations-and--z-share-generics-2026-11-30"
    );
    assert_eq!(
        heading_id(" no_std crates, RUSTC_BOOTSTRAP and symbol mangling"),
        "no_std-crates-rustc_bootstrap-and-symbol-mangling"
    );
    let ids = anchors("# A\n## B b\n## B b\n```\n# not a heading\n```\n");
    assert_eq!(
        ids,
        ["a", "b-b", "b-b-1"]
            .map(String::from)
            .into_iter()
            .collect()
    );
}
