//! What the set planner asks of Cargo, behind one small trait ([`SetCargo`]): a set's members
//! resolved together in a generated workspace, and a resolved workspace's package graph.
//! [`Cargo`] runs Cargo for it; the set planner's unit tests answer with recorded outcomes, so
//! the planner's own logic (which program leaves a set, which groups are dropped) is tested
//! without Cargo.

use std::path::Path;

use anyhow::Result;

use crate::resolve::graph;
use crate::resolve::grouping::StoredGroup;
use crate::resolve::set;
use crate::resolve::set::{SetMember, UnifyOptions};
use crate::shell::Shell;

/// Cargo as the set planner sees it.
pub(crate) trait SetCargo {
    /// Resolve `members` together with the groups of `stored` ([`set::generate`]): the set, or
    /// the conflict Cargo explained. `number` is the set's place; `None` for a trial.
    fn resolve(
        &self,
        members: &[SetMember],
        stored: &[StoredGroup],
        number: Option<usize>,
        shell: &Shell,
    ) -> Result<set::Generated>;

    /// The package graph of the workspace at `manifest`, read `--locked` for the host with
    /// Cargo's feature arguments `features` ([`graph::load_metadata`]).
    fn metadata(&self, manifest: &Path, features: &[String]) -> Result<cargo_metadata::Metadata>;
}

/// [`SetCargo`] by running Cargo: sets are written under `cache`, resolved with `unify`.
pub(crate) struct Cargo<'a> {
    pub(crate) unify: &'a UnifyOptions,
    pub(crate) cache: &'a Path,
    /// The host's target triple (`--filter-platform`).
    pub(crate) host: &'a str,
}

impl SetCargo for Cargo<'_> {
    fn resolve(
        &self,
        members: &[SetMember],
        stored: &[StoredGroup],
        number: Option<usize>,
        shell: &Shell,
    ) -> Result<set::Generated> {
        set::generate(members, self.unify, self.cache, stored, number, shell)
    }

    fn metadata(&self, manifest: &Path, features: &[String]) -> Result<cargo_metadata::Metadata> {
        graph::load_metadata(manifest, true, self.host, features)
    }
}
