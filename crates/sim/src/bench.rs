//! The follower-read report: what serving `ryw_read` from followers saves,
//! measured in simulated time (so every figure is exact and replayable).
//! Each configuration runs twice: reads preferring followers, with clients
//! spread over all nodes, and every read served by the leader.

use std::fmt::Write as _;

use crate::node::real_node;
use crate::report::Summary;
use crate::run::{run, RunOptions};
use crate::scenario::{Expect, Fault, FaultKind, Mix, Network, NodeSettings, Scenario, Workload};

#[derive(Clone, Debug)]
pub struct Row {
    pub nodes: usize,
    pub mode: &'static str,
    pub network: &'static str,
    pub reads: usize,
    pub served_locally_share: f64,
    pub waited_share: f64,
    pub redirected_share: f64,
    pub read_p50_ms: u64,
    pub read_p99_ms: u64,
    pub write_p50_ms: u64,
    pub leader_msgs_per_op: f64,
    pub violations: usize,
    /// Seeds the row averages over; the figures above are their means.
    pub seeds: u64,
    /// The lowest and highest read p99 of one seed.
    pub read_p99_ms_range: (u64, u64),
    /// The lowest and highest leader messages per operation of one seed.
    pub leader_msgs_per_op_range: (f64, f64),
    /// Leader messages per operation by kind, most first (the mean over
    /// seeds): what the leader's load is made of.
    pub leader_msgs_per_op_by_kind: Vec<(String, f64)>,
}

pub const CSV_HEADER: &str = "nodes,mode,network,reads,served_locally_share,waited_share,redirected_share,read_p50_ms,read_p99_ms,write_p50_ms,leader_msgs_per_op,seeds,read_p99_ms_min,read_p99_ms_max,leader_msgs_per_op_min,leader_msgs_per_op_max";

/// Simulated length of each configuration's run.
pub const DURATION_MS: u64 = 20_000;
/// Extra delay on every link of the lagging follower.
pub const LAG_MS: u64 = 200;

/// The workload: 90% `ryw_read`, 10% `write`, clients spread over all nodes.
pub fn scenario(
    nodes: usize,
    follower_reads: bool,
    lagging: bool,
    node: &NodeSettings,
) -> Scenario {
    let mix = Mix {
        write: 10,
        ryw_read: if follower_reads { 90 } else { 0 },
        ryw_read_leader: if follower_reads { 0 } else { 90 },
        read: 0,
        cas: 0,
    };
    let faults = if lagging {
        vec![Fault::timed(
            0,
            DURATION_MS,
            FaultKind::Lag {
                node: format!("n{nodes}"),
                extra_ms: LAG_MS,
                spare_clients: false,
            },
        )]
    } else {
        Vec::new()
    };
    Scenario {
        name: format!(
            "bench-{nodes}-{}-{}",
            if follower_reads { "follower" } else { "leader" },
            if lagging { "lagging" } else { "healthy" }
        ),
        description: "follower-read report".into(),
        nodes,
        duration_ms: DURATION_MS,
        network: Network::default(),
        node: node.clone(),
        disk: Default::default(),
        faults,
        workload: Workload {
            sessions: 16,
            keys: 8,
            think_ms_max: 10,
            mix,
            ..Workload::default()
        },
        expect: Expect {
            liveness_ms: 5_000,
            ..Expect::default()
        },
        swarm: false,
        swarm_ranges: Default::default(),
    }
}

