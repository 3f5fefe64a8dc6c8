//! Start-up and run time: static and shared runs interleaved, median and spread.

use anyhow::Result;

use crate::measure::bench::model::*;
use crate::measure::bench::options::BuiltVariant;
use crate::measure::bench::workload::Workload;

pub(crate) fn distribution(mut samples: Vec<f64>) -> Distribution {
    let order = samples.clone();
    samples.sort_by(|a, b| a.total_cmp(b));
    let at = |q: f64| samples[((samples.len() - 1) as f64 * q).round() as usize];
    Distribution {
        median_us: at(0.5),
        p10_us: at(0.1),
        p90_us: at(0.9),
        samples_us: order,
    }
}

/// Which of `n` variants goes `k`th in round `round`: list order in even rounds, reversed in
/// odd ones (so no variant always runs first).
pub(crate) fn nth_in_round(round: usize, k: usize, n: usize) -> usize {
    if round.is_multiple_of(2) {
        k
    } else {
        n - 1 - k
    }
}

/// Time `args` on every variant's binary of `program`, variants interleaved (and their order
/// alternating) run after run.
pub(crate) fn interleaved(
    variants: &[BuiltVariant],
    program: &str,
    workload: &Workload,
    runs: usize,
) -> Result<Vec<Option<Distribution>>> {
    let mut samples = vec![Vec::new(); variants.len()];
    for run in 0..runs {
        for i in 0..variants.len() {
            let v = nth_in_round(run, i, variants.len());
            let Some(bin) = variants[v].binaries.get(program) else {
                continue;
            };
            samples[v].push(workload.run_once(bin)?.as_secs_f64() * 1e6);
        }
    }
    Ok(samples
        .into_iter()
        .map(|s| (!s.is_empty()).then(|| distribution(s)))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::measure::bench::machine::utc_date;

    #[test]
    fn distributions_and_dates() {
        let d = distribution((1..=11).map(f64::from).collect());
        assert_eq!((d.median_us, d.p10_us, d.p90_us), (6.0, 2.0, 10.0));
        let date = utc_date();
        assert_eq!(date.len(), 10);
        assert!(date.starts_with("20"), "{date}");
    }
}
