//! Checkers, one module per property. Each reports violations with the
//! simulated time, the session and the operations involved; the world adds
//! the seed and the replay command.

pub mod efficiency;
pub mod linearizability;
pub mod liveness;
pub mod raft;
pub mod ryw;

use serde::Serialize;

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Violation {
    /// The property, by name (e.g. "read-your-writes", "election safety").
    pub checker: &'static str,
    pub at_ms: u64,
    /// The client session involved, if any (e.g. "c3").
    pub session: Option<String>,
    pub detail: String,
    /// Moments worth pointing at in a diagram: the violating operation and
    /// what it should have seen.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub highlights: Vec<Highlight>,
}

/// One point of a violation: a timeline (node or client id) and a moment.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Highlight {
    pub lane: String,
    pub at_ms: u64,
    pub what: String,
}

impl Violation {
    pub fn new(
        checker: &'static str,
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
