//! Binding by position, in a linked x86-64 ELF file (the part of [`crate::elf_rewrite`] that
//! `build::positions` drives): an exporter gets a table of jumps and an anchor symbol at its
//! start; an importer's relocations against the functions of such a table become `R_X86_64_64`
//! relocations against the anchor with the entry's offset as addend, sorted together.
//!
//! glibc keeps the last symbol each object looked up (`l_lookup_cache`), so a run of relocations
//! against one anchor costs one lookup: one per (importer, exporter) pair instead of one per
//! function. `R_X86_64_64` adds its addend to the symbol's address (`R_X86_64_GLOB_DAT` ignores
//! it), which is what makes the offset work.
//!
//! An entry jumps to the function the file defines, or, when the file itself binds that name
//! through a GOT slot (`R_X86_64_GLOB_DAT`: a function it imports, or one it keeps interposable),
//! jumps through that slot (`jmp *slot(%rip)`): the name is then looked up once, by the exporter,
//! instead of once per importer, and what it finds (libc's function, or a program's allocator
//! shim interposing libstd's) is what every importer reaches.

use std::collections::{BTreeMap, HashMap};

use object::build;
use object::build::elf::{Builder, DynamicSymbolId, SectionData, SectionId, VersionId};
use object::build::Id;
use object::elf;

/// Bytes of one table entry: a `jmp rel32` (5 bytes) padded with `int3`.
pub(crate) const ENTRY_SIZE: u64 = 8;

/// The name of the section holding a library's table.
const TABLE_SECTION: &str = ".cargo-share.table";

/// Where a function bound by position is: its table's anchor, its entry, and the version an
/// importer must require to be bound so (`None`: an unversioned name).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Position {
    pub anchor: Vec<u8>,
    pub index: u32,
    pub version: Option<Vec<u8>>,
}

/// Functions bound by position: name -> where.
pub type Positions = HashMap<Vec<u8>, Position>;

/// How one file takes part in binding by position.
#[derive(Debug, Default)]
pub struct ByPosition<'a> {
    /// This file's own table, when it exports one: the anchor's name and the (original) names of
    /// the functions its entries jump to, in order. A name the file binds through a GOT slot gets
    /// an entry that jumps through the slot; else one it defines, a jump to it; else an entry
    /// that traps (`ud2`).
    pub table: Option<(&'a [u8], &'a [Vec<u8>])>,
    /// Functions bound by position: original name -> where (the file's own table's entries
    /// excepted).
    pub imports: Option<&'a Positions>,
}

/// A table added to `builder` by [`add_table`], filled by [`fill_table`] once laid out.
pub(crate) struct PendingTable {
    section: SectionId,
    anchor: DynamicSymbolId,
    /// The names of the entries, in order.
    names: Vec<Vec<u8>>,
    /// The addresses of the functions the file defines, by name (taken before any rename).
    defined: HashMap<Vec<u8>, u64>,
}

/// What one table entry does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Entry {
    /// `jmp rel32` to the function.
    Jump(u64),
    /// `jmp *rel32(%rip)`: through the GOT slot at this address.
    Through(u64),
    /// `ud2`: the file has no such function.
    Trap,
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
    Some(PendingTable {
        section,
        anchor: symbol.id(),
        names: names.to_vec(),
        defined: defined.clone(),
    })
}

/// Writes the jumps of a table laid out at its section's address and points the anchor there.
pub(crate) fn fill_table(builder: &mut Builder<'_>, table: PendingTable) -> Result<(), String> {
    let base = builder.sections.get(table.section).sh_addr;
    let slots = got_slots(builder);
    let mut bytes = Vec::with_capacity(table.names.len() * ENTRY_SIZE as usize);
    for (i, name) in table.names.iter().enumerate() {
        let at = base + i as u64 * ENTRY_SIZE;
        let target = match (slots.get(name), table.defined.get(name)) {
            (Some(&slot), _) => Entry::Through(slot),
            (None, Some(&function)) => Entry::Jump(function),
            (None, None) => Entry::Trap,
        };
        bytes.extend_from_slice(&entry_bytes(at, target)?);
    }
    builder.sections.get_mut(table.section).data = SectionData::Data(bytes.into());
    builder.dynamic_symbols.get_mut(table.anchor).st_value = base;
    Ok(())
}

