//! The two fixes the bench's update cost measures, chosen from what the set's build holds.
//!
//! A fix ships different bytes depending on where the changed code ends up: a change inside a
//! non-inlined, non-generic function is compiled once, into the object that holds its crate; a
//! change to a generic or `#[inline]` function is compiled into every crate that instantiates or
//! inlines it. The bench measures both, on functions the programs really use:
//!
//! * **Body-only**: a non-generic function of the crate whose symbol is defined in the shared
//!   build (so the linker kept it: some program reaches it), preferring one other objects import
//!   (called across objects, so not inlined there). Its source definition must be unique, not
//!   generic, not `#[inline]`/`#[inline(always)]`, not `const`, with at least two statements
//!   (small leaf functions are inlined across crates by rustc's own heuristic).
//! * **Inlined or generic**: a generic function of the crate with instances in objects other
//!   than the one holding the crate (most such copies first); else, since uses that were all
//!   inlined leave no symbol, the first public generic or `#[inline]` function in the sources;
//!   else a generic function only the crate's own object instantiates.
//!
//! The fix itself is one statement, `::core::hint::black_box(0x5eed_u32);`, at the start of the
//! function's body: it changes the function's code and nothing else.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use object::{Object, ObjectSymbol, SymbolKind};
use serde::{Deserialize, Serialize};
use syn::visit::Visit;

use cargo_share_core::build::short_names::short_name;

/// What a fix changes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub(crate) enum FixKind {
    /// The body of one non-inlined, non-generic function.
    BodyOnly,
    /// A generic (or `#[inline]`) function, compiled into its callers.
    InlinedOrGeneric,
}

impl FixKind {
    pub(crate) fn label(self) -> &'static str {
        match self {
            FixKind::BodyOnly => "body-only",
            FixKind::InlinedOrGeneric => "inlined-or-generic",
        }
    }
}

/// The statement a fix inserts.
pub(crate) const FIX_STATEMENT: &str = " ::core::hint::black_box(0x5eed_u32);";

/// Where a fix goes: the function (by name, and its impl type if a method) in one source file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct FixSite {
    pub(crate) kind: FixKind,
    /// The function as its symbol demangles, without hashes (`<regex_syntax::hir::Hir>::literal`).
    pub(crate) function: String,
    /// The source file, relative to the crate's root directory.
    pub(crate) file: PathBuf,
    pub(crate) line: usize,
    name: String,
    impl_type: Option<String>,
}

impl FixSite {
    /// `file:line` for the report.
    pub(crate) fn source(&self) -> String {
        format!("{}:{}", self.file.display(), self.line)
    }

    /// Insert the fix into the same function of `crate_root` (a copy of some version of the
    /// crate): found again by file, name and impl type, since versions differ in line numbers.
    pub(crate) fn apply(&self, crate_root: &Path) -> Result<()> {
        let path = crate_root.join(&self.file);
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("reading {} to apply the fix", path.display()))?;
        let defs = fn_defs_in(&text, &self.file)?;
        let def = defs
            .iter()
            .find(|d| d.name == self.name && d.impl_type == self.impl_type)
            .with_context(|| {
                format!(
                    "{} has no function `{}` in {}",
                    crate_root.display(),
                    self.function,
                    self.file.display()
                )
            })?;
        let at = byte_offset(&text, def.open_brace.0, def.open_brace.1)
            .context("the function's body is outside its file")?;
        let mut fixed = text[..=at].to_string();
        fixed.push_str(FIX_STATEMENT);
        fixed.push_str(&text[at + 1..]);
        std::fs::write(&path, fixed)?;
        Ok(())
    }
}

