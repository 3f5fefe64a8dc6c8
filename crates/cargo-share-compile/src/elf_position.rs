//! Binding by position, in a linked x86-64 ELF file (the part of [`crate::elf_rewrite`] that
//! `build::positions` drives): an exporter gets a table of jumps and an anchor symbol at its
//! start; an importer's relocations against the functions of such a table become `R_X86_64_64`
//! relocations against the anchor with the entry's offset as addend, sorted together.
//!
//! glibc keeps the last symbol each object looked up (`l_lookup_cache`), so a run of relocations
//! against one anchor costs one lookup: one per (importer, exporter) pair instead of one per
//! function. `R_X86_64_64` adds its addend to the symbol's address (`R_X86_64_GLOB_DAT` ignores
//! it), which is what makes the offset work.

use std::collections::{BTreeMap, HashMap};

use object::build;
use object::build::elf::{Builder, DynamicSymbolId, SectionData, SectionId, VersionId};
use object::build::Id;
use object::elf;

/// Bytes of one table entry: a `jmp rel32` (5 bytes) padded with `int3`.
pub(crate) const ENTRY_SIZE: u64 = 8;

/// The name of the section holding a library's table.
const TABLE_SECTION: &str = ".cargo-share.table";

/// Functions bound by position: name -> (anchor name, entry index).
pub type Positions = HashMap<Vec<u8>, (Vec<u8>, u32)>;

/// How one file takes part in binding by position.
#[derive(Debug, Default)]
pub struct ByPosition<'a> {
    /// This file's own table, when it exports one: the anchor's name and the (original) names of
    /// the functions its entries jump to, in order. A name the file does not define gets an entry
    /// that traps (`ud2`).
    pub table: Option<(&'a [u8], &'a [Vec<u8>])>,
    /// Functions bound by position: original name -> (anchor name, entry index).
    pub imports: Option<&'a Positions>,
}

/// A table added to `builder` by [`add_table`], filled by [`fill_table`] once laid out.
pub(crate) struct PendingTable {
    section: SectionId,
    anchor: DynamicSymbolId,
    /// Entry targets: the function's address, or `None` for a trap.
    targets: Vec<Option<u64>>,
}

fn is_x86_64(builder: &Builder) -> bool {
    builder.is_64 && builder.header.e_machine == elf::EM_X86_64
}

/// Adds the table section (not laid out yet) and its anchor, a defined global function.
/// `defined` maps original names to the addresses of the functions the file defines (taken
/// before any rename).
pub(crate) fn add_table(
    builder: &mut Builder<'_>,
    anchor: &[u8],
    names: &[Vec<u8>],
    defined: &HashMap<Vec<u8>, u64>,
) -> Option<PendingTable> {
    if !is_x86_64(builder) || names.is_empty() {
        return None;
    }
    let size = names.len() as u64 * ENTRY_SIZE;
    let section = builder.sections.add();
    section.name = TABLE_SECTION.as_bytes().to_vec().into();
    section.sh_type = elf::SHT_PROGBITS;
    section.sh_flags = u64::from(elf::SHF_ALLOC | elf::SHF_EXECINSTR);
    section.sh_addralign = 16;
    section.sh_size = size;
    section.sh_offset = 0;
    section.data = SectionData::Data(vec![0xcc; size as usize].into());
    let section = section.id();
    let symbol = builder.dynamic_symbols.add();
    symbol.name = anchor.to_vec().into();
    symbol.section = Some(section);
    // Written from `section`; the builder counts defined symbols (for `.gnu.hash`) by this.
    symbol.st_shndx = 1;
    symbol.st_info = (elf::STB_GLOBAL << 4) | elf::STT_FUNC;
    symbol.st_other = elf::STV_DEFAULT;
    symbol.st_size = size;
    symbol.version = VersionId::global();
    let targets = names.iter().map(|n| defined.get(n).copied()).collect();
    Some(PendingTable {
        section,
        anchor: symbol.id(),
        targets,
    })
}

/// Writes the jumps of a table laid out at its section's address and points the anchor there.
pub(crate) fn fill_table(builder: &mut Builder<'_>, table: PendingTable) -> Result<(), String> {
    let base = builder.sections.get(table.section).sh_addr;
    let mut bytes = Vec::with_capacity(table.targets.len() * ENTRY_SIZE as usize);
    for (i, target) in table.targets.iter().enumerate() {
        let at = base + i as u64 * ENTRY_SIZE;
        let mut entry = [0xcc_u8; ENTRY_SIZE as usize];
        match target {
            Some(target) => {
                let rel = *target as i64 - (at as i64 + 5);
                let rel = i32::try_from(rel)
                    .map_err(|_| format!("a jump from {at:#x} to {target:#x} is out of range"))?;
                entry[0] = 0xe9;
                entry[1..5].copy_from_slice(&rel.to_le_bytes());
            }
            None => entry[..2].copy_from_slice(&[0x0f, 0x0b]),
        }
        bytes.extend_from_slice(&entry);
    }
    builder.sections.get_mut(table.section).data = SectionData::Data(bytes.into());
    builder.dynamic_symbols.get_mut(table.anchor).st_value = base;
    Ok(())
}

