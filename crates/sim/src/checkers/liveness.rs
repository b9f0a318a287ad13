//! Liveness: once the last fault heals, a leader is elected and a write and
//! a `ryw_read` issued after the heal complete within a bound (each only if
//! the workload issues that kind at all, and, when the clients sent other
//! operations from the heal to the deadline, only if they sent that kind:
//! a mix's draws can leave out a rare kind for the whole window, which
//! says nothing of the store), and every member that runs after
//! the heal applies, within the same bound, what was committed when it
//! healed: a member that can never catch up (its leader compacted away what
//! it needs, say) is a failure even while a majority serves.
//!
//! One state excuses a failure: when the run ends, a majority of the
//! members lost durable state and are still recovering. None of them may
//! vote until a majority of the others, not having lost state themselves,
//! answered it, which cannot happen, so no leader can be elected: the
//! store halts by design rather than elect one that may lack acknowledged
//! writes (see `ryw_core`'s recovery; a leader that kept leading through
//! the losses still serves). The summary says so (`not judged`) instead
//! of reporting the failure; a run that passes is reported as passing.

use ryw_core::{ClientOp, OpResult};

use super::{Checker, Finish, Property, Reply, Verdict, Violation};
use crate::scenario::Scenario;

/// What an operation counts as here.
#[derive(Clone, Copy)]
enum Kind {
    /// A write or a cas.
    Write,
    RywRead,
    /// A lin-kv read: not owed, but shows the clients were sending.
    Other,
}

pub struct Liveness {
    pub healed_at_ms: u64,
    pub bound_ms: u64,
    /// Which kinds the workload issues, so which must complete.
    needs_write: bool,
    needs_read: bool,
    write_done_ms: Option<u64>,
    read_done_ms: Option<u64>,
    /// Whether the clients sent, from the heal to the deadline, a write
    /// (or cas), a `ryw_read`, and any operation at all.
    write_sent: bool,
    read_sent: bool,
    any_sent: bool,
    /// What was committed at the heal (the committed log's length at the
    /// first step at or after it).
    committed_at_heal: Option<u64>,
    /// Per node: whether it stepped after the heal, and the most it applied
    /// by the deadline.
    members: Vec<(bool, u64)>,
    /// Per node: whether it was recovering from lost state at its last step.
    recovering: Vec<bool>,
}

impl Liveness {
    /// After the scenario's last heal, within its `expect.liveness_ms`, for
    /// the kinds its workload issues.
    pub fn for_scenario(scenario: &Scenario) -> Liveness {
        let healed_at_ms = scenario.last_heal_ms();
        let on = scenario.expect.liveness;
        let issued = |weight: fn(&crate::scenario::Mix) -> u32| {
            on && scenario
                .workload
                .mixes_from(healed_at_ms)
                .any(|m| weight(m) > 0)
        };
        Liveness::new(
            healed_at_ms,
            scenario.expect.liveness_ms,
            issued(|m| m.write + m.cas),
            issued(|m| m.ryw_read + m.ryw_read_leader),
        )
    }

    pub fn new(healed_at_ms: u64, bound_ms: u64, needs_write: bool, needs_read: bool) -> Liveness {
        Liveness {
            healed_at_ms,
            bound_ms,
            needs_write,
            needs_read,
            write_done_ms: None,
            read_done_ms: None,
            write_sent: false,
            read_sent: false,
            any_sent: false,
            committed_at_heal: None,
            members: Vec::new(),
            recovering: Vec::new(),
        }
    }

    fn deadline_ms(&self) -> u64 {
        self.healed_at_ms.saturating_add(self.bound_ms)
    }

    /// The members that ran after the heal and had not applied, by the
    /// deadline, what was committed at the heal.
    fn behind(&self) -> Vec<String> {
        let Some(target) = self.committed_at_heal else {
            return Vec::new();
        };
        if !(self.needs_write || self.needs_read) {
            return Vec::new();
        }
        self.members
            .iter()
            .enumerate()
            .filter(|(_, &(ran, applied))| ran && applied < target)
            .map(|(i, &(_, applied))| format!("n{} applied only up to {applied}", i + 1))
            .collect()
    }

