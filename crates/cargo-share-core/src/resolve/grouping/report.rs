//! The group plan as `--dry-run` shows it.

use crate::message::{self, Message};
use crate::resolve::grouping::group::GroupPlan;
use crate::shell::{human_bytes, Shell};

/// Show a plan: one status line per group before a build; with `full` (`--dry-run`), the
/// members, the crates that stay static and the exclusions as the command's result. In JSON mode
/// one `group-plan` record.
pub(crate) fn report(plan: &GroupPlan, shell: &Shell, full: bool) {
    shell.message(&Message::GroupPlan {
        plan: message::value(plan),
    });
    for g in &plan.groups {
        let loads = if g.depends_on.is_empty() {
            String::new()
        } else {
            format!(
                "; loads {}",
                g.depends_on.iter().cloned().collect::<Vec<_>>().join(", ")
            )
        };
        let origin = match (plan.reused.get(&g.name), plan.earlier.get(&g.name)) {
            (_, Some(set)) => format!(" (of set {set}, shared)"),
            (Some(entry), None) => format!(" (in the store as {}, reused)", &entry[..12]),
            (None, None) => String::new(),
        };
        let line = format!(
            "{}{origin}: {} crates, {} of source, for {}{loads}",
            g.name,
            g.members.len(),
            human_bytes(g.source_bytes),
            g.consumers.iter().cloned().collect::<Vec<_>>().join(", ")
        );
        if full {
            shell.result(format!("group {line}"));
            let members: Vec<String> = g
                .members
                .iter()
                .map(|m| format!("{} {}", m.name, m.version))
                .collect();
            shell.result(format!("    {}", members.join(", ")));
        } else {
            shell.status("Group", line);
        }
    }
    if full {
        for (program, n) in &plan.static_crates {
            shell.result(format!("static in {program}: {n} crates used by it alone"));
        }
        for (krate, why) in &plan.excluded {
            shell.result(format!("not grouped: {krate}: {why}"));
        }
    }
}
