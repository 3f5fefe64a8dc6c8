//! Programs built with exactly the features they ask for (`--own-features`).
//!
//! A set resolves its programs together, so each shared crate is built once with the union of
//! the features the programs ask for. Cargo's features are meant to be additive, but some are
//! not: ratatui's `underline-color` adds a field to `Style`, and bottom 0.15.0, which builds
//! ratatui without it and writes `Style { .. }` literals, fails with E0063 in any set where
//! another program turns it on. Such a program is built after the others, each in a set of its
//! own ([`set_aside`]), with the earlier groups that build one of its crates with other
//! features left out ([`leave_out_forced_features`]): it loads the rest, and its own crates are
//! built as it asks. A program that fails to build in a set, for another reason than a missing
//! system requirement, is retried so once ([`programs_to_retry`]); a second failure is its own.

use std::collections::BTreeSet;
use std::path::PathBuf;

use anyhow::Result;

use crate::build::failures::FailedProgram;
use crate::build::later_sets;
use crate::build::later_sets::NotReused;
use crate::build::set_cargo::SetCargo;
use crate::build::set_split::SetSplit;
use crate::resolve::graph::BuildGraph;
use crate::resolve::grouping;
use crate::resolve::grouping::StoredGroup;
use crate::resolve::set::{SetMember, UnifyOptions};
use crate::shell::Shell;

/// Move the programs built with their own features out of set `number` into `next`: all of
/// them when the set holds others, all but the first when it holds only such programs (each is
/// a set of its own). `grouped`: later sets exist; otherwise the programs leave for their own
/// lockfiles and are returned.
pub(crate) fn set_aside(
    members: &mut Vec<SetMember>,
    next: &mut Vec<SetMember>,
    unify: &UnifyOptions,
    number: usize,
    grouped: bool,
    shell: &Shell,
) -> Vec<String> {
    let own = |m: &SetMember| unify.own_features.contains(&m.name);
    let keep_first = members.iter().all(own);
    let mut left_out = Vec::new();
    let mut i = 0;
    let mut kept_one = false;
    while i < members.len() {
        if !own(&members[i]) || (keep_first && !kept_one && grouped) {
            kept_one |= own(&members[i]);
            i += 1;
            continue;
        }
        let m = members.remove(i);
        if number > 1 && grouped {
            // Said when it left the first set; each later set passes it on.
            next.push(m);
            continue;
        }
        let split = SetSplit {
            program: m.name.clone(),
            conflicts_with: Vec::new(),
            requirement: "it is built with exactly the features it asks for, in a set of its own \
                          after the others"
                .to_string(),
            next_set: grouped.then_some(number + 1),
        };
        left_out.push(split.announce(shell));
        if grouped {
            next.push(m);
        }
    }
    if grouped {
        Vec::new()
    } else {
        left_out
    }
}

/// For a set that holds one program built with its own features: leave out of `stored` every
/// group that builds a crate of the program with other features than the program alone asks
/// for (`grouping::features_forced_on`); those crates go to `wanted_apart` when the rest of an
/// earlier set's group could then be loaded. Nothing to do for other sets.
#[allow(clippy::too_many_arguments)]
pub(crate) fn leave_out_forced_features(
    members: &[SetMember],
    stored: &mut Vec<StoredGroup>,
    unify: &UnifyOptions,
    cargo: &dyn SetCargo,
    features: &[String],
    not_reused: &mut Vec<NotReused>,
    wanted_apart: &mut BTreeSet<String>,
    shell: &Shell,
) -> Result<()> {
    let [member] = members else {
        return Ok(());
    };
    if stored.is_empty() || !unify.own_features.contains(&member.name) {
        return Ok(());
    }
    let quiet = Shell::new(true, crate::shell::MessageFormat::Human);
    let alone = cargo
        .resolve(std::slice::from_ref(member), &[], None, &quiet)?
        .set()?;
    let md = cargo.metadata(&alone.manifest_path, features)?;
    stored.retain(|g| {
        let forced = grouping::features_forced_on(&md, &g.record);
        let Some((_, why)) = forced.first() else {
            return true;
        };
        let names: Vec<String> = forced.iter().map(|(n, _)| n.clone()).collect();
        if g.set.is_some() && grouping::leaves_a_rest(&g.record, &names) {
            wanted_apart.extend(names);
        }
        NotReused::announce(g, why.clone(), shell, not_reused);
        false
    });
    // A group is usable only with the groups it loads.
    later_sets::retain_loadable(stored, |_| true, shell, not_reused);
    Ok(())
}

/// The programs of a build to build again with their own features: those that failed in a
/// workspace cargo-share generated (a set) rather than their own, for another reason than a
/// missing system requirement, and are not built so already.
pub(crate) fn programs_to_retry(
    graph: &BuildGraph,
    origins: &[(PathBuf, Vec<String>)],
    unify: &UnifyOptions,
    failed: &[FailedProgram],
) -> Vec<String> {
    failed
        .iter()
        .filter(|f| f.missing.is_none())
        .filter(|f| !unify.own_features.contains(&f.name) && !unify.own_lock.contains(&f.name))
        .filter(|f| {
            graph
                .programs
                .iter()
                .find(|p| p.name == f.name)
                .is_some_and(|p| {
                    let root = &graph.workspaces[p.workspace].root;
                    !origins.iter().any(|(own, _)| own == root)
                })
        })
        .map(|f| f.name.clone())
        .collect()
}
