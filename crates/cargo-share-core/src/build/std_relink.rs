//! Step 8, assembly: the run-time `libstd-<hash>.so`, relinked from the toolchain's rlibs.
//!
//! The toolchain's `libstd-<hash>.so` exports 1,751 symbols, carries `RUNPATH $ORIGIN/../lib`
//! (which makes the loader search the program's `lib/` for libstd's own `NEEDED` libc and
//! libgcc_s) and binds its own calls through the PLT/GOT. Rustc only needs it to compile and
//! link; at run time any library with the same soname and the symbols the programs import will
//! do. This step links one from the same rlibs rustc links into a dylib that carries std
//! statically, with:
//!
//! * exports limited to what the set's binaries and libraries import (`--exports used`) or every
//!   export of the toolchain's copy but its crate metadata symbol (`--exports all`), as a
//!   version script, plus `EXTERN(...)` roots and `--gc-sections` so that only the code they
//!   reach is kept;
//! * the allocator shim (`__rust_alloc` and co., from an empty staticlib's archive member) in a
//!   `--dynamic-list`: every other symbol binds locally, the shim stays interposable, so a
//!   program that exports its `#[global_allocator]` is the allocator libstd uses too (never
//!   `-Bsymbolic`, which would bind the shim inside libstd); the panic runtime's entry point
//!   `__rust_start_panic` is exported and interposable the same way, so a `panic = "abort"`
//!   program's executable, which defines an aborting one, is what every panic of the process
//!   starts with (`compile::panic_abort`);
//! * `NEEDED` only libgcc_s (the unwinder) and libc, no run path, `--strip-debug` (symbol names
//!   stay, for backtraces through libstd);
//! * a GOT slot for every C function the toolchain's copy imports that a file of the set
//!   imports too (with `--exports all`, every one: the relink must not depend on the set), and
//!   for every interposable symbol, from a small object that loads each
//!   through the GOT (`cargo_share_slots`, kept by `--undefined`): libstd's table jumps through
//!   those slots (`build::positions`), so the other files bind them through libstd's anchor,
//!   and an entry must never trap for a function a file of the set calls.
//!
//! Compiling is unchanged: rustc keeps linking against the toolchain's copy, whose soname is the
//! same file name. What this costs is cached under the target directory, keyed by `rustc -vV`
//! and the toolchain's libdir: the shim object and rustc's list of rlibs. The relink itself is
//! redone only when the export list changes (it is written beside the result, format line
//! first: a store entry's identity hashes it).

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, Context, Result};

use crate::build::options::GroupExports;
use crate::shell::{human_bytes, Shell};
use cargo_share_compile::allocator::is_allocator_shim;
use cargo_share_compile::digest::sha256_hex;
use cargo_share_compile::elf;
use cargo_share_compile::panic_abort::is_start_panic;
use cargo_share_compile::toolchain::Toolchain;

/// How [`relink_std`] links, the first line of every export list it writes: change it when the
/// relink changes (a store entry's identity hashes the list).
pub(crate) const STD_RELINK_FORMAT: &str =
    "# cargo-share std relink 3: sysroot rlibs, allocator shim \
     and __rust_start_panic interposable (--dynamic-list), version script, --gc-sections, \
     --strip-debug, GOT slots for the C functions and interposable symbols the table jumps \
     through (lines `slot NAME`)";

/// The hidden function of the slot object whose GOT loads make the slots (a `--gc-sections`
/// root).
const SLOTS_SYMBOL: &str = "cargo_share_slots";

/// Beside the relinked libstd: the symbols it exports, one per line, after [`STD_RELINK_FORMAT`].
pub(crate) const STD_EXPORTS_FILE: &str = "exports";

/// The linker driver the relink runs (GNU ld through `cc`, as the link was checked with).
const LINKER: &str = "cc";

/// The relinked run-time libstd of a build.
#[derive(Debug, Clone)]
pub(crate) struct RelinkedStd {
    /// `libstd-<hash>.so`: the toolchain's file name, which is also the soname.
    pub(crate) file: String,
    pub(crate) path: PathBuf,
    /// Its export list ([`STD_EXPORTS_FILE`]).
    pub(crate) exports_file: PathBuf,
}

/// What libstd binds through the loader so an executable's definition wins: the allocator shim
/// and the panic runtime's entry point.
fn is_interposable(name: &str) -> bool {
    is_allocator_shim(name) || is_start_panic(name)
}

