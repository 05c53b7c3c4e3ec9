//! The result table and the machine-readable `SUMMARY` line.

use std::fmt;

use crate::stats::Spread;

/// One line of the table.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    /// Section, e.g. `pubsub`.
    pub section: &'static str,
    /// What was measured.
    pub metric: String,
    /// The median (or single value), formatted.
    pub value: String,
    /// `min–max` over the runs, or empty.
    pub spread: String,
    /// Unit of value and spread.
    pub unit: &'static str,
    /// Baseline, ratio or remark.
    pub note: String,
}

/// The numbers of the `SUMMARY` line; `None` prints `na`.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Summary {
    /// Banyan pub/sub throughput divided by raw ZeroMQ's (medians).
    pub pubsub_ratio: Option<f64>,
    /// Messages lost by Banyan pub/sub, summed over the measured runs.
    pub pubsub_lost: Option<u64>,
    /// Median echo round trip through the Rust backplane, in microseconds.
    pub echo_p50_us: Option<f64>,
    /// Banyan echo p50 divided by the raw ZeroMQ echo p50.
    pub echo_p50_ratio: Option<f64>,
    /// Rust Banyan throughput divided by Python Banyan throughput.
    pub python_tput_ratio: Option<f64>,
    /// Python Banyan echo p50 divided by Rust Banyan echo p50.
    pub python_echo_ratio: Option<f64>,
    /// `{'v': n}` readings/s delivered over a 115 200 baud line (client defaults).
    pub serial_small_msgs_per_s: Option<f64>,
    /// Payload bytes ÷ line capacity for 200-byte payloads at 115 200 baud.
    pub serial_goodput_ratio: Option<f64>,
    /// p99 added latency of `{'v': n}` offered at 1 000/s at 115 200 baud, ms.
    pub serial_small_latency_p99_ms: Option<f64>,
    /// Async Banyan echo p50 (`banyan_host::aio`) divided by the raw ZeroMQ echo p50.
    pub async_echo_p50_ratio: Option<f64>,
}

fn field(value: Option<f64>, decimals: usize) -> String {
    match value {
        Some(v) if v.is_finite() => format!("{v:.decimals$}"),
        _ => "na".into(),
    }
}

impl fmt::Display for Summary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let lost = self
            .pubsub_lost
            .map_or_else(|| "na".to_owned(), |n| n.to_string());
        write!(
            f,
            "SUMMARY pubsub_ratio={} pubsub_lost={} echo_p50_us={} echo_p50_ratio={} \
             python_tput_ratio={} python_echo_ratio={} serial_small_msgs_per_s={} \
             serial_goodput_ratio={} serial_small_latency_p99_ms={} async_echo_p50_ratio={}",
            field(self.pubsub_ratio, 2),
            lost,
            field(self.echo_p50_us, 0),
            field(self.echo_p50_ratio, 2),
            field(self.python_tput_ratio, 1),
            field(self.python_echo_ratio, 0),
            field(self.serial_small_msgs_per_s, 0),
            field(self.serial_goodput_ratio, 3),
            field(self.serial_small_latency_p99_ms, 2),
            field(self.async_echo_p50_ratio, 2),
        )
    }
}

/// Formats a number with about four significant digits and thousands separators.
pub fn num(value: f64) -> String {
    if !value.is_finite() {
        return "na".into();
    }
    let abs = value.abs();
    let decimals = if abs >= 1000.0 || abs == 0.0 {
        0
    } else if abs >= 100.0 {
        1
    } else if abs >= 10.0 {
        2
    } else {
        3
    };
    let text = format!("{value:.decimals$}");
    let (int, frac) = match text.split_once('.') {
        Some((i, f)) => (i, Some(f)),
        None => (text.as_str(), None),
    };
    let (sign, digits) = int.strip_prefix('-').map_or(("", int), |d| ("-", d));
    let mut grouped = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            grouped.push(',');
        }
        grouped.push(c);
    }
    match frac {
        Some(frac) => format!("{sign}{grouped}.{frac}"),
        None => format!("{sign}{grouped}"),
    }
}

/// Collects rows and the summary while the sections run.
#[derive(Debug, Default)]
pub struct Report {
    /// Rows in the order they were added.
    pub rows: Vec<Row>,
    /// The summary numbers found so far.
    pub summary: Summary,
    /// Remarks printed under the table (skips, errors of optional parts).
    pub notes: Vec<String>,
}

impl Report {
    /// Adds a row with a spread over runs.
    pub fn spread(
        &mut self,
        section: &'static str,
        metric: impl Into<String>,
        spread: Spread,
        unit: &'static str,
        note: impl Into<String>,
    ) {
        self.rows.push(Row {
            section,
            metric: metric.into(),
            value: num(spread.median),
            spread: format!(
                "{}–{} (n={})",
                num(spread.min),
                num(spread.max),
                spread.runs
            ),
            unit,
            note: note.into(),
        });
    }