    /// A step of `node` at `now_ms`, when `committed` entries had committed
    /// and it had applied `applied`: from the heal to the deadline, what
    /// committed at the heal is the target, and the node's progress counts.
    fn note_progress(&mut self, now_ms: u64, node: usize, committed: u64, applied: u64) {
        if now_ms < self.healed_at_ms || now_ms > self.deadline_ms() {
            return;
        }
        self.committed_at_heal.get_or_insert(committed);
        if self.members.len() <= node {
            self.members.resize(node + 1, (false, 0));
        }
        let member = &mut self.members[node];
        member.0 = true;
        member.1 = member.1.max(applied);
    }

    /// Notes whether the stepping node is recovering from lost state.
    fn note_recovering(&mut self, step: &crate::checkers::Step<'_>) {
        let members = step.core.member_ids().map_or(0, <[_]>::len);
        if self.recovering.len() < members.max(step.node + 1) {
            self.recovering.resize(members.max(step.node + 1), false);
        }
        // Lost (a cut or damaged disk), not merely new: a new cluster's
        // nodes all recover from empty disks at first, and finish.
        self.recovering[step.node] = step.core.is_recovering() && step.core.durable().lost;
    }

    /// The members still recovering from lost state, if they are a majority.
    fn halted(&self) -> Option<Vec<usize>> {
        let nodes: Vec<usize> = (0..self.recovering.len())
            .filter(|&k| self.recovering[k])
            .collect();
        (nodes.len() > self.recovering.len() / 2).then_some(nodes)
    }

    /// An operation of `kind` was sent at `sent_ms` (whatever came of it).
    fn sent(&mut self, kind: Kind, sent_ms: u64) {
        if sent_ms < self.healed_at_ms || sent_ms > self.deadline_ms() {
            return;
        }
        self.any_sent = true;
        match kind {
            Kind::Write => self.write_sent = true,
            Kind::RywRead => self.read_sent = true,
            Kind::Other => {}
        }
    }

    /// Whether a kind the workload issues must have completed: unless the
    /// clients sent other operations in the window and none of this kind
    /// (a client stuck the whole window sends nothing: then every kind is
    /// still owed).
    fn owed(&self, issued: bool, sent: bool) -> bool {
        issued && (sent || !self.any_sent)
    }

    /// A successful operation that was sent at `sent_ms` completed at `done_ms`.
    pub fn completed(&mut self, is_write: bool, sent_ms: u64, done_ms: u64) {
        let kind = if is_write { Kind::Write } else { Kind::RywRead };
        self.sent(kind, sent_ms);
        if sent_ms < self.healed_at_ms {
            return;
        }
        let slot = if is_write {
            &mut self.write_done_ms
        } else {
            &mut self.read_done_ms
        };
        slot.get_or_insert(done_ms);
    }

    pub fn verdict(&self) -> Option<Violation> {
        let deadline = self.deadline_ms();
        let behind = self.behind();
        if !behind.is_empty() {
            let detail = format!(
                "after the heal at {} ms, not every member caught up within {} ms: {} was committed at the heal, and {}",
                self.healed_at_ms,
                self.bound_ms,
                self.committed_at_heal.unwrap_or(0),
                behind.join(", ")
            );
            return Some(Violation::new(Property::Liveness, deadline, None, detail));
        }
        let needs_write = self.owed(self.needs_write, self.write_sent);
        let needs_read = self.owed(self.needs_read, self.read_sent);
        let late = |needed: bool, done: Option<u64>| needed && done.is_none_or(|t| t > deadline);
        if !late(needs_write, self.write_done_ms) && !late(needs_read, self.read_done_ms) {
            return None;
        }
        let said = |kind: &str, issued: bool, needed: bool, done: Option<u64>| match (needed, done)
        {
            (false, _) if issued => format!("no {kind} sent in the window"),
            (false, _) => format!("no {kind} needed"),
            (true, Some(t)) => format!("first {kind} done at {t} ms"),
            (true, None) => format!("no {kind} done"),
        };
        let detail = format!(
            "after the heal at {} ms, not every kind of operation completed within {} ms ({}; {})",
            self.healed_at_ms,
            self.bound_ms,
            said("write", self.needs_write, needs_write, self.write_done_ms),
            said("ryw_read", self.needs_read, needs_read, self.read_done_ms)
        );
        Some(Violation::new(Property::Liveness, deadline, None, detail))
    }
}

