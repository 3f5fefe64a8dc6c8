//! `cargo share uninstall`: removes a program's record and its links; its files wait for `gc`.

use std::path::Path;

use anyhow::{bail, Result};

use crate::shell::Shell;
use crate::store::fault;
use crate::store::index::Access;
use crate::store::links::remove_our_link;
use crate::store::open::open_store_rolling_forward;

pub fn uninstall(store_dir: &Path, names: &[String], shell: &Shell) -> Result<()> {
    let store = open_store_rolling_forward(store_dir, Access::Write)?;
    let mut found = Vec::new();
    for name in names {
        match store.program(name)? {
            Some(p) => found.push(p),
            None => bail!(
                "`{name}` is not installed (`cargo share list` shows what is); nothing was removed"
            ),
        }
    }
    for p in found {
        let dir = store.root.join(&p.dir);
        for root in store.roots_of(&p.name)? {
            for (b, _) in &p.binaries {
                remove_our_link(&root.join("bin").join(b), &dir);
                fault::step("link-removed")?;
            }
        }
        fault::step("links-removed")?;
        store.remove_program(&p.name)?;
        fault::step("program-unrecorded")?;
        shell.status(
            "Removed",
            format!(
                "{} v{} (its libraries go at the next `cargo share gc` if nothing else uses them)",
                p.name, p.version
            ),
        );
        shell.json(
            &serde_json::json!({"reason": "program-removed", "name": p.name, "version": p.version}),
        );
    }
    Ok(())
}
