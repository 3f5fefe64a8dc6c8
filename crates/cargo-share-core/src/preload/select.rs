//! Which store files preload warms: the runtime copies of the entries installed programs load,
//! ranked by how many programs load each (then by size), read through the store's index.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use serde::Serialize;

use crate::store::{open_store, Access};

/// One store file preload may warm.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub(crate) struct Candidate {
    /// `STORE/entries/NAME-VERSION-ID/lib/FILE` (STORE with its links resolved), as the index
    /// names it (not yet checked).
    pub(crate) path: PathBuf,
    pub(crate) package: String,
    pub(crate) version: String,
    /// How many installed programs load it.
    pub(crate) programs: usize,
    /// Its size, as the index records it.
    pub(crate) bytes: u64,
}

/// What the store holds for preload: the installed programs and every entry they load, most
/// loaded first.
#[derive(Debug, Default)]
pub(crate) struct Ranking {
    pub(crate) installed_programs: usize,
    pub(crate) candidates: Vec<Candidate>,
}

/// Which files to take from a ranking.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Selection {
    /// Files loaded by at least this many installed programs.
    MinPrograms(usize),
    /// Every file some installed program loads.
    All,
}

impl Selection {
    pub(crate) fn describe(self) -> String {
        match self {
            Selection::MinPrograms(n) => format!("loaded by at least {n} installed programs"),
            Selection::All => "loaded by any installed program".to_string(),
        }
    }

    fn takes(self, programs: usize) -> bool {
        match self {
            Selection::MinPrograms(n) => programs >= n.max(1),
            Selection::All => programs >= 1,
        }
    }
}

/// Rank the store's entries by their users. The store is open (shared lock) only while its
/// index is read: a preload holding files locked in memory never blocks an install.
pub(crate) fn rank(store_dir: &Path) -> Result<Ranking> {
    let store = open_store(store_dir, Access::Read)?;
    let store_real = store
        .root
        .canonicalize()
        .with_context(|| format!("resolving the store {}", store.root.display()))?;
    let installed_programs = store.program_names()?.len();
    let mut candidates = Vec::new();
    for row in store.entries()? {
        let programs = store.users_of(&row.hash)?.len();
        if programs == 0 {
            continue;
        }
        candidates.push(Candidate {
            path: store_real.join(&row.dir).join("lib").join(&row.file),
            package: row.package,
            version: row.version,
            programs,
            bytes: row.runtime_size,
        });
    }
    candidates.sort_by(|a, b| (b.programs, b.bytes, &a.path).cmp(&(a.programs, a.bytes, &b.path)));
    Ok(Ranking {
        installed_programs,
        candidates,
    })
}

impl Ranking {
    /// The candidates `selection` takes, in rank order.
    pub(crate) fn select(&self, selection: Selection) -> Vec<Candidate> {
        self.candidates
            .iter()
            .filter(|c| selection.takes(c.programs))
            .cloned()
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn candidate(name: &str, programs: usize, bytes: u64) -> Candidate {
        Candidate {
            path: PathBuf::from(name),
            package: name.into(),
            version: "1.0.0".into(),
            programs,
            bytes,
        }
    }

    #[test]
    fn selection_keeps_rank_order_and_the_threshold() {
        let ranking = Ranking {
            installed_programs: 3,
            candidates: vec![
                candidate("std", 3, 5),
                candidate("group", 2, 9),
                candidate("own", 1, 100),
            ],
        };
        let names =
            |s| -> Vec<String> { ranking.select(s).into_iter().map(|c| c.package).collect() };
        assert_eq!(names(Selection::MinPrograms(2)), ["std", "group"]);
        assert_eq!(names(Selection::MinPrograms(3)), ["std"]);
        assert_eq!(names(Selection::MinPrograms(0)), ["std", "group", "own"]);
        assert_eq!(names(Selection::All), ["std", "group", "own"]);
    }
}