impl Checker for Liveness {
    fn on_step(&mut self, step: &crate::checkers::Step<'_>) {
        self.note_recovering(step);
        let committed = step.oracle.committed.len() as u64;
        self.note_progress(step.now_ms, step.node, committed, step.core.applied_index());
    }

    fn on_reply(&mut self, reply: &Reply<'_>) {
        let kind = match reply.request.op {
            ClientOp::Write { .. } | ClientOp::Cas { .. } => Kind::Write,
            ClientOp::RywRead { .. } => Kind::RywRead,
            _ => Kind::Other,
        };
        self.sent(kind, reply.request.sent_at.as_ms());
        let is_write = match (&reply.request.op, reply.result) {
            (ClientOp::Write { .. }, Some(OpResult::WriteOk { .. }))
            | (ClientOp::Cas { .. }, Some(OpResult::CasOk { .. })) => true,
            (ClientOp::RywRead { .. }, Some(OpResult::RywReadOk { .. })) => false,
            _ => return,
        };
        self.completed(is_write, reply.request.sent_at.as_ms(), reply.now_ms);
    }

    fn finish(&mut self, _finish: &Finish<'_>, verdict: &mut Verdict) {
        let Some(violation) = self.verdict() else {
            return;
        };
        match self.halted() {
            Some(nodes) => {
                let names: Vec<String> = nodes.iter().map(|k| format!("n{}", k + 1)).collect();
                verdict.not_judged.push(format!(
                    "liveness: a majority ({}) lost durable state and is still recovering, which halts elections by design; otherwise: {violation}",
                    names.join(", ")
                ));
            }
            None => verdict.violations.push(violation),
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::node::real_node;
    use crate::{run, RunOptions, Scenario};

    fn losing(nodes: &[&str]) -> Scenario {
        let faults: Vec<String> = nodes
            .iter()
            .map(|n| format!(r#"{{"at_ms": 1000, "until_ms": 1200, "kind": "lose_synced_tail", "node": "{n}"}}"#))
            .collect();
        Scenario::parse(&format!(
            r#"{{"name": "lose", "nodes": 3, "duration_ms": 3000,
                "disk": {{"fsync_ms_min": 1, "fsync_ms_max": 3}},
                "faults": [{}]}}"#,
            faults.join(", ")
        ))
        .expect("valid")
    }

    #[test]
    fn a_majority_still_recovering_from_lost_state_excuses_a_halt_and_says_so() {
        // The leader and a follower lose state: nobody may elect a leader.
        let summary = run(
            &losing(&["leader", "follower"]),
            RunOptions::new(1, &real_node),
        );
        assert!(summary.violations.is_empty(), "{:?}", summary.violations);
        assert_eq!(summary.not_judged.len(), 1, "{:?}", summary.not_judged);
        assert!(summary.not_judged[0].contains("otherwise: [liveness]"));
    }

    #[test]
    fn a_run_that_passes_is_judged_however_many_lost_state() {
        // Two followers lose state: the leader keeps leading, and serves.
        for seed in 0..5 {
            let summary = run(
                &losing(&["follower", "follower"]),
                RunOptions::new(seed, &real_node),
            );
            assert!(summary.not_judged.is_empty(), "{:?}", summary.not_judged);
            assert!(summary.violations.is_empty(), "{:?}", summary.violations);
        }
        let summary = run(&losing(&["n1"]), RunOptions::new(0, &real_node));
        assert!(summary.not_judged.is_empty() && summary.violations.is_empty());
    }

    #[test]
    fn a_member_that_ran_after_the_heal_and_did_not_apply_what_was_committed_then_fails_it() {
        use super::Liveness;
        for (write, read) in [(true, true), (true, false), (false, true)] {
            let mut liveness = Liveness::new(100, 1000, write, read);
            liveness.completed(true, 150, 200);
            liveness.completed(false, 150, 200);
            liveness.committed_at_heal = Some(10);
            // n1 caught up, n2 did not, n3 never ran after the heal.
            liveness.members = vec![(true, 10), (true, 7), (false, 0)];
            let violation = liveness.verdict().expect("n2 is behind");
            assert!(
                violation.detail.contains("n2 applied only up to 7")
                    && !violation.detail.contains("n1")
                    && !violation.detail.contains("n3"),
                "{}",
                violation.detail
            );
            liveness.members[1].1 = 10;
            assert!(liveness.verdict().is_none());
        }
        // A workload that issues nothing after the heal needs nothing.
        let mut idle = Liveness::new(100, 1000, false, false);
        idle.committed_at_heal = Some(10);
        idle.members = vec![(true, 0)];
        assert!(idle.verdict().is_none());
    }

    #[test]
    fn the_kinds_a_workload_issues_after_the_heal_must_complete_cas_and_leader_reads_included() {
        let scenario = |mix: &str| {
            Scenario::parse(&format!(
                r#"{{"name": "mix", "nodes": 3, "duration_ms": 2000,
                    "workload": {{"mix": {mix}}}}}"#
            ))
            .expect("valid")
        };
        let only_cas = super::Liveness::for_scenario(&scenario(
            r#"{"write": 0, "ryw_read": 0, "ryw_read_leader": 1, "read": 0, "cas": 1}"#,
        ));
        assert!(only_cas.needs_write && only_cas.needs_read);
        let only_reads = super::Liveness::for_scenario(&scenario(
            r#"{"write": 0, "ryw_read": 1, "ryw_read_leader": 0, "read": 1, "cas": 0}"#,
        ));
        assert!(!only_reads.needs_write && only_reads.needs_read);
    }

