//! `cargo share adopt`, in order: read `.crates2.json`, plan, then per batch install through
//! the store with adopt's steps (leave out what does not match the record, run each shared
//! build before it is linked, keep each replaced binary), and report every program: adopted,
//! or kept as it was with the reason.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use serde::Serialize;

use crate::adopt::check;
use crate::adopt::keep::{keep_binary, KEPT_DIR};
use crate::adopt::plan::{plan, AdoptPlan, Batch, Candidate, KeptProgram};
use crate::adopt::recorded::{read_recorded, RecordedSource, CRATES2_FILE};
use crate::audit::model::Projection;
use cargo_share_core::build::{BuildOptions, BuiltProgram, FeatureChoice};
use cargo_share_core::message::{Message, Report};
use cargo_share_core::shell::{human_bytes, Shell};
use cargo_share_core::store::{InstallOptions, InstallSteps, ProgramBuild};

#[derive(Debug, Clone)]
pub struct AdoptOptions {
    /// What every batch's build starts from; its programs and features are the batch's.
    pub build: BuildOptions,
    /// The install root `cargo install` used (holds `.crates2.json` and `bin/`).
    pub root: PathBuf,
    pub store: PathBuf,
    pub dry_run: bool,
}

/// A program now run from the store (`--json`: `program-adopted`).
#[derive(Debug, Clone, Serialize)]
pub(crate) struct AdoptedProgram {
    pub(crate) name: String,
    pub(crate) version: String,
    /// The links in `ROOT/bin`.
    pub(crate) binaries: Vec<PathBuf>,
    /// Where the binaries `cargo install` wrote are kept.
    pub(crate) kept: Vec<PathBuf>,
}

/// The whole adoption (`--json`: `adopt-finished`).
#[derive(Debug, Clone, Serialize)]
pub struct AdoptReport {
    pub(crate) dry_run: bool,
    pub(crate) root: PathBuf,
    #[serde(serialize_with = "cargo_share_core::message::adopted_programs")]
    pub(crate) adopted: Vec<AdoptedProgram>,
    #[serde(serialize_with = "cargo_share_core::message::kept_programs")]
    pub(crate) kept: Vec<KeptProgram>,
    /// `--dry-run`: the audit's projection for the binaries to adopt.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) projection: Option<Projection>,
    /// The binaries replaced, as `cargo install` wrote them.
    pub(crate) static_bytes: u64,
    /// What the adopted programs run from the store: their binaries and the libraries they
    /// load, each file once.
    pub(crate) shared_bytes: u64,
}

pub fn adopt(opts: &AdoptOptions, shell: &Shell) -> Result<AdoptReport> {
    let root = std::path::absolute(&opts.root)
        .with_context(|| format!("resolving the install root {}", opts.root.display()))?;
    let recorded = read_recorded(&root)?;
    let plan = plan(&root, recorded);
    let mut report = AdoptReport {
        dry_run: opts.dry_run,
        root: root.clone(),
        adopted: Vec::new(),
        kept: Vec::new(),
        projection: None,
        static_bytes: 0,
        shared_bytes: 0,
    };
    for k in &plan.kept {
        keep_as_it_is(&mut report, k.clone(), shell);
    }
    let verb = if opts.dry_run {
        "Would adopt"
    } else {
        "Adopting"
    };
    for c in plan.candidates() {
        shell.status(verb, describe(c));
    }
    let candidates: Vec<&Candidate> = plan.candidates().collect();
    if candidates.is_empty() {
        shell.status(
            "Finished",
            format!(
                "nothing to adopt in {} ({} programs recorded in {CRATES2_FILE})",
                root.display(),
                plan.kept.len()
            ),
        );
        shell.message(&Message::AdoptFinished(Report::of(&report)));
        return Ok(report);
    }
    if opts.dry_run {
        return show_plan(opts, &root, &plan, report, shell);
    }
    for batch in &plan.batches {
        adopt_batch(opts, &root, batch, &mut report, shell)?;
    }
    report.shared_bytes = shared_bytes(&report.adopted)?;
    shell.status(
        "Finished",
        format!(
            "adopted {} of {} programs recorded in {}: {} of static binaries (kept in {}) now \
             run as {} of binaries and libraries (each file once)",
            report.adopted.len(),
            report.adopted.len() + report.kept.len(),
            root.join(CRATES2_FILE).display(),
            human_bytes(report.static_bytes),
            root.join(KEPT_DIR).display(),
            human_bytes(report.shared_bytes)
        ),
    );
    shell.message(&Message::AdoptFinished(Report::of(&report)));
    let failed: Vec<&KeptProgram> = report
        .kept
        .iter()
        .filter(|k| candidates.iter().any(|c| c.recorded.name == k.name))
        .collect();
    if !failed.is_empty() {
        bail!(
            "{} of {} programs to adopt stayed as they were: {}",
            failed.len(),
            candidates.len(),
            failed
                .iter()
                .map(|k| format!("{} v{} ({})", k.name, k.version, k.why))
                .collect::<Vec<_>>()
                .join("; ")
        );
    }
    Ok(report)
}

