//! Imports in name order: a shared library or executable whose inputs name the same imported
//! symbols in another order links to the same bytes.
//!
//! lld (rustc's linker on x86-64 Linux since 1.90) gives a symbol its GOT slot, and its place
//! in `.symtab` and `.dynsym`, in the order symbols enter its symbol table: the order its input
//! files first name them. A crate compiled again because a crate it depends on changed (a
//! body-only fix in tokio recompiles hyper) often names the functions it imports in another
//! order though its code is the same: the slots move, and with them the dynamic relocations and
//! every displacement that loads from the GOT, so the library changes where its code did not.
//! The order a dependency's shared object lists its own imports counts too: lld enters the
//! undefined names of a shared object it reads, and a group's link reads the groups it loads
//! before its own crates' archives, so a fix that makes a group name libstd's functions in
//! another order moves the slots of every group and program above it that imports them too.
//!
//! `--undefined=NAME` (`-u`) enters NAME into the symbol table before any input file is read. So
//! the link is done, the names it left undefined are read from the output, and, unless they are
//! in name order already, the link is done again with each of them as `--undefined`, in name
//! order: the same symbols stay undefined (each was already), now in name order, whatever order
//! the inputs name them in. Weak references are left as they are (`--undefined` would make them
//! strong) and come from the start files, which every link reads first. The second output is
//! kept only when it leaves the same names undefined in name order; else the first is put back.

use std::path::Path;

use anyhow::{Context, Result};
use object::{Object, ObjectSymbol};

/// The names `data` (an ELF file) leaves undefined with global binding, in its symbol table's
/// order (`.symtab`, or `.dynsym` when the file is stripped).
fn undefined_names(data: &[u8]) -> Result<Vec<String>> {
    let file = object::File::parse(data)?;
    let named = |symbols: object::SymbolIterator| -> Vec<String> {
        symbols
            .filter(|s| s.is_undefined() && s.is_global() && !s.is_weak())
            .filter_map(|s| s.name().ok().filter(|n| !n.is_empty()).map(String::from))
            .collect()
    };
    let names = named(file.symbols());
    Ok(if file.symbol_table().is_some() {
        names
    } else {
        named(file.dynamic_symbols())
    })
}

fn in_name_order(names: &[String]) -> bool {
    names.windows(2).all(|w| w[0] < w[1])
}

