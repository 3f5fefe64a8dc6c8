//! The machine a bench ran on (CPU, memory, kernel, compiler) and the date.

use std::process::Command;

use crate::measure::bench::model::*;
use cargo_share_compile::toolchain::Toolchain;

/// Today's UTC date as `YYYY-MM-DD`.
pub(crate) fn utc_date() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    cargo_share_core::layout::rfc3339(secs)[..10].to_string()
}

pub(crate) fn machine(toolchain: &Toolchain) -> Machine {
    let uname = Command::new("uname")
        .arg("-srm")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_default();
    let memory_bytes = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|t| {
            t.lines()
                .find_map(|l| l.strip_prefix("MemTotal:"))
                .and_then(|r| r.split_whitespace().next()?.parse::<u64>().ok())
        })
        .unwrap_or(0)
        * 1024;
    Machine {
        date: utc_date(),
        system: uname,
        cpus: std::thread::available_parallelism().map_or(1, |n| n.get()),
        memory_bytes,
        rustc: toolchain
            .version_text
            .lines()
            .next()
            .unwrap_or_default()
            .to_string(),
        cargo_share: env!("CARGO_PKG_VERSION").to_string(),
    }
}
