//! What a run against real processes reports: the seed and what it
//! decided, the operations and where reads were served, the faults as they
//! happened, every violation with its session and time, and where the
//! nodes' logs are.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::path::PathBuf;

use crate::checkers::{Property, Violation};
use crate::clients::ReadsServed;
use crate::history::History;
use crate::scenario::Scenario;

/// Reads that asked for a follower (`prefer_follower`: true), and where
/// they were served.
#[derive(Clone, Debug, Default)]
pub struct FollowerReadStats {
    pub asked: u64,
    /// Served by the node the client sent them to.
    pub served_where_asked: u64,
    /// The nodes that served at least one where asked.
    pub served_by: BTreeSet<usize>,
}

/// Violations of one property the report prints; it counts the rest.
const SHOWN_PER_PROPERTY_MAX: usize = 3;

/// Fewer reads than this, and the share is not judged.
const FOLLOWER_READS_JUDGED_MIN: u64 = 20;

impl FollowerReadStats {
    /// The share served where asked.
    pub fn share(&self) -> f64 {
        self.served_where_asked as f64 / self.asked.max(1) as f64
    }

    /// A node that sends every read to the leader serves where asked only
    /// the reads that happened to ask the leader: about one in `nodes`.
    /// Serving no more than that (plus a tenth) is not serving follower
    /// reads at all, and fails the task.
    pub fn verdict(&self, nodes: usize, at_ms: u64) -> Option<Violation> {
        let leader_only = 1.0 / nodes.max(1) as f64;
        if self.asked < FOLLOWER_READS_JUDGED_MIN || self.share() > leader_only + 0.1 {
            return None;
        }
        Some(Violation::new(
            Property::FollowerReads,
            at_ms,
            None,
            format!(
                "only {} of {} ryw_reads that asked for a follower were served where they were sent ({:.0}%), no more than a node that sends every read to the leader would ({:.0}% of {nodes} nodes): followers do not serve reads",
                self.served_where_asked,
                self.asked,
                100.0 * self.share(),
                100.0 * leader_only
            ),
        ))
    }
}

#[derive(Default)]
pub struct Report {
    pub scenario: String,
    pub seed: u64,
    pub nodes: usize,
    pub bin: String,
    /// Milliseconds of workload, from the moment every node answered `init`.
    pub run_ms: u64,
    pub wall_ms: u64,
    pub initialised: Vec<bool>,
    pub ops: BTreeMap<String, u64>,
    pub reads_served: ReadsServed,
    pub follower_reads: FollowerReadStats,
    /// Messages between nodes, and what the network did with them.
    pub peer_msgs: u64,
    pub delivered: u64,
    pub dropped: u64,
    pub duplicated: u64,
    /// Each fault's start and heal, as it happened.
    pub faults: Vec<String>,
    pub violations: Vec<Violation>,
    pub undecided_keys: usize,
    /// What of the scenario does not apply to real processes and was left out.
    pub ignored: Vec<String>,
    pub stderr_logs: BTreeMap<usize, PathBuf>,
    pub history: Option<History>,
}

impl Report {
    /// The report of a run of `scenario` against `bin` under `seed`.
    pub fn new(scenario: &Scenario, seed: u64, bin: &str) -> Report {
        Report {
            scenario: scenario.name.clone(),
            seed,
            nodes: scenario.nodes,
            bin: bin.to_owned(),
            initialised: vec![false; scenario.nodes],
            ..Report::default()
        }
    }

    pub fn passed(&self, allow_undecided: bool) -> bool {
        self.violations.is_empty() && (allow_undecided || self.undecided_keys == 0)
    }

    /// The report a person reads.
    pub fn text(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "maelstrom: {} node(s) of `{}`, scenario {}, seed {}",
            self.nodes, self.bin, self.scenario, self.seed
        );
        for note in &self.ignored {
            let _ = writeln!(out, "note: {note}");
        }
        for line in &self.faults {
            let _ = writeln!(out, "fault {line}");
        }
        let ops: Vec<String> = self.ops.iter().map(|(k, n)| format!("{k} {n}")).collect();
        let _ = writeln!(out, "ops: {}", ops.join(", "));
        let f = &self.follower_reads;
        let served_by: Vec<String> = f.served_by.iter().map(|n| format!("n{}", n + 1)).collect();
        let _ = writeln!(
            out,
            "follower reads: {} of {} ryw_reads that asked for a follower were served where sent ({:.0}%, by {}); by how: {} at once, {} after a wait, {} redirected to the leader",
            f.served_where_asked,
            f.asked,
            100.0 * f.share(),
            if served_by.is_empty() { "nobody".to_owned() } else { served_by.join(" ") },
            self.reads_served.local,
            self.reads_served.after_wait,
            self.reads_served.redirected
        );
        let _ = writeln!(
            out,
            "network: {} messages between nodes, {} delivered (clients' included), {} dropped, {} duplicated",
            self.peer_msgs, self.delivered, self.dropped, self.duplicated
        );
        if self.undecided_keys > 0 {
            let _ = writeln!(
                out,
                "linearizability: {} key(s) undecided within the search budget",
                self.undecided_keys
            );
        }
        // The first few of each property, in time order; a broken node
        // breaks the same rule hundreds of times.
        let mut shown: BTreeMap<Property, usize> = BTreeMap::new();
        for violation in &self.violations {
            let count = shown.entry(violation.checker).or_insert(0);
            *count += 1;
            if *count <= SHOWN_PER_PROPERTY_MAX {
                let _ = writeln!(out, "VIOLATION {violation}");
            }
        }
        for (property, &count) in &shown {
            if count > SHOWN_PER_PROPERTY_MAX {
                let _ = writeln!(
                    out,
                    "… and {} more [{property}] violations (--history keeps every operation)",
                    count - SHOWN_PER_PROPERTY_MAX
                );
            }
        }
        let logs: Vec<String> = self
            .stderr_logs
            .iter()
            .map(|(n, path)| format!("n{}: {}", n + 1, path.display()))
            .collect();
        let _ = writeln!(out, "stderr logs: {}", logs.join(", "));
        let verdict = if self.violations.is_empty() {
            "PASS"
        } else {
            "FAIL"
        };
        let _ = writeln!(
            out,
            "{verdict}: {} violation(s) in {} ms of workload (wall clock: {} ms in all)",
            self.violations.len(),
            self.run_ms,
            self.wall_ms
        );
        out
    }
}