/// Runs `link` (given extra linker arguments, returning the linker's exit code), which writes
/// the shared library or executable `output`, then, when the output's undefined names are not in name order,
/// once more with them as `--undefined` in name order (the module's comment). Returns the first
/// link's exit code; the second link only replaces the output when it did what it is for.
pub(crate) fn link_with_imports_in_name_order(
    output: &Path,
    mut link: impl FnMut(&[String]) -> Result<i32>,
) -> Result<i32> {
    let code = link(&[])?;
    if code != 0 {
        return Ok(code);
    }
    let first = std::fs::read(output).with_context(|| format!("reading {}", output.display()))?;
    // A file the `object` crate cannot read as ELF is left as the linker wrote it.
    let Ok(names) = undefined_names(&first) else {
        return Ok(code);
    };
    if in_name_order(&names) {
        return Ok(code);
    }
    let mut sorted = names.clone();
    sorted.sort();
    let mut list = tempfile::Builder::new()
        .prefix("cargo-share-imports-")
        .tempfile()
        .context("creating a file for the linker's --undefined list")?;
    let text: String = sorted
        .iter()
        .map(|n| format!("--undefined={n}\n"))
        .collect();
    std::io::Write::write_all(&mut list, text.as_bytes())
        .context("writing the linker's --undefined list")?;
    let again = link(&[format!("-Wl,@{}", list.path().display())])?;
    let kept = again == 0
        && std::fs::read(output)
            .ok()
            .and_then(|data| undefined_names(&data).ok())
            .is_some_and(|now| now == sorted);
    if !kept {
        std::fs::write(output, &first)
            .with_context(|| format!("putting back the first link of {}", output.display()))?;
    }
    Ok(code)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::process::Command;

    /// Assembles `source` into `dir/NAME.o` (the same file name in every directory, so objects
    /// that differ only in their symbol tables' order are otherwise the same bytes).
    fn assemble(dir: &Path, source: &str) -> std::path::PathBuf {
        std::fs::create_dir_all(dir).unwrap();
        let s = dir.join("user.s");
        std::fs::write(&s, source).unwrap();
        let o = dir.join("user.o");
        let ok = Command::new("cc")
            .arg("-c")
            .arg(&s)
            .arg("-o")
            .arg(&o)
            .current_dir(dir)
            .status()
            .unwrap()
            .success();
        assert!(ok, "assembling {}", s.display());
        o
    }

    /// rustc's linker: `cc` driving rust-lld through the toolchain's `gcc-ld` directory, as
    /// rustc 1.90 and later link on x86-64 Linux.
    fn lld_args() -> Vec<String> {
        let std_libdir = crate::toolchain::Toolchain::detect().unwrap().std_libdir;
        let gcc_ld = std_libdir.join("../bin/gcc-ld");
        vec![format!("-B{}", gcc_ld.display()), "-fuse-ld=lld".into()]
    }

    /// The same code (loading `alpha`, `beta` and the thread-local `tv` from the GOT) in two
    /// objects whose symbol tables name them in two orders: linked as they are, the GOT slots
    /// differ; linked with the imports in name order, the two libraries are the same bytes.
    #[test]
    fn inputs_naming_imports_in_another_order_link_to_the_same_library() {
        let dir = tempfile::tempdir().unwrap();
        let lib_c = dir.path().join("lib.c");
        std::fs::write(
            &lib_c,
            "__thread int tv; int alpha(void) { return 1; } int beta(void) { return 2; }\n",
        )
        .unwrap();
        let lib = dir.path().join("libdep.so");
        let ok = Command::new("cc")
            .args(["-shared", "-fPIC", "-nostdlib", "-o"])
            .arg(&lib)
            .arg(&lib_c)
            .status()
            .unwrap()
            .success();
        assert!(ok);
        let code = "
    .text
    .globl user
    .type user, @function
user:
    movq alpha@GOTPCREL(%rip), %rax
    movq beta@GOTPCREL(%rip), %rcx
    data16 leaq tv@tlsgd(%rip), %rdi
    .value 0x6666
    rex64 call __tls_get_addr@PLT
    ret
";
        // The order of the `.globl` lines is the order the assembler's symbol table names them.
        let a = assemble(
            &dir.path().join("a"),
            &format!("    .globl beta\n    .globl tv\n    .globl alpha\n{code}"),
        );
        let b = assemble(
            &dir.path().join("b"),
            &format!("    .globl alpha\n    .globl beta\n    .globl tv\n{code}"),
        );
        let link = |object: &Path, output: &Path, extra: &[String]| -> Result<i32> {
            let status = Command::new("cc")
                .args(lld_args())
                .args(["-shared", "-nostdlib", "-o"])
                .arg(output)
                .arg(object)
                .arg(&lib)
                .args(extra)
                .status()?;
            Ok(status.code().unwrap_or(1))
        };
        let plain = |object: &Path, name: &str| {
            let out = dir.path().join(name);
            assert_eq!(link(object, &out, &[]).unwrap(), 0);
            std::fs::read(out).unwrap()
        };
        assert_ne!(
            plain(&a, "plain-a.so"),
            plain(&b, "plain-b.so"),
            "the linker gave both orders the same slots: this test no longer tells anything"
        );
        let ordered = |object: &Path, name: &str| {
            let out = dir.path().join(name);
            let code =
                link_with_imports_in_name_order(&out, |extra| link(object, &out, extra)).unwrap();
            assert_eq!(code, 0);
            std::fs::read(out).unwrap()
        };
        let (oa, ob) = (ordered(&a, "a.so"), ordered(&b, "b.so"));
        assert!(oa == ob, "the libraries differ");
        let names = undefined_names(&oa).unwrap();
        assert_eq!(names, ["__tls_get_addr", "alpha", "beta", "tv"]);
    }

    #[test]
    fn a_failed_link_is_not_done_again() {
        let mut runs = 0;
        let code = link_with_imports_in_name_order(Path::new("no-such-output.so"), |_| {
            runs += 1;
            Ok(1)
        })
        .unwrap();
        assert_eq!((code, runs), (1, 1));
    }
}