/// Choose both fixes for `crate_name`, whose sources are in `crate_root` (its library in
/// `lib_dir`), from the symbols of `objects` (the shared build's binaries and libraries). Each
/// kind is `Err` with the reason when no function qualifies.
pub(crate) fn choose(
    crate_name: &str,
    crate_root: &Path,
    lib_dir: &Path,
    objects: &[PathBuf],
) -> Result<Vec<(FixKind, Result<FixSite>)>> {
    let ident = crate_name.replace('-', "_");
    let symbols = SymbolUse::read(objects)?;
    let defs = crate_fn_defs(crate_root, lib_dir)?;
    let paths: Vec<(FnPath, &SymbolUses)> = symbols
        .by_name
        .iter()
        .filter_map(|(demangled, use_)| Some((FnPath::parse(demangled, &ident)?, use_)))
        .collect();
    // The objects holding a copy of the crate (its non-generic functions): the shared object,
    // and a program that links it statically.
    let holders: BTreeSet<usize> = paths
        .iter()
        .filter(|(p, _)| !p.generic)
        .flat_map(|(_, u)| u.definers.iter().copied())
        .collect();
    // Where a path's function is defined in the crate's source, if exactly once.
    let site_of = |kind: FixKind, path: &FnPath| -> Option<FixSite> {
        let matching: Vec<&FnDef> = defs
            .iter()
            .filter(|d| d.name == path.name && d.eligible(kind))
            .filter(|d| d.impl_type == path.impl_type)
            .collect();
        let [def] = matching[..] else { return None };
        Some(def.site(kind, path.display.clone()))
    };
    // Ranked candidates (best first), from the build's symbols.
    let ranked = |kind: FixKind, rank: &dyn Fn(&SymbolUses) -> usize| -> Vec<&FnPath> {
        let mut out: Vec<(usize, &FnPath)> = paths
            .iter()
            .filter(|(p, _)| p.generic == (kind == FixKind::InlinedOrGeneric))
            .map(|(p, u)| (rank(u), p))
            .collect();
        out.sort_by(|a, b| b.0.cmp(&a.0).then_with(|| a.1.display.cmp(&b.1.display)));
        out.into_iter().map(|(_, p)| p).collect()
    };
    let mut out = Vec::new();
    // Body-only: most imported by other objects first.
    let body = ranked(FixKind::BodyOnly, &|u| u.importers)
        .into_iter()
        .find_map(|p| site_of(FixKind::BodyOnly, p))
        .with_context(|| {
            format!(
                "no non-generic, non-inlined function of `{crate_name}` with a unique name is in the build"
            )
        });
    out.push((FixKind::BodyOnly, body));
    // Inlined or generic: instances in objects that do not hold the crate first (most copies
    // first); else the first public generic or #[inline] function in the sources (its uses may
    // all have been inlined, leaving no symbol); else an instance only holders of the crate have.
    let kind = FixKind::InlinedOrGeneric;
    let outside = |u: &SymbolUses| u.definers.difference(&holders).count();
    let candidates = ranked(kind, &outside);
    let (abroad, at_home): (Vec<&FnPath>, Vec<&FnPath>) = candidates.into_iter().partition(|p| {
        paths
            .iter()
            .find(|(q, _)| q.display == p.display)
            .is_some_and(|(_, u)| outside(u) > 0)
    });
    let mut counts: BTreeMap<(&str, Option<&str>), usize> = BTreeMap::new();
    for d in &defs {
        *counts.entry((&d.name, d.impl_type.as_deref())).or_default() += 1;
    }
    let generic = abroad
        .into_iter()
        .find_map(|p| site_of(kind, p))
        .or_else(|| {
            defs.iter()
                .find(|d| {
                    d.public
                        && d.eligible(kind)
                        && counts[&(d.name.as_str(), d.impl_type.as_deref())] == 1
                })
                .map(|d| d.site(kind, d.source_path(&ident)))
        })
        .or_else(|| at_home.into_iter().find_map(|p| site_of(kind, p)))
        .with_context(|| {
            format!("`{crate_name}` has no public generic or #[inline] function with a unique name")
        });
    out.push((kind, generic));
    Ok(out)
}

/// How the build uses each function symbol (demangled, without hashes).
#[derive(Default)]
struct SymbolUse {
    by_name: BTreeMap<String, SymbolUses>,
}

#[derive(Default)]
struct SymbolUses {
    /// Objects defining it (for a generic instance: the copies).
    definers: BTreeSet<usize>,
    /// Objects importing it: by name (`.dynsym`) or by position (its long name in `.symtab`).
    importers: usize,
}

impl SymbolUse {
    fn read(objects: &[PathBuf]) -> Result<SymbolUse> {
        let mut out = SymbolUse::default();
        // The run-time copies import by short dynamic names (`build::short_names`); their
        // definers' symbol tables keep the long ones.
        let mut long_of_short = BTreeMap::new();
        let mut imports = Vec::new();
        for (i, path) in objects.iter().enumerate() {
            let data =
                std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
            let file = object::File::parse(&*data)
                .with_context(|| format!("{} is not an object file", path.display()))?;
            for sym in file.symbols() {
                if sym.kind() == SymbolKind::Text && !sym.is_undefined() {
                    let raw = sym.name().unwrap_or_default();
                    if let Some(name) = demangled(raw) {
                        long_of_short.insert(short_name(raw), name.clone());
                        out.by_name.entry(name).or_default().definers.insert(i);
                    }
                }
            }
            // Functions bound by position (`build::positions`) are imported through their
            // library's anchor: the symbol table's undefined entries keep their long names.
            let undefined: BTreeSet<String> = file
                .dynamic_symbols()
                .chain(file.symbols())
                .filter(|s| s.is_undefined())
                .filter_map(|s| s.name().ok().map(String::from))
                .filter(|n| !n.is_empty())
                .collect();
            imports.push(undefined);
        }
        for undefined in imports {
            // One import per file, whether named in `.dynsym` (short) or `.symtab` (long).
            let names: BTreeSet<String> = undefined
                .iter()
                .filter_map(|raw| long_of_short.get(raw).cloned().or_else(|| demangled(raw)))
                .collect();
            for name in names {
                out.by_name.entry(name).or_default().importers += 1;
            }
        }
        Ok(out)
    }
}