    /// Node `n<k>` of a cluster of `nodes`: `recovering` (and `lost`, or
    /// merely new) or not.
    fn node(k: u32, nodes: u32, recovering: bool, lost: bool) -> ryw_core::Node {
        let config = ryw_core::Config {
            cluster: Some(ryw_core::Cluster {
                me: ryw_core::Id::Node(k),
                members: (1..=nodes).map(ryw_core::Id::Node).collect(),
            }),
            ..ryw_core::Config::default()
        };
        let durable = ryw_core::Durable {
            recovering,
            lost,
            ..ryw_core::Durable::default()
        };
        ryw_core::Node::restart(config, durable, ryw_core::Millis(0))
    }

    /// A liveness failure (no write after the heal) in a cluster of
    /// `nodes`, the first `recovering` of them recovering: excused only
    /// when they lost state and are a majority.
    fn verdict_with_recovering(
        nodes: u32,
        recovering: u32,
        lost: bool,
    ) -> crate::checkers::Verdict {
        use crate::checkers::{Checker, Step};
        let mut liveness = super::Liveness::new(100, 1000, true, false);
        let oracle = crate::checkers::oracle::CommittedLog::default();
        let cores: Vec<_> = (1..=nodes)
            .map(|k| node(k, nodes, k <= recovering, lost && k <= recovering))
            .collect();
        for (k, core) in cores.iter().enumerate() {
            liveness.on_step(&Step {
                now_ms: 50,
                node: k,
                core,
                oracle: &oracle,
            });
        }
        crate::checkers::fixtures::verdict(&mut liveness, &oracle)
    }

    #[test]
    fn only_a_majority_that_lost_state_excuses_a_halt_and_a_new_majority_does_not() {
        let lost = verdict_with_recovering(3, 2, true);
        assert!(lost.violations.is_empty());
        assert_eq!(lost.not_judged.len(), 1, "{:?}", lost.not_judged);
        assert!(lost.not_judged[0].contains("a majority (n1, n2) lost durable state"));
        assert!(verdict_with_recovering(5, 3, true).violations.is_empty());
        // Recovering because new, not because anything was lost; or a
        // minority that lost state: judged.
        for (nodes, recovering, lost) in [(3, 2, false), (3, 1, true), (5, 2, true)] {
            let judged = verdict_with_recovering(nodes, recovering, lost);
            assert!(judged.not_judged.is_empty(), "{:?}", judged.not_judged);
            assert_eq!(judged.violations.len(), 1);
            assert!(judged.violations[0].detail.contains("no write done"));
        }
    }

