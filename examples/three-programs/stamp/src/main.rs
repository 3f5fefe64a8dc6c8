//! Formats numbers with two semver-incompatible versions of itoa, plus the other shared crates.
use clap::Parser;
use serde::Serialize;

#[derive(Parser)]
#[command(version, about = "Format numbers two ways")]
struct Args {
    /// Numbers to format.
    #[arg(default_values_t = vec![7u64, 1_000_000, 42])]
    numbers: Vec<u64>,
}

#[derive(Serialize)]
struct Stamp {
    new: String,
    old: String,
}

static COUNT: once_cell::sync::Lazy<parking_lot::Mutex<u32>> =
    once_cell::sync::Lazy::new(|| parking_lot::Mutex::new(0));

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let digits = regex::Regex::new(r"^\d+$")?;
    let mut set = hashbrown::HashSet::new();
    for n in args.numbers {
        let mut buf = itoa::Buffer::new();
        let new = buf.format(n).to_string();
        let mut old = Vec::new();
        itoa_old::write(&mut old, n)?;
        let s = Stamp { new, old: String::from_utf8(old)? };
        assert!(digits.is_match(&s.new));
        set.insert(s.new.clone());
        *COUNT.lock() += 1;
        println!("itoa 1: {} itoa 0.4: {}", s.new, s.old);
    }
    println!("{} numbers, {} distinct", COUNT.lock(), set.len());
    Ok(())
}
