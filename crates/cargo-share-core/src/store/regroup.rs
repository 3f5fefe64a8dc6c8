//! Installed programs built again as one set with the newcomers (`install`, grouped, unless
//! `--no-regroup`), so that programs installed one at a time share what programs installed
//! together would: the groups are planned over every installed program and the newcomers.
//!
//! Each installed program keeps the crate versions it was installed with where the newcomers
//! allow (its recorded resolution wins the set's seed); one the set would build from other
//! versions is rebuilt only if its own tests pass under them ([`crate::build::retest`]). One
//! whose tests do not prove it, or whose source cannot be read again, or whose record predates
//! what a rebuild needs, is left as it is and the output says so. Cargo's fingerprints keep unchanged crate builds from compiling
//! again; a program whose build comes out the same is not touched, the others are rebound one by
//! one through the install commit point ([`crate::store::bind`]): a crash leaves each on its old
//! or its new build. Old builds and entries stay until `gc`.

use anyhow::Result;

use crate::build::installed::announce_left;
use crate::build::InstalledMember;
use crate::shell::Shell;
use crate::store::index::Store;
use crate::store::manifest::InstalledProgram;

/// Why an installed program cannot be built again, or `None`.
fn cannot_rebuild(p: &InstalledProgram) -> Option<&'static str> {
    if p.origin.is_none() || p.resolution.is_none() {
        return Some(
            "it was installed by a cargo-share that did not record where it came from and what \
             it was built from; install it again once to let later installs regroup it",
        );
    }
    if p.features.all_features || p.features.no_default_features {
        return Some(
            "it was installed with --all-features or --no-default-features, which a set \
             applies to every program; install it together with the others to share",
        );
    }
    None
}

/// The installed programs (of `names`, or all) that can join a build, as members; each one that
/// cannot is named, with why.
pub(crate) fn installed_members(
    store: &Store,
    names: Option<&[String]>,
    shell: &Shell,
) -> Result<Vec<InstalledMember>> {
    let mut out = Vec::new();
    for p in store.readable_programs()? {
        if names.is_some_and(|n| !n.contains(&p.name)) {
            continue;
        }
        if let Some(why) = cannot_rebuild(&p) {
            announce_left(&p.name, why, shell);
            continue;
        }
        let (Some(origin), Some(resolution)) = (p.origin, p.resolution) else {
            continue;
        };
        out.push(InstalledMember {
            name: p.name,
            source: origin,
            resolution,
            features: p.features.features,
        });
    }
    Ok(out)
}