    #[test]
    fn progress_counts_from_the_heal_to_the_deadline_and_the_target_is_what_committed_at_the_heal()
    {
        use super::Liveness;
        // Healed at 100, bound 1000: the deadline is 1100. Both kinds done.
        let run = |steps: &[(u64, usize, u64, u64)]| {
            let mut liveness = Liveness::new(100, 1000, true, true);
            liveness.completed(true, 200, 300);
            liveness.completed(false, 200, 300);
            for &(now_ms, node, committed, applied) in steps {
                liveness.note_progress(now_ms, node, committed, applied);
            }
            liveness.verdict().map(|v| v.detail)
        };
        // Before the heal nothing counts: the target is 5, set at 100.
        let behind = run(&[(50, 0, 3, 3), (100, 0, 5, 4), (1100, 1, 6, 5)]);
        assert!(
            behind
                .as_deref()
                .is_some_and(|d| d.contains("5 was committed at the heal")
                    && d.contains("n1 applied only up to 4")
                    && !d.contains("n2")),
            "{behind:?}"
        );
        // Progress at the deadline counts; after it, not.
        assert_eq!(run(&[(100, 0, 5, 4), (1100, 0, 6, 5)]), None);
        let late = run(&[(100, 0, 5, 4), (1101, 0, 6, 5)]);
        assert!(late.is_some_and(|d| d.contains("n1 applied only up to 4")));
    }

    #[test]
    fn a_kind_the_clients_never_sent_while_they_sent_others_is_not_owed() {
        use super::{Kind, Liveness};
        // Found by `ryw-sim explore`: 71 operations after the heal, none a
        // ryw_read (a tenth of the mix), and the run failed for "no
        // ryw_read done".
        let mut liveness = Liveness::new(100, 1000, true, true);
        liveness.completed(true, 200, 300);
        liveness.sent(Kind::Other, 400);
        assert!(liveness.verdict().is_none(), "no ryw_read was sent");
        // One ryw_read sent and never answered: owed, and late.
        liveness.sent(Kind::RywRead, 500);
        let late = liveness.verdict().expect("the ryw_read sent is owed");
        assert!(late.detail.contains("no ryw_read done"), "{}", late.detail);
        // Only lin-kv reads sent and none done: the write is not owed, and
        // the detail says why.
        let mut reads_only = Liveness::new(100, 1000, true, true);
        reads_only.sent(Kind::RywRead, 200);
        let detail = reads_only.verdict().expect("the ryw_read is owed").detail;
        assert!(
            detail.contains("no write sent in the window") && detail.contains("no ryw_read done"),
            "{detail}"
        );
        // Clients that sent nothing at all in the window were stuck: every
        // kind the workload issues is still owed.
        let stuck = Liveness::new(100, 1000, true, true).verdict();
        let detail = stuck.expect("both owed").detail;
        assert!(
            detail.contains("no write done") && detail.contains("no ryw_read done"),
            "{detail}"
        );
    }

