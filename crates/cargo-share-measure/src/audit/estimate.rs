//! From per-binary findings to the audit's figures: sizes measured in one binary lent to the
//! stripped copies of the same crate version, copies per crate version, what sharing would save
//! (one library per crate version and rustc, as the grouped layout builds them), and the crates
//! whose several versions stand in the way.

use std::collections::BTreeMap;

use crate::audit::model::{
    BinaryAudit, BytesFrom, CrateVersionRow, CratesFrom, Projection, VersionSpread,
};

/// The name under which std is counted: every Rust binary of one rustc carries (part of) it,
/// and cargo-share shares it as the toolchain's libstd.
pub(crate) const STD_ROW: &str = "std (toolchain)";

/// Gives binaries known only by a `/rustc/HASH/` commit the release another binary's `.comment`
/// names for the same commit.
fn resolve_rustc(binaries: &mut [BinaryAudit]) {
    let releases: BTreeMap<String, String> = binaries
        .iter()
        .filter_map(|b| {
            let release = b.rustc.as_ref().filter(|r| !r.starts_with("commit "))?;
            Some((b.rustc_commit.clone()?, release.clone()))
        })
        .collect();
    for b in binaries.iter_mut() {
        if b.rustc.as_deref().is_some_and(|r| r.starts_with("commit ")) {
            if let Some(release) = b.rustc_commit.as_ref().and_then(|c| releases.get(c)) {
                b.rustc = Some(release.clone());
            }
        }
    }
}

/// A stripped binary's estimated crate sizes replaced by the same crate version's measured size
/// in another binary of the same rustc; the rest of its code split as before.
fn lend_measured_sizes(binaries: &mut [BinaryAudit]) {
    let mut measured: BTreeMap<(String, String, String), (u64, u64)> = BTreeMap::new();
    for b in binaries.iter() {
        let Some(rustc) = &b.rustc else { continue };
        if b.crates_from == CratesFrom::SymbolTable
            || b.crates
                .iter()
                .any(|c| c.bytes_from == BytesFrom::SymbolTable)
        {
            let e = measured
                .entry((rustc.clone(), STD_ROW.to_string(), rustc.clone()))
                .or_default();
            e.0 += b.std_bytes;
            e.1 += 1;
        }
        for c in &b.crates {
            if let (BytesFrom::SymbolTable, Some(v)) = (c.bytes_from, &c.version) {
                let e = measured
                    .entry((rustc.clone(), c.name.clone(), v.clone()))
                    .or_default();
                e.0 += c.bytes;
                e.1 += 1;
            }
        }
    }
    for b in binaries.iter_mut() {
        let Some(rustc) = b.rustc.clone() else {
            continue;
        };
        if !b
            .crates
            .iter()
            .any(|c| c.bytes_from == BytesFrom::SourceFileShare)
        {
            continue;
        }
        let mut lent = 0u64;
        let std_key = (rustc.clone(), STD_ROW.to_string(), rustc.clone());
        let std_lent = measured.get(&std_key).map(|(sum, n)| sum / n);
        if let Some(bytes) = std_lent {
            b.std_bytes = bytes;
            lent += bytes;
        }
        for c in b.crates.iter_mut() {
            let key = (
                rustc.clone(),
                c.name.clone(),
                c.version.clone().unwrap_or_default(),
            );
            if let (BytesFrom::SourceFileShare, Some((sum, n))) = (c.bytes_from, measured.get(&key))
            {
                c.bytes = sum / n;
                c.bytes_from = BytesFrom::OtherBinary;
                lent += c.bytes;
            }
        }
        let rest: u64 = std_lent.map_or(b.std_bytes, |_| 0)
            + b.own_bytes
            + b.crates
                .iter()
                .filter(|c| c.bytes_from == BytesFrom::SourceFileShare)
                .map(|c| c.bytes)
                .sum::<u64>();
        let room = b.code_bytes.saturating_sub(lent);
        if rest > room {
            let scale = |x: u64| (x as u128 * room as u128 / rest.max(1) as u128) as u64;
            if std_lent.is_none() {
                b.std_bytes = scale(b.std_bytes);
            }
            b.own_bytes = scale(b.own_bytes);
            for c in b.crates.iter_mut() {
                if c.bytes_from == BytesFrom::SourceFileShare {
                    c.bytes = scale(c.bytes);
                }
            }
        } else {
            b.own_bytes += room - rest;
        }
    }
}

/// (rustc, crate, version) -> (binary index, bytes) of every copy; std as [`STD_ROW`].
type Copies = BTreeMap<(String, String, String), Vec<(usize, u64)>>;