/// The marker every binary imports from libstd (`__rust_no_alloc_shim_is_unstable_v2`).
fn is_shim_marker(name: &str) -> bool {
    name.ends_with("___rust_no_alloc_shim_is_unstable_v2")
        || name.ends_with("__rust_no_alloc_shim_is_unstable")
}

/// The symbols the relinked libstd exports: with `Used`, what `imports` (every undefined dynamic
/// symbol of the set's binaries and libraries) takes from the toolchain's copy, plus the
/// allocator shim and the panic runtime's entry point; with `All`, everything the toolchain's
/// copy exports but its crate metadata.
pub(crate) fn std_exports(
    stock: &BTreeSet<String>,
    mode: GroupExports,
    imports: &BTreeSet<String>,
) -> BTreeSet<String> {
    stock
        .iter()
        .filter(|s| !s.starts_with("rust_metadata_std_"))
        .filter(|s| match mode {
            GroupExports::All => true,
            GroupExports::Used => imports.contains(*s) || is_interposable(s) || is_shim_marker(s),
        })
        .cloned()
        .collect()
}

/// Relink the toolchain's libstd for a build into `work` (a directory under the target
/// directory), exporting per `mode`. `imports`: what the set's binaries and libraries import.
pub(crate) fn relink_std(
    toolchain: &Toolchain,
    work: &Path,
    mode: GroupExports,
    imports: &BTreeSet<String>,
    shell: &Shell,
) -> Result<RelinkedStd> {
    let stock = toolchain.libstd().with_context(|| {
        format!(
            "the toolchain has no libstd-*.so in {} (shared builds need the toolchain's \
             dynamic libstd; reinstall the toolchain, e.g. `rustup toolchain install stable`)",
            toolchain.std_libdir.display()
        )
    })?;
    let file = stock
        .file_name()
        .context("libstd without a file name")?
        .to_string_lossy()
        .into_owned();
    let cache = toolchain_cache(toolchain, work)?;
    let inputs = link_inputs(&cache)?;

    let (_, stock_exports) = elf::dynamic_symbols(&stock)?;
    let exports = std_exports(&stock_exports, mode, imports);
    let slots = slot_names(&stock, (&exports, mode), imports)?;
    let interposable: Vec<&String> = exports.iter().filter(|s| is_interposable(s)).collect();
    if !interposable.iter().any(|s| is_allocator_shim(s)) {
        bail!(
            "{} exports no allocator shim (`__rust_alloc`): this toolchain's libstd is not laid \
             out as cargo-share expects; report it with `rustc -vV`",
            stock.display()
        );
    }
    let list: String = std::iter::once(format!("{STD_RELINK_FORMAT}\n"))
        .chain(exports.iter().map(|s| format!("{s}\n")))
        .chain(slots.iter().map(|s| format!("slot {s}\n")))
        .collect();

    let dir = cache.join(match mode {
        GroupExports::Used => "used",
        GroupExports::All => "all",
    });
    std::fs::create_dir_all(&dir)?;
    let out = dir.join(&file);
    let exports_file = dir.join(STD_EXPORTS_FILE);
    let current = out.is_file()
        && std::fs::read_to_string(&exports_file).ok().as_deref() == Some(list.as_str());
    if !current {
        let scripts = write_link_scripts(&dir, &exports, &interposable, &slots)?;
        let tmp = dir.join(format!("{file}.new"));
        link_std(&tmp, &file, &scripts, &inputs, exports.len(), &cache)?;
        std::fs::rename(&tmp, &out)?;
        std::fs::write(&exports_file, &list)?;
    }
    shell.status(
        "Relinked",
        format!(
            "{file}: exports {} of {} symbols, {} -> {}",
            exports.len(),
            stock_exports.len(),
            human_bytes(std::fs::metadata(&stock)?.len()),
            human_bytes(std::fs::metadata(&out)?.len())
        ),
    );
    Ok(RelinkedStd {
        file,
        path: out,
        exports_file,
    })
}

/// The relink's cache for one toolchain under `work`, keyed by `rustc -vV` and its libdir.
fn toolchain_cache(toolchain: &Toolchain, work: &Path) -> Result<PathBuf> {
    let key = &sha256_hex(
        format!(
            "{}\0{}",
            toolchain.version_text,
            toolchain.std_libdir.display()
        )
        .as_bytes(),
    )[..16];
    let cache = work.join(key);
    std::fs::create_dir_all(&cache).with_context(|| format!("creating {}", cache.display()))?;
    Ok(cache)
}

