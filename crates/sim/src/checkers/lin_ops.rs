//! The lin-kv history of one key as the linearizability checkers see it:
//! what each operation did as far as its client knows, and when.

use ryw_core::{Key, Value};

/// What one operation did, as far as the client knows.
#[derive(Clone, Debug, PartialEq)]
pub enum LinOp {
    Write(Value),
    /// A cas that succeeded (or may have).
    Cas {
        from: Value,
        to: Value,
        create_if_not_exists: bool,
    },
    /// A cas refused because the key did not exist (error 20).
    CasMissing,
    /// A cas refused because the value differed from `from` (error 22).
    CasDiffers {
        from: Value,
    },
    /// A read that returned this value (`None`: key does not exist).
    Read(Option<Value>),
}

/// For people: `write 128`, `read 128`, `read (no key)`, `cas 1 -> 2`.
impl std::fmt::Display for LinOp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            LinOp::Write(value) => write!(f, "write {value}"),
            LinOp::Cas {
                from,
                to,
                create_if_not_exists,
            } => {
                write!(f, "cas {from} -> {to}")?;
                if *create_if_not_exists {
                    write!(f, " (or create)")?;
                }
                Ok(())
            }
            LinOp::CasMissing => write!(f, "cas refused: no key"),
            LinOp::CasDiffers { from } => write!(f, "cas refused: value is not {from}"),
            LinOp::Read(Some(value)) => write!(f, "read {value}"),
            LinOp::Read(None) => write!(f, "read (no key)"),
        }
    }
}

/// One operation of the history. Times are positions in one global order of
/// invocations and completions, so "returned before invoked" is exact.
#[derive(Clone, Debug)]
pub struct HistoryOp {
    pub session: String,
    pub key: Key,
    pub op: LinOp,
    pub invoked: u64,
    /// `None`: indeterminate, it may have happened at any later time.
    pub returned: Option<u64>,
}
