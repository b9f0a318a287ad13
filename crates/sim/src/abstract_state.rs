//! Abstract-state coverage: after every step, the whole cluster is mapped
//! to a small abstract state and hashed, and a run counts the distinct
//! hashes it reached. Two runs that pass the same abstract states explored
//! the same ground, however different their numbers; a run that reaches new
//! ones explored something new (what `ryw-sim explore` looks for).
//!
//! The abstraction keeps what decides how the protocol behaves and drops
//! the numbers that only grow. Per node (16 bits):
//!
//! - its condition: up, down, paused, cut off, or slowed (lag or a lossy
//!   or slow link);
//! - its role: follower, pre-candidate, candidate or leader;
//! - its term against the highest term of a running node: the same, one
//!   behind, or further behind;
//! - its log's end against the highest commit index of a running node:
//!   behind it, at it, 1 to 3 entries past it, or further;
//! - whether its commit index is behind that highest commit index;
//! - whether it has applied less than it committed;
//! - which reads wait there: follower reads for their token to apply,
//!   leader reads for a leadership round, leader reads for their index;
//! - whether it lost durable state (a wiped, cut or damaged disk) and is
//!   still recovering, and may not vote;
//! - whether a snapshot is arriving there in chunks.
//!
//! A down node is its condition alone: its volatile state is gone. Nodes
//! are interchangeable, so the cluster's state is the multiset of its
//! nodes' codes (n1 leading and n2 leading are one state), hashed as a sum
//! of each code's 64-bit mix.

use std::collections::HashSet;
use std::hash::{BuildHasherDefault, Hasher};

use ryw_core::{Node, RoleKind};
use sim_engine::Condition;

/// What one node looked like after its last step.
#[derive(Clone, Copy, Debug, Default)]
struct NodeView {
    role: u16,
    term: u64,
    last_index: u64,
    commit: u64,
    applied: u64,
    reads: u16,
    /// Lost durable state and still recovering.
    recovering: bool,
    receiving_snapshot: bool,
}

/// The distinct abstract states a run reached.
#[derive(Clone, Debug, Default)]
pub struct AbstractStates {
    views: Vec<NodeView>,
    /// Each node's code, the conditions and the highest term and commit
    /// they were worked out with, and the cluster's hash: most steps change
    /// one node's code alone, so only that one is worked out again.
    codes: Vec<u16>,
    conditions: Vec<Condition>,
    maxes: Maxes,
    hash: u64,
    /// Counted, and read out only sorted ([`AbstractStates::hashes`]):
    /// its order reaches nothing.
    seen: HashSet<u64, BuildHasherDefault<Identity>>,
    last: Option<u64>,
}

impl AbstractStates {
    pub fn new(nodes: usize) -> AbstractStates {
        AbstractStates {
            views: vec![NodeView::default(); nodes],
            ..AbstractStates::default()
        }
    }

    /// Node `node` has just taken a step; `conditions` is every node's.
    pub fn observe(&mut self, node: usize, core: &Node, conditions: &[Condition]) {
        let reads = core.reads_waiting();
        let view = NodeView {
            role: match core.role() {
                RoleKind::Follower => 0,
                RoleKind::PreCandidate => 1,
                RoleKind::Candidate => 2,
                RoleKind::Leader => 3,
            },
            term: core.term(),
            last_index: core.log().last_index(),
            commit: core.commit_index(),
            applied: core.applied_index(),
            reads: u16::from(reads.for_apply_at_origin)
                | u16::from(reads.for_round_at_leader) << 1
                | u16::from(reads.for_apply_at_leader) << 2,
            recovering: core.is_recovering() && core.durable().lost,
            receiving_snapshot: core.is_receiving_snapshot(),
        };
        self.see(node, view, conditions);
    }

    fn see(&mut self, node: usize, view: NodeView, conditions: &[Condition]) {
        self.views[node] = view;
        let maxes = Maxes::of(&self.views, conditions);
        if maxes == self.maxes && conditions == self.conditions {
            let code = code(&view, conditions[node], maxes);
            let old = std::mem::replace(&mut self.codes[node], code);
            self.hash = self.hash.wrapping_sub(mix(old)).wrapping_add(mix(code));
        } else {
            self.maxes = maxes;
            self.conditions.clear();
            self.conditions.extend_from_slice(conditions);
            self.codes.clear();
            let codes = self.views.iter().zip(conditions);
            self.codes
                .extend(codes.map(|(view, &condition)| code(view, condition, maxes)));
            self.hash = full_hash(&self.codes);
        }
        // Most steps leave the abstract state as it was.
        if self.last != Some(self.hash) {
            self.last = Some(self.hash);
            self.seen.insert(self.hash);
        }
    }

