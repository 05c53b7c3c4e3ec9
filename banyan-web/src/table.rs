//! A [`Snapshot`] as a plain-text table, for `monitor --stats` (the same numbers as the web
//! monitor's table).

use std::fmt::Write as _;

use crate::stats::Snapshot;

/// Messages per second for people: `0`, `3.5`, `120`, `12.3k`, `1.25M`.
pub fn rate(value: f64) -> String {
    if value <= 0.0 {
        "0".into()
    } else if value < 10.0 {
        format!("{value:.1}")
    } else if value < 10_000.0 {
        format!("{value:.0}")
    } else if value < 1e6 {
        format!("{:.1}k", value / 1e3)
    } else {
        format!("{:.2}M", value / 1e6)
    }
}

/// Bytes for people: `512 B`, `1.5 KiB`, `3.2 MiB`, `1.10 GiB`.
pub fn bytes(value: f64) -> String {
    const KIB: f64 = 1024.0;
    if value < KIB {
        format!("{value:.0} B")
    } else if value < KIB * KIB {
        format!("{:.1} KiB", value / KIB)
    } else if value < KIB * KIB * KIB {
        format!("{:.1} MiB", value / KIB / KIB)
    } else {
        format!("{:.2} GiB", value / KIB / KIB / KIB)
    }
}

/// How long ago, for people: `now`, `4.2s`, `35s`, `12m`, `3h`.
pub fn age(ms: u64) -> String {
    match ms {
        0..1000 => "now".into(),
        1000..10_000 => format!("{:.1}s", ms as f64 / 1000.0),
        10_000..60_000 => format!("{}s", ms / 1000),
        60_000..3_600_000 => format!("{}m", ms / 60_000),
        _ => format!("{}h", ms / 3_600_000),
    }
}

/// The first `width` characters of `text` (by `char`), with `…` when cut.
fn fit(text: &str, width: usize) -> String {
    if text.chars().count() <= width {
        return text.to_owned();
    }
    let mut out: String = text.chars().take(width.saturating_sub(1)).collect();
    out.push('…');
    out
}

/// Renders `snapshot` as lines at most `width` characters wide, showing at most `max_rows`
/// topics (the busiest first when cut; otherwise sorted by name). Every line ends in `\n`.
pub fn render(snapshot: &Snapshot, width: usize, max_rows: Option<usize>) -> String {
    let width = width.max(60);
    let mut topics: Vec<_> = snapshot.topics.iter().collect();
    let hidden = match max_rows {
        Some(rows) if topics.len() > rows => {
            topics.sort_by(|a, b| b.rate.total_cmp(&a.rate).then(a.topic.cmp(&b.topic)));
            let hidden = topics.len() - rows;
            topics.truncate(rows);
            topics.sort_by(|a, b| a.topic.cmp(&b.topic));
            hidden
        }
        _ => 0,
    };
    let topic_width = topics
        .iter()
        .map(|t| t.topic.chars().count())
        .max()
        .unwrap_or(5)
        .clamp(5, 40);
    let mut out = String::new();
    let total = &snapshot.total;
    let header = format!(
        "Banyan bus: {} topics, {} msg/s, {}/s, {} messages",
        snapshot.topics.len(),
        rate(total.rate),
        bytes(total.byte_rate),
        total.count
    );
    let _ = writeln!(out, "{}", fit(&header, width));
    let fixed = format!(
        "{:<topic_width$}  {:>8}  {:>11}  {:>10}  {:>5}  ",
        "TOPIC", "MSG/S", "BYTES/S", "COUNT", "SEEN"
    );
    let payload_width = width.saturating_sub(fixed.chars().count());
    let _ = writeln!(out, "{}", fit(&format!("{fixed}LAST PAYLOAD"), width));
    for t in &topics {
        let line = format!(
            "{:<topic_width$}  {:>8}  {:>11}  {:>10}  {:>5}  {}",
            fit(&t.topic, topic_width),
            rate(t.rate),
            format!("{}/s", bytes(t.byte_rate)),
            t.count,
            age(t.age_ms),
            fit(&t.last, payload_width)
        );
        let _ = writeln!(out, "{}", fit(&line, width));
    }
    if hidden > 0 {
        let _ = writeln!(
            out,
            "… {hidden} quieter topics not shown (use --topic to filter)"
        );
    }
    if snapshot.others.count > 0 {
        let _ = writeln!(
            out,
            "{}",
            fit(
                &format!(
                    "others (topics beyond the {} tracked): {} messages, {} msg/s",
                    snapshot.max_topics,
                    snapshot.others.count,
                    rate(snapshot.others.rate)
                ),
                width
            )
        );
    }
    if snapshot.topics.is_empty() {
        let _ = writeln!(out, "(no messages yet)");
    }
    out
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, SystemTime};

    use super::*;
    use crate::stats::{Stats, StatsConfig};

    #[test]
    fn units() {
        assert_eq!(rate(0.0), "0");
        assert_eq!(rate(3.25), "3.2");
        assert_eq!(rate(120.4), "120");
        assert_eq!(rate(12_345.0), "12.3k");
        assert_eq!(rate(2_500_000.0), "2.50M");
        assert_eq!(bytes(512.0), "512 B");
        assert_eq!(bytes(1536.0), "1.5 KiB");
        assert_eq!(bytes(3.0 * 1024.0 * 1024.0), "3.0 MiB");
        assert_eq!(age(10), "now");
        assert_eq!(age(4200), "4.2s");
        assert_eq!(age(35_000), "35s");
        assert_eq!(age(120_000), "2m");
    }

    #[test]
    fn table_rows_fit_the_width_and_show_the_busiest_when_cut() {
        let mut stats = Stats::new(StatsConfig::default());
        let payload = banyan_proto::payload::to_vec(&serde_json::json!({"v": "x".repeat(300)}))
            .expect("encodes");
        for i in 0..30u64 {
            stats.record(
                "busy",
                payload.clone(),
                Duration::from_millis(1000 + i * 10),
            );
        }
        stats.record("quiet/a", vec![0x80], Duration::from_millis(1000));
        stats.record("quiet/b", vec![0x80], Duration::from_millis(1000));
        let snapshot = stats.snapshot(Duration::from_millis(1500), SystemTime::now());
        let text = render(&snapshot, 80, None);
        let lines: Vec<&str> = text.lines().collect();
        assert!(lines[0].starts_with("Banyan bus: 3 topics"), "{text}");
        assert!(lines[1].starts_with("TOPIC"));
        assert!(lines[2].starts_with("busy "), "{text}");
        assert!(lines[2].contains(" 30 "), "{text}");
        assert!(lines[2].contains("{\"v\":\"xxx"), "{text}");
        assert!(lines.iter().all(|l| l.chars().count() <= 80), "{text}");
        let cut = render(&snapshot, 80, Some(1));
        assert!(cut.contains("busy"));
        assert!(!cut.contains("quiet/a"));
        assert!(cut.contains("2 quieter topics not shown"));
        let empty = render(
            &Stats::new(StatsConfig::default()).snapshot(Duration::ZERO, SystemTime::now()),
            80,
            None,
        );
        assert!(empty.contains("(no messages yet)"));
    }
}
