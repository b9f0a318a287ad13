//! The scenario language's faults against real processes: which have a
//! meaning there (partitions, one-way cuts, lag, lossy or slow links,
//! pauses by SIGSTOP, crashes by `kill -9` and restarts, wipes of a data
//! directory), which do not (a simulated disk's faults, clock faults,
//! faults triggered by what happens inside a node) and are refused before
//! the run with a message that names the field, and what a fault does to
//! the processes and the network when it starts and when it heals.

use sim_engine::disk::Unsynced;
use sim_engine::faults::{self, parse_target, Applied, DiskLoss, FaultKind, Target};

use super::runner::Runner;
use crate::scenario::Scenario;

/// Why `scenario` cannot run against real processes, naming the field;
/// `has_data_dir`: whether nodes have data directories to wipe.
pub fn refusal(scenario: &Scenario, has_data_dir: bool) -> Option<String> {
    if let Some(node) = scenario.node.clocks.keys().next() {
        return Some(format!(
            "field 'node.clocks.{node}': a clock fault needs a simulated clock; a real process reads the machine's"
        ));
    }
    for (i, fault) in scenario.faults.iter().enumerate() {
        let here = format!("field 'faults[{i}]'");
        if let Some(trigger) = fault.when {
            return Some(format!(
                "{here}: 'when' ({}) needs to see inside the nodes; against real processes faults start at fixed times ('at_ms')",
                trigger.describe()
            ));
        }
        let disk = match &fault.kind {
            FaultKind::Corrupt { .. } => Some("corrupt"),
            FaultKind::FullDisk { .. } => Some("full_disk"),
            FaultKind::LoseSyncedTail { .. } => Some("lose_synced_tail"),
            FaultKind::CrashAtRename { .. } => Some("crash_at_rename"),
            FaultKind::FsyncError { .. } => Some("fsync_error"),
            FaultKind::SlowFsync { .. } => Some("slow_fsync"),
            FaultKind::Crash { unsynced, .. } if *unsynced != Unsynced::Prefix => {
                return Some(format!(
                    "{here}: 'unsynced' needs a simulated disk; `kill -9` keeps whatever the process handed the kernel"
                ))
            }
            FaultKind::Wipe { .. } if !has_data_dir => {
                return Some(format!(
                    "{here}: kind 'wipe' deletes a node's data directory: give --data-dir"
                ))
            }
            _ => None,
        };
        if let Some(kind) = disk {
            return Some(format!(
                "{here}: kind '{kind}' is a simulated disk's fault; a real process's disk cannot be made to do it"
            ));
        }
        for name in fault.kind.node_names() {
            if matches!(parse_target(name, scenario.nodes), Ok(Target::LongestLog)) {
                return Some(format!(
                    "{here}: 'longest_log' needs to see the nodes' logs; name a node, or a role the clients can see (leader, follower)"
                ));
            }
        }
    }
    None
}

/// Faults as they start and heal: the network's part through the
/// simulator's own model, pauses and crashes on the processes.
impl Runner {
    pub(super) fn up(&self) -> Vec<usize> {
        (0..self.nodes.len())
            .filter(|&n| self.nodes[n].process.is_some())
            .collect()
    }

    pub(super) fn fault_start(&mut self, fault: usize) {
        let (label, kind) = (
            self.faults[fault].0.clone(),
            self.faults[fault].1.kind.clone(),
        );
        let (nodes, up) = (self.nodes.len(), self.up());
        let mut notes = Vec::new();
        let (leader, rng) = (&self.leader, &mut self.fault_rng);
        let applied = faults::plan(&kind, nodes, |name| {
            let (resolved, note) = leader.resolve(name, nodes, &up, rng);
            notes.extend(note);
            resolved
        });
        faults::switch_network(&applied, &mut self.network, true);
        match &applied {
            Applied::Pause(paused) => {
                for &node in paused {
                    self.nodes[node].pauses += 1;
                    if let Some(process) = &self.nodes[node].process {
                        if let Err(why) = process.pause() {
                            notes.push(format!("n{}: {why}", node + 1));
                        }
                    }
                }
            }
            Applied::Crash(crashed, _, loss) => {
                for &node in crashed {
                    if let Some(process) = self.nodes[node].process.take() {
                        process.kill();
                    }
                    if *loss == DiskLoss::Wipe {
                        if let Some(dir) = self.node_dir(node) {
                            let _ = std::fs::remove_dir_all(dir);
                        }
                    }
                }
            }
            _ => {}
        }
        let what = faults::describe(&kind, &applied);
        let mut line = format!("{} ms: {label} starts: {what}", self.now_ms());
        if !notes.is_empty() {
            line.push_str(&format!(" ({})", notes.join("; ")));
        }
        self.report.faults.push(line);
        self.applied[fault] = Some(applied);
    }

