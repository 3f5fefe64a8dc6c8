//! `cargo share uninstall`: removes a program's record and its links; its files wait for `gc`.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};

use crate::shell::Shell;
use crate::store::fault;
use crate::store::index::Access;
use crate::store::links::remove_our_link;
use crate::store::open::open_store_rolling_forward;

pub fn uninstall(
    store_dir: &Path,
    names: &[String],
    root: Option<&Path>,
    shell: &Shell,
) -> Result<()> {
    let store = open_store_rolling_forward(store_dir, Access::Write)?;
    let root = root
        .map(std::path::absolute)
        .transpose()
        .context("resolving --root")?;
    // Every name is checked before anything is removed.
    let mut found = Vec::new();
    for name in names {
        let Some(p) = store.program(name)? else {
            bail!(
                "`{name}` is not installed (`cargo share list` shows what is); nothing was removed"
            );
        };
        let roots = store.roots_of(&p.name)?;
        let from = match &root {
            Some(r) if !roots.contains(r) => bail!(
                "`{name}` is not installed in {} (it is linked into {}); nothing was removed",
                r.display(),
                roots
                    .iter()
                    .map(|r| r.display().to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            Some(r) => vec![r.clone()],
            None => roots.clone(),
        };
        found.push((p, from, roots));
    }
    for (p, from, roots) in found {
        let dir = store.root.join(&p.dir);
        for r in &from {
            for (b, _) in &p.binaries {
                remove_our_link(&r.join("bin").join(b), &dir);
                fault::step("link-removed")?;
            }
        }
        fault::step("links-removed")?;
        let remaining: Vec<&PathBuf> = roots.iter().filter(|r| !from.contains(r)).collect();
        if remaining.is_empty() {
            store.remove_program(&p.name)?;
            fault::step("program-unrecorded")?;
            shell.status(
                "Removed",
                format!(
                    "{} v{} (its libraries go at the next `cargo share gc` if nothing else uses \
                     them)",
                    p.name, p.version
                ),
            );
        } else {
            for r in &from {
                store.remove_program_root(&p.name, r)?;
            }
            shell.status(
                "Removed",
                format!(
                    "{} v{} from {} (still installed in {})",
                    p.name,
                    p.version,
                    from[0].display(),
                    remaining
                        .iter()
                        .map(|r| r.display().to_string())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            );
        }
        shell.json(
            &serde_json::json!({"reason": "program-removed", "name": p.name, "version": p.version,
                "roots": from}),
        );
    }
    Ok(())
}
