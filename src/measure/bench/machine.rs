//! The machine a bench ran on (CPU, memory, kernel, compiler) and the date.

use std::process::Command;

use crate::measure::bench::model::*;
use crate::toolchain::Toolchain;

/// Today's UTC date as `YYYY-MM-DD` (civil-from-days).
pub(crate) fn utc_date() -> String {
    let days = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() / 86_400)
        .unwrap_or(0) as i64;
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!("{y:04}-{m:02}-{d:02}")
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