fn copies(binaries: &[BinaryAudit]) -> Copies {
    let mut out: Copies = BTreeMap::new();
    for (i, b) in binaries.iter().enumerate() {
        let Some(rustc) = &b.rustc else { continue };
        let mut add = |name: &str, version: &str, bytes: u64| {
            out.entry((rustc.clone(), name.to_string(), version.to_string()))
                .or_default()
                .push((i, bytes));
        };
        add(STD_ROW, rustc, b.std_bytes);
        for c in &b.crates {
            if let Some(v) = &c.version {
                add(&c.name, v, c.bytes);
            }
        }
    }
    out
}

/// `code` bytes of `binary` with the data that goes with them: scaled by the binary's stripped
/// size over its code size (read-only data, unwind tables and relocations grow with the code they
/// serve). Measured on nine of Debian's programs built static and grouped (docs/src/results.md,
/// 2026-12-07): of the 7.10 MB sharing saved, code was 5.16 MB and unwind tables, read-only data
/// and relocations most of the rest.
fn with_data(binary: &BinaryAudit, code: u64) -> u64 {
    if binary.code_bytes == 0 || binary.stripped_bytes <= binary.code_bytes {
        return code;
    }
    (code as u128 * binary.stripped_bytes as u128 / binary.code_bytes as u128) as u64
}