    /// Adds a row with a single value.
    pub fn value(
        &mut self,
        section: &'static str,
        metric: impl Into<String>,
        value: impl Into<String>,
        unit: &'static str,
        note: impl Into<String>,
    ) {
        self.rows.push(Row {
            section,
            metric: metric.into(),
            value: value.into(),
            spread: String::new(),
            unit,
            note: note.into(),
        });
    }

    /// Records a remark (also printed to stderr at once).
    pub fn note(&mut self, text: impl Into<String>) {
        let text = text.into();
        eprintln!("note: {text}");
        self.notes.push(text);
    }

    /// The table as text: aligned columns, one line per row.
    pub fn table(&self) -> String {
        let header = Row {
            section: "section",
            metric: "metric".into(),
            value: "median".into(),
            spread: "min–max (runs)".into(),
            unit: "unit",
            note: "baseline / note".into(),
        };
        let all: Vec<&Row> = std::iter::once(&header).chain(&self.rows).collect();
        let width = |f: fn(&Row) -> usize| all.iter().map(|r| f(r)).max().unwrap_or(0);
        let w = [
            width(|r| r.section.chars().count()),
            width(|r| r.metric.chars().count()),
            width(|r| r.value.chars().count()),
            width(|r| r.spread.chars().count()),
            width(|r| r.unit.chars().count()),
        ];
        let mut out = String::new();
        for (i, row) in all.iter().enumerate() {
            let line = format!(
                "| {} | {} | {} | {} | {} | {} |",
                pad(row.section, w[0], false),
                pad(&row.metric, w[1], false),
                pad(&row.value, w[2], true),
                pad(&row.spread, w[3], true),
                pad(row.unit, w[4], false),
                row.note
            );
            out.push_str(line.trim_end());
            out.push('\n');
            if i == 0 {
                out.push_str(&format!(
                    "|{}|{}|{}:|{}:|{}|---|\n",
                    "-".repeat(w[0] + 2),
                    "-".repeat(w[1] + 2),
                    "-".repeat(w[2] + 1),
                    "-".repeat(w[3] + 1),
                    "-".repeat(w[4] + 2),
                ));
            }
        }
        out
    }
}

fn pad(text: &str, width: usize, right: bool) -> String {
    let fill = " ".repeat(width.saturating_sub(text.chars().count()));
    if right {
        format!("{fill}{text}")
    } else {
        format!("{text}{fill}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summary_line_shape() {
        let summary = Summary {
            pubsub_ratio: Some(0.9666),
            pubsub_lost: Some(0),
            echo_p50_us: Some(350.4),
            echo_p50_ratio: Some(1.044),
            python_tput_ratio: Some(6.94),
            python_echo_ratio: Some(280.2),
            serial_small_msgs_per_s: Some(1234.4),
            serial_goodput_ratio: Some(0.91234),
            serial_small_latency_p99_ms: Some(7.256),
            async_echo_p50_ratio: Some(1.0849),
        };
        assert_eq!(
            summary.to_string(),
            "SUMMARY pubsub_ratio=0.97 pubsub_lost=0 echo_p50_us=350 echo_p50_ratio=1.04 \
             python_tput_ratio=6.9 python_echo_ratio=280 serial_small_msgs_per_s=1234 \
             serial_goodput_ratio=0.912 serial_small_latency_p99_ms=7.26 \
             async_echo_p50_ratio=1.08"
        );
        assert_eq!(
            Summary::default().to_string(),
            "SUMMARY pubsub_ratio=na pubsub_lost=na echo_p50_us=na echo_p50_ratio=na \
             python_tput_ratio=na python_echo_ratio=na serial_small_msgs_per_s=na \
             serial_goodput_ratio=na serial_small_latency_p99_ms=na async_echo_p50_ratio=na"
        );
    }

    #[test]
    fn numbers() {
        assert_eq!(num(1_234_567.8), "1,234,568");
        assert_eq!(num(-1234.0), "-1,234");
        assert_eq!(num(999.94), "999.9");
        assert_eq!(num(12.345), "12.35");
        assert_eq!(num(0.5), "0.500");
        assert_eq!(num(0.0), "0");
        assert_eq!(num(f64::NAN), "na");
    }

    #[test]
    fn table_aligns() {
        let mut report = Report::default();
        report.value("codec", "x", "1", "ns", "");
        report.spread(
            "pubsub",
            "longer metric",
            Spread::of(&[1.0, 2.0, 3.0]).unwrap(),
            "msg/s",
            "ratio 1",
        );
        let table = report.table();
        let lines: Vec<&str> = table.lines().collect();
        assert_eq!(lines.len(), 4);
        assert!(lines[3].contains("| 1.000–3.000 (n=3) |"));
        assert_eq!(
            lines[0].find("| median").unwrap(),
            lines[2].find("|      1 |").unwrap()
        );
    }
}
