//! Where a patched copy's sources (`--patch CRATE=DIR`) came from: the crates.io package of the
//! same name and version that the unpatched resolution holds. The wrapper names the copy's files
//! by the original's paths (`compile::wrapper`), so that a body-only fix leaves every panic
//! location and `file!()` that generic code of the crate puts into other crates as it was.

use std::collections::BTreeMap;
use std::path::PathBuf;

use crate::build::options::CratePatch;
use crate::resolve::graph::BuildGraph;

/// Canonical directory of each patched copy -> the directory of the crates.io package it stands
/// in for (as `cargo metadata` names it: under `CARGO_HOME/registry/src/` for crates.io, in the
/// replacing source's directory otherwise). A copy whose version the graph does not hold (a new
/// version, not a fix of a resolved one) is left out: its paths are its own.
pub(crate) fn originals(patches: &[CratePatch], graph: &BuildGraph) -> BTreeMap<PathBuf, PathBuf> {
    let mut out = BTreeMap::new();
    for patch in patches {
        let Ok(version) = patch.version() else {
            continue;
        };
        let original = graph
            .workspaces
            .iter()
            .flat_map(|ws| &ws.metadata.packages)
            .find(|p| {
                p.name.as_str() == patch.name
                    && p.version.to_string() == version
                    && p.source.as_ref().is_some_and(|s| s.is_crates_io())
            })
            .and_then(|p| p.manifest_path.parent())
            .map(|d| d.as_std_path().to_path_buf());
        if let Some(original) = original {
            let copy = patch.path.canonicalize().unwrap_or(patch.path.clone());
            out.insert(copy, original);
        }
    }
    out
}
