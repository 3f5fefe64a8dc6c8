//! Rewriting the dynamic section of a linked ELF file: `DT_NEEDED` names, run paths and dynamic
//! symbol names, with the sections that grow moved into a new `PT_LOAD` segment.
//!
//! The section-moving part ([`move_sections`]) is ported from `object-rewrite` 0.1.1 (the `object`
//! project's ELF rewriter, Apache-2.0 OR MIT, gimli-rs/object `crates/rewrite`). That crate pins
//! `object` 0.35, whose writer aligns `.gnu.version_r` to 8 and so refuses every executable
//! rust-lld links ("Unaligned sh_offset value … for section '.gnu.version_r'",
//! gimli-rs/object#704); `object` 0.36, which this project uses, aligns it to 4. Drop this file
//! for the crate once a release builds on a fixed `object`.

use std::collections::HashMap;

use object::build;
use object::elf;

use crate::elf_position::{self, ByPosition};

/// An error from the rewrite (the message says what could not be done).
#[derive(Debug)]
pub struct Error(String);

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Error {}

type Result<T> = std::result::Result<T, Error>;

/// Replace `DT_NEEDED` names (`replace`: old -> new; with `system_first`, the names not replaced
/// are moved before the replaced ones, each kind in its order), set the run path to `runpath`
/// (`None`: delete `DT_RUNPATH`/`DT_RPATH`), bind by position as `position` says
/// ([`crate::elf_position`]: the file's own table added, its imports from tables bound to their
/// anchors) and rename the dynamic symbols named in `symbols` (old -> new; defined or undefined,
/// `.symtab` untouched; the hash tables are rebuilt) in the ELF file `data`. Returns the new file.
pub fn rewrite_dynamic(
    data: &[u8],
    replace: &HashMap<Vec<u8>, Vec<u8>>,
    (runpath, system_first): (Option<Vec<u8>>, bool),
    symbols: &HashMap<Vec<u8>, Vec<u8>>,
    position: &ByPosition,
) -> Result<Vec<u8>> {
    let mut builder = build::elf::Builder::read(data).map_err(|e| Error(e.to_string()))?;
    let table = position.table.map(|(anchor, names)| {
        let defined = elf_position::defined_functions(&builder);
        (anchor, names, defined)
    });
    if let Some(imports) = position.imports {
        let own = position.table.map(|(anchor, _)| anchor);
        elf_position::bind_imports(&mut builder, imports, own);
        elf_position::bind_own_thread_locals(&mut builder);
        elf_position::drop_absent_weak_references(&mut builder);
    }
    for symbol in builder.dynamic_symbols.iter_mut() {
        if let Some(name) = symbols.get(symbol.name.as_slice()) {
            symbol.name = name.clone().into();
        }
    }
    let dynamic = builder
        .dynamic_data_mut()
        .ok_or_else(|| Error("no dynamic section".into()))?;
    let is_path = |tag: u32| tag == elf::DT_RPATH || tag == elf::DT_RUNPATH;
    match runpath {
        None => dynamic.retain(|entry| !is_path(entry.tag())),
        Some(path) => {
            for entry in dynamic.iter_mut() {
                if let build::elf::Dynamic::String { tag, val } = entry {
                    if is_path(*tag) {
                        *val = path.clone().into();
                    }
                }
            }
        }
    }
    rename_needed(dynamic, replace, system_first);
    let table = table.and_then(|(anchor, names, defined)| {
        elf_position::add_table(&mut builder, anchor, names, &defined)
    });
    move_sections(&mut builder)?;
    if let Some(table) = table {
        elf_position::fill_table(&mut builder, table).map_err(Error)?;
    }
    let mut out = Vec::with_capacity(data.len() + 8192);
    builder.write(&mut out).map_err(|e| Error(e.to_string()))?;
    Ok(out)
}

/// Replace the `DT_NEEDED` names of `dynamic` as `replace` says; with `system_first`, the
/// entries not replaced (system libraries) first, in the slots the entries had.
fn rename_needed(
    dynamic: &mut [build::elf::Dynamic],
    replace: &HashMap<Vec<u8>, Vec<u8>>,
    system_first: bool,
) {
    let mut needed: Vec<&mut build::ByteString> = dynamic
        .iter_mut()
        .filter_map(|entry| match entry {
            build::elf::Dynamic::String { tag, val } if *tag == elf::DT_NEEDED => Some(val),
            _ => None,
        })
        .collect();
    let mut names: Vec<Vec<u8>> = needed.iter().map(|v| v.to_vec()).collect();
    if system_first {
        names.sort_by_key(|name| replace.contains_key(name));
    }
    for (slot, name) in needed.iter_mut().zip(names) {
        let name = replace.get(&name).cloned().unwrap_or(name);
        **slot = name.into();
    }
}

enum BlockKind {
    FileHeader,
    ProgramHeaders,
    Segment,
    Section(build::elf::SectionId),
}