fn demangled(raw: &str) -> Option<String> {
    rustc_demangle::try_demangle(raw)
        .ok()
        .map(|d| format!("{d:#}"))
}

/// A function path as a symbol demangles: `crate::module::name`, `<crate::Type>::name`, with
/// generic arguments where it is an instance.
#[derive(Debug, Clone, PartialEq, Eq)]
struct FnPath {
    display: String,
    name: String,
    /// The type of an inherent method (its last path segment), `None` for a free function.
    impl_type: Option<String>,
    /// An instance of a generic function or of a method of a generic type.
    generic: bool,
}

impl FnPath {
    /// The function of crate `ident` this symbol is, if it is one (closures, trait methods,
    /// shims and other crates' functions are not).
    fn parse(demangled: &str, ident: &str) -> Option<FnPath> {
        let mut segments = split_top_level(demangled);
        let mut generic = false;
        if segments.last()?.starts_with('<') {
            generic = true;
            segments.pop();
        }
        let name = segments.pop()?;
        if !is_ident(name) {
            return None;
        }
        let first = *segments.first()?;
        let impl_type = if let Some(inner) = first.strip_prefix('<') {
            let inner = inner.strip_suffix('>')?;
            if inner.contains(" as ") || segments.len() != 1 {
                return None;
            }
            let (path, args) = match inner.find('<') {
                Some(at) => (&inner[..at], true),
                None => (inner, false),
            };
            generic |= args;
            let parts: Vec<&str> = path.split("::").collect();
            if parts.first() != Some(&ident) || parts.len() < 2 {
                return None;
            }
            Some(parts.last()?.to_string())
        } else {
            if first != ident || !segments.iter().all(|s| is_ident(s)) {
                return None;
            }
            None
        };
        Some(FnPath {
            display: demangled.to_string(),
            name: name.to_string(),
            impl_type,
            generic,
        })
    }
}

fn is_ident(s: &str) -> bool {
    !s.is_empty()
        && s.chars().all(|c| c.is_alphanumeric() || c == '_')
        && !s.starts_with(|c: char| c.is_ascii_digit())
}

/// Split at `::` outside angle brackets.
fn split_top_level(s: &str) -> Vec<&str> {
    let (mut out, mut depth, mut start) = (Vec::new(), 0i32, 0usize);
    let bytes = s.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'<' => depth += 1,
            b'>' if i == 0 || bytes[i - 1] != b'-' => depth -= 1,
            b':' if depth == 0 && bytes.get(i + 1) == Some(&b':') => {
                out.push(&s[start..i]);
                i += 2;
                start = i;
                continue;
            }
            _ => {}
        }
        i += 1;
    }
    out.push(&s[start..]);
    out
}

/// A function definition with a body, in the crate's source.
#[derive(Debug, Clone)]
struct FnDef {
    name: String,
    file: PathBuf,
    /// Line (1-based) and column (in characters) of the body's `{`.
    open_brace: (usize, usize),
    /// The self type's last segment, for a method of an inherent impl.
    impl_type: Option<String>,
    trait_impl: bool,
    generic: bool,
    inline_hint: bool,
    is_const: bool,
    public: bool,
    statements: usize,
}

impl FnDef {
    fn site(&self, kind: FixKind, function: String) -> FixSite {
        FixSite {
            kind,
            function,
            file: self.file.clone(),
            line: self.open_brace.0,
            name: self.name.clone(),
            impl_type: self.impl_type.clone(),
        }
    }

    /// `crate::module::Type::name`, the module path taken from the file's path
    /// (`src/a/b.rs`, `src/a/b/mod.rs` -> `a::b`).
    fn source_path(&self, ident: &str) -> String {
        let mut parts = vec![ident.to_string()];
        let rel: Vec<String> = self
            .file
            .components()
            .skip(1)
            .map(|c| {
                c.as_os_str()
                    .to_string_lossy()
                    .trim_end_matches(".rs")
                    .to_string()
            })
            .collect();
        for (i, part) in rel.iter().enumerate() {
            let last = i + 1 == rel.len();
            if !(last && ["lib", "mod", "main"].contains(&part.as_str())) {
                parts.push(part.clone());
            }
        }
        parts.extend(self.impl_type.clone());
        parts.push(self.name.clone());
        parts.join("::")
    }

