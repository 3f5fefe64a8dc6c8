//! Every JSON record `cargo share` prints with `--message-format json` (`--json`): one
//! [`Message`], one line on stdout, tagged by `reason` the way Cargo's own messages are
//! (`cargo_metadata::Message`). The book's reference (`docs/src/reference/json.md`) lists each
//! variant with its fields; a test below checks that it lists them all and nothing else.
//!
//! This module sits below everything (it names no other module of the crate but `failure`):
//! every module that prints a record names it, so it cannot name theirs back without an import
//! cycle. A record whose fields are a report a command also returns (a `BuildReport`, ...)
//! holds that report as a [`Report`], and its variant's documentation links the report's type
//! (the test reads the fields from there); a value of another module inside a record's field is
//! a [`serde_json::Value`] made with [`value`].

use serde::{Serialize, Serializer};
use serde_json::Value;
use std::path::{Path, PathBuf};

use crate::failure::ErrorKind;

/// A report's fields, as the record holding it prints them.
#[derive(Debug, Serialize)]
#[serde(transparent)]
pub struct Report(Value);

impl Report {
    /// The report `fields` (a struct: its fields become the record's).
    pub fn of<T: Serialize>(fields: &T) -> Report {
        Report(value(fields))
    }
}

/// `data` as JSON, for a record's field (what serde_json cannot represent, a map with keys
/// that are not strings or numbers, is none of cargo-share's records).
pub(crate) fn value<T: Serialize + ?Sized>(data: &T) -> Value {
    serde_json::to_value(data).expect("a record's data serializes to JSON")
}

