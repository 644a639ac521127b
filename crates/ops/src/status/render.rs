//! How `status` prints the [`Status`] model for a person: aligned tables with units, durations at a glance.

use std::fmt::Write as _;

use super::Status;

/// A duration for a person: `850 ms`, `12.3 s`, `4 min 05 s`, `3 h 07 min`, `2 d 04 h`.
pub fn human_duration(ms: i64) -> String {
    let ms = ms.max(0);
    let s = ms / 1000;
    if ms < 1000 {
        format!("{ms} ms")
    } else if s < 60 {
        format!("{:.1} s", ms as f64 / 1000.0)
    } else if s < 3600 {
        format!("{} min {:02} s", s / 60, s % 60)
    } else if s < 86_400 {
        format!("{} h {:02} min", s / 3600, (s % 3600) / 60)
    } else {
        format!("{} d {:02} h", s / 86_400, (s % 86_400) / 3600)
    }
}

fn rate(v: Option<f64>, unit: &str) -> String {
    match v {
        None => "?".into(),
        Some(0.0) => format!("0 {unit}"),
        Some(v) if v < 10.0 => format!("{v:.2} {unit}"),
        Some(v) => format!("{v:.0} {unit}"),
    }
}

fn opt<T: ToString>(v: Option<T>) -> String {
    v.map_or_else(|| "?".into(), |v| v.to_string())
}

/// Columns left-aligned, except those listed as numeric (right-aligned); two spaces between columns.
fn table(out: &mut String, header: &[&str], numeric: &[usize], rows: &[Vec<String>]) {
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let line = |cells: Vec<&str>| {
        let mut text = String::new();
        for (i, (cell, w)) in cells.iter().zip(&widths).enumerate() {
            if i > 0 {
                text.push_str("  ");
            }
            let pad = w - cell.chars().count();
            if numeric.contains(&i) {
                text.push_str(&" ".repeat(pad));
                text.push_str(cell);
            } else {
                text.push_str(cell);
                if i + 1 < widths.len() {
                    text.push_str(&" ".repeat(pad));
                }
            }
        }
        text.trim_end().to_owned()
    };
    let _ = writeln!(out, "{}", line(header.to_vec()));
    for row in rows {
        let _ = writeln!(out, "{}", line(row.iter().map(String::as_str).collect()));
    }
}

/// The status as aligned tables with units.
pub fn render(status: &Status, source: &str) -> String {
    let mut out = String::new();
    let when = chrono::DateTime::from_timestamp_millis(status.taken_at_ms)
        .map(|t| t.format("%Y-%m-%d %H:%M:%S UTC").to_string())
        .unwrap_or_default();
    let _ = writeln!(
        out,
        "{} ({}, {source}) at {when}; rates over the last {} s\n",
        status.pipeline, status.target, status.window_s
    );
    let rows: Vec<Vec<String>> = status
        .streams
        .iter()
        .map(|s| {
            vec![
                s.name.clone(),
                opt(s.shards),
                rate(s.incoming_records_per_s, "records/s"),
            ]
        })
        .collect();
    table(&mut out, &["STREAM", "SHARDS", "INCOMING"], &[1, 2], &rows);
    out.push('\n');
    let rows: Vec<Vec<String>> = status
        .consumers
        .iter()
        .map(|c| {
            vec![
                c.name.clone(),
                c.stream.clone(),
                c.records_behind
                    .map_or_else(|| "-".into(), |n| format!("{n} records")),
                c.iterator_age_ms.map_or_else(|| "?".into(), human_duration),
            ]
        })
        .collect();
    table(
        &mut out,
        &["CONSUMER", "STREAM", "BEHIND", "ITERATOR AGE"],
        &[2, 3],
        &rows,
    );
    out.push('\n');
    let rows: Vec<Vec<String>> = status
        .dead_letter_queues
        .iter()
        .map(|q| {
            vec![
                q.name.clone(),
                opt(q.messages),
                opt(q.messages_in_flight),
                match (q.oldest_age_ms, q.messages) {
                    (Some(ms), _) => human_duration(ms),
                    (None, Some(0)) => "-".into(),
                    (None, _) => "?".into(),
                },
            ]
        })
        .collect();
    table(
        &mut out,
        &["DEAD-LETTER QUEUE", "MESSAGES", "IN FLIGHT", "OLDEST"],
        &[1, 2, 3],
        &rows,
    );
    out.push('\n');
    let rows: Vec<Vec<String>> = status
        .tables
        .iter()
        .map(|t| {
            vec![
                t.name.clone(),
                opt(t.items),
                rate(
                    t.writes_per_s,
                    if status.target == "local" {
                        "items/s"
                    } else {
                        "WCU/s"
                    },
                ),
                t.newest_received_at_ms.map_or_else(
                    || "-".into(),
                    |at| format!("{} ago", human_duration(status.taken_at_ms - at)),
                ),
            ]
        })
        .collect();
    table(
        &mut out,
        &["TABLE", "ITEMS", "WRITES", "NEWEST ITEM"],
        &[1, 2, 3],
        &rows,
    );
    out.push('\n');
    if status.alarms.is_empty() {
        out.push_str("alarms in ALARM: none\n");
    } else {
        let rows: Vec<Vec<String>> = status
            .alarms
            .iter()
            .map(|a| {
                vec![
                    a.name.clone(),
                    a.since_ms.map_or_else(
                        || "?".into(),
                        |t| format!("{} ago", human_duration(status.taken_at_ms - t)),
                    ),
                    a.reason.clone(),
                ]
            })
            .collect();
        table(&mut out, &["ALARM", "SINCE", "REASON"], &[], &rows);
    }
    for e in &status.errors {
        let _ = writeln!(out, "could not read: {e}");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_at_a_glance() {
        assert_eq!(human_duration(850), "850 ms");
        assert_eq!(human_duration(12_345), "12.3 s");
        assert_eq!(human_duration(245_000), "4 min 05 s");
        assert_eq!(human_duration(3 * 3_600_000 + 7 * 60_000), "3 h 07 min");
        assert_eq!(human_duration(-5), "0 ms");
    }

    #[test]
    fn columns_align_and_numbers_go_right() {
        let mut out = String::new();
        table(
            &mut out,
            &["NAME", "N"],
            &[1],
            &[
                vec!["a".into(), "10".into()],
                vec!["long-name".into(), "7".into()],
            ],
        );
        assert_eq!(out, "NAME        N\na          10\nlong-name   7\n");
    }
}
