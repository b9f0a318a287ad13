//! The scenario language's faults against real processes: which have a
//! meaning there (partitions, one-way cuts, lag, lossy or slow links,
//! pauses by SIGSTOP, crashes by `kill -9` and restarts, wipes of a data
//! directory), which do not (a simulated disk's faults, clock faults,
//! faults triggered by what happens inside a node) and are refused before
//! the run with a message that names the field, and how a fault's roles
//! (`leader`, `follower`, ...) are resolved when nobody can see inside
//! the nodes.

use rand::Rng;
use rand_chacha::ChaCha8Rng;
use sim_engine::disk::Unsynced;
use sim_engine::faults::{parse_target, FaultKind, Target};

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

/// Who leads, as far as clients can tell: the node that `served_by` names
/// in replies to reads that went to the leader. A guess, and said to be one.
#[derive(Default)]
pub struct LeaderGuess {
    /// Every distinct leader seen, oldest first.
    seen: Vec<usize>,
}

impl LeaderGuess {
    /// A redirected read was served by `node`.
    pub fn served_by_leader(&mut self, node: usize) {
        if self.seen.last() != Some(&node) {
            self.seen.retain(|&n| n != node);
            self.seen.push(node);
        }
    }

    pub fn leader(&self) -> Option<usize> {
        self.seen.last().copied()
    }

    fn old_leader(&self) -> Option<usize> {
        self.seen.iter().rev().nth(1).copied()
    }

    /// The nodes `name` points at now among `up` (live nodes), drawing
    /// from `rng` where a role names several; with how it was resolved
    /// when that was a guess.
    pub fn resolve(
        &self,
        name: &str,
        nodes: usize,
        up: &[usize],
        rng: &mut ChaCha8Rng,
    ) -> (Vec<usize>, Option<String>) {
        let Ok(target) = parse_target(name, nodes) else {
            return (Vec::new(), None);
        };
        let guess = |who: Option<usize>, role: &str| match who {
            Some(node) => (
                vec![node],
                Some(format!("{role} taken to be n{}, from served_by", node + 1)),
            ),
            None => (
                Vec::new(),
                Some(format!("no {role} known yet from served_by: nobody")),
            ),
        };
        let followers = || -> Vec<usize> {
            let leader = self.leader();
            up.iter().copied().filter(|&n| Some(n) != leader).collect()
        };
        match target {
            Target::Node(node) => (vec![node], None),
            Target::All => ((0..nodes).collect(), None),
            Target::Leader => guess(self.leader(), "leader"),
            Target::OldLeader => guess(self.old_leader(), "old leader"),
            Target::Follower => (draw(followers(), 1, rng), None),
            Target::FollowersButOne => {
                let candidates = followers();
                let keep = candidates.len().saturating_sub(1);
                (draw(candidates, keep, rng), None)
            }
            Target::Majority => (draw(up.to_vec(), nodes / 2 + 1, rng), None),
            Target::LongestLog => (Vec::new(), None), // refused before the run
        }
    }
}

/// `count` of `from`, drawn by `rng`, in index order.
fn draw(mut from: Vec<usize>, count: usize, rng: &mut ChaCha8Rng) -> Vec<usize> {
    let count = count.min(from.len());
    for k in 0..count {
        let pick = rng.random_range(k..from.len());
        from.swap(k, pick);
    }
    from.truncate(count);
    from.sort_unstable();
    from
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

    #[test]
    fn the_leader_is_whoever_served_the_latest_redirected_read() {
        let mut guess = LeaderGuess::default();
        let mut rng = <ChaCha8Rng as rand::SeedableRng>::seed_from_u64(1);
        let (nodes, why) = guess.resolve("leader", 3, &[0, 1, 2], &mut rng);
        assert!(nodes.is_empty() && why.is_some_and(|w| w.contains("no leader")));
        guess.served_by_leader(1);
        guess.served_by_leader(2);
        let (nodes, _) = guess.resolve("leader", 3, &[0, 1, 2], &mut rng);
        assert_eq!(nodes, [2]);
        let (nodes, _) = guess.resolve("old_leader", 3, &[0, 1, 2], &mut rng);
        assert_eq!(nodes, [1]);
        let (nodes, _) = guess.resolve("followers_but_one", 3, &[0, 1, 2], &mut rng);
        assert_eq!(nodes.len(), 1);
        assert_ne!(nodes, [2]);
    }
}