    fn eligible(&self, kind: FixKind) -> bool {
        if self.trait_impl || self.is_const {
            return false;
        }
        match kind {
            FixKind::BodyOnly => !self.generic && !self.inline_hint && self.statements >= 2,
            FixKind::InlinedOrGeneric => self.generic || self.inline_hint,
        }
    }
}

/// Every function definition in the crate's library sources (`lib_dir`, recursively), files
/// named relative to `crate_root`. Files that do not parse (generated, or for another
/// edition's syntax) are skipped.
fn crate_fn_defs(crate_root: &Path, lib_dir: &Path) -> Result<Vec<FnDef>> {
    let mut out = Vec::new();
    let mut stack = vec![lib_dir.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let mut entries: Vec<_> = std::fs::read_dir(&dir)
            .with_context(|| format!("reading {}", dir.display()))?
            .collect::<std::io::Result<_>>()?;
        entries.sort_by_key(|e| e.file_name());
        for entry in entries {
            let path = entry.path();
            if entry.file_type()?.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                let rel = path.strip_prefix(crate_root).unwrap_or(&path).to_path_buf();
                let text = std::fs::read_to_string(&path)?;
                out.extend(fn_defs_in(&text, &rel).unwrap_or_default());
            }
        }
    }
    Ok(out)
}

fn fn_defs_in(text: &str, file: &Path) -> Result<Vec<FnDef>> {
    let parsed =
        syn::parse_file(text).with_context(|| format!("{} does not parse", file.display()))?;
    let mut visitor = FnVisitor {
        file: file.to_path_buf(),
        impl_stack: Vec::new(),
        out: Vec::new(),
    };
    visitor.visit_file(&parsed);
    Ok(visitor.out)
}

struct FnVisitor {
    file: PathBuf,
    /// (self type's last segment, trait impl, generic impl) of the enclosing impls.
    impl_stack: Vec<(Option<String>, bool, bool)>,
    out: Vec<FnDef>,
}

fn has_type_params(generics: &syn::Generics) -> bool {
    generics
        .params
        .iter()
        .any(|p| !matches!(p, syn::GenericParam::Lifetime(_)))
}

fn inline_hint(attrs: &[syn::Attribute]) -> bool {
    attrs.iter().any(|a| {
        a.path().is_ident("inline") && {
            // `#[inline]` and `#[inline(always)]` are hints to inline; `#[inline(never)]` is not.
            let never = a.parse_args::<syn::Ident>().is_ok_and(|arg| arg == "never");
            !never
        }
    })
}

impl FnVisitor {
    fn push(
        &mut self,
        name: &syn::Ident,
        sig: &syn::Signature,
        vis: &syn::Visibility,
        attrs: &[syn::Attribute],
        block: &syn::Block,
    ) {
        let (impl_type, trait_impl, impl_generic) = self
            .impl_stack
            .last()
            .cloned()
            .unwrap_or((None, false, false));
        let open = block.brace_token.span.open().start();
        self.out.push(FnDef {
            name: name.to_string(),
            file: self.file.clone(),
            open_brace: (open.line, open.column),
            impl_type,
            trait_impl,
            generic: impl_generic || has_type_params(&sig.generics) || sig_has_impl_trait(sig),
            inline_hint: inline_hint(attrs),
            is_const: sig.constness.is_some(),
            public: matches!(vis, syn::Visibility::Public(_)),
            statements: block.stmts.len(),
        });
    }
}

/// `fn f(x: impl Trait)` is generic.
fn sig_has_impl_trait(sig: &syn::Signature) -> bool {
    sig.inputs.iter().any(|arg| match arg {
        syn::FnArg::Typed(t) => matches!(*t.ty, syn::Type::ImplTrait(_)),
        syn::FnArg::Receiver(_) => false,
    })
}

impl<'ast> Visit<'ast> for FnVisitor {
    fn visit_item_fn(&mut self, f: &'ast syn::ItemFn) {
        // A free function: no enclosing impl, even inside a method's body.
        let saved = std::mem::take(&mut self.impl_stack);
        self.push(&f.sig.ident, &f.sig, &f.vis, &f.attrs, &f.block);
        syn::visit::visit_item_fn(self, f);
        self.impl_stack = saved;
    }

