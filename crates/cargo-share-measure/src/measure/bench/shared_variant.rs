//! The shared variants of a bench: one `cargo share build` of the whole set per layout.

use std::collections::BTreeMap;

use anyhow::{Context, Result};

use crate::measure::bench::disk::stripped_copy;
use crate::measure::bench::model::*;
use crate::measure::bench::options::{BenchOptions, BuiltVariant};
use crate::measure::bench::static_build::{timed, BuildTimes};
use cargo_share_core::build::{self, Binding, BuildOptions, Layout};
use cargo_share_core::resolve::set::Unify;
use cargo_share_core::shell::Shell;

/// The directory (under the work directory, and under `stripped/`) of a shared variant:
/// `shared-LAYOUT`, with `-lazy` for `--bind lazy`, so that the two bindings never reuse each
/// other's output.
pub(crate) fn shared_dir_name(layout: Layout, binding: Binding) -> String {
    match binding {
        Binding::Now => format!("shared-{layout}"),
        Binding::Lazy => format!("shared-{layout}-lazy"),
    }
}

/// The options of the shared build in one layout (into the bench's cache), and its variant name.
pub(crate) fn shared_options(options: &BenchOptions, layout: Layout) -> (BuildOptions, String) {
    let mut build = options.build.clone();
    build.cache_dir = Some(options.work_dir.join("cache"));
    build.staging = true;
    build.layout = layout;
    if layout == Layout::Grouped {
        // Groups need one build of each crate (prepare says so for any other policy).
        build.unify.policy = Unify::Features;
    }
    let name = match build.binding {
        Binding::Now => format!("shared {} (unify {})", build.layout, build.unify.policy),
        Binding::Lazy => format!(
            "shared {} (unify {}, bind lazy)",
            build.layout, build.unify.policy
        ),
    };
    (build, name)
}

/// The shared build of the whole set in one layout, then stripped copies of `bin/` and `lib/`.
pub(crate) fn build_shared(
    options: &BenchOptions,
    layout: Layout,
    shell: &Shell,
) -> Result<BuiltVariant> {
    let work = &options.work_dir;
    let dir = shared_dir_name(layout, options.build.binding);
    let out = work.join(&dir);
    let (build, name) = shared_options(options, layout);
    shell.status("Building", format!("the set ({name})"));
    let was_built = build::target_dir_of(
        &work.join("cache"),
        layout,
        build.binding,
        &build.shared_profile,
    )
    .is_dir();
    let (report, cpu, wall) =
        timed(|| build::build(&build, &out, shell).and_then(build::BuildReport::complete))?;
    let mut figures = Variant {
        name,
        shared: true,
        ..Default::default()
    };
    BuildTimes::settle(
        &options.work_dir,
        &mut figures,
        !options.reuse || !was_built,
        cpu,
        wall,
    )?;
    let stripped = work.join("stripped").join(&dir);
    let mut users: BTreeMap<&str, usize> = BTreeMap::new();
    for p in &report.programs {
        for lib in &p.libraries {
            *users.entry(lib).or_default() += 1;
        }
    }
    for file in report.libraries.keys() {
        let bytes = stripped_copy(
            &out.join("lib").join(file),
            &stripped.join("lib").join(file),
            true,
        )?;
        figures.libraries_bytes += bytes;
        figures.libraries.push(LibraryFigures {
            file: file.clone(),
            bytes,
            users: users.get(file.as_str()).copied().unwrap_or(0),
        });
    }
    figures
        .libraries
        .sort_by_key(|l| std::cmp::Reverse(l.bytes));
    let mut binaries = BTreeMap::new();
    let mut unstripped = BTreeMap::new();
    for p in &report.programs {
        let mut bytes = 0;
        for b in &p.binaries {
            bytes += stripped_copy(
                b,
                &stripped.join("bin").join(b.file_name().unwrap_or_default()),
                false,
            )?;
        }
        let first = p.binaries.first().context("a program without binaries")?;
        let run = stripped
            .join("bin")
            .join(first.file_name().unwrap_or_default());
        figures.binaries_bytes += bytes;
        figures.programs.push(ProgramFigures {
            program: p.name.clone(),
            binary: first
                .file_name()
                .unwrap_or_default()
                .to_string_lossy()
                .into_owned(),
            binary_bytes: bytes,
            libraries: p.libraries.len(),
            ..Default::default()
        });
        binaries.insert(p.name.clone(), run);
        unstripped.insert(p.name.clone(), p.binaries.clone());
    }
    let needs = report
        .programs
        .iter()
        .map(|p| (p.name.clone(), p.libraries.clone()))
        .collect();
    Ok(BuiltVariant {
        figures,
        binaries,
        unstripped,
        needs,
    })
}