fn percentile(sorted: &[u64], p: f64) -> u64 {
    if sorted.is_empty() {
        return 0;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

fn row(nodes: usize, follower_reads: bool, lagging: bool, summary: &Summary) -> Row {
    let mut reads: Vec<u64> = summary
        .latencies_ms
        .iter()
        .filter(|(k, _)| k.starts_with("ryw_read"))
        .flat_map(|(_, v)| v.iter().copied())
        .collect();
    reads.sort_unstable();
    let mut writes = summary
        .latencies_ms
        .get("write")
        .cloned()
        .unwrap_or_default();
    writes.sort_unstable();
    let served =
        (summary.reads_local + summary.reads_after_wait + summary.reads_redirected).max(1) as f64;
    let ops = (reads.len() + writes.len()).max(1) as f64;
    Row {
        nodes,
        mode: if follower_reads { "follower" } else { "leader" },
        network: if lagging { "lagging" } else { "healthy" },
        reads: reads.len(),
        served_locally_share: summary.reads_local as f64 / served,
        waited_share: summary.reads_after_wait as f64 / served,
        redirected_share: summary.reads_redirected as f64 / served,
        read_p50_ms: percentile(&reads, 50.0),
        read_p99_ms: percentile(&reads, 99.0),
        write_p50_ms: percentile(&writes, 50.0),
        leader_msgs_per_op: summary.leader_msgs as f64 / ops,
        violations: summary.violations.len(),
        seeds: 1,
        read_p99_ms_range: (percentile(&reads, 99.0), percentile(&reads, 99.0)),
        leader_msgs_per_op_range: (
            summary.leader_msgs as f64 / ops,
            summary.leader_msgs as f64 / ops,
        ),
        leader_msgs_per_op_by_kind: by_kind_most_first(
            summary
                .leader_msgs_by_kind
                .iter()
                .map(|(kind, &n)| (kind.clone(), n as f64 / ops)),
        ),
    }
}

fn by_kind_most_first(kinds: impl Iterator<Item = (String, f64)>) -> Vec<(String, f64)> {
    let mut kinds: Vec<(String, f64)> = kinds.collect();
    kinds.sort_by(|a, b| b.1.total_cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    kinds
}

/// One row from the rows of several seeds: means, and the range of the
/// figures that vary most.
fn combine(rows: &[Row]) -> Row {
    let n = rows.len().max(1) as f64;
    let mean = |f: fn(&Row) -> f64| rows.iter().map(f).sum::<f64>() / n;
    let mean_ms =
        |f: fn(&Row) -> u64| (rows.iter().map(|r| f(r) as f64).sum::<f64>() / n).round() as u64;
    let p99 = rows.iter().map(|r| r.read_p99_ms);
    let leader = rows.iter().map(|r| r.leader_msgs_per_op);
    Row {
        reads: rows.iter().map(|r| r.reads).sum(),
        served_locally_share: mean(|r| r.served_locally_share),
        waited_share: mean(|r| r.waited_share),
        redirected_share: mean(|r| r.redirected_share),
        read_p50_ms: mean_ms(|r| r.read_p50_ms),
        read_p99_ms: mean_ms(|r| r.read_p99_ms),
        write_p50_ms: mean_ms(|r| r.write_p50_ms),
        leader_msgs_per_op: mean(|r| r.leader_msgs_per_op),
        violations: rows.iter().map(|r| r.violations).sum(),
        seeds: rows.len() as u64,
        read_p99_ms_range: (p99.clone().min().unwrap_or(0), p99.max().unwrap_or(0)),
        leader_msgs_per_op_range: (
            leader.clone().fold(f64::INFINITY, f64::min),
            leader.fold(0.0, f64::max),
        ),
        leader_msgs_per_op_by_kind: by_kind_most_first(mean_by_kind(rows).into_iter()),
        ..rows[0].clone()
    }
}

/// Runs every configuration once: 3, 5 and 7 nodes, healthy and lagging, both modes.
pub fn report(seed: u64) -> Vec<Row> {
    report_seeds(seed, 1, &NodeSettings::default())
}

/// Runs every configuration under `seeds` seeds from `first`; each row
/// holds the means and the spread. Every node runs with `node`'s settings.
pub fn report_seeds(first: u64, seeds: u64, node: &NodeSettings) -> Vec<Row> {
    let mut rows = Vec::new();
    for nodes in [3, 5, 7] {
        for lagging in [false, true] {
            for follower_reads in [true, false] {
                let s = scenario(nodes, follower_reads, lagging, node);
                let per_seed: Vec<Row> = (first..first.saturating_add(seeds))
                    .map(|seed| {
                        let summary = run(&s, RunOptions::new(seed, &real_node));
                        row(nodes, follower_reads, lagging, &summary)
                    })
                    .collect();
                rows.push(combine(&per_seed));
            }
        }
    }
    rows
}

pub fn csv(rows: &[Row]) -> String {
    let mut out = format!("{CSV_HEADER}\n");
    for r in rows {
        let _ = writeln!(
            out,
            "{},{},{},{},{:.4},{:.4},{:.4},{},{},{},{:.3},{},{},{},{:.3},{:.3}",
            r.nodes,
            r.mode,
            r.network,
            r.reads,
            r.served_locally_share,
            r.waited_share,
            r.redirected_share,
            r.read_p50_ms,
            r.read_p99_ms,
            r.write_p50_ms,
            r.leader_msgs_per_op,
            r.seeds,
            r.read_p99_ms_range.0,
            r.read_p99_ms_range.1,
            r.leader_msgs_per_op_range.0,
            r.leader_msgs_per_op_range.1
        );
    }
    out
}

/// Each kind's mean over the rows (a kind missing from a row counts 0).
fn mean_by_kind(rows: &[Row]) -> std::collections::BTreeMap<String, f64> {
    let mut sums = std::collections::BTreeMap::new();
    for r in rows {
        for (kind, per_op) in &r.leader_msgs_per_op_by_kind {
            *sums.entry(kind.clone()).or_insert(0.0) += per_op;
        }
    }
    let n = rows.len().max(1) as f64;
    sums.values_mut().for_each(|sum| *sum /= n);
    sums
}

/// What the leader's messages are, per operation, for every row: the
/// profile behind the "leader msgs/op" column.
pub fn leader_load_table(rows: &[Row]) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "| nodes | mode | network | leader msgs/op by kind |");
    let _ = writeln!(out, "|---|---|---|---|");
    for r in rows {
        let kinds: Vec<String> = r
            .leader_msgs_per_op_by_kind
            .iter()
            .filter(|(_, per_op)| *per_op >= 0.0005)
            .map(|(kind, per_op)| format!("{kind} {per_op:.3}"))
            .collect();
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} |",
            r.nodes,
            r.mode,
            r.network,
            kinds.join(", ")
        );
    }
    out
}

