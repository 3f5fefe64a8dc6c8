//! Sets after the first (grouped layout): programs split off a set because Cargo cannot resolve
//! them with it are resolved as the next set against the groups of the earlier sets, the way an
//! install builds against stored groups, so they load every group whose crate builds they can
//! use exactly. What they cannot use is left out group by group, each said why.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::message::{self, Message};
use crate::resolve::grouping;
use crate::resolve::grouping::{GroupPlan, GroupRecord, MemberSource, StoredGroup};
use crate::resolve::set::ResolutionConflict;
use crate::shell::Shell;

/// A group a set could have built against and did not, with why (`--json`: in `set-groups`).
#[derive(Debug, Clone, Serialize)]
pub(crate) struct NotReused {
    pub(crate) group: String,
    /// `from the store` or `of set N`.
    pub(crate) from: String,
    pub(crate) why: String,
}

impl NotReused {
    /// Say it (a status line) and keep it for the set's record.
    pub(crate) fn announce(group: &StoredGroup, why: String, shell: &Shell, out: &mut Vec<Self>) {
        let from = group.origin();
        shell.status(
            "Not reusing",
            format!("{} {from}: {why}", group.record.group.name),
        );
        out.push(NotReused {
            group: group.record.group.name.clone(),
            from,
            why,
        });
    }
}

/// Keep the groups of `stored` that can be loaded, every group they load being kept too
/// ([`grouping::retain_loadable`]), and say why each other group goes when `wanted` names it.
pub(crate) fn retain_loadable(
    stored: &mut Vec<StoredGroup>,
    wanted: impl Fn(&str) -> bool,
    shell: &Shell,
    not_reused: &mut Vec<NotReused>,
) {
    let before = stored.clone();
    grouping::retain_loadable(stored);
    for g in &before {
        let name = &g.record.group.name;
        if wanted(name) && !stored.iter().any(|k| &k.record.group.name == name) {
            let why = "it loads a group that is not reused".to_string();
            NotReused::announce(g, why, shell, not_reused);
        }
    }
}

/// Say what a set after the first shares: one status line, and the record in JSON mode.
pub(crate) fn announce_set(
    number: usize,
    programs: Vec<String>,
    plan: &GroupPlan,
    not_reused: &[NotReused],
    shell: &Shell,
) {
    let shares: Vec<&str> = plan.earlier.keys().map(String::as_str).collect();
    let new_groups: Vec<&str> = plan
        .groups
        .iter()
        .filter(|g| !plan.earlier.contains_key(&g.name))
        .map(|g| g.name.as_str())
        .collect();
    let mut line = format!(
        "set {number} ({}) loads {} of the earlier sets",
        programs.join(", "),
        match shares.len() {
            0 => "no group".to_string(),
            1 => "1 group".to_string(),
            n => format!("{n} groups"),
        }
    );
    if !shares.is_empty() {
        line.push_str(&format!(" ({})", shares.join(", ")));
    }
    if !new_groups.is_empty() {
        line.push_str(&format!(" and {} of its own", new_groups.len()));
    }
    if !not_reused.is_empty() {
        line.push_str(&format!("; {} not usable (said above)", not_reused.len()));
    }
    shell.status("Sharing", line);
    shell.message(&Message::SetGroups {
        set: number,
        programs: &programs,
        shares: &shares,
        new_groups: &new_groups,
        not_reused: message::value(not_reused),
    });
}

/// When Cargo cannot resolve a set with the groups it builds against: leave out the groups its
/// explanation names (a facade, or a crate one holds), and those that load them; whether any
/// was left out (if none, the conflict is between the programs themselves).
pub(crate) fn leave_out_named_groups(
    conflict: &ResolutionConflict,
    stored: &mut Vec<StoredGroup>,
    not_reused: &mut Vec<NotReused>,
    shell: &Shell,
) -> bool {
    let named = grouping::groups_named(&conflict.cargo_said, stored);
    if named.is_empty() {
        return false;
    }
    let before = stored.clone();
    stored.retain(|g| !named.contains(&g.record.group.name));
    grouping::retain_loadable(stored);
    for g in &before {
        let name = &g.record.group.name;
        if stored.iter().any(|k| &k.record.group.name == name) {
            continue;
        }
        let why = if named.contains(name) {
            format!(
                "Cargo cannot resolve the programs with it ({})",
                conflict.requirement
            )
        } else {
            "it loads a group that is not reused".to_string()
        };
        NotReused::announce(g, why, shell, not_reused);
    }
    true
}

/// The groups of a planned set as groups a later set may build against: each keeps its store
/// entry (if it came from the store) and the set that makes it. A group holding a local (path)
/// package is not one: Cargo names a path package's build by its path relative to the workspace
/// root, so a later set's workspace would compile it, and the group, a second time, into the
/// same file.
pub(crate) fn groups_of_set(
    plan: &GroupPlan,
    records: &BTreeMap<String, GroupRecord>,
    number: usize,
) -> Vec<StoredGroup> {
    plan.groups
        .iter()
        .filter(|g| {
            !g.members
                .iter()
                .any(|m| matches!(m.source, MemberSource::Path { .. }))
        })
        .filter_map(|g| {
            Some(StoredGroup {
                record: records.get(&g.name)?.clone(),
                entry: plan.reused.get(&g.name).cloned().unwrap_or_default(),
                set: Some(plan.earlier.get(&g.name).copied().unwrap_or(number)),
            })
        })
        .collect()
}

/// Fold a later set's plan into the build's: its own groups join, the earlier groups it loads
/// gain its programs as consumers.
pub(crate) fn merge_plan(
    into: &mut Option<(GroupPlan, BTreeMap<String, GroupRecord>)>,
    plan: GroupPlan,
    records: BTreeMap<String, GroupRecord>,
) {
    let Some((all, all_records)) = into else {
        *into = Some((plan, records));
        return;
    };
    for group in plan.groups {
        match all.groups.iter_mut().find(|g| g.name == group.name) {
            Some(known) => known.consumers.extend(group.consumers),
            None => all.groups.push(group),
        }
    }
    all.static_crates.extend(plan.static_crates);
    all.excluded.extend(plan.excluded);
    all.reused.extend(plan.reused);
    for (name, record) in records {
        all_records.entry(name).or_insert(record);
    }
}