    fn visit_item_impl(&mut self, i: &'ast syn::ItemImpl) {
        let self_type = match &*i.self_ty {
            syn::Type::Path(p) => p.path.segments.last().map(|s| s.ident.to_string()),
            _ => None,
        };
        self.impl_stack
            .push((self_type, i.trait_.is_some(), has_type_params(&i.generics)));
        syn::visit::visit_item_impl(self, i);
        self.impl_stack.pop();
    }

    fn visit_impl_item_fn(&mut self, f: &'ast syn::ImplItemFn) {
        self.push(&f.sig.ident, &f.sig, &f.vis, &f.attrs, &f.block);
        syn::visit::visit_impl_item_fn(self, f);
    }

    fn visit_item_trait(&mut self, _: &'ast syn::ItemTrait) {
        // Default methods of traits are compiled into each implementor: left out.
    }
}

/// The byte offset of (1-based line, column in characters).
fn byte_offset(text: &str, line: usize, column: usize) -> Option<usize> {
    let start: usize = text
        .split_inclusive('\n')
        .take(line.checked_sub(1)?)
        .map(str::len)
        .sum();
    let rest = text.get(start..)?;
    let (offset, _) = rest.char_indices().nth(column)?;
    let at = start + offset;
    (text.as_bytes().get(at) == Some(&b'{')).then_some(at)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn symbol_paths_are_read_as_functions_of_the_crate() {
        let p = FnPath::parse(
            "<regex_syntax::hir::Hir>::literal::<alloc::vec::Vec<u8>>",
            "regex_syntax",
        )
        .unwrap();
        assert_eq!(
            (p.name.as_str(), p.impl_type.as_deref(), p.generic),
            ("literal", Some("Hir"), true)
        );
        let p = FnPath::parse("regex_syntax::ast::parse::parse_group", "regex_syntax").unwrap();
        assert_eq!((p.impl_type, p.generic), (None, false));
        let p = FnPath::parse("<regex_syntax::ast::parse::ParserI<&mut regex_syntax::ast::parse::Parser>>::parse_group", "regex_syntax").unwrap();
        assert!(p.generic);
        // Not functions of the crate: other crates, trait methods, closures.
        assert!(FnPath::parse(
            "core::ptr::drop_in_place::<regex_syntax::hir::Hir>",
            "regex_syntax"
        )
        .is_none());
        assert!(FnPath::parse(
            "<regex_syntax::hir::Hir as core::fmt::Debug>::fmt",
            "regex_syntax"
        )
        .is_none());
        assert!(FnPath::parse(
            "<regex_syntax::hir::Hir>::literal::{closure#0}",
            "regex_syntax"
        )
        .is_none());
    }

    #[test]
    fn the_fix_goes_at_the_start_of_the_chosen_body() {
        let dir = tempfile::tempdir().unwrap();
        let src = dir.path().join("src");
        std::fs::create_dir_all(&src).unwrap();
        let text = "pub struct Hir;\nimpl Hir {\n    pub fn literal(&self) -> u32 { let a = 1; a + 1 }\n}\n/// é\npub fn parse(s: &str) -> usize {\n    let n = s.len();\n    n * 2\n}\n#[inline]\npub fn tiny() -> u32 { 1 }\npub fn largest<T: Copy>(x: &[T]) -> T { x[0] }\n";
        std::fs::write(src.join("lib.rs"), text).unwrap();
        let defs = crate_fn_defs(dir.path(), &src).unwrap();
        let by_name = |n: &str| defs.iter().find(|d| d.name == n).unwrap();
        assert!(by_name("parse").eligible(FixKind::BodyOnly));
        assert!(by_name("literal").eligible(FixKind::BodyOnly));
        assert_eq!(by_name("literal").impl_type.as_deref(), Some("Hir"));
        assert!(!by_name("tiny").eligible(FixKind::BodyOnly));
        assert!(by_name("tiny").eligible(FixKind::InlinedOrGeneric));
        assert!(by_name("largest").eligible(FixKind::InlinedOrGeneric));
        let site = FixSite {
            kind: FixKind::BodyOnly,
            function: "fixture::parse".into(),
            file: PathBuf::from("src/lib.rs"),
            line: 6,
            name: "parse".into(),
            impl_type: None,
        };
        site.apply(dir.path()).unwrap();
        let fixed = std::fs::read_to_string(src.join("lib.rs")).unwrap();
        assert!(
            fixed.contains(&format!(
                "pub fn parse(s: &str) -> usize {{{FIX_STATEMENT}\n    let n"
            )),
            "{fixed}"
        );
        assert_eq!(fixed.len(), text.len() + FIX_STATEMENT.len());
    }
}
