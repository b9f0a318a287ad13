//! Efficiency: a store can be correct and still wasteful, for example by
//! resending the whole log after every rejection, or by sending heartbeats
//! on every tick. A scenario may bound the messages and replicated entries
//! per client operation; both are counted in simulated time, so they are
//! exact and the same on every machine.

use super::{Checker, Finish, Property, Verdict, Violation};
use crate::report::Summary;
use crate::scenario::Expect;

/// Client operations the run completed or gave up on, whatever the outcome.
pub fn operations(summary: &Summary) -> u64 {
    summary.ops.values().sum()
}

/// Node-to-node messages per client operation.
pub fn peer_msgs_per_op(summary: &Summary) -> f64 {
    summary.peer_msgs as f64 / operations(summary).max(1) as f64
}

/// Log entries carried by AppendEntries per client operation.
pub fn entries_sent_per_op(summary: &Summary) -> f64 {
    summary.entries_sent as f64 / operations(summary).max(1) as f64
}

/// Violations of the scenario's efficiency bounds, reported at the run's end.
pub fn verdict(expect: &Expect, summary: &Summary, end_ms: u64) -> Vec<Violation> {
    let measured = [
        (
            "peer messages",
            expect.peer_msgs_per_op_max,
            peer_msgs_per_op(summary),
            summary.peer_msgs,
        ),
        (
            "replicated entries",
            expect.entries_sent_per_op_max,
            entries_sent_per_op(summary),
            summary.entries_sent,
        ),
    ];
    measured
        .into_iter()
        .filter_map(|(what, bound, per_op, total)| {
            let bound = bound?;
            (per_op > bound).then(|| {
                let detail = format!(
                    "{per_op:.2} {what} per operation ({total} for {} operations), above the bound of {bound}",
                    operations(summary)
                );
                Violation::new(Property::Efficiency, end_ms, None, detail)
            })
        })
        .collect()
}

/// The scenario's bounds on messages and entries per operation.
pub struct Efficiency {
    expect: Expect,
}

impl Efficiency {
    pub fn new(expect: Expect) -> Efficiency {
        Efficiency { expect }
    }
}

impl Checker for Efficiency {
    fn finish(&mut self, finish: &Finish<'_>, verdict: &mut Verdict) {
        let found = self::verdict(&self.expect, finish.summary, finish.end_ms);
        verdict.violations.extend(found);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn summary(ops: u64, peer_msgs: u64, entries_sent: u64) -> Summary {
        let mut summary = Summary {
            peer_msgs,
            entries_sent,
            ..Summary::default()
        };
        summary.ops.insert("ok".into(), ops);
        summary
    }

    #[test]
    fn a_run_above_a_bound_is_a_violation_and_one_at_it_is_not() {
        let expect = |peer: Option<f64>, entries: Option<f64>| Expect {
            peer_msgs_per_op_max: peer,
            entries_sent_per_op_max: entries,
            ..Expect::default()
        };
        // 10 operations, 40 peer messages and 30 entries: 4.0 and 3.0 per op.
        let run = summary(10, 40, 30);
        assert!(verdict(&expect(Some(4.0), Some(3.0)), &run, 9).is_empty());
        assert!(verdict(&expect(None, None), &run, 9).is_empty());
        let over = verdict(&expect(Some(3.9), Some(2.9)), &run, 9);
        let details: Vec<&str> = over.iter().map(|v| v.detail.as_str()).collect();
        assert_eq!(
            details,
            [
                "4.00 peer messages per operation (40 for 10 operations), above the bound of 3.9",
                "3.00 replicated entries per operation (30 for 10 operations), above the bound of 2.9"
            ]
        );
        assert!(over
            .iter()
            .all(|v| v.checker == Property::Efficiency && v.at_ms == 9));
        // No operations: per-operation counts are over one, not zero.
        assert_eq!(entries_sent_per_op(&summary(0, 0, 5)), 5.0);
    }
}