/// The linker scripts of one relink, in `dir`.
struct LinkScripts {
    /// The version script: `exports` global, everything else local.
    version: PathBuf,
    /// `EXTERN(...)` of every export, the roots `--gc-sections` keeps.
    roots: PathBuf,
    /// The `--dynamic-list` of the interposable symbols.
    dynamic_list: PathBuf,
    /// The assembly of the slot object ([`SLOTS_SYMBOL`]), when there are slots.
    slots: Option<PathBuf>,
}

/// Writes the version script, the `EXTERN` roots and the dynamic list for `exports` (of which
/// `interposable` bind through the loader) and the slot object's assembly for `slots` into
/// `dir`.
fn write_link_scripts(
    dir: &Path,
    exports: &BTreeSet<String>,
    interposable: &[&String],
    slots: &BTreeSet<String>,
) -> Result<LinkScripts> {
    let ver: String = std::iter::once("{\n  global:\n".to_string())
        .chain(exports.iter().map(|s| format!("    {s};\n")))
        .chain(std::iter::once("  local:\n    *;\n};\n".to_string()))
        .collect();
    let roots: String = std::iter::once("EXTERN(\n".to_string())
        .chain(exports.iter().map(|s| format!("  {s}\n")))
        .chain(std::iter::once(")\n".to_string()))
        .collect();
    let dynlist: String = std::iter::once("{\n".to_string())
        .chain(interposable.iter().map(|s| format!("  {s};\n")))
        .chain(std::iter::once("};\n".to_string()))
        .collect();
    let scripts = LinkScripts {
        version: dir.join("exports.ver"),
        roots: dir.join("exports.ld"),
        dynamic_list: dir.join("interposable.dynlist"),
        slots: (!slots.is_empty()).then(|| dir.join("slots.s")),
    };
    if let Some(path) = &scripts.slots {
        std::fs::write(path, slot_assembly(slots))?;
    }
    std::fs::write(&scripts.version, ver)?;
    std::fs::write(&scripts.roots, roots)?;
    std::fs::write(&scripts.dynamic_list, dynlist)?;
    Ok(scripts)
}

/// Links `file` (the soname) into `tmp` from the shim and the rlibs with `scripts`; an error
/// names the `export_count` exports and the `cache` to remove to start over.
fn link_std(
    tmp: &Path,
    file: &str,
    scripts: &LinkScripts,
    inputs: &LinkInputs,
    export_count: usize,
    cache: &Path,
) -> Result<()> {
    let mut cmd = Command::new(LINKER);
    cmd.arg("-shared")
        .arg("-o")
        .arg(tmp)
        .arg(format!("-Wl,-soname={file}"))
        .args(["-nodefaultlibs", "-m64"])
        .arg(format!(
            "-Wl,--version-script={}",
            scripts.version.display()
        ))
        .arg(format!(
            "-Wl,--dynamic-list={}",
            scripts.dynamic_list.display()
        ))
        .args([
            "-Wl,--gc-sections",
            "-Wl,-z,pack-relative-relocs",
            "-Wl,-O1",
            "-Wl,-z,relro,-z,now",
            "-Wl,--eh-frame-hdr",
            "-Wl,-z,noexecstack",
            "-Wl,--strip-debug",
        ])
        .arg(&inputs.shim)
        .args(scripts.slots.iter().flat_map(|slots| {
            [
                format!("-Wl,--undefined={SLOTS_SYMBOL}").into(),
                slots.as_os_str().to_owned(),
            ]
        }))
        .arg(&scripts.roots)
        .args(["-Wl,--as-needed", "-Wl,-Bstatic"])
        .args(&inputs.rlibs)
        .args(["-Wl,-Bdynamic", "-lgcc_s", "-lc", "-Wl,-z,defs"]);
    let result = cmd.output().with_context(|| {
        format!("running `{LINKER}` to relink {file} (is a C toolchain installed?)")
    })?;
    if !result.status.success() {
        bail!(
            "relinking {file} from the toolchain's rlibs with {export_count} exports failed \
             (remove {} to start over; if it fails again, report it with `rustc -vV`): {}",
            cache.display(),
            String::from_utf8_lossy(&result.stderr)
        );
    }
    Ok(())
}