fn keep_as_it_is(report: &mut AdoptReport, kept: KeptProgram, shell: &Shell) {
    shell.status(
        "Keeping",
        format!("{} v{} as it is: {}", kept.name, kept.version, kept.why),
    );
    shell.message(&Message::ProgramKept(Report::of(&kept)));
    report.kept.push(kept);
}

/// `NAME vVERSION (SOURCE; FEATURES): BIN, ...`
fn describe(c: &Candidate) -> String {
    let r = &c.recorded;
    let source = match &r.source {
        RecordedSource::CratesIo => "crates.io".to_string(),
        RecordedSource::Path(p) => p.display().to_string(),
        RecordedSource::Other(s) => s.clone(),
    };
    let choice = FeatureChoice {
        features: r.features.clone(),
        all_features: r.all_features,
        no_default_features: r.no_default_features,
    };
    let flags = if choice.is_default() {
        String::new()
    } else {
        format!("; {}", choice.describe())
    };
    format!(
        "{} v{} ({source}{flags}): {}",
        r.name,
        r.version,
        r.bins.join(", ")
    )
}

fn install_options(opts: &AdoptOptions, root: &Path, batch: &Batch) -> Result<InstallOptions> {
    let mut build = opts.build.clone();
    build.programs = batch.sources();
    build.features = batch.features()?;
    Ok(InstallOptions {
        build,
        root: root.to_path_buf(),
        store: opts.store.clone(),
        force: false,
        // The adopted programs are one set; programs installed before are left as they are
        // (their own install regroups them).
        regroup: false,
        replay: false,
        // Every binary of each program, as `cargo install` without --bin gave them.
        binaries: None,
    })
}

/// `--dry-run`: the audit's projection for the binaries to adopt, and each batch's install plan.
fn show_plan(
    opts: &AdoptOptions,
    root: &Path,
    plan: &AdoptPlan,
    mut report: AdoptReport,
    shell: &Shell,
) -> Result<AdoptReport> {
    let binaries: Vec<PathBuf> = plan.candidates().flat_map(|c| c.binaries.clone()).collect();
    report.static_bytes = binaries
        .iter()
        .filter_map(|b| std::fs::metadata(b).ok())
        .map(|m| m.len())
        .sum();
    let audit = crate::audit::collect(&binaries, shell)?;
    shell.result(crate::audit::projection_line(&audit.projection));
    report.projection = Some(audit.projection);
    for batch in &plan.batches {
        let result = install_options(opts, root, batch)
            .and_then(|o| cargo_share_core::store::show_install_plan(&o, shell));
        if let Err(e) = result {
            shell.warn(format!(
                "the install plan of {} could not be made: {e:#}",
                names(batch)
            ));
        }
    }
    shell.message(&Message::AdoptFinished(Report::of(&report)));
    Ok(report)
}

fn names(batch: &Batch) -> String {
    batch
        .programs
        .iter()
        .map(|c| c.recorded.name.clone())
        .collect::<Vec<_>>()
        .join(", ")
}

/// Install one batch; every program of it ends adopted or kept, with the reason.
fn adopt_batch(
    opts: &AdoptOptions,
    root: &Path,
    batch: &Batch,
    report: &mut AdoptReport,
    shell: &Shell,
) -> Result<()> {
    let options = install_options(opts, root, batch)?;
    let mut steps = AdoptSteps {
        root,
        shell,
        batch,
        reasons: BTreeMap::new(),
        kept: BTreeMap::new(),
    };
    let outcome = cargo_share_core::store::install_with(&options, &mut steps, shell);
    let failed = match &outcome {
        Ok(o) => o.failed.clone(),
        Err(e) => {
            shell.warn(format!("installing {} failed: {e:#}", names(batch)));
            Vec::new()
        }
    };
    let programs_dir = std::fs::canonicalize(opts.store.join("programs")).ok();
    for c in &batch.programs {
        let r = &c.recorded;
        let adopted = programs_dir.as_ref().is_some_and(|dir| {
            c.binaries
                .iter()
                .all(|b| std::fs::read_link(b).is_ok_and(|t| t.starts_with(dir)))
        });
        if adopted {
            let record = AdoptedProgram {
                name: r.name.clone(),
                version: r.version.clone(),
                binaries: c.binaries.clone(),
                kept: steps.kept.remove(&r.name).unwrap_or_default(),
            };
            report.static_bytes += record
                .kept
                .iter()
                .filter_map(|k| std::fs::metadata(k).ok())
                .map(|m| m.len())
                .sum::<u64>();
            shell.status(
                "Adopted",
                format!(
                    "{} v{} (the binaries cargo install wrote are kept in {})",
                    r.name,
                    r.version,
                    root.join(KEPT_DIR).display()
                ),
            );
            shell.message(&Message::ProgramAdopted(Report::of(&record)));
            report.adopted.push(record);
            continue;
        }
        let why = if let Some(why) = steps.reasons.remove(&r.name) {
            why
        } else if let Some(f) = failed.iter().find(|f| f.name == r.name) {
            format!("its shared build failed: {}", f.describe())
        } else if let Err(e) = &outcome {
            format!("the install failed: {e:#}")
        } else {
            "cargo share did not build it (see the messages above)".to_string()
        };
        keep_as_it_is(report, KeptProgram::new(&r.name, &r.version, why), shell);
    }
    Ok(())
}