    /// How many distinct abstract states the run reached.
    pub fn count(&self) -> usize {
        self.seen.len()
    }

    /// Their hashes, sorted (to merge runs, or to compare them).
    pub fn hashes(&self) -> Vec<u64> {
        let mut hashes: Vec<u64> = self.seen.iter().copied().collect();
        hashes.sort_unstable();
        hashes
    }
}

/// The highest term and commit index among the running nodes: what each
/// node's code measures it against.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Maxes {
    term: u64,
    commit: u64,
}

impl Maxes {
    fn of(views: &[NodeView], conditions: &[Condition]) -> Maxes {
        let mut maxes = Maxes::default();
        for (view, &condition) in views.iter().zip(conditions) {
            if condition != Condition::Down {
                maxes.term = maxes.term.max(view.term);
                maxes.commit = maxes.commit.max(view.commit);
            }
        }
        maxes
    }
}

/// A sum of mixed codes: the same for every order of the nodes, and
/// deterministic on every machine.
fn full_hash(codes: &[u16]) -> u64 {
    codes
        .iter()
        .fold(0u64, |hash, &code| hash.wrapping_add(mix(code)))
}

/// One node's 16-bit code (the module's doc says what each part is).
fn code(view: &NodeView, condition: Condition, maxes: Maxes) -> u16 {
    let Maxes {
        term: term_max,
        commit: commit_max,
    } = maxes;
    let mut code = condition as u16;
    if condition == Condition::Down {
        return code;
    }
    let term = match term_max - view.term.min(term_max) {
        0 => 0,
        1 => 1,
        _ => 2,
    };
    let log = if view.last_index < commit_max {
        0
    } else {
        match view.last_index - commit_max {
            0 => 1,
            1..=3 => 2,
            _ => 3,
        }
    };
    code |= view.role << 3
        | term << 5
        | log << 7
        | u16::from(view.commit < commit_max) << 9
        | u16::from(view.applied < view.commit) << 10
        | view.reads << 11
        | u16::from(view.recovering) << 14
        | u16::from(view.receiving_snapshot) << 15;
    code
}

