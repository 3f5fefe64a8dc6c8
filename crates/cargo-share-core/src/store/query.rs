//! `cargo share list` and `cargo share why`: what is installed and who needs a library.

use std::path::Path;

use anyhow::{bail, Result};

use crate::message::{self, Message};
use crate::shell::{human_bytes, Shell};
use crate::store::index::{Access, EntryRow, Store};
use crate::store::open::open_store;
use serde_json::Value;

/// `cargo share list`: programs, then entries with their sizes and users.
pub fn list(store_dir: &Path, shell: &Shell) -> Result<()> {
    if !store_dir.exists() {
        // Nothing installed yet: nothing to list, as `cargo install --list` says nothing (the
        // store is not created by a command that only reads).
        shell.message(&Message::StoreList {
            programs: Value::Array(Vec::new()),
            libraries: &[],
        });
        return Ok(());
    }
    let store = open_store(store_dir, Access::Read)?;
    let programs = store.readable_programs()?;
    let mut entries = Vec::new();
    for r in store.entries()? {
        let users = store.users_of(&r.hash)?;
        entries.push(serde_json::json!({
            "package": r.package, "version": r.version, "id": r.hash, "file": r.file,
            "runtime_size": r.runtime_size, "users": users,
        }));
    }
    if !shell.is_json() {
        println!("programs:");
        for p in &programs {
            let bins: Vec<&str> = p.binaries.iter().map(|(b, _)| b.as_str()).collect();
            let features = if p.features.is_default() {
                String::new()
            } else {
                format!(" features: {}", p.features.describe())
            };
            let plugins: Vec<&str> = p.plugins.iter().map(|(f, _)| f.as_str()).collect();
            let plugins = if plugins.is_empty() {
                String::new()
            } else {
                format!(" plugins: {}", plugins.join(", "))
            };
            println!(
                "  {} v{} [{}] bin: {} ({} shared crate builds){features}{plugins}",
                p.name,
                p.version,
                p.source,
                bins.join(", "),
                p.entries.len()
            );
        }
        println!("libraries:");
        for e in &entries {
            println!(
                "  {} v{} ({}) {}, used by {}: {}",
                e["package"].as_str().unwrap_or(""),
                e["version"].as_str().unwrap_or(""),
                &e["id"].as_str().unwrap_or("")[..12],
                human_bytes(e["runtime_size"].as_u64().unwrap_or(0)),
                e["users"].as_array().map_or(0, |u| u.len()),
                e["users"]
                    .as_array()
                    .map(|u| u
                        .iter()
                        .filter_map(|x| x.as_str())
                        .collect::<Vec<_>>()
                        .join(", "))
                    .unwrap_or_default()
            );
        }
    }
    shell.message(&Message::StoreList {
        programs: message::value(&programs),
        libraries: &entries,
    });
    Ok(())
}

/// The members of a group entry named `lib`, as `NAME vVERSION` (none for other entries).
fn group_members_named(store: &Store, row: &EntryRow, lib: &str) -> Vec<String> {
    if !row
        .package
        .starts_with(crate::resolve::grouping::GROUP_PACKAGE_PREFIX)
    {
        return Vec::new();
    }
    let Ok(entry) = store.entry(row) else {
        return Vec::new();
    };
    entry
        .group
        .map(|g| {
            g.group
                .members
                .iter()
                .filter(|m| m.name == lib)
                .map(|m| format!("{} v{}", m.name, m.version))
                .collect()
        })
        .unwrap_or_default()
}

/// `cargo share why LIB`: the programs that need a library (by package name, file name or id
/// prefix, or a crate inside a group), directly or through another library.
pub fn why(store_dir: &Path, lib: &str, shell: &Shell) -> Result<Vec<(String, Vec<String>)>> {
    let store = open_store(store_dir, Access::Read)?;
    let mut inside: std::collections::BTreeMap<String, Vec<String>> = Default::default();
    let mut matches = Vec::new();
    for r in store.entries()? {
        let members = group_members_named(&store, &r, lib);
        if r.package == lib
            || r.file == lib
            || (lib.len() >= 6 && r.hash.starts_with(lib))
            || !members.is_empty()
        {
            if !members.is_empty() {
                inside.insert(r.hash.clone(), members);
            }
            matches.push(r);
        }
    }
    if matches.is_empty() {
        bail!("no library `{lib}` in the store (give a package name, file name or id; `cargo share list` shows them)");
    }
    let mut out = Vec::new();
    for r in matches {
        let users = store.users_of(&r.hash)?;
        let members = inside.get(&r.hash).cloned().unwrap_or_default();
        if !shell.is_json() {
            let within = if members.is_empty() {
                String::new()
            } else {
                format!("{} in ", members.join(", "))
            };
            println!(
                "{within}{} v{} ({}): {}",
                r.package,
                r.version,
                &r.hash[..12],
                if users.is_empty() {
                    "needed by no installed program (removed by `cargo share gc`)".to_string()
                } else {
                    format!("needed by {}", users.join(", "))
                }
            );
        }
        shell.message(&Message::Why {
            package: &r.package,
            version: &r.version,
            id: &r.hash,
            members: &members,
            programs: &users,
        });
        out.push((r.hash, users));
    }
    Ok(out)
}