struct Block<'a> {
    #[allow(dead_code)]
    name: build::ByteString<'a>,
    kind: BlockKind,
    address: u64,
    size: u64,
    // Higher means better to move. 0 means never move.
    move_priority: u8,
}

/// Move sections between segments if needed, and assign file offsets to segments and sections.
///
/// Does not change the size of existing `PT_LOAD` segments, but may add new segments.
// TODO: allow changing size of existing `PT_LOAD` segments
fn move_sections(builder: &mut build::elf::Builder) -> Result<()> {
    builder.delete_orphans();
    builder.delete_unused_versions();
    builder.set_section_sizes();

    let mut added_p_flags = Vec::new();
    let mut added_segments = 0;

    // Loop until we reach a fixed point for the number of additional segments needed.
    loop {
        let mut move_sections = find_move_sections(builder, added_segments)?;
        if move_sections.is_empty() {
            return Ok(());
        }

        // Calculate the number of additional PT_LOAD segments needed.
        added_p_flags.clear();
        for id in &move_sections {
            let section = builder.sections.get_mut(*id);
            // Flag the section as needing to move.
            section.sh_offset = 0;
            // We need one PT_LOAD segment for each unique combination of p_flags.
            let p_flags = section.p_flags();
            if !added_p_flags.contains(&p_flags) {
                added_p_flags.push(p_flags);
            }
        }

        // If moving a section that is part of a non-PT_LOAD segment, then we may need to
        // split the segment, which will require an additional segment.
        let split_segments = builder
            .segments
            .iter()
            .filter(|segment| segment.p_type != elf::PT_LOAD)
            .filter(|segment| moved_sections(&segment.sections, &move_sections) == (true, false))
            .count();

        // Check if we have reached a fixed point for the number of additional segments needed.
        if added_segments < split_segments + added_p_flags.len() {
            added_segments = split_segments + added_p_flags.len();
            continue;
        }

        // Add the PT_LOAD segments and append sections to them.
        // Try to keep the same order of sections in the new segments.
        move_sections.sort_by_key(|id| {
            let section = builder.sections.get(*id);
            (section.sh_addr, section.sh_size)
        });
        for p_flags in added_p_flags {
            // TODO: reuse segments that only contain movable sections
            let segment = builder
                .segments
                .add_load_segment(p_flags, builder.load_align);
            for id in &move_sections {
                let section = builder.sections.get_mut(*id);
                if p_flags == section.p_flags() {
                    segment.append_section(section);
                }
            }
        }

        // Split or move non-PT_LOAD segments that contain sections that have been moved.
        let sections = &builder.sections;
        let mut split_segments = Vec::new();
        for segment in &mut builder.segments {
            if segment.p_type == elf::PT_LOAD {
                continue;
            }

            let (any, all) = moved_sections(&segment.sections, &move_sections);
            if !any {
                continue;
            }
            if !all {
                // Segment needs splitting.
                // Remove all the sections that have been moved, and store them so
                // that we can add the new segment later.
                let mut split_sections = Vec::new();
                segment.sections.retain(|id| {
                    if move_sections.contains(id) {
                        split_sections.push(*id);
                        false
                    } else {
                        true
                    }
                });
                split_segments.push((segment.id(), split_sections));
            }

            // The remaining sections have already been assigned an address.
            // Recalcuate the file and address ranges for the segment.
            // TODO: verify that the sections are contiguous. If not, try to slide the sections
            // down in memory.
            segment.recalculate_ranges(sections);
        }

        // Add new segments due to splitting.
        for (segment_id, split_sections) in split_segments {
            let segment = builder.segments.copy(segment_id);
            for id in split_sections {
                let section = builder.sections.get_mut(id);
                segment.append_section(section);
            }
        }

        // Update the PT_PHDR segment to include the new program headers.
        let size = builder.program_headers_size() as u64;
        for segment in &mut builder.segments {
            if segment.p_type != elf::PT_PHDR {
                continue;
            }
            segment.p_filesz = size;
            segment.p_memsz = size;
        }
        return Ok(());
    }
}

/// Whether any, and whether all, of a segment's sections are among those being moved.
fn moved_sections(
    sections: &[build::elf::SectionId],
    moving: &[build::elf::SectionId],
) -> (bool, bool) {
    let any = sections.iter().any(|id| moving.contains(id));
    let all = sections.iter().all(|id| moving.contains(id));
    (any, all)
}

fn find_move_sections(
    builder: &build::elf::Builder,
    added_segments: usize,
) -> Result<Vec<build::elf::SectionId>> {
    let mut move_sections = Vec::new();
    let mut blocks = header_blocks(builder, added_segments);
    blocks.extend(segment_blocks(builder));
    blocks.extend(section_blocks(builder, &mut move_sections));
    blocks.sort_by_key(|block| (block.address, block.size));
    resolve_overlaps(blocks, &mut move_sections)?;
    Ok(move_sections)
}