/// Fills each binary's `shared_bytes` and computes the rows, the version spread and the
/// projection.
pub(crate) fn estimate(
    binaries: &mut [BinaryAudit],
) -> (Vec<CrateVersionRow>, Vec<VersionSpread>, Projection) {
    resolve_rustc(binaries);
    lend_measured_sizes(binaries);
    let copies = copies(binaries);
    let mut rows = Vec::new();
    for ((rustc, name, version), list) in &copies {
        let total: u64 = list.iter().map(|(_, b)| b).sum();
        let largest = list.iter().map(|(_, b)| *b).max().unwrap_or(0);
        let file_copies: Vec<u64> = list
            .iter()
            .map(|(i, b)| with_data(&binaries[*i], *b))
            .collect();
        let file_total: u64 = file_copies.iter().sum();
        let file_largest = file_copies.iter().copied().max().unwrap_or(0);
        if list.len() > 1 {
            for (i, bytes) in list {
                binaries[*i].shared_bytes += bytes;
            }
        }
        rows.push(CrateVersionRow {
            name: name.clone(),
            version: version.clone(),
            rustc: rustc.clone(),
            copies: list.len(),
            bytes_per_copy: total / list.len() as u64,
            saving_bytes: total - largest,
            file_bytes_per_copy: file_total / list.len() as u64,
            file_saving_bytes: file_total - file_largest,
            binaries: list
                .iter()
                .map(|(i, _)| binaries[*i].path.clone())
                .collect(),
        });
    }
    // Several versions of one crate under one rustc.
    let mut by_name: BTreeMap<(&str, &str), Vec<&CrateVersionRow>> = BTreeMap::new();
    for r in &rows {
        by_name.entry((&r.rustc, &r.name)).or_default().push(r);
    }
    let mut spread: Vec<VersionSpread> = by_name
        .into_iter()
        .filter(|(_, versions)| versions.len() > 1)
        .map(|((rustc, name), versions)| {
            let largest: Vec<u64> = versions.iter().map(|r| r.bytes_per_copy).collect();
            let file_largest: Vec<u64> = versions.iter().map(|r| r.file_bytes_per_copy).collect();
            let mut ordered: Vec<(semver::Version, String, usize)> = versions
                .iter()
                .map(|r| {
                    let v = semver::Version::parse(&r.version)
                        .unwrap_or_else(|_| semver::Version::new(0, 0, 0));
                    (v, r.version.clone(), r.copies)
                })
                .collect();
            ordered.sort();
            VersionSpread {
                name: name.to_string(),
                rustc: rustc.to_string(),
                versions: ordered.into_iter().map(|(_, v, n)| (v, n)).collect(),
                extra_saving_bytes: largest.iter().sum::<u64>()
                    - largest.iter().max().copied().unwrap_or(0),
                extra_file_saving_bytes: file_largest.iter().sum::<u64>()
                    - file_largest.iter().max().copied().unwrap_or(0),
            }
        })
        .collect();
    spread.sort_by_key(|s| std::cmp::Reverse(s.extra_saving_bytes));
    rows.sort_by(|a, b| {
        b.saving_bytes
            .cmp(&a.saving_bytes)
            .then(b.copies.cmp(&a.copies))
            .then((&a.name, &a.version).cmp(&(&b.name, &b.version)))
    });
    let mut rustc_versions: BTreeMap<String, usize> = BTreeMap::new();
    for b in binaries.iter() {
        let r = b.rustc.clone().unwrap_or_else(|| "unknown".to_string());
        *rustc_versions.entry(r).or_default() += 1;
    }
    let file_bytes: u64 = binaries.iter().map(|b| b.file_bytes).sum();
    let code_bytes: u64 = binaries.iter().map(|b| b.code_bytes).sum();
    let stripped_bytes: u64 = binaries.iter().map(|b| b.stripped_bytes).sum();
    let saving_bytes: u64 = rows.iter().map(|r| r.saving_bytes).sum();
    let file_saving_bytes: u64 = rows.iter().map(|r| r.file_saving_bytes).sum();
    let fraction = |n: u64, d: u64| if d == 0 { 0.0 } else { n as f64 / d as f64 };
    let projection = Projection {
        binaries: binaries.len(),
        file_bytes,
        stripped_bytes,
        code_bytes,
        saving_bytes,
        disk_saving: fraction(saving_bytes, file_bytes),
        stripped_disk_saving: fraction(saving_bytes, stripped_bytes),
        code_saving: fraction(saving_bytes, code_bytes),
        unify_saving_bytes: spread.iter().map(|s| s.extra_saving_bytes).sum(),
        file_saving_bytes,
        stripped_file_saving: fraction(file_saving_bytes, stripped_bytes),
        unify_file_saving_bytes: spread.iter().map(|s| s.extra_file_saving_bytes).sum(),
        rustc_versions: rustc_versions.into_iter().collect(),
    };
    (rows, spread, projection)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audit::model::{Confidence, CrateCopy};

    fn binary(path: &str, stripped: u64, code: u64, crates: &[(&str, &str, u64)]) -> BinaryAudit {
        BinaryAudit {
            path: path.into(),
            kind: "executable",
            file_bytes: stripped,
            stripped_bytes: stripped,
            code_bytes: code,
            rustc: Some("1.95.0".into()),
            rustc_from: Some(".comment"),
            rustc_commit: None,
            crates_from: CratesFrom::CargoAuditable,
            confidence: Confidence::High,
            note: String::new(),
            std_bytes: 0,
            own_bytes: 0,
            crates: crates
                .iter()
                .map(|(name, version, bytes)| CrateCopy {
                    name: (*name).into(),
                    version: Some((*version).into()),
                    bytes: *bytes,
                    bytes_from: BytesFrom::SymbolTable,
                })
                .collect(),
            shared_bytes: 0,
        }
    }

    #[test]
    fn the_file_saving_counts_each_copy_with_its_binarys_data() {
        // `a` is half data (its stripped size twice its code), `b` a fifth (1.25 times).
        let mut binaries = vec![
            binary(
                "a",
                2_000,
                1_000,
                &[("serde", "1.0.0", 300), ("clap", "4.5.0", 100)],
            ),
            binary(
                "b",
                1_250,
                1_000,
                &[("serde", "1.0.0", 200), ("clap", "4.6.0", 80)],
            ),
        ];
        let (rows, spread, p) = estimate(&mut binaries);
        let serde = rows.iter().find(|r| r.name == "serde").unwrap();
        // Code: every copy but the largest (300) is saved.
        assert_eq!(serde.saving_bytes, 200);
        // With data: copies of 600 (a) and 250 (b); the largest stays.
        assert_eq!(serde.file_saving_bytes, 250);
        assert_eq!(p.saving_bytes, 200);
        assert_eq!(p.file_saving_bytes, 250);
        assert!((p.stripped_file_saving - 250.0 / 3_250.0).abs() < 1e-9);
        // clap has two versions: one would save the smaller copy, 80 of code, 100 with data.
        let clap = spread.iter().find(|s| s.name == "clap").unwrap();
        assert_eq!(clap.extra_saving_bytes, 80);
        assert_eq!(clap.extra_file_saving_bytes, 100);
        assert_eq!(p.unify_file_saving_bytes, 100);
    }

    #[test]
    fn a_binary_without_code_or_data_lends_no_scale() {
        let no_code = binary("x", 500, 0, &[]);
        assert_eq!(with_data(&no_code, 40), 40);
        let all_code = binary("y", 500, 600, &[]);
        assert_eq!(with_data(&all_code, 40), 40);
    }
}