/// The symbols the relinked libstd gets a GOT slot for: every function the toolchain's copy
/// `stock` imports by a non-weak reference (with `Used`, only those `imports`, the set's other
/// files, name too; with `All` every one, so that the relink, like its exports, does not depend
/// on the set and every install shares one libstd), and every interposable symbol of `exports`.
/// None off x86-64, where nothing binds by position.
fn slot_names(
    stock: &Path,
    (exports, mode): (&BTreeSet<String>, GroupExports),
    imports: &BTreeSet<String>,
) -> Result<BTreeSet<String>> {
    use object::{Object, ObjectSymbol, SymbolKind};
    if !cfg!(target_arch = "x86_64") {
        return Ok(BTreeSet::new());
    }
    let data = std::fs::read(stock).with_context(|| format!("reading {}", stock.display()))?;
    let file = object::File::parse(&*data)
        .with_context(|| format!("{} is not a readable ELF file", stock.display()))?;
    let mut slots: BTreeSet<String> = file
        .dynamic_symbols()
        .filter(|s| s.is_undefined() && !s.is_weak() && s.kind() == SymbolKind::Text)
        .filter_map(|s| s.name().ok())
        .filter(|n| mode == GroupExports::All || imports.contains(*n))
        .map(str::to_string)
        .collect();
    slots.extend(exports.iter().filter(|s| is_interposable(s)).cloned());
    Ok(slots)
}

/// The assembly of a hidden function that loads every symbol of `slots` through the GOT: linked
/// into libstd, it makes the linker give each one a slot (`R_X86_64_GLOB_DAT`).
fn slot_assembly(slots: &BTreeSet<String>) -> String {
    let mut text = format!(
        "\t.section .text.{SLOTS_SYMBOL},\"ax\",@progbits\n\t.globl {SLOTS_SYMBOL}\n\
         \t.hidden {SLOTS_SYMBOL}\n\t.type {SLOTS_SYMBOL},@function\n{SLOTS_SYMBOL}:\n"
    );
    for slot in slots {
        text.push_str(&format!("\tmovq {slot}@GOTPCREL(%rip), %rax\n"));
    }
    text.push_str("\tret\n\t.section .note.GNU-stack,\"\",@progbits\n");
    text
}

/// What every relink of one toolchain's libstd links: the allocator shim object and the rlibs.
struct LinkInputs {
    shim: PathBuf,
    rlibs: Vec<PathBuf>,
}

const RLIBS_FILE: &str = "rlibs";
const SHIM_FILE: &str = "allocator-shim.o";