/// Adopt's decisions inside `install`.
struct AdoptSteps<'a> {
    root: &'a Path,
    shell: &'a Shell,
    batch: &'a Batch,
    /// Why a program was left out, by name.
    reasons: BTreeMap<String, String>,
    /// The binaries kept, by program name.
    kept: BTreeMap<String, Vec<PathBuf>>,
}

impl AdoptSteps<'_> {
    fn candidate(&self, name: &str) -> Option<&Candidate> {
        self.batch.programs.iter().find(|c| c.recorded.name == name)
    }

    fn mismatch(&self, p: &BuiltProgram) -> Option<String> {
        let Some(c) = self.candidate(&p.name) else {
            return Some(format!(
                "cargo install did not record it in {}",
                self.root.join(CRATES2_FILE).display()
            ));
        };
        if p.version != c.recorded.version {
            return Some(format!(
                "its source is now version {} (cargo install recorded {})",
                p.version, c.recorded.version
            ));
        }
        let built: BTreeSet<String> = p
            .binaries
            .iter()
            .filter_map(|b| b.file_name())
            .map(|n| n.to_string_lossy().into_owned())
            .collect();
        let recorded: BTreeSet<String> = c.recorded.bins.iter().cloned().collect();
        if built != recorded {
            return Some(format!(
                "it has the binaries {}, cargo install put {} in {} (installed with --bin?); \
                 cargo share installs every binary of a program",
                built.into_iter().collect::<Vec<_>>().join(", "),
                c.recorded.bins.join(", "),
                self.root.join("bin").display()
            ));
        }
        None
    }
}

impl InstallSteps for AdoptSteps<'_> {
    fn leave_out(&mut self, program: &BuiltProgram) -> Option<String> {
        let why = self.mismatch(program)?;
        self.reasons.insert(program.name.clone(), why.clone());
        Some(why)
    }

    fn may_replace(&self, link: &Path) -> bool {
        self.batch
            .programs
            .iter()
            .any(|c| c.binaries.iter().any(|b| b == link))
    }

    fn check_built(&mut self, program: &ProgramBuild, bin_dir: &Path) -> Option<String> {
        for b in program.binaries {
            let name = b.file_name()?;
            match check::runs(&bin_dir.join(name)) {
                Ok(arg) => self.shell.status(
                    "Checked",
                    format!(
                        "{} v{}: `{} {arg}` runs from the store",
                        program.name,
                        program.version,
                        name.to_string_lossy()
                    ),
                ),
                Err(e) => {
                    let why = format!(
                        "its shared build did not run, so the binary cargo install wrote stays: {e}"
                    );
                    self.reasons.insert(program.name.to_string(), why.clone());
                    return Some(why);
                }
            }
        }
        None
    }

    fn before_replacing(&mut self, name: &str, version: &str, link: &Path) -> Result<()> {
        if !self.may_replace(link) {
            bail!(
                "internal: {} is not a binary adopt may replace",
                link.display()
            );
        }
        let kept = keep_binary(self.root, name, version, link)?;
        self.kept.entry(name.to_string()).or_default().push(kept);
        Ok(())
    }
}

/// Bytes of the files the adopted programs run (their binaries and `lib/` in the store), each
/// inode once.
fn shared_bytes(adopted: &[AdoptedProgram]) -> Result<u64> {
    use std::os::unix::fs::MetadataExt;
    let mut seen = BTreeSet::new();
    let mut total = 0;
    for p in adopted {
        for link in &p.binaries {
            let binary = std::fs::canonicalize(link)
                .with_context(|| format!("resolving {}", link.display()))?;
            let program_dir = binary
                .parent()
                .and_then(Path::parent)
                .context("a program binary outside its program directory")?;
            let lib = std::fs::read_dir(program_dir.join("lib"))
                .into_iter()
                .flatten()
                .flatten()
                .map(|e| e.path());
            for file in std::iter::once(binary.clone()).chain(lib) {
                let m = std::fs::metadata(&file)
                    .with_context(|| format!("reading {}", file.display()))?;
                if seen.insert((m.dev(), m.ino())) {
                    total += m.len();
                }
            }
        }
    }
    Ok(total)
}
