//! Laying out the files of built programs for shipping: container image layers (`image`) and
//! native packages (`package`) share this folder.
//!
//! Files by job: the programs built together and each program's closure of files, read from a
//! build output or a store program directory (`closure`: `bin/PROGRAM`, `lib/FILE`, `DT_NEEDED`
//! followed); the partition of those files into *file sets* by the programs that load them,
//! and a set laid out under a prefix with the `$ORIGIN`-relative names kept valid, its binaries
//! linked from another directory if asked (`partition`); the canonical run-time copy of a file,
//! without what a body-only fix changes although no loaded byte does (`canonical`); a
//! reproducible tar writer and its fixed compression (`archive`).

mod archive;
mod canonical;
mod closure;
mod partition;

pub use archive::{gzip, reproducible_tar, rfc3339, source_date_epoch, TreeEntry, TreeEntryKind};
pub use canonical::canonical_copies;
pub use closure::{build_closures, closures_of_tree, ProgramClosure, ProgramFiles};
pub use partition::{checked_prefix, lay_out, partition, FileSet};
pub(crate) use partition::{lay_out_linked, FileKind, SetFile};
