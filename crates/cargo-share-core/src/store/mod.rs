//! The content-addressed store: where crate builds live once, and where installed programs are
//! bound to the exact builds they were linked against.
//!
//! Layout (`STORE` defaults to `$XDG_DATA_HOME/cargo-share/store`):
//!
//! ```text
//! STORE/cargo-share-store           the marker: this is a store, and its format (`marker`)
//! STORE/index.sqlite                 the index (SQLite, changed only inside transactions)
//! STORE/lock                         exclusive for commands that change the store, shared to read
//! STORE/entries/NAME-VERSION-ID/     one crate build (StoreEntry), read-only once registered:
//!     entry.json                     its manifest (identity, files, hashes, dependencies)
//!     lib/FILE.so                    runtime copy, without the .rustc metadata section
//!     dev/FILE.so                    the full dylib, metadata included, for building dependents
//! STORE/programs/NAME-VERSION-ID/    one installed program build:
//!     program.json                   its manifest (binaries, entries)
//!     bin/BIN                        the binaries, naming $ORIGIN/../lib/FILE
//!     lib/FILE.so                    hard links to the runtime copies of exactly its entries
//!     plugins/FILE.so                its plugins (`install --plugin-for`), loading that lib/
//! STORE/tmp/                         staging; anything here is garbage after a crash
//! STORE/build/                       Cargo's build directory and fetched sources for installs
//! ```
//!
//! A program's `lib/` holds hard links, not symlinks: the dynamic loader resolves `$ORIGIN`
//! through symlinks, so a dylib's `$ORIGIN/FILE` names must be in the program's `lib/` for it
//! to find its own dependencies there. Hard links cost no space and are the same inode, so
//! programs sharing an entry share its pages in memory. One search directory per program, however
//! many libraries: start-up does not grow with libraries x directories.
//!
//! Directories appear in `entries/` and `programs/` only by `rename` from `tmp/`, and the index
//! refers to a directory only after it exists; so a crash at any point leaves at worst unreferenced
//! directories, which `gc` removes.
//!
//! Files by job: the index and layout (`index`), the index file (`index_file`), the marker
//! (`marker`), the safety of the directories above (`ancestors`), manifests (`manifest`),
//! identities (`identity`), file rules (`files`), crash points (`fault`), the index rebuilt
//! from the manifests (`repair`), and one file per command over the store
//! (`install`, `uninstall`, `query` for list and why, `gc`, `optimise`, `verify`; `plugins`
//! for the plugins of installed programs), with `open`
//! (roll-forward recovery) and `links` (`ROOT/bin`) shared by them.

pub(crate) mod already_installed;
pub mod ancestors;
pub(crate) mod binaries;
pub(crate) mod bind;
pub mod fault;
pub mod files;
pub(crate) mod gc;
pub mod identity;
pub mod index;
pub(crate) mod index_file;
pub(crate) mod install;
pub(crate) mod links;
pub(crate) mod manifest;
pub(crate) mod marker;
pub mod open;
pub(crate) mod optimise;
pub(crate) mod plugins;
pub mod program_commit;
pub(crate) mod query;
pub(crate) mod regroup;
pub(crate) mod repair;
pub(crate) mod request;
pub mod roots;
pub(crate) mod uninstall;
pub(crate) mod verify;

pub use already_installed::{installed_source, skip_already_installed};
pub use bind::InstallRecord;
pub use gc::gc;
pub use identity::CrateIdentity;
pub use index::{default_store_dir, Access, EntryRow, Store};
pub use install::{install, install_with, show_install_plan, InstallOptions};
pub use manifest::{InstalledProgram, StoreEntry};
pub(crate) use open::open_store;
pub use open::{default_root, open_store_rolling_forward};
pub use optimise::optimise;
pub use program_commit::{InstallSteps, ProgramBuild};
pub use query::{list, why};
pub(crate) use request::InstallRequest;
pub use uninstall::uninstall;
pub use verify::verify;
