//! Checkers, one module per property, all behind one interface: the store's
//! harness holds them in a list and calls each on every node step, every
//! client reply and at the end. Adding a property is one new file here and
//! one line in [`standard`].
//!
//! Each reports violations with the simulated time, the session and the
//! operations involved; the run adds the seed and the replay command.

pub mod efficiency;
pub mod linearizability;
pub mod liveness;
pub mod oracle;
pub mod protocol;
pub mod raft;
pub mod ryw;
pub mod served_state;
pub mod votes;

use ryw_core::{Node, OpResult, Value};
use serde::Serialize;
pub use sim_engine::diagram::Highlight;

use crate::report::Summary;
use crate::scenario::Scenario;
use crate::workload::{Outstanding, Session};
use oracle::CommittedLog;

/// A property a run can violate.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Property {
    ReadYourWrites,
    MonotonicReads,
    ElectionSafety,
    /// No node grants its vote to two candidates in one term, across restarts.
    OneVotePerTerm,
    /// A `ryw_read` returns the committed state at the applied index it reports.
    ServedState,
    CommitMonotonicity,
    LogMatching,
    Durability,
    Linearizability,
    Liveness,
    Efficiency,
    /// A reply of the wrong kind for its request.
    Protocol,
    /// A panic inside the run: a node's or the simulator's own assertion.
    Panic,
}

impl Property {
    pub const ALL: [Property; 13] = [
        Property::ReadYourWrites,
        Property::MonotonicReads,
        Property::ElectionSafety,
        Property::OneVotePerTerm,
        Property::ServedState,
        Property::CommitMonotonicity,
        Property::LogMatching,
        Property::Durability,
        Property::Linearizability,
        Property::Liveness,
        Property::Efficiency,
        Property::Protocol,
        Property::Panic,
    ];

    /// The name reports and summaries use.
    pub fn name(self) -> &'static str {
        match self {
            Property::ReadYourWrites => "read-your-writes",
            Property::MonotonicReads => "monotonic reads",
            Property::ElectionSafety => "election safety",
            Property::OneVotePerTerm => "one vote per term",
            Property::ServedState => "served state",
            Property::CommitMonotonicity => "commit monotonicity",
            Property::LogMatching => "log matching",
            Property::Durability => "durability",
            Property::Linearizability => "linearizability",
            Property::Liveness => "liveness",
            Property::Efficiency => "efficiency",
            Property::Protocol => "protocol",
            Property::Panic => "panic",
        }
    }
}

impl std::fmt::Display for Property {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl Serialize for Property {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.name())
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Violation {
    /// The property violated.
    pub checker: Property,
    pub at_ms: u64,
    /// The client session involved, if any (e.g. "c3").
    pub session: Option<String>,
    pub detail: String,
    /// Moments worth pointing at in a diagram: the violating operation and
    /// what it should have seen.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub highlights: Vec<Highlight>,
}

impl Violation {
    pub fn new(
        checker: Property,
        at_ms: u64,
        session: Option<String>,
        detail: String,
    ) -> Violation {
        Violation {
            checker,
            at_ms,
            session,
            detail,
            highlights: Vec::new(),
        }
    }
}

impl std::fmt::Display for Violation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "[{}] at {} ms", self.checker, self.at_ms)?;
        if let Some(session) = &self.session {
            write!(f, " session {session}")?;
        }
        write!(f, ": {}", self.detail)
    }
}

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

/// The store's checkers, in the order their findings are listed.
pub fn standard(scenario: &Scenario) -> Vec<Box<dyn Checker>> {
    vec![
        Box::new(raft::LogSafety::new(scenario.nodes)),
        Box::new(ryw::SessionGuarantees::new(scenario.workload.monotonic)),
        Box::new(votes::OneVotePerTerm::default()),
        Box::new(served_state::ServedState::default()),
        Box::new(protocol::ReplyKinds::default()),
        Box::new(liveness::Liveness::for_scenario(scenario)),
        Box::new(linearizability::History::default()),
        Box::new(efficiency::Efficiency::new(scenario.expect.clone())),
    ]
}
