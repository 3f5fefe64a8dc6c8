//! Splitting a program off a set: when Cargo cannot resolve the set's programs together, which
//! program leaves (`split_off`) and how that is said (`SetSplit`, `--json`: `set-split`).

use anyhow::{bail, Result};
use serde::Serialize;

use crate::build::set_cargo::SetCargo;
use crate::message::{Message, Report};
use crate::resolve::set;
use crate::resolve::set::{ResolutionConflict, SetMember};
use crate::shell::Shell;

/// A program split off a set because Cargo cannot resolve it with the others (`--json`:
/// `set-split`).
#[derive(Debug, Serialize)]
pub(crate) struct SetSplit {
    pub(crate) program: String,
    /// The other programs Cargo's explanation names.
    pub(crate) conflicts_with: Vec<String>,
    /// The crate requirement that split them.
    pub(crate) requirement: String,
    /// The set it goes to (grouped layout: resolved against the groups of the sets before);
    /// none: built with its own lockfile.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) next_set: Option<usize>,
}

impl SetSplit {
    /// Say which program leaves the set and why (a status line, and the record in JSON mode);
    /// returns its name.
    pub(crate) fn announce(self, shell: &Shell) -> String {
        let what = if self.conflicts_with.is_empty() {
            format!("{} out of the set", self.program)
        } else {
            format!(
                "{} from the set (it conflicts with {})",
                self.program,
                self.conflicts_with.join(", ")
            )
        };
        let verb = if self.conflicts_with.is_empty() {
            "Keeping"
        } else {
            "Splitting"
        };
        let how = match self.next_set {
            Some(n) => format!("resolved as set {n} against the groups of the sets before"),
            None => "built with its own lockfile".to_string(),
        };
        shell.status(verb, format!("{what}, {how}: {}", self.requirement));
        shell.message(&Message::SetSplit(Report::of(&self)));
        self.program
    }
}

/// Which program of a conflict leaves the set: of the programs Cargo names, the first (the one
/// with the fewest packages in its own lockfile, so the set keeps the most) without which the others resolve;
/// else the first, and the next conflict is handled the same way. Cargo naming none of the
/// set's programs is an error, with Cargo's explanation.
pub(crate) fn split_off(
    members: &[SetMember],
    conflict: &ResolutionConflict,
    cargo: &dyn SetCargo,
) -> Result<SetSplit> {
    let mut candidates: Vec<&SetMember> = members
        .iter()
        .filter(|m| conflict.involved.contains(&m.name))
        .collect();
    if candidates.is_empty() || members.len() < 2 {
        bail!("{conflict}");
    }
    candidates.sort_by_key(|m| (m.own_lock_packages, m.name.clone()));
    let quiet = Shell::new(true, crate::shell::MessageFormat::Human);
    let mut chosen = candidates[0];
    if candidates.len() > 1 {
        for c in &candidates {
            let rest: Vec<SetMember> = members
                .iter()
                .filter(|m| m.name != c.name)
                .cloned()
                .collect();
            if let Ok(set::Generated::Set(_)) = cargo.resolve(&rest, &[], None, &quiet) {
                chosen = c;
                break;
            }
        }
    }
    Ok(SetSplit {
        program: chosen.name.clone(),
        conflicts_with: conflict
            .involved
            .iter()
            .filter(|n| **n != chosen.name)
            .cloned()
            .collect(),
        requirement: conflict.requirement.clone(),
        next_set: None,
    })
}
