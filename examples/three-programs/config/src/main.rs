//! Parses a settings document: serde derive + serde_json + regex + clap + once_cell + parking_lot.
use clap::Parser;
use once_cell::sync::Lazy;
use parking_lot::Mutex;
use serde::{Deserialize, Serialize};

static KEY: Lazy<regex::Regex> = Lazy::new(|| regex::Regex::new(r"^[a-z_]+$").unwrap());
static SEEN: Mutex<Vec<String>> = Mutex::new(Vec::new());

#[derive(Parser)]
#[command(version, about = "Validate a settings document")]
struct Args {
    /// Print the normalised document.
    #[arg(long)]
    pretty: bool,
}

#[derive(Serialize, Deserialize, Debug)]
struct Settings {
    name: String,
    retries: u32,
    keys: Vec<String>,
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let doc = r#"{"name":"demo","retries":3,"keys":["alpha","beta_gamma","Bad-Key"]}"#;
    let settings: Settings = serde_json::from_str(doc)?;
    for k in &settings.keys {
        if KEY.is_match(k) {
            SEEN.lock().push(k.clone());
        }
    }
    println!("{} retries={} valid keys={:?}", settings.name, settings.retries, SEEN.lock());
    if args.pretty {
        println!("{}", serde_json::to_string_pretty(&settings)?);
    }
    Ok(())
}