/// The addresses of the functions `builder` defines in `.dynsym`, by name.
pub(crate) fn defined_functions(builder: &Builder<'_>) -> HashMap<Vec<u8>, u64> {
    builder
        .dynamic_symbols
        .iter()
        .filter(|s| s.section.is_some() && s.st_info & 0xf == elf::STT_FUNC)
        .map(|s| (s.name.to_vec(), s.st_value))
        .collect()
}

/// Turns every `R_X86_64_GLOB_DAT` and addend-free `R_X86_64_64` relocation against an undefined
/// global function named in `imports` into an `R_X86_64_64` against its anchor (an undefined
/// symbol added once per anchor) plus the entry's offset, puts those relocations after the others
/// (anchor by anchor, `R_X86_64_IRELATIVE` still last) and deletes the symbols no relocation
/// uses any more. Weak references, lazily bound calls (`JUMP_SLOT`) and data stay by name.
pub(crate) fn bind_imports(builder: &mut Builder<'_>, imports: &Positions) {
    if !is_x86_64(builder) || imports.is_empty() {
        return;
    }
    let bound: HashMap<usize, (DynamicSymbolId, &(Vec<u8>, u32))> = builder
        .dynamic_symbols
        .iter()
        .filter(|s| s.section.is_none() && s.st_shndx == elf::SHN_UNDEF)
        .filter(|s| s.st_info >> 4 == elf::STB_GLOBAL)
        .filter_map(|s| Some((s.id().index(), (s.id(), imports.get(s.name.as_slice())?))))
        .collect();
    if bound.is_empty() {
        return;
    }
    let target = |rel: &build::elf::DynamicRelocation| {
        let convertible = rel.r_type == elf::R_X86_64_GLOB_DAT
            || (rel.r_type == elf::R_X86_64_64 && rel.r_addend == 0);
        let (_, at) = bound.get(&rel.symbol?.index()).filter(|_| convertible)?;
        Some(*at)
    };
    // Which anchors are needed, and which symbols some relocation keeps using by name.
    let mut anchors: BTreeMap<Vec<u8>, Option<DynamicSymbolId>> = BTreeMap::new();
    let mut kept = std::collections::HashSet::new();
    for (plt, rel) in dynamic_relocations(builder) {
        match target(rel).filter(|_| !plt) {
            Some((anchor, _)) => {
                anchors.insert(anchor.clone(), None);
            }
            None => kept.extend(rel.symbol.map(|s| s.index())),
        }
    }
    if anchors.is_empty() {
        return;
    }
    for (name, id) in anchors.iter_mut() {
        let symbol = builder.dynamic_symbols.add();
        symbol.name = name.clone().into();
        symbol.st_info = (elf::STB_GLOBAL << 4) | elf::STT_FUNC;
        symbol.st_other = elf::STV_DEFAULT;
        symbol.st_shndx = elf::SHN_UNDEF;
        symbol.version = VersionId::global();
        *id = Some(symbol.id());
    }
    let order: HashMap<&Vec<u8>, usize> = anchors.keys().zip(0..).collect();
    let rank = |rel: &build::elf::DynamicRelocation| match rel.r_type {
        elf::R_X86_64_RELATIVE => (0, 0),
        elf::R_X86_64_IRELATIVE => (3, 0),
        _ => match target(rel) {
            Some((anchor, _)) => (2, order[anchor]),
            None => (1, 0),
        },
    };
    for section in builder.sections.iter_mut() {
        if section.sh_type != elf::SHT_RELA {
            continue;
        }
        let SectionData::DynamicRelocation(relocations) = &mut section.data else {
            continue;
        };
        if relocations.iter().any(is_plt) {
            continue;
        }
        relocations.sort_by_key(|rel| rank(rel));
        for rel in relocations.iter_mut() {
            if let Some((anchor, index)) = target(rel) {
                rel.symbol = anchors[anchor];
                rel.r_type = elf::R_X86_64_64;
                rel.r_addend = i64::from(*index) * ENTRY_SIZE as i64;
            }
        }
    }
    for (index, (id, _)) in bound {
        if !kept.contains(&index) {
            builder.dynamic_symbols.get_mut(id).delete = true;
        }
    }
}

/// Whether a relocation belongs to the PLT's table (`DT_JMPREL`), whose order its stubs index:
/// that table is left as it is.
fn is_plt(rel: &build::elf::DynamicRelocation) -> bool {
    rel.r_type == elf::R_X86_64_JUMP_SLOT
}

/// Every relocation of the file's `SHT_RELA` dynamic relocation sections, with whether it is in
/// the PLT's table.
fn dynamic_relocations<'b>(
    builder: &'b Builder<'_>,
) -> impl Iterator<Item = (bool, &'b build::elf::DynamicRelocation)> {
    builder
        .sections
        .iter()
        .filter(|s| s.sh_type == elf::SHT_RELA)
        .filter_map(|s| match &s.data {
            SectionData::DynamicRelocation(r) => {
                let plt = r.iter().any(is_plt);
                Some(r.iter().map(move |rel| (plt, rel)))
            }
            _ => None,
        })
        .flatten()
}