    pub(super) fn fault_heal(&mut self, fault: usize) {
        let Some(applied) = self.applied[fault].take() else {
            return;
        };
        faults::switch_network(&applied, &mut self.network, false);
        let mut notes = Vec::new();
        match &applied {
            Applied::Pause(paused) => {
                for &node in paused {
                    let slot = &mut self.nodes[node];
                    slot.pauses = slot.pauses.saturating_sub(1);
                    if let (0, Some(process)) = (slot.pauses, &slot.process) {
                        if let Err(why) = process.resume() {
                            notes.push(format!("n{}: {why}", node + 1));
                        }
                    }
                }
            }
            Applied::Crash(crashed, _, _) => {
                for &node in crashed {
                    if self.nodes[node].process.is_none() && !self.nodes[node].died {
                        if let Err(why) = self.start(node) {
                            notes.push(format!("n{} did not restart: {why}", node + 1));
                        }
                    }
                }
            }
            _ => {}
        }
        let mut line = format!("{} ms: {} heals", self.now_ms(), self.faults[fault].0);
        if !notes.is_empty() {
            line.push_str(&format!(" ({})", notes.join("; ")));
        }
        self.report.faults.push(line);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scenario(faults: &str) -> Scenario {
        Scenario::parse(&format!(
            r#"{{"name": "t", "nodes": 3, "duration_ms": 5000, "faults": [{faults}]}}"#
        ))
        .expect("valid")
    }

    #[test]
    fn faults_without_a_meaning_for_real_processes_are_refused_naming_the_field() {
        for (fault, says) in [
            (
                r#"{"at_ms": 1, "until_ms": 2, "kind": "corrupt", "node": "n1"}"#,
                "'corrupt' is a simulated disk's",
            ),
            (
                r#"{"at_ms": 1, "until_ms": 2, "kind": "slow_fsync", "node": "n1", "extra_ms": 5}"#,
                "'slow_fsync'",
            ),
            (
                r#"{"at_ms": 1, "until_ms": 2, "kind": "crash", "node": "n1", "unsynced": "torn"}"#,
                "'unsynced'",
            ),
            (
                r#"{"at_ms": 1, "until_ms": 2, "kind": "wipe", "node": "n1"}"#,
                "--data-dir",
            ),
            (
                r#"{"when": "leader_elected", "at_ms": 0, "until_ms": 2, "kind": "crash", "node": "leader"}"#,
                "'when'",
            ),
            (
                r#"{"at_ms": 1, "until_ms": 2, "kind": "pause", "node": "longest_log"}"#,
                "'longest_log'",
            ),
        ] {
            let why = refusal(&scenario(fault), false).expect(fault);
            assert!(why.starts_with("field 'faults[0]'"), "{why}");
            assert!(why.contains(says), "{why}");
        }
        let fine = r#"{"at_ms": 1, "until_ms": 2, "kind": "isolate", "node": "leader"},
                      {"at_ms": 1, "until_ms": 2, "kind": "pause", "node": "follower"},
                      {"at_ms": 1, "until_ms": 2, "kind": "crash", "node": "n2"}"#;
        assert_eq!(refusal(&scenario(fine), false), None);
        let wipe = r#"{"at_ms": 1, "until_ms": 2, "kind": "wipe", "node": "n1"}"#;
        assert_eq!(refusal(&scenario(wipe), true), None);
    }
}
