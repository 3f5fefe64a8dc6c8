//! The figures of `scripts/image-sizes.sh`: the example product's images as `cargo share image`
//! made them (OCI layout directories, before and after a body-only fix in a shared crate)
//! against static images of the same programs (the binaries `cargo build --release` makes, one
//! image each, the binary in one layer), made here with the same layer code, so the same
//! tar and gzip settings, config and manifest shape.
//!
//! `cargo run --release --example image_sizes -- SHARED_BEFORE SHARED_AFTER STATIC_BEFORE
//! STATIC_AFTER PROGRAM...` (the static arguments are directories holding the binaries).
//! Prints a Markdown table and one JSON line.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use cargo_share_cache::image::compose::{build_layers, compose};
use cargo_share_core::layout::{partition, ProgramClosure};
use serde_json::Value;

/// An image as the bytes a registry or a node holds: blob digest -> size (manifest, config,
/// layers), and which of those are layers.
#[derive(Default)]
struct Blobs {
    all: BTreeMap<String, u64>,
    layers: BTreeSet<String>,
}

fn read_json(path: &Path) -> Result<Value> {
    let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    Ok(serde_json::from_slice(&bytes)?)
}

/// The images of an OCI layout directory, by program name.
fn layout_images(dir: &Path) -> Result<BTreeMap<String, Blobs>> {
    let index = read_json(&dir.join("index.json"))?;
    let mut out = BTreeMap::new();
    for m in index["manifests"]
        .as_array()
        .context("index.json lists no manifests")?
    {
        let name = m["annotations"]["org.opencontainers.image.ref.name"]
            .as_str()
            .context("an image without a name")?
            .to_string();
        let digest = m["digest"].as_str().context("no digest")?;
        let manifest = read_json(&dir.join("blobs/sha256").join(&digest[7..]))?;
        let mut blobs = Blobs::default();
        blobs
            .all
            .insert(digest.to_string(), m["size"].as_u64().unwrap_or(0));
        let config = &manifest["config"];
        blobs.all.insert(
            config["digest"].as_str().unwrap_or_default().to_string(),
            config["size"].as_u64().unwrap_or(0),
        );
        for l in manifest["layers"].as_array().into_iter().flatten() {
            let d = l["digest"].as_str().unwrap_or_default().to_string();
            blobs.all.insert(d.clone(), l["size"].as_u64().unwrap_or(0));
            blobs.layers.insert(d);
        }
        out.insert(name, blobs);
    }
    Ok(out)
}

/// Static images: one per binary in `dir`, the binary alone in one layer.
fn static_images(dir: &Path, programs: &[String]) -> Result<BTreeMap<String, Blobs>> {
    let mut out = BTreeMap::new();
    for name in programs {
        let closure = ProgramClosure {
            name: name.clone(),
            version: "0.1.0".into(),
            binaries: BTreeMap::from([(name.clone(), dir.join(name))]),
            libraries: BTreeMap::new(),
        };
        let layers = build_layers(&partition(std::slice::from_ref(&closure))?, "usr/local", 0)?;
        let image = compose(&closure, None, &layers, "usr/local", 0, None)?;
        let mut blobs = Blobs::default();
        blobs
            .all
            .insert(image.manifest_digest(), image.manifest.len() as u64);
        blobs
            .all
            .insert(image.config_digest(), image.config.len() as u64);
        for l in &layers {
            blobs.all.insert(l.digest.clone(), l.size);
            blobs.layers.insert(l.digest.clone());
        }
        out.insert(name.clone(), blobs);
    }
    Ok(out)
}

/// The figures of one kind of image.
struct Figures {
    stored: u64,
    second_mean: u64,
    second_worst: u64,
    fix_bytes: u64,
    fix_layers: usize,
}

fn union(images: &BTreeMap<String, Blobs>) -> BTreeMap<&String, u64> {
    images
        .values()
        .flat_map(|b| b.all.iter().map(|(d, s)| (d, *s)))
        .collect()
}

fn figures(before: &BTreeMap<String, Blobs>, after: &BTreeMap<String, Blobs>) -> Figures {
    let stored = union(before).values().sum();
    let mut seconds = Vec::new();
    for (a, first) in before {
        for (b, second) in before {
            if a != b {
                seconds.push(
                    second
                        .all
                        .iter()
                        .filter(|(d, _)| !first.all.contains_key(*d))
                        .map(|(_, s)| s)
                        .sum::<u64>(),
                );
            }
        }
    }
    let old = union(before);
    let new = union(after);
    let fresh: Vec<(&&String, &u64)> = new.iter().filter(|(d, _)| !old.contains_key(**d)).collect();
    let layers: BTreeSet<&String> = after.values().flat_map(|b| b.layers.iter()).collect();
    Figures {
        stored,
        second_mean: seconds.iter().sum::<u64>() / seconds.len().max(1) as u64,
        second_worst: seconds.iter().copied().max().unwrap_or(0),
        fix_bytes: fresh.iter().map(|(_, s)| **s).sum(),
        fix_layers: fresh.iter().filter(|(d, _)| layers.contains(**d)).count(),
    }
}

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.len() < 5 {
        anyhow::bail!(
            "usage: image_sizes SHARED_BEFORE SHARED_AFTER STATIC_BEFORE STATIC_AFTER PROGRAM..."
        );
    }
    let dirs: Vec<PathBuf> = args[..4].iter().map(PathBuf::from).collect();
    let programs = args[4..].to_vec();
    let shared = figures(&layout_images(&dirs[0])?, &layout_images(&dirs[1])?);
    let fixed = static_images(&dirs[3], &programs)?;
    let statics = figures(&static_images(&dirs[2], &programs)?, &fixed);
    let kb = |n: u64| format!("{:.1} MB", n as f64 / 1e6);
    let ratio = |s: u64, t: u64| format!("{:.2}x", s as f64 / t as f64);
    println!("| figure | static images | shared images | shared / static |");
    println!("|---|---|---|---|");
    let rows = [
        (
            "bytes the registry stores for all images",
            statics.stored,
            shared.stored,
        ),
        (
            "bytes a node running one image pulls for a second (mean of the ordered pairs)",
            statics.second_mean,
            shared.second_mean,
        ),
        (
            "the same, worst pair",
            statics.second_worst,
            shared.second_worst,
        ),
        (
            "bytes pushed for a body-only fix in a shared crate (layers, configs, manifests)",
            statics.fix_bytes,
            shared.fix_bytes,
        ),
    ];
    for (what, s, t) in rows {
        println!("| {what} | {} | {} | {} |", kb(s), kb(t), ratio(t, s));
    }
    println!(
        "| layers changed by the fix | {} | {} | |",
        statics.fix_layers, shared.fix_layers
    );
    println!(
        "{}",
        serde_json::json!({
            "static": {"stored": statics.stored, "second_mean": statics.second_mean, "second_worst": statics.second_worst, "fix_bytes": statics.fix_bytes, "fix_layers": statics.fix_layers},
            "shared": {"stored": shared.stored, "second_mean": shared.second_mean, "second_worst": shared.second_worst, "fix_bytes": shared.fix_bytes, "fix_layers": shared.fix_layers},
        })
    );
    Ok(())
}
