//! Liveness: once the last fault heals, a leader is elected and a write and
//! a `ryw_read` issued after the heal complete within a bound (each only if
//! the workload issues that kind at all).

use ryw_core::{ClientOp, OpResult};

use super::{Checker, Finish, Property, Reply, Verdict, Violation};
use crate::scenario::Scenario;

pub struct Liveness {
    pub healed_at_ms: u64,
    pub bound_ms: u64,
    /// Which kinds the workload issues, so which must complete.
    needs_write: bool,
    needs_read: bool,
    write_done_ms: Option<u64>,
    read_done_ms: Option<u64>,
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
        }
    }

    /// A successful operation that was sent at `sent_ms` completed at `done_ms`.
    pub fn completed(&mut self, is_write: bool, sent_ms: u64, done_ms: u64) {
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
        let deadline = self.healed_at_ms.saturating_add(self.bound_ms);
        let late = |needed: bool, done: Option<u64>| needed && done.is_none_or(|t| t > deadline);
        if !late(self.needs_write, self.write_done_ms) && !late(self.needs_read, self.read_done_ms)
        {
            return None;
        }
        let said = |kind: &str, needed: bool, done: Option<u64>| match (needed, done) {
            (false, _) => format!("no {kind} needed"),
            (true, Some(t)) => format!("first {kind} done at {t} ms"),
            (true, None) => format!("no {kind} done"),
        };
        let detail = format!(
            "after the heal at {} ms, not every kind of operation completed within {} ms ({}; {})",
            self.healed_at_ms,
            self.bound_ms,
            said("write", self.needs_write, self.write_done_ms),
            said("ryw_read", self.needs_read, self.read_done_ms)
        );
        Some(Violation::new(Property::Liveness, deadline, None, detail))
    }
}

impl Checker for Liveness {
    fn on_reply(&mut self, reply: &Reply<'_>) {
        let is_write = match (&reply.request.op, reply.result) {
            (ClientOp::Write { .. }, Some(OpResult::WriteOk { .. }))
            | (ClientOp::Cas { .. }, Some(OpResult::CasOk { .. })) => true,
            (ClientOp::RywRead { .. }, Some(OpResult::RywReadOk { .. })) => false,
            _ => return,
        };
        self.completed(is_write, reply.request.sent_at.as_ms(), reply.now_ms);
    }

    fn finish(&mut self, _finish: &Finish<'_>, verdict: &mut Verdict) {
        verdict.violations.extend(self.verdict());
    }
}