/// One JSON record (`reason`: the variant's name in kebab case).
#[derive(Debug, Serialize)]
#[serde(tag = "reason", rename_all = "kebab-case")]
pub enum Message<'a> {
    /// Any command: a warning (also on stderr).
    Warning { message: &'a str },
    /// One error (also on stderr): the last record of a failed command, or each problem
    /// `verify` found. `kind` says which exit code it gives.
    Error { kind: ErrorKind, message: &'a str },
    /// `build`/`install --dry-run` (grouped): the groups, their members and consumers.
    GroupPlan { plan: Value },
    /// `build`, once per program: the fields of [`BuiltProgram`](crate::build::BuiltProgram).
    ProgramBuilt(Report),
    /// `build`/`install`, once per program Cargo did not build: the fields of [`FailedProgram`](crate::build::FailedProgram).
    ProgramFailed(Report),
    /// Once per program split off a set: the fields of [`SetSplit`](crate::build::set_split::SetSplit).
    SetSplit(Report),
    /// Programs that failed in a set, built again each in a set of its own.
    ProgramsRetried { programs: &'a [String] },
    /// `build`, at the end: the fields of [`BuildReport`](crate::build::BuildReport).
    BuildFinished(Report),
    /// `test`, once per program: the fields of [`TestCounts`](crate::build::test::TestCounts).
    TestFinished(Report),
    /// `analyze`, once per policy: the fields of `PolicyAnalysis` (`cargo_share_measure::measure::analyze`).
    Analysis(Report),
    /// `bench`, at the end: the fields of `BenchReport` (`cargo_share_measure::measure::bench::model`).
    BenchFinished(Report),
    /// `install`, once per program: the fields of [`InstallRecord`](crate::store::InstallRecord).
    ProgramInstalled(Report),
    /// `install`, once per installed program rebuilt and rebound: the fields of [`InstallRecord`](crate::store::InstallRecord).
    ProgramRegrouped(Report),
    /// `install`, once per installed program the newcomer moves to other crate versions.
    ProgramRetested {
        program: &'a str,
        version: &'a str,
        /// The crates the set moves, from the installed version to the new one.
        changes: Value,
        passed: u64,
        failed: u64,
        /// The failing tests under the new versions (of a proven program: those that fail
        /// under the installed versions too).
        #[serde(skip_serializing_if = "<[String]>::is_empty")]
        failing: &'a [String],
        /// Its tests pass: it is rebuilt with the new versions.
        proven: bool,
        /// The outcome was recorded before (`cargo share test`, or an earlier install).
        recorded: bool,
    },
    /// `install`, once per installed program left as it is.
    ProgramLeft { program: &'a str, why: &'a str },
    /// `install`, once per crates.io program installed already, unchanged.
    ProgramIgnored { name: &'a str, version: &'a str },
    /// `uninstall`, once per program: the roots its links were removed from.
    ProgramRemoved {
        name: &'a str,
        version: &'a str,
        roots: &'a [PathBuf],
    },
    /// `uninstall --bin`, when the program keeps other binaries.
    BinariesRemoved {
        name: &'a str,
        version: &'a str,
        binaries: &'a [String],
        /// Every root the program is linked into.
        roots: &'a [PathBuf],
    },
    /// `list`.
    StoreList {
        programs: Value,
        libraries: &'a [serde_json::Value],
    },
    /// `why`, once per matching entry.
    Why {
        package: &'a str,
        version: &'a str,
        id: &'a str,
        /// The crates of a group that matched.
        members: &'a [String],
        programs: &'a [String],
    },
    /// `gc`: the fields of [`GcReport`](crate::store::gc::GcReport).
    GcFinished(Report),
    /// `optimise`.
    OptimiseFinished { bytes_saved: u64 },
    /// `verify`.
    VerifyFinished { problems: &'a [String] },
    /// `preload`, once per file warmed.
    PreloadFile { file: Value },
    /// `preload`, once per file refused (also a warning).
    PreloadSkipped { path: &'a Path, cause: &'a str },
    /// `preload`, at the end.
    PreloadFinished {
        installed_programs: usize,
        files: usize,
        bytes: u64,
        resident_bytes: u64,
        locked_bytes: u64,
        skipped: usize,
    },
    /// `audit`: the fields of `AuditReport` (`cargo_share_measure::audit::model`).
    AuditFinished(Report),
    /// `key generate`: the key's name and the paths of its two files.
    KeyGenerated {
        name: &'a str,
        secret: &'a Path,
        public: &'a Path,
    },
    /// `push`: the fields of `PushReport` (`cargo_share_cache::cache::push`).
    PushFinished(Report),
    /// `image --to`, once per image: the fields of `PushedImage` (`cargo_share_cache::image::publish`).
    ImagePushed(Report),
    /// `image`, at the end: the fields of `ImageReport` (`cargo_share_cache::image`).
    ImageFinished(Report),
    /// `verify-image`: the fields of `VerifiedImage` (`cargo_share_cache::image`).
    ImageVerified(Report),
    /// `package`, once per package: the fields of [`BuiltPackage`](crate::package::run::BuiltPackage).
    PackageBuilt(Report),
    /// `package`, at the end: the fields of [`PackageReport`](crate::package::run::PackageReport).
    PackageFinished(Report),
    /// `pull`, once per program: the fields of [`InstallRecord`](crate::store::InstallRecord).
    ProgramPulled(Report),
    /// `adopt`, once per program now run from the store: the fields of `AdoptedProgram` (`cargo_share_measure::adopt::run`).
    ProgramAdopted(Report),
    /// `adopt`, once per program left as it was: the fields of `KeptProgram` (`cargo_share_measure::adopt::plan`).
    ProgramKept(Report),
    /// `adopt`, at the end: the fields of `AdoptReport` (`cargo_share_measure::adopt`).
    AdoptFinished(Report),
    /// Grouped, once per set after the first: what it shares.
    SetGroups {
        set: usize,
        programs: &'a [String],
        /// Groups of earlier sets it loads, by name.
        shares: &'a [&'a str],
        /// Groups it makes of its own.
        new_groups: &'a [&'a str],
        not_reused: Value,
    },
    /// Grouped: the sets are planned again with these crates kept apart.
    SetsRegrouped { apart: &'a [String] },
    /// `analyze --generics`: the fields of `GenericsReport` (`cargo_share_measure::audit::generics`).
    GenericsAnalysis(Report),
    /// `update` (also `--dry-run`): the fields of [`UpdatePlan`](crate::update::plan::UpdatePlan).
    UpdatePlan(Report),
    /// `update`, at the end: the fields of [`UpdateReport`](crate::update::run::UpdateReport).
    UpdateFinished(Report),
}

/// The records a summary lists (`build-finished`'s `programs`, ...), each with its `reason`
/// as when it was printed on its own: `#[serde(serialize_with = "...")]` on the field.
macro_rules! records_of {
    ($($vis:vis $name:ident => $variant:ident;)*) => {$(
        $vis fn $name<T: Serialize, S: Serializer>(
            items: &[T],
            s: S,
        ) -> Result<S::Ok, S::Error> {
            s.collect_seq(items.iter().map(|i| Message::$variant(Report::of(i))))
        }
    )*};
}

records_of! {
    pub(crate) built_programs => ProgramBuilt;
    pub(crate) failed_programs => ProgramFailed;
    pub pushed_images => ImagePushed;
    pub(crate) built_packages => PackageBuilt;
    pub adopted_programs => ProgramAdopted;
    pub kept_programs => ProgramKept;
}

#[cfg(test)]
mod tests {
    //! The book's JSON reference against the enum: its table has one row per variant, and a
    //! row's fields (the names in backticks outside parentheses) are the variant's.

    use std::collections::{BTreeMap, BTreeSet};
    use std::path::Path;

    use syn::{Fields, Item};

    /// `ProgramBuilt` → `program-built`, as `rename_all = "kebab-case"`.
    fn kebab(name: &str) -> String {
        let mut out = String::new();
        for (i, c) in name.chars().enumerate() {
            if c.is_uppercase() && i > 0 {
                out.push('-');
            }
            out.push(c.to_ascii_lowercase());
        }
        out
    }

    /// Whether `attrs` hold `#[serde(...)]` with `word` in it.
    fn serde_says(attrs: &[syn::Attribute], word: &str) -> bool {
        attrs.iter().any(|a| {
            a.path().is_ident("serde")
                && a.meta
                    .require_list()
                    .is_ok_and(|l| l.tokens.to_string().contains(word))
        })
    }

    /// The JSON field names of named `fields` (`#[serde(skip)]` left out; renames and
    /// flattening are not used by records, and refused).
    fn field_names(fields: &Fields) -> BTreeSet<String> {
        let mut names = BTreeSet::new();
        for f in fields {
            assert!(
                !serde_says(&f.attrs, "rename") && !serde_says(&f.attrs, "flatten"),
                "a record field with a serde rename or flatten: teach this test to read it"
            );
            let skipped = f.attrs.iter().any(|a| {
                a.path().is_ident("serde")
                    && a.meta
                        .require_list()
                        .is_ok_and(|l| l.tokens.to_string().split(',').any(|w| w.trim() == "skip"))
            });
            if !skipped {
                names.insert(f.ident.as_ref().expect("named field").to_string());
            }
        }
        names
    }

    /// Every struct under `dir`, by name (a name defined twice is kept as `None`: a record must
    /// not use it).
    fn structs(dir: &Path, out: &mut BTreeMap<String, Option<Fields>>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                structs(&path, out);
            } else if path.extension().is_some_and(|e| e == "rs") {
                let file = syn::parse_file(&std::fs::read_to_string(&path).unwrap()).unwrap();
                for item in file.items {
                    if let Item::Struct(s) = item {
                        out.entry(s.ident.to_string())
                            .and_modify(|f| *f = None)
                            .or_insert(Some(s.fields));
                    }
                }
            }
        }
    }

    /// The report a variant's documentation names: "the fields of [`NAME`](PATH)", or "the
    /// fields of `NAME` (`PATH`)" for a struct of a crate above this one.
    fn report_named(attrs: &[syn::Attribute]) -> Option<String> {
        attrs.iter().find_map(|a| {
            let syn::Meta::NameValue(nv) = &a.meta else {
                return None;
            };
            let syn::Expr::Lit(syn::ExprLit {
                lit: syn::Lit::Str(text),
                ..
            }) = &nv.value
            else {
                return None;
            };
            let text = text.value();
            // A link to the struct in this crate, or its name and path in a crate above.
            let rest = &text[text.find("the fields of ")? + "the fields of ".len()..];
            let rest = rest.strip_prefix('[').unwrap_or(rest).strip_prefix('`')?;
            Some(rest[..rest.find('`')?].to_string())
        })
    }

    /// The repository: this crate is `crates/cargo-share-core` in it.
    fn workspace() -> &'static Path {
        Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."))
    }

    /// Each variant's `reason` and fields, from this file; the reports they name are structs of
    /// any crate's `src/` (the root package's and those under `crates/`).
    fn variants(root: &Path) -> BTreeMap<String, BTreeSet<String>> {
        let mut all = BTreeMap::new();
        structs(&root.join("src"), &mut all);
        for krate in std::fs::read_dir(root.join("crates")).unwrap() {
            structs(&krate.unwrap().path().join("src"), &mut all);
        }
        let message = root.join("crates/cargo-share-core/src/message.rs");
        let file = syn::parse_file(&std::fs::read_to_string(message).unwrap()).unwrap();
        let message = file
            .items
            .iter()
            .find_map(|i| match i {
                Item::Enum(e) if e.ident == "Message" => Some(e),
                _ => None,
            })
            .expect("enum Message");
        let mut out = BTreeMap::new();
        for v in &message.variants {
            let fields = match &v.fields {
                Fields::Named(_) => field_names(&v.fields),
                Fields::Unnamed(_) => {
                    let name = report_named(&v.attrs)
                        .unwrap_or_else(|| panic!("{}: no report named in its docs", v.ident));
                    let fields = all.get(&name).and_then(Option::as_ref);
                    field_names(
                        fields.unwrap_or_else(|| panic!("{name}: no single struct of that name")),
                    )
                }
                Fields::Unit => BTreeSet::new(),
            };
            out.insert(kebab(&v.ident.to_string()), fields);
        }
        out
    }

    /// The names in backticks at the top level of `text` (outside parentheses).
    fn top_level_names(text: &str) -> BTreeSet<String> {
        let mut names = BTreeSet::new();
        let (mut depth, mut quoted, mut word) = (0usize, false, String::new());
        for c in text.chars() {
            match c {
                '`' if quoted => {
                    if depth == 0 {
                        names.insert(std::mem::take(&mut word));
                    }
                    word.clear();
                    quoted = false;
                }
                '`' => quoted = true,
                _ if quoted => word.push(c),
                '(' => depth += 1,
                ')' => depth = depth.saturating_sub(1),
                _ => {}
            }
        }
        names
    }

    /// The rows of the book's tables headed `| `{first}` |`: first cell → the names in
    /// backticks at the top level of the last.
    fn documented(book: &str, first: &str) -> BTreeMap<String, BTreeSet<String>> {
        let mut out = BTreeMap::new();
        let mut in_table = false;
        for line in book.lines() {
            if !line.starts_with('|') {
                in_table = false;
                continue;
            }
            if line.starts_with(&format!("| `{first}` |")) {
                in_table = true;
                continue;
            }
            let Some(row) = line.strip_prefix("| `").filter(|_| in_table) else {
                continue;
            };
            let cells: Vec<&str> = row.split(" | ").collect();
            let reason = cells[0].trim_end_matches('`').to_string();
            let fields = top_level_names(cells.last().unwrap().trim_end_matches(" |"));
            assert!(
                out.insert(reason.clone(), fields).is_none(),
                "{reason} documented twice"
            );
        }
        out
    }

    #[test]
    fn the_json_reference_lists_every_record_with_its_fields() {
        let root = workspace();
        let book = std::fs::read_to_string(root.join("docs/src/reference/json.md")).unwrap();
        let documented = documented(&book, "reason");
        let defined = variants(root);
        let names = |m: &BTreeMap<String, BTreeSet<String>>| m.keys().cloned().collect::<Vec<_>>();
        assert_eq!(
            names(&defined),
            names(&documented),
            "the records defined (left) and documented (right)"
        );
        let wrong: Vec<String> = defined
            .iter()
            .filter(|(reason, fields)| documented.get(*reason) != Some(fields))
            .map(|(reason, fields)| {
                let documented = &documented[reason];
                format!(
                    "`{reason}`: not documented {:?}, documented but not defined {:?}",
                    fields.difference(documented).collect::<Vec<_>>(),
                    documented.difference(fields).collect::<Vec<_>>()
                )
            })
            .collect();
        assert!(wrong.is_empty(), "{}", wrong.join("\n"));
    }

    /// The variants of the enum `name` in `file`, in kebab case.
    fn enum_variants(file: &Path, name: &str) -> Vec<String> {
        let file = syn::parse_file(&std::fs::read_to_string(file).unwrap()).unwrap();
        let found = file.items.iter().find_map(|i| match i {
            Item::Enum(e) if e.ident == name => Some(e),
            _ => None,
        });
        let mut out: Vec<String> = found
            .unwrap_or_else(|| panic!("enum {name}"))
            .variants
            .iter()
            .map(|v| kebab(&v.ident.to_string()))
            .collect();
        out.sort();
        out
    }

    #[test]
    fn the_json_reference_lists_every_error_kind() {
        let root = workspace();
        let book = std::fs::read_to_string(root.join("docs/src/reference/json.md")).unwrap();
        let listed: Vec<String> = documented(&book, "kind").into_keys().collect();
        assert_eq!(
            enum_variants(
                &root.join("crates/cargo-share-core/src/failure.rs"),
                "ErrorKind"
            ),
            listed
        );
    }

    #[test]
    fn a_record_is_its_reason_then_its_fields() {
        let line = serde_json::to_string(&super::Message::ProgramLeft {
            program: "sd",
            why: "its tests fail",
        })
        .unwrap();
        assert_eq!(
            line,
            r#"{"reason":"program-left","program":"sd","why":"its tests fail"}"#
        );
    }
}
