//! Medians, spreads and latency percentiles.

use std::time::Duration;

/// The median of repeated measurements and their range.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Spread {
    /// Median of the runs (the mean of the two middle values for an even count).
    pub median: f64,
    /// Smallest run.
    pub min: f64,
    /// Largest run.
    pub max: f64,
    /// Number of runs.
    pub runs: usize,
}

impl Spread {
    /// The spread of `values`; `None` when there are none (or any is NaN).
    pub fn of(values: &[f64]) -> Option<Self> {
        if values.is_empty() || values.iter().any(|v| v.is_nan()) {
            return None;
        }
        let mut sorted = values.to_vec();
        sorted.sort_by(f64::total_cmp);
        let n = sorted.len();
        let median = if n % 2 == 1 {
            sorted[n / 2]
        } else {
            (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0
        };
        Some(Self {
            median,
            min: sorted[0],
            max: sorted[n - 1],
            runs: n,
        })
    }

    /// The same spread with every value multiplied by `factor` (unit conversion).
    pub fn scaled(self, factor: f64) -> Self {
        Self {
            median: self.median * factor,
            min: self.min * factor,
            max: self.max * factor,
            runs: self.runs,
        }
    }
}

/// Nearest-rank percentile (`p` in 0..=100) of an ascending slice; `None` when empty.
pub fn percentile(sorted: &[f64], p: f64) -> Option<f64> {
    if sorted.is_empty() {
        return None;
    }
    let rank = (p / 100.0 * sorted.len() as f64).ceil() as usize;
    Some(sorted[rank.clamp(1, sorted.len()) - 1])
}

/// p50, p99 and maximum of one run of round trips, in microseconds.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Latency {
    /// Median round trip.
    pub p50: f64,
    /// 99th percentile.
    pub p99: f64,
    /// Slowest round trip.
    pub max: f64,
    /// Number of round trips.
    pub count: usize,
}

impl Latency {
    /// Percentiles of round-trip times given in microseconds; `None` when empty.
    pub fn of_micros(samples: &[f64]) -> Option<Self> {
        let mut sorted = samples.to_vec();
        if sorted.iter().any(|v| v.is_nan()) {
            return None;
        }
        sorted.sort_by(f64::total_cmp);
        Some(Self {
            p50: percentile(&sorted, 50.0)?,
            p99: percentile(&sorted, 99.0)?,
            max: *sorted.last()?,
            count: sorted.len(),
        })
    }

    /// Percentiles of round-trip durations.
    pub fn of(samples: &[Duration]) -> Option<Self> {
        let micros: Vec<f64> = samples.iter().map(|d| d.as_secs_f64() * 1e6).collect();
        Self::of_micros(&micros)
    }
}

/// Spreads of each percentile over several runs.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LatencySpread {
    /// Spread of the runs' p50s.
    pub p50: Spread,
    /// Spread of the runs' p99s.
    pub p99: Spread,
    /// Spread of the runs' maxima.
    pub max: Spread,
}

impl LatencySpread {
    /// Combines per-run percentiles; `None` when there are no runs.
    pub fn of(runs: &[Latency]) -> Option<Self> {
        let pick = |f: fn(&Latency) -> f64| Spread::of(&runs.iter().map(f).collect::<Vec<_>>());
        Some(Self {
            p50: pick(|l| l.p50)?,
            p99: pick(|l| l.p99)?,
            max: pick(|l| l.max)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spread_odd_and_even() {
        let s = Spread::of(&[3.0, 1.0, 2.0]).unwrap();
        assert_eq!((s.median, s.min, s.max, s.runs), (2.0, 1.0, 3.0, 3));
        let s = Spread::of(&[4.0, 1.0, 2.0, 3.0]).unwrap();
        assert_eq!((s.median, s.min, s.max), (2.5, 1.0, 4.0));
        assert_eq!(Spread::of(&[]), None);
        assert_eq!(Spread::of(&[1.0, f64::NAN]), None);
        let scaled = Spread::of(&[1.0, 2.0, 3.0]).unwrap().scaled(10.0);
        assert_eq!((scaled.median, scaled.min, scaled.max), (20.0, 10.0, 30.0));
    }

    #[test]
    fn nearest_rank_percentiles() {
        let sorted: Vec<f64> = (1..=100).map(f64::from).collect();
        assert_eq!(percentile(&sorted, 50.0), Some(50.0));
        assert_eq!(percentile(&sorted, 99.0), Some(99.0));
        assert_eq!(percentile(&sorted, 100.0), Some(100.0));
        assert_eq!(percentile(&sorted, 0.0), Some(1.0));
        assert_eq!(percentile(&[7.0], 99.0), Some(7.0));
        assert_eq!(percentile(&[], 50.0), None);
    }

    #[test]
    fn latency_of_durations() {
        let samples: Vec<Duration> = (1..=10).rev().map(Duration::from_micros).collect();
        let l = Latency::of(&samples).unwrap();
        assert_eq!((l.p50, l.p99, l.max, l.count), (5.0, 10.0, 10.0, 10));
        let spread = LatencySpread::of(&[l, Latency { p50: 7.0, ..l }, l]).unwrap();
        assert_eq!(spread.p50.median, 5.0);
        assert_eq!(spread.p50.max, 7.0);
        assert!(Latency::of(&[]).is_none());
    }
}
