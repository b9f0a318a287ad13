//! What a checker reports: the property violated, when, the session
//! involved, and the moments a diagram should point at. Its own module so
//! that the checkers, the report and the diagram all use it without using
//! each other.

use serde::Serialize;
use sim_engine::diagram::Highlight;

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
    /// A reply of the wrong kind for its request; against a real binary
    /// also a line that is no Maelstrom envelope, a reply to nobody, a
    /// process that died.
    Protocol,
    /// Follower reads as the task asks for them: a `ryw_read` says who
    /// served it and, if not the node asked, why; the node asked serves it
    /// only once it has applied the session's index; and followers serve
    /// some at all (checked against real binaries).
    FollowerReads,
    /// A panic inside the run: a node's or the simulator's own assertion.
    Panic,
}

impl Property {
    pub const ALL: [Property; 14] = [
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
        Property::FollowerReads,
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
            Property::FollowerReads => "follower reads",
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
