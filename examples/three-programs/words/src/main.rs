//! Counts words matching a pattern: regex + clap + anyhow + hashbrown + itoa 1.
use anyhow::Context;
use clap::Parser;

#[derive(Parser)]
#[command(version, about = "Count words that match a pattern")]
struct Args {
    /// Pattern words must match.
    #[arg(default_value = r"^[a-z]+$")]
    pattern: String,
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let re = regex::Regex::new(&args.pattern).context("bad pattern")?;
    let text = "the quick brown fox jumps over the lazy dog The End 42 fox";
    let mut counts: hashbrown::HashMap<&str, usize> = hashbrown::HashMap::new();
    for w in text.split_whitespace().filter(|w| re.is_match(w)) {
        *counts.entry(w).or_default() += 1;
    }
    let mut sorted: Vec<_> = counts.into_iter().collect();
    sorted.sort();
    let mut buf = itoa::Buffer::new();
    for (w, n) in sorted {
        println!("{w}: {}", buf.format(n));
    }
    Ok(())
}