/// The 8 bytes of the entry at `at` that does `target`.
fn entry_bytes(at: u64, target: Entry) -> Result<[u8; ENTRY_SIZE as usize], String> {
    let mut entry = [0xcc_u8; ENTRY_SIZE as usize];
    let rel32 = |to: u64, end: u64| {
        i32::try_from(to as i64 - end as i64)
            .map_err(|_| format!("a jump from {at:#x} to {to:#x} is out of range"))
    };
    match target {
        Entry::Jump(function) => {
            entry[0] = 0xe9;
            entry[1..5].copy_from_slice(&rel32(function, at + 5)?.to_le_bytes());
        }
        Entry::Through(slot) => {
            entry[..2].copy_from_slice(&[0xff, 0x25]);
            entry[2..6].copy_from_slice(&rel32(slot, at + 6)?.to_le_bytes());
        }
        Entry::Trap => entry[..2].copy_from_slice(&[0x0f, 0x0b]),
    }
    Ok(entry)
}

/// The GOT slots of `builder`: the address each `R_X86_64_GLOB_DAT` relocation fills with a
/// named symbol's address, by name (the first, if there are several).
fn got_slots(builder: &Builder<'_>) -> HashMap<Vec<u8>, u64> {
    let mut slots = HashMap::new();
    for (_, rel) in dynamic_relocations(builder) {
        if rel.r_type != elf::R_X86_64_GLOB_DAT || rel.r_addend != 0 {
            continue;
        }
        if let Some(symbol) = rel.symbol {
            let name = builder.dynamic_symbols.get(symbol).name.to_vec();
            slots.entry(name).or_insert(rel.r_offset);
        }
    }
    slots
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
/// global function named in `imports` (with the version it names there, if any; `own`: the
/// file's own anchor, whose entries it never binds to) into an `R_X86_64_64` against its anchor
/// (an undefined symbol added once per anchor) plus the entry's offset, puts those relocations
/// after the others (anchor by anchor, `R_X86_64_IRELATIVE` still last) and deletes the symbols
/// no relocation uses any more. Weak references, lazily bound calls (`JUMP_SLOT`) and data stay
/// by name.
pub(crate) fn bind_imports(builder: &mut Builder<'_>, imports: &Positions, own: Option<&[u8]>) {
    if !is_x86_64(builder) || imports.is_empty() {
        return;
    }
    let bound: HashMap<usize, (DynamicSymbolId, (&Vec<u8>, u32))> = builder
        .dynamic_symbols
        .iter()
        .filter(|s| s.section.is_none() && s.st_shndx == elf::SHN_UNDEF)
        .filter(|s| s.st_info >> 4 == elf::STB_GLOBAL)
        .filter_map(|s| {
            let at = imports.get(s.name.as_slice())?;
            let bindable = Some(at.anchor.as_slice()) != own
                && at.version.as_deref() == needed_version(builder, s.version);
            bindable.then(|| (s.id().index(), (s.id(), (&at.anchor, at.index))))
        })
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
                rel.r_addend = i64::from(index) * ENTRY_SIZE as i64;
            }
        }
    }
    for (index, (id, _)) in bound {
        if !kept.contains(&index) {
            builder.dynamic_symbols.get_mut(id).delete = true;
        }
    }
}

/// Binds every `R_X86_64_DTPMOD64` relocation against a thread-local the file defines itself to
/// the file's own module (symbol 0, which glibc reads as "this object"), as the linker does for
/// a thread-local it does not export. A group or libstd exports the thread-locals other files
/// use, and the linker then leaves their module-id relocations bound by name, a lookup each at
/// start that can only find the file itself: a crate is linked into one file of a program.
pub(crate) fn bind_own_thread_locals(builder: &mut Builder<'_>) {
    if !is_x86_64(builder) {
        return;
    }
    let own: std::collections::HashSet<usize> = builder
        .dynamic_symbols
        .iter()
        .filter(|s| s.section.is_some() && s.st_info & 0xf == elf::STT_TLS)
        .map(|s| s.id().index())
        .collect();
    for section in builder.sections.iter_mut() {
        let SectionData::DynamicRelocation(relocations) = &mut section.data else {
            continue;
        };
        for rel in relocations.iter_mut() {
            let defined_here = rel.symbol.is_some_and(|s| own.contains(&s.index()));
            if rel.r_type == elf::R_X86_64_DTPMOD64 && defined_here {
                rel.symbol = None;
            }
        }
    }
}