    #[test]
    fn a_write_or_ryw_read_sent_in_the_window_is_owed_even_when_every_one_failed() {
        use crate::checkers::fixtures::{cas_op, reply, request, session, verdict, write_op};
        use crate::checkers::oracle::CommittedLog;
        use crate::checkers::Checker;
        use ryw_core::{ClientOp, ErrorCode, Id, Key, OpResult, Served};
        let (write, cas) = (write_op(7), cas_op(1, 2));
        let ryw_read = ClientOp::RywRead {
            key: Key::Int(0),
            last_write_index: 0,
            prefer_follower: true,
        };
        let failed = OpResult::error(ErrorCode::TEMPORARILY_UNAVAILABLE, "no leader");
        let wrote = OpResult::WriteOk { commit_index: 1 };
        let read = OpResult::RywReadOk {
            value: 7.into(),
            served_by: Id::Node(1),
            applied_index: 1,
            how: Served::Locally { waited_ms: 0 },
        };
        let (session, oracle) = (session(), CommittedLog::default());
        // Healed at 0: the fixture's requests are sent at 0 ms, in the window.
        for (failing, done, done_result, owed) in [
            (&write, &ryw_read, &read, "no write done"),
            (&cas, &ryw_read, &read, "no write done"),
            (&ryw_read, &write, &wrote, "no ryw_read done"),
        ] {
            let mut liveness = super::Liveness::new(0, 1000, true, true);
            let (failing, done) = (request(failing.clone()), request(done.clone()));
            liveness.on_reply(&reply(&session, &failing, &failed, &oracle));
            liveness.on_reply(&reply(&session, &done, done_result, &oracle));
            let judged = verdict(&mut liveness, &oracle);
            assert_eq!(
                judged.violations.len(),
                1,
                "{owed}: {:?}",
                judged.violations
            );
            let detail = &judged.violations[0].detail;
            assert!(detail.contains(owed), "{detail}");
        }
    }

    #[test]
    fn an_operation_sent_at_the_heal_or_at_the_deadline_is_sent_in_the_window() {
        use super::{Kind, Liveness};
        // Healed at 100, bound 1000: the deadline is 1100.
        let mut liveness = Liveness::new(100, 1000, true, true);
        liveness.sent(Kind::RywRead, 100);
        assert!(liveness.any_sent && liveness.read_sent);
        liveness.sent(Kind::Write, 1100);
        assert!(liveness.write_sent);
        // A kind the workload never issues is named as not needed.
        let detail = Liveness::new(100, 1000, false, true)
            .verdict()
            .expect("the ryw_read is owed")
            .detail;
        assert!(
            detail.contains("no write needed") && detail.contains("no ryw_read done"),
            "{detail}"
        );
    }

    #[test]
    fn a_node_stepping_before_init_is_noted_as_not_recovering() {
        use crate::checkers::{Checker, Step};
        let mut liveness = super::Liveness::new(100, 1000, false, false);
        let oracle = crate::checkers::oracle::CommittedLog::default();
        let fresh = ryw_core::Node::new(ryw_core::Config::default(), ryw_core::Millis(0));
        for node in [0, 2] {
            liveness.on_step(&Step {
                now_ms: 5,
                node,
                core: &fresh,
                oracle: &oracle,
            });
        }
        assert_eq!(liveness.recovering, [false, false, false]);
    }

    #[test]
    fn only_operations_sent_from_the_heal_on_and_done_by_the_deadline_count() {
        use super::Liveness;
        // Healed at 100, bound 1000: the deadline is 1100.
        let verdict = |sent_ms, done_ms| {
            let mut liveness = Liveness::new(100, 1000, true, false);
            liveness.completed(true, sent_ms, done_ms);
            liveness.verdict()
        };
        assert!(
            verdict(100, 1100).is_none(),
            "sent at the heal, done at the deadline"
        );
        assert!(verdict(99, 200).is_some(), "sent before the heal");
        assert!(verdict(100, 1101).is_some(), "done after the deadline");
        // Sent before the heal or after the deadline: not sent in the
        // window, so the clients look stuck and the write is still owed.
        let mut liveness = Liveness::new(100, 1000, true, true);
        liveness.sent(super::Kind::RywRead, 99);
        liveness.sent(super::Kind::Other, 1101);
        assert!(!liveness.any_sent);
        // Both kinds sent: either one not done fails the run.
        for write_done in [true, false] {
            let mut liveness = Liveness::new(100, 1000, true, true);
            liveness.sent(super::Kind::Write, 150);
            liveness.sent(super::Kind::RywRead, 150);
            liveness.completed(write_done, 200, 300);
            assert!(liveness.verdict().is_some(), "write done: {write_done}");
            liveness.completed(!write_done, 200, 300);
            assert!(liveness.verdict().is_none());
        }
    }
}