/// SplitMix64's finaliser: spreads a code over 64 bits, so that sums of
/// different multisets of codes collide only by chance.
fn mix(code: u16) -> u64 {
    let mut z = u64::from(code).wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// The keys are hashes already: use them as they are.
#[derive(Default)]
struct Identity(u64);

impl Hasher for Identity {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(b);
        }
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Scenario;
    use ryw_core::Millis;
    use Condition::*;

    fn nodes(n: usize) -> Vec<Node> {
        let scenario = Scenario::parse(&format!(
            r#"{{"name": "s", "nodes": {n}, "duration_ms": 100}}"#
        ))
        .expect("valid");
        (0..n)
            .map(|i| Node::new(scenario.node_config(i, 1), Millis(0)))
            .collect()
    }

    #[test]
    fn nodes_are_interchangeable_and_a_down_node_is_its_condition_alone() {
        let nodes = nodes(3);
        let mut states = AbstractStates::new(3);
        states.observe(0, &nodes[0], &[Up, Up, Up]);
        states.observe(1, &nodes[1], &[Up, Up, Up]);
        assert_eq!(states.count(), 1, "nothing changed");
        states.observe(0, &nodes[0], &[Down, Up, Up]);
        assert_eq!(states.count(), 2);
        // Another node down is the same state: nodes are interchangeable.
        states.observe(1, &nodes[1], &[Up, Down, Up]);
        assert_eq!(states.count(), 2);
        states.observe(1, &nodes[1], &[Up, Paused, CutOff]);
        states.observe(1, &nodes[1], &[Slowed, Paused, CutOff]);
        assert_eq!(states.count(), 4);
        assert_eq!(states.hashes().len(), 4);
    }

    #[test]
    fn a_node_behind_in_term_or_commit_is_a_new_state() {
        let mut nodes = nodes(3);
        let mut states = AbstractStates::new(3);
        for (k, node) in nodes.iter().enumerate() {
            states.observe(k, node, &[Up, Up, Up]);
        }
        assert_eq!(states.count(), 1);
        // n1 times out: a pre-candidate, then (alone) still one.
        nodes[0].handle_timeout(Millis(10_000));
        while nodes[0].poll_transmit().is_some() {}
        states.observe(0, &nodes[0], &[Up, Up, Up]);
        assert_eq!(states.count(), 2);
        assert_ne!(nodes[0].role(), RoleKind::Follower);
    }

    const MAXES: Maxes = Maxes {
        term: 100,
        commit: 50,
    };

    #[test]
    fn the_highest_term_and_commit_are_those_of_the_running_nodes() {
        let view = |term, commit| NodeView {
            term,
            commit,
            ..NodeView::default()
        };
        let views = [view(5, 9), view(3, 4), view(2, 7)];
        let maxes = |term, commit| Maxes { term, commit };
        assert_eq!(Maxes::of(&views, &[Up, Up, Up]), maxes(5, 9));
        // A down node's numbers are gone with it.
        assert_eq!(Maxes::of(&views, &[Down, Slowed, Paused]), maxes(3, 7));
        assert_eq!(Maxes::of(&views, &[Down, Down, Down]), maxes(0, 0));
    }

    #[test]
    fn the_hash_kept_step_by_step_is_the_hash_of_every_node_s_code() {
        use rand::{Rng, SeedableRng};
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(7);
        let mut states = AbstractStates::new(4);
        let mut conditions = [Up; 4];
        let mut recomputed = 0;
        for _ in 0..5_000 {
            if rng.random_bool(0.05) {
                conditions[rng.random_range(0..4)] =
                    [Up, Down, Paused, CutOff, Slowed][rng.random_range(0..5)];
            }
            let commit = rng.random_range(0..6);
            let view = NodeView {
                role: rng.random_range(0..4),
                term: rng.random_range(1..4),
                last_index: commit + rng.random_range(0..6),
                commit,
                applied: commit - rng.random_range(0..=commit),
                reads: rng.random_range(0..8),
                recovering: rng.random_bool(0.1),
                receiving_snapshot: rng.random_bool(0.1),
            };
            let before = states.maxes;
            states.see(rng.random_range(0..4), view, &conditions);
            recomputed += usize::from(states.maxes != before);
            let maxes = Maxes::of(&states.views, &conditions);
            let codes: Vec<u16> = (states.views.iter().zip(conditions))
                .map(|(view, condition)| code(view, condition, maxes))
                .collect();
            assert_eq!(states.hash, full_hash(&codes));
            assert_eq!(states.last, Some(states.hash));
        }
        // Both ways of keeping it were taken, many times.
        assert!(recomputed > 100 && recomputed < 4_000, "{recomputed}");
    }

    /// A running node's view: `term_behind` and `commit_behind` below the
    /// cluster's highest (100 and 50), its log ending `log_past` entries
    /// past that commit.
    fn view(term_behind: u64, log_past: i64, commit_behind: u64) -> NodeView {
        NodeView {
            term: 100 - term_behind,
            last_index: 50u64.saturating_add_signed(log_past),
            commit: 50 - commit_behind,
            applied: 50 - commit_behind,
            ..NodeView::default()
        }
    }

    #[test]
    fn every_combination_of_a_running_node_s_parts_has_a_code_of_its_own() {
        let mut codes = std::collections::BTreeSet::new();
        let mut combinations = 0;
        for condition in [Up, Paused, CutOff, Slowed] {
            for role in 0..4 {
                for term_behind in [0, 1, 2] {
                    for log_past in [-1, 0, 1, 4] {
                        for flags in 0..64u16 {
                            let mut view = view(term_behind, log_past, u64::from(flags & 1));
                            view.role = role;
                            view.applied -= u64::from(flags >> 1 & 1);
                            view.reads = flags >> 2 & 0b111;
                            view.recovering = flags >> 5 & 1 == 1;
                            for receiving_snapshot in [false, true] {
                                view.receiving_snapshot = receiving_snapshot;
                                codes.insert(code(&view, condition, MAXES));
                                combinations += 1;
                            }
                        }
                    }
                }
            }
        }
        // A down node is its condition alone, whatever it was before.
        assert_eq!(code(&view(2, 4, 1), Down, MAXES), Down as u16);
        assert!(!codes.contains(&(Down as u16)));
        assert_eq!(combinations, 4 * 4 * 3 * 4 * 64 * 2);
        assert_eq!(
            codes.len(),
            combinations,
            "two different views share a code"
        );
    }

    #[test]
    fn terms_logs_and_commits_are_classed_at_their_boundaries() {
        let at = |v: NodeView| code(&v, Up, MAXES);
        // Term: the same, one behind, further behind.
        assert_ne!(at(view(0, 0, 0)), at(view(1, 0, 0)));
        assert_ne!(at(view(1, 0, 0)), at(view(2, 0, 0)));
        assert_eq!(at(view(2, 0, 0)), at(view(9, 0, 0)));
        // Log end: behind the highest commit, at it, 1 to 3 past, further.
        assert_eq!(at(view(0, -1, 1)), at(view(0, -7, 1)));
        assert_ne!(at(view(0, -1, 1)), at(view(0, 0, 1)));
        assert_ne!(at(view(0, 0, 0)), at(view(0, 1, 0)));
        assert_eq!(at(view(0, 1, 0)), at(view(0, 3, 0)));
        assert_ne!(at(view(0, 3, 0)), at(view(0, 4, 0)));
        assert_eq!(at(view(0, 4, 0)), at(view(0, 40, 0)));
        // Commit: at the highest, or behind it by any amount.
        assert_ne!(at(view(0, 4, 0)), at(view(0, 4, 1)));
        assert_eq!(at(view(0, 4, 1)), at(view(0, 4, 20)));
        // Applied: all it committed, or less.
        let mut lagging = view(0, 4, 0);
        lagging.applied -= 1;
        assert_ne!(at(view(0, 4, 0)), at(lagging));
        lagging.applied -= 10;
        assert_eq!(at(lagging), {
            let mut one = view(0, 4, 0);
            one.applied -= 1;
            at(one)
        });
    }

    #[test]
    fn a_node_recovering_from_lost_state_or_receiving_a_snapshot_is_a_new_state() {
        use ryw_core::*;
        let mut nodes = nodes(3);
        let mut states = AbstractStates::new(3);
        states.observe(0, &nodes[0], &[Up, Up, Up]);
        assert_eq!(states.count(), 1);
        // n1 receives the first chunk of a snapshot from a leader.
        let chunk = InstallSnapshot {
            term: 2,
            last_index: 40,
            last_term: 2,
            offset: 0,
            data: "{\"index\": 40".to_owned(),
            done: false,
            seq: 1,
        };
        let envelope = Envelope {
            src: Id::Node(2),
            dest: Id::Node(1),
            body: Body {
                msg_id: Some(1),
                in_reply_to: None,
                payload: Payload::Peer(PeerMsg::InstallSnapshot(chunk)),
            },
        };
        nodes[0].handle_message(Millis(10), envelope);
        assert!(nodes[0].is_receiving_snapshot());
        states.observe(0, &nodes[0], &[Up, Up, Up]);
        assert_eq!(states.count(), 2);
        // n2 restarts recovering as a new node does, having lost nothing:
        // the same state as before.
        let scenario =
            Scenario::parse(r#"{"name": "s", "nodes": 3, "duration_ms": 100}"#).expect("valid");
        let durable = Durable {
            recovering: true,
            ..Durable::default()
        };
        let new = Node::restart(scenario.node_config(1, 1), durable, Millis(0));
        assert!(new.is_recovering());
        states.observe(1, &new, &[Up, Up, Up]);
        assert_eq!(states.count(), 2);
        // n2 restarts from a disk that lost its state: a new state.
        let durable = Durable {
            recovering: true,
            lost: true,
            ..Durable::default()
        };
        let lost = Node::restart(scenario.node_config(1, 1), durable, Millis(0));
        states.observe(1, &lost, &[Up, Up, Up]);
        assert_eq!(states.count(), 3);
    }
}