/// The shim object and rustc's rlib list, cached in `cache` (keyed by the toolchain).
fn link_inputs(cache: &Path) -> Result<LinkInputs> {
    let shim = cache.join(SHIM_FILE);
    let rlibs_file = cache.join(RLIBS_FILE);
    if shim.is_file() {
        if let Ok(text) = std::fs::read_to_string(&rlibs_file) {
            let rlibs: Vec<PathBuf> = text.lines().map(PathBuf::from).collect();
            if !rlibs.is_empty() && rlibs.iter().all(|r| r.is_file()) {
                return Ok(LinkInputs { shim, rlibs });
            }
        }
    }
    let scratch = tempfile::tempdir_in(cache)?;
    let source = scratch.path().join("e.rs");
    std::fs::write(&source, "")?;
    let rustc = std::env::var_os("RUSTC").unwrap_or_else(|| "rustc".into());
    let rustc_run = |args: &[&str], what: &str| -> Result<Vec<u8>> {
        let out = Command::new(&rustc)
            .current_dir(scratch.path())
            .args(["-O", "-C", "symbol-mangling-version=v0"])
            .args(args)
            .arg(&source)
            .output()
            .with_context(|| format!("running rustc for {what}"))?;
        if !out.status.success() {
            bail!(
                "rustc failed making {what}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        Ok(out.stdout)
    };
    // The allocator shim: the member of an empty staticlib that defines `__rust_alloc`.
    rustc_run(
        &["--crate-type", "staticlib", "-o", "libe.a"],
        "the allocator shim (an empty staticlib)",
    )?;
    let archive_path = scratch.path().join("libe.a");
    let object = shim_member(&archive_path)?;
    std::fs::write(&shim, object).with_context(|| format!("writing {}", shim.display()))?;
    // The rlibs, in rustc's own order for a dylib that carries std statically.
    let printed = rustc_run(
        &[
            "--crate-type",
            "dylib",
            "--print",
            "link-args",
            "-o",
            "libe.so",
        ],
        "the list of std's rlibs (`--print link-args`)",
    )?;
    let rlibs = quoted_rlibs(&String::from_utf8_lossy(&printed));
    if rlibs.is_empty() {
        bail!("`rustc --print link-args` of an empty dylib named no .rlib: cannot relink libstd");
    }
    let text: String = rlibs.iter().map(|r| format!("{}\n", r.display())).collect();
    std::fs::write(&rlibs_file, text)?;
    Ok(LinkInputs { shim, rlibs })
}

/// The archive member that defines the allocator shim.
fn shim_member(archive_path: &Path) -> Result<Vec<u8>> {
    let member = elf::archive_member_defining(archive_path, |n| {
        is_allocator_shim(n) && n.ends_with("___rust_alloc")
    })?;
    match member {
        Some((bytes, _)) => Ok(bytes),
        None => bail!(
            "no member of an empty staticlib defines `__rust_alloc` (the allocator shim): this \
             rustc lays it out differently; report it with `rustc -vV`"
        ),
    }
}

/// The `.rlib` paths in `rustc --print link-args` output (double-quoted words), in order; a
/// crate's own `deps/` are not std's.
fn quoted_rlibs(printed: &str) -> Vec<PathBuf> {
    printed
        .split('"')
        .skip(1)
        .step_by(2)
        .filter(|w| w.ends_with(".rlib") && !w.contains("/deps/"))
        .map(PathBuf::from)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn allocator_symbols_in_both_manglings() {
        for s in [
            "_RNvCsfLfy6EI15iL_7___rustc12___rust_alloc",
            "_RNvCsfLfy6EI15iL_7___rustc14___rust_dealloc",
            "_RNvCsfLfy6EI15iL_7___rustc14___rust_realloc",
            "_RNvCsfLfy6EI15iL_7___rustc19___rust_alloc_zeroed",
            "__rust_alloc",
        ] {
            assert!(is_allocator_shim(s), "{s}");
        }
        for s in [
            "_RNvCsfLfy6EI15iL_7___rustc11___rdl_alloc",
            "_RNvCsfLfy6EI15iL_7___rustc26___rust_alloc_error_handler",
            "_RNvCsfLfy6EI15iL_7___rustc35___rust_no_alloc_shim_is_unstable_v2",
            "my___rust_alloc",
        ] {
            assert!(!is_allocator_shim(s), "{s}");
        }
    }

    #[test]
    fn used_exports_are_imports_plus_the_shim() {
        let stock: BTreeSet<String> = [
            "_RNvCsX_7___rustc12___rust_alloc",
            "_RNvCsX_7___rustc18___rust_start_panic",
            "_RNvCsX_7___rustc35___rust_no_alloc_shim_is_unstable_v2",
            "_RNvNtCs1_3std2io5stdout",
            "_RNvNtCs1_3std2fs4read",
            "rust_metadata_std_123",
        ]
        .map(String::from)
        .into();
        let imports: BTreeSet<String> = ["_RNvNtCs1_3std2io5stdout", "malloc"]
            .map(String::from)
            .into();
        let used = std_exports(&stock, GroupExports::Used, &imports);
        assert_eq!(
            used.into_iter().collect::<Vec<_>>(),
            [
                "_RNvCsX_7___rustc12___rust_alloc",
                "_RNvCsX_7___rustc18___rust_start_panic",
                "_RNvCsX_7___rustc35___rust_no_alloc_shim_is_unstable_v2",
                "_RNvNtCs1_3std2io5stdout"
            ]
        );
        let all = std_exports(&stock, GroupExports::All, &imports);
        assert_eq!(all.len(), 5, "{all:?}");
    }

    #[test]
    fn rlibs_from_printed_link_args() {
        let printed = r#"LC_ALL="C" "cc" "a.o" "-Wl,-Bstatic" "/sys/lib/libstd-1.rlib" "/t/deps/libx-2.rlib" "/sys/lib/libcore-3.rlib" "-lc""#;
        assert_eq!(
            quoted_rlibs(printed),
            [
                PathBuf::from("/sys/lib/libstd-1.rlib"),
                PathBuf::from("/sys/lib/libcore-3.rlib")
            ]
        );
    }
}