pub fn table(rows: &[Row]) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "| nodes | mode | network | reads | local | waited | redirected | read p50 | read p99 (seed range) | write p50 | leader msgs/op (seed range) |"
    );
    let _ = writeln!(out, "|---|---|---|---|---|---|---|---|---|---|---|");
    for r in rows {
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {:.1}% | {:.1}% | {:.1}% | {} ms | {} ms ({}-{}) | {} ms | {:.2} ({:.2}-{:.2}) |",
            r.nodes,
            r.mode,
            r.network,
            r.reads,
            100.0 * r.served_locally_share,
            100.0 * r.waited_share,
            100.0 * r.redirected_share,
            r.read_p50_ms,
            r.read_p99_ms,
            r.read_p99_ms_range.0,
            r.read_p99_ms_range.1,
            r.write_p50_ms,
            r.leader_msgs_per_op,
            r.leader_msgs_per_op_range.0,
            r.leader_msgs_per_op_range.1
        );
    }
    out
}

/// Two bar charts side by side: read latency (p50 bar, p99 tick, log
/// scale) and leader messages per operation, follower mode against leader mode.
// Longer than 70 lines on purpose: one SVG drawn top to bottom: axes, rows, legend; splitting it would only pass the geometry around.
pub fn plot(rows: &[Row]) -> String {
    let groups: Vec<(usize, &str)> = rows
        .iter()
        .filter(|r| r.mode == "follower")
        .map(|r| (r.nodes, r.network))
        .collect();
    let (chart_w, chart_h, gap, top) = (540.0, 300.0, 70.0, 40.0);
    let mut svg = String::new();
    let _ = writeln!(
        svg,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{}" height="{}" font-family="sans-serif" font-size="12"><rect width="100%" height="100%" fill="white"/>"#,
        2.0 * chart_w + 3.0 * gap,
        chart_h + 130.0
    );
    // Latency on a log scale from 1 ms, so p50s and lagging p99s both show.
    let latency_max = rows.iter().map(|r| r.read_p99_ms.max(1)).max().unwrap_or(1) as f64 * 1.5;
    let latency_y = |ms: f64| chart_h * ms.max(1.0).log10() / latency_max.log10();
    let msgs_max = rows
        .iter()
        .map(|r| r.leader_msgs_per_op)
        .fold(1e-9, f64::max)
        * 1.15;
    let msgs_y = |v: f64| chart_h * v / msgs_max;
    for chart in 0..2 {
        let left = gap + chart as f64 * (chart_w + gap);
        let title = if chart == 0 {
            "ryw_read latency, ms (log scale): bar p50, black tick p99"
        } else {
            "leader messages per operation"
        };
        let _ = writeln!(
            svg,
            r#"<text x="{left}" y="24" font-weight="bold">{title}</text>"#
        );
        let base = top + chart_h;
        let _ = writeln!(
            svg,
            r##"<line x1="{left}" y1="{base}" x2="{}" y2="{base}" stroke="#333"/><line x1="{left}" y1="{top}" x2="{left}" y2="{base}" stroke="#333"/>"##,
            left + chart_w
        );
        let ticks: Vec<f64> = if chart == 0 {
            vec![1.0, 10.0, 100.0, 1000.0]
                .into_iter()
                .filter(|t| *t <= latency_max)
                .collect()
        } else {
            (0..=4).map(|k| msgs_max * f64::from(k) / 4.0).collect()
        };
        for t in ticks {
            let y = base - if chart == 0 { latency_y(t) } else { msgs_y(t) };
            let _ = writeln!(
                svg,
                r##"<text x="{:.1}" y="{:.1}" text-anchor="end" fill="#555">{}</text><line x1="{left}" y1="{y:.1}" x2="{}" y2="{y:.1}" stroke="#eee"/>"##,
                left - 4.0,
                y + 4.0,
                if chart == 0 {
                    format!("{t:.0}")
                } else {
                    format!("{t:.1}")
                },
                left + chart_w
            );
        }
        let slot = chart_w / groups.len().max(1) as f64;
        for (g, &(nodes, network)) in groups.iter().enumerate() {
            for (m, (mode, colour)) in [("follower", "#27ae60"), ("leader", "#2471a3")]
                .iter()
                .enumerate()
            {
                let Some(r) = rows
                    .iter()
                    .find(|r| r.nodes == nodes && r.network == network && r.mode == *mode)
                else {
                    continue;
                };
                let bar_w = slot * 0.35;
                let x = left + g as f64 * slot + slot * 0.12 + m as f64 * bar_w;
                let (h, label) = if chart == 0 {
                    (
                        latency_y(r.read_p50_ms as f64),
                        format!("{}", r.read_p50_ms),
                    )
                } else {
                    (
                        msgs_y(r.leader_msgs_per_op),
                        format!("{:.2}", r.leader_msgs_per_op),
                    )
                };
                let _ = writeln!(
                    svg,
                    r#"<rect x="{x:.1}" y="{:.1}" width="{bar_w:.1}" height="{h:.1}" fill="{colour}"><title>{nodes} nodes, {network}, {mode}: {label}</title></rect><text x="{:.1}" y="{:.1}" text-anchor="middle" font-size="10">{label}</text>"#,
                    base - h,
                    x + bar_w / 2.0,
                    base - h - 3.0
                );
                if chart == 0 {
                    let y = base - latency_y(r.read_p99_ms as f64);
                    let _ = writeln!(
                        svg,
                        r##"<line x1="{x:.1}" y1="{y:.1}" x2="{:.1}" y2="{y:.1}" stroke="#000" stroke-width="2"><title>p99 {} ms</title></line><text x="{:.1}" y="{:.1}" text-anchor="middle" font-size="10">{}</text>"##,
                        x + bar_w,
                        r.read_p99_ms,
                        x + bar_w / 2.0,
                        y - 3.0,
                        r.read_p99_ms
                    );
                }
            }
            let _ = writeln!(
                svg,
                r#"<text x="{:.1}" y="{:.1}" text-anchor="middle">{nodes} {network}</text>"#,
                left + g as f64 * slot + slot / 2.0,
                base + 18.0
            );
        }
    }
    let legend_y = top + chart_h + 50.0;
    let _ = writeln!(
        svg,
        r##"<rect x="{gap}" y="{legend_y}" width="14" height="14" fill="#27ae60"/><text x="{}" y="{}">follower reads (prefer_follower: true)</text><rect x="{}" y="{legend_y}" width="14" height="14" fill="#2471a3"/><text x="{}" y="{}">every read served by the leader (prefer_follower: false)</text>"##,
        gap + 20.0,
        legend_y + 12.0,
        gap + 320.0,
        gap + 340.0,
        legend_y + 12.0
    );
    svg.push_str("</svg>\n");
    svg
}