/// Names the C runtime's start files (crti, crtbegin) reference weakly in every linked file and
/// that nothing in a program built by cargo-share defines: gprof's start hook (defined only by
/// an executable linked with `-pg`, never an undefined symbol there) and libitm's clone-table
/// hooks (called only for a non-empty transactional-memory clone table, which Rust code does
/// not emit).
const ABSENT_WEAK: [&[u8]; 3] = [
    b"__gmon_start__",
    b"_ITM_deregisterTMCloneTable",
    b"_ITM_registerTMCloneTable",
];

/// Turns the `R_X86_64_GLOB_DAT` relocations against the weak undefined names of
/// [`ABSENT_WEAK`] whose slot holds 0 in the file into `R_X86_64_NONE` (which glibc skips
/// before any lookup; the relocation tables keep their sizes) and deletes those symbols: 0 is
/// what the loader leaves there after looking each up in every object of the program and
/// failing (three full searches per file at every start).
pub(crate) fn drop_absent_weak_references(builder: &mut Builder<'_>) {
    if !is_x86_64(builder) {
        return;
    }
    let absent: HashMap<usize, DynamicSymbolId> = builder
        .dynamic_symbols
        .iter()
        .filter(|s| s.section.is_none() && s.st_shndx == elf::SHN_UNDEF)
        .filter(|s| s.st_info >> 4 == elf::STB_WEAK && ABSENT_WEAK.contains(&s.name.as_slice()))
        .map(|s| (s.id().index(), s.id()))
        .collect();
    if absent.is_empty() {
        return;
    }
    let droppable: std::collections::HashSet<u64> = dynamic_relocations(builder)
        .filter(|(plt, rel)| !plt && rel.r_type == elf::R_X86_64_GLOB_DAT && rel.r_addend == 0)
        .filter(|(_, rel)| rel.symbol.is_some_and(|s| absent.contains_key(&s.index())))
        .map(|(_, rel)| rel.r_offset)
        .filter(|&at| holds_zero(builder, at))
        .collect();
    let mut used = std::collections::HashSet::new();
    for section in builder.sections.iter_mut() {
        let SectionData::DynamicRelocation(relocations) = &mut section.data else {
            continue;
        };
        for rel in relocations.iter_mut() {
            let dropped = rel.r_type == elf::R_X86_64_GLOB_DAT
                && rel.symbol.is_some_and(|s| absent.contains_key(&s.index()))
                && droppable.contains(&rel.r_offset);
            if dropped {
                rel.r_type = elf::R_X86_64_NONE;
                rel.symbol = None;
            } else {
                used.extend(rel.symbol.map(|s| s.index()));
            }
        }
    }
    for (index, id) in absent {
        if !used.contains(&index) {
            builder.dynamic_symbols.get_mut(id).delete = true;
        }
    }
}

/// Whether the 8 bytes at address `at` of a section with contents are all zero.
fn holds_zero(builder: &Builder<'_>, at: u64) -> bool {
    builder.sections.iter().any(|section| {
        let SectionData::Data(bytes) = &section.data else {
            return false;
        };
        let Some(offset) = at.checked_sub(section.sh_addr) else {
            return false;
        };
        let offset = offset as usize;
        at < section.sh_addr + section.sh_size
            && bytes.get(offset..offset + 8) == Some(&[0u8; 8][..])
    })
}

/// The name of the version an undefined symbol requires (`None`: unversioned).
fn needed_version<'b>(builder: &'b Builder<'_>, version: VersionId) -> Option<&'b [u8]> {
    if version.is_special() {
        return None;
    }
    match &builder.versions.get(version).data {
        build::elf::VersionData::Need(need) => Some(need.name.as_slice()),
        build::elf::VersionData::Def(_) => None,
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