/// The file header and the program headers (with room for `added_segments` more), where a
/// loaded segment maps them.
fn header_blocks<'a>(builder: &build::elf::Builder<'a>, added_segments: usize) -> Vec<Block<'a>> {
    let mut blocks = Vec::new();
    let file_header_size = builder.file_header_size() as u64;
    let program_headers_size = (builder.program_headers_size()
        + added_segments * builder.class().program_header_size())
        as u64;
    if let Some(segment) = builder.segments.find_load_segment_from_offset(0) {
        let address = segment.address_from_offset(0);
        blocks.push(Block {
            name: "file header".into(),
            kind: BlockKind::FileHeader,
            address,
            size: file_header_size,
            move_priority: 0,
        });
    }
    if let Some(segment) = builder
        .segments
        .find_load_segment_from_offset(builder.header.e_phoff)
    {
        let address = segment.address_from_offset(builder.header.e_phoff);
        blocks.push(Block {
            name: "program headers".into(),
            kind: BlockKind::ProgramHeaders,
            address,
            size: program_headers_size,
            move_priority: 0,
        });
    }
    blocks
}

/// Zero-sized blocks at the start and end of each loaded segment, so that no move changes a
/// segment's address or size.
fn segment_blocks<'a>(builder: &build::elf::Builder<'a>) -> Vec<Block<'a>> {
    let mut blocks = Vec::new();
    for segment in &builder.segments {
        if segment.p_type != elf::PT_LOAD {
            continue;
        }
        blocks.push(Block {
            name: "segment start".into(),
            kind: BlockKind::Segment,
            address: segment.p_vaddr,
            size: 0,
            move_priority: 0,
        });
        blocks.push(Block {
            name: "segment end".into(),
            kind: BlockKind::Segment,
            address: segment.p_vaddr + segment.p_memsz,
            size: 0,
            move_priority: 0,
        });
    }
    blocks
}

/// A block per allocated section in place; sections without a place yet (new, or already
/// flagged) go straight to `move_sections`.
fn section_blocks<'a>(
    builder: &'a build::elf::Builder<'a>,
    move_sections: &mut Vec<build::elf::SectionId>,
) -> Vec<Block<'a>> {
    let interp = builder.interp_section();
    let mut blocks = Vec::new();
    for section in &builder.sections {
        if !section.is_alloc() {
            continue;
        }
        if section.sh_offset == 0 {
            // Newly added section that needs to be assigned to a segment,
            // or a section that has already been flagged for moving.
            move_sections.push(section.id());
            continue;
        }
        if section.sh_type == elf::SHT_NOBITS && section.sh_flags & u64::from(elf::SHF_TLS) != 0 {
            // Uninitialized TLS sections are not part of the address space.
            continue;
        }
        blocks.push(Block {
            name: (*section.name).into(),
            kind: BlockKind::Section(section.id()),
            address: section.sh_addr,
            size: section.sh_size,
            move_priority: move_priority(&section.data, Some(section.id()) == interp),
        });
    }
    blocks
}

/// How freely a section may move: 0 never (its address may be referenced from a section that
/// cannot be rewritten), 1 the interpreter path, 2 sections nothing refers to by address.
fn move_priority(data: &build::elf::SectionData, is_interp: bool) -> u8 {
    use build::elf::SectionData;
    match data {
        SectionData::Data(_) => u8::from(is_interp),
        SectionData::UninitializedData(_) | SectionData::Dynamic(_) => 0,
        // TODO: Can be referenced by dynamic entries, but we don't support that yet.
        SectionData::DynamicRelocation(_) => 0,
        // None of these can be referenced by address that I am aware of.
        SectionData::Relocation(_)
        | SectionData::Note(_)
        | SectionData::Attributes(_)
        | SectionData::SectionString
        | SectionData::Symbol
        | SectionData::SymbolSectionIndex
        | SectionData::String
        | SectionData::DynamicSymbol
        | SectionData::DynamicString
        | SectionData::Hash
        | SectionData::GnuHash
        | SectionData::GnuVersym
        | SectionData::GnuVerdef
        | SectionData::GnuVerneed => 2,
    }
}

/// For each pair of overlapping blocks (sorted by address), move one: the earlier unless the
/// later moves more freely.
fn resolve_overlaps(
    mut blocks: Vec<Block>,
    move_sections: &mut Vec<build::elf::SectionId>,
) -> Result<()> {
    let mut i = 0;
    while i + 1 < blocks.len() {
        let end_address = blocks[i].address + blocks[i].size;
        if end_address <= blocks[i + 1].address {
            i += 1;
            continue;
        }
        // Prefer moving the earlier block, since it is the reason for the overlap.
        let moved = if blocks[i].move_priority >= blocks[i + 1].move_priority {
            if blocks[i].move_priority == 0 {
                return Err(Error("overlapping immovable sections".into()));
            }
            i
        } else {
            i + 1
        };
        let BlockKind::Section(section) = blocks[moved].kind else {
            // Only sections can be moved.
            unreachable!();
        };
        move_sections.push(section);
        blocks.remove(moved);
    }
    Ok(())
}
