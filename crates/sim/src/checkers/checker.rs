//! The one interface every checker implements, and what it is shown: a
//! node's step, a client's reply, the end of the run.

use ryw_core::{Node, OpResult, Value};

use super::oracle::CommittedLog;
use crate::report::Summary;
use crate::violation::Violation;
use crate::workload::{Outstanding, Session};

/// A node has just taken a step.
pub struct Step<'a> {
    pub now_ms: u64,
    pub node: usize,
    pub core: &'a Node,
    /// The committed log, already updated with this step.
    pub oracle: &'a CommittedLog,
}

/// A client request ended: answered, given up on, or still in flight when
/// the run ended. Checkers see it before the session learns from it.
pub struct Reply<'a> {
    pub now_ms: u64,
    pub session: &'a Session,
    pub request: &'a Outstanding,
    /// `None`: the session gave up on it, or the run ended first.
    pub result: Option<&'a OpResult>,
    /// Position of the answer in the run's one order of invocations and
    /// answers (`None`: never answered).
    pub returned: Option<u64>,
    pub oracle: &'a CommittedLog,
}

static NULL: Value = Value::NULL;

impl Reply<'_> {
    /// The value a successful read returned (`null` for a key that does
    /// not exist), whichever kind of read it was.
    pub fn value_read(&self) -> Option<&Value> {
        use ryw_core::{ClientOp, ErrorCode};
        match (&self.request.op, self.result?) {
            (ClientOp::Read { .. }, OpResult::ReadOk { value })
            | (ClientOp::RywRead { .. }, OpResult::RywReadOk { value, .. }) => Some(value),
            (ClientOp::Read { .. }, OpResult::Error { code, .. })
                if *code == ErrorCode::KEY_DOES_NOT_EXIST =>
            {
                Some(&NULL)
            }
            _ => None,
        }
    }
}

/// The run is over.
pub struct Finish<'a> {
    pub end_ms: u64,
    pub summary: &'a Summary,
    pub oracle: &'a CommittedLog,
}

/// What the checkers found, gathered at the end.
#[derive(Default)]
pub struct Verdict {
    pub violations: Vec<Violation>,
    /// Keys whose lin-kv history was too tangled to decide within the search budget.
    pub undecided_keys: usize,
    /// Keys the read mapping left to the search (decided there or not).
    pub searched_keys: usize,
    /// Properties not judged, and why (the run reached a state in which
    /// the store halts by design).
    pub not_judged: Vec<String>,
}

/// One property, checked as the run goes.
pub trait Checker {
    /// After every step of every node.
    fn on_step(&mut self, _step: &Step<'_>) {}
    /// A node restarted from its durable state.
    fn on_restart(&mut self, _node: usize) {}
    /// Node `from` sent a message to another node.
    fn on_send(&mut self, _now_ms: u64, _from: usize, _envelope: &ryw_core::Envelope) {}
    /// A client request ended.
    fn on_reply(&mut self, _reply: &Reply<'_>) {}
    /// The run is over: add what was found, during the run and now.
    fn finish(&mut self, finish: &Finish<'_>, verdict: &mut Verdict);
}

#[cfg(test)]
mod tests {
    use ryw_core::{ClientOp, ErrorCode, Key, OpResult};

    use super::super::fixtures::{reply, request, session};
    use super::*;

    #[test]
    fn a_lin_kv_read_of_a_missing_key_reads_null_and_no_other_error_reads_anything() {
        let (session, oracle) = (session(), CommittedLog::default());
        let read = request(ClientOp::Read { key: Key::Int(1) });
        let ryw_read = request(ClientOp::RywRead {
            key: Key::Int(1),
            last_write_index: 0,
            prefer_follower: true,
        });
        let missing = OpResult::error(ErrorCode::KEY_DOES_NOT_EXIST, "not found");
        let timeout = OpResult::error(ErrorCode::TIMEOUT, "timed out");
        let value = |request: &Outstanding, result: &OpResult| {
            reply(&session, request, result, &oracle)
                .value_read()
                .cloned()
        };
        assert_eq!(value(&read, &missing), Some(Value::NULL));
        assert_eq!(value(&read, &timeout), None);
        assert_eq!(value(&ryw_read, &missing), None);
        let read_ok = OpResult::ReadOk {
            value: Value::from(7),
        };
        assert_eq!(value(&read, &read_ok), Some(Value::from(7)));
    }
}
