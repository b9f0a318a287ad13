//! Typed messages: the Maelstrom envelope, client operations and replies, and
//! the node-to-node Raft and forwarding RPCs. `codec` turns them into JSON.

use std::fmt;

use crate::data::{Key, Value};
use crate::id::Id;

/// One Maelstrom message.
#[derive(Clone, Debug, PartialEq)]
pub struct Envelope {
    pub src: Id,
    pub dest: Id,
    pub body: Body,
}

/// A message body: the correlation ids every Maelstrom body may carry, and its payload.
#[derive(Clone, Debug, PartialEq)]
pub struct Body {
    pub msg_id: Option<u64>,
    pub in_reply_to: Option<u64>,
    pub payload: Payload,
}

/// What a message carries: the Maelstrom handshake, a client's request or
/// its reply, a message between members, or a body that could not be read.
#[derive(Clone, Debug, PartialEq)]
pub enum Payload {
    Init {
        node_id: Id,
        node_ids: Vec<Id>,
    },
    InitOk,
    /// A client operation (`write`, `cas`, `read`, `ryw_read`).
    Request(ClientOp),
    /// A reply to a client operation, including `error`.
    Reply(OpResult),
    /// A message only cluster members may send each other.
    Peer(PeerMsg),
    /// A body the codec could not accept; the node answers it with an error.
    /// Never encoded.
    Invalid(Invalid),
}

/// A body the codec could not accept, and why.
#[derive(Clone, Debug, PartialEq)]
pub struct Invalid {
    /// The body's `type`, as sent (empty if it had none).
    pub type_name: String,
    pub code: ErrorCode,
    pub text: String,
    /// Whether `type_name` names a peer message: then only a member may
    /// have sent it, and nobody is answered.
    pub peer: bool,
}

/// The messages between members: Raft's RPCs and forwarded client operations.
#[derive(Clone, Debug, PartialEq)]
pub enum PeerMsg {
    RequestVote(RequestVote),
    RequestVoteOk(RequestVoteOk),
    AppendEntries(AppendEntries),
    AppendEntriesOk(AppendEntriesOk),
    Forward(Forward),
    ForwardOk(ForwardOk),
    CommitWanted(CommitWanted),
    CommitNews(CommitNews),
    Probe(Probe),
    ProbeOk(ProbeOk),
    InstallSnapshot(InstallSnapshot),
    InstallSnapshotOk(InstallSnapshotOk),
}

impl PeerMsg {
    /// The Maelstrom `type` string.
    pub fn type_name(&self) -> &'static str {
        match self {
            PeerMsg::RequestVote(_) => "request_vote",
            PeerMsg::RequestVoteOk(_) => "request_vote_ok",
            PeerMsg::AppendEntries(_) => "append_entries",
            PeerMsg::AppendEntriesOk(_) => "append_entries_ok",
            PeerMsg::Forward(_) => "forward",
            PeerMsg::ForwardOk(_) => "forward_ok",
            PeerMsg::CommitWanted(_) => "commit_wanted",
            PeerMsg::CommitNews(_) => "commit_news",
            PeerMsg::Probe(_) => "probe",
            PeerMsg::ProbeOk(_) => "probe_ok",
            PeerMsg::InstallSnapshot(_) => "install_snapshot",
            PeerMsg::InstallSnapshotOk(_) => "install_snapshot_ok",
        }
    }
}

impl Payload {
    /// The message's kind as a fixed name: its Maelstrom `type`, or
    /// `"invalid"` for a body that could not be read.
    pub fn kind(&self) -> &'static str {
        match self {
            Payload::Init { .. } => "init",
            Payload::InitOk => "init_ok",
            Payload::Request(op) => op.type_name(),
            Payload::Reply(result) => result.type_name(),
            Payload::Peer(peer) => peer.type_name(),
            Payload::Invalid(_) => "invalid",
        }
    }

    /// The Maelstrom `type` string (as sent, for a body that could not be read).
    pub fn type_name(&self) -> &str {
        match self {
            Payload::Invalid(invalid) => &invalid.type_name,
            other => other.kind(),
        }
    }
}

/// A client operation.
#[derive(Clone, Debug, PartialEq)]
pub enum ClientOp {
    Write {
        key: Key,
        value: Value,
    },
    Cas {
        key: Key,
        from: Value,
        to: Value,
        create_if_not_exists: bool,
    },
    /// Linearizable read (lin-kv).
    Read {
        key: Key,
    },
    /// Read-your-writes read: served once the serving node applied `last_write_index`.
    RywRead {
        key: Key,
        last_write_index: u64,
        prefer_follower: bool,
    },
}

impl ClientOp {
    pub fn type_name(&self) -> &'static str {
        match self {
            ClientOp::Write { .. } => "write",
            ClientOp::Cas { .. } => "cas",
            ClientOp::Read { .. } => "read",
            ClientOp::RywRead { .. } => "ryw_read",
        }
    }

    pub fn key(&self) -> &Key {
        match self {
            ClientOp::Write { key, .. }
            | ClientOp::Cas { key, .. }
            | ClientOp::Read { key }
            | ClientOp::RywRead { key, .. } => key,
        }
    }

    /// The log command a write-like operation proposes; reads come back unchanged.
    pub fn into_command(self) -> Result<Command, ClientOp> {
        match self {
            ClientOp::Write { key, value } => Ok(Command::Write { key, value }),
            ClientOp::Cas {
                key,
                from,
                to,
                create_if_not_exists,
            } => Ok(Command::Cas {
                key,
                from,
                to,
                create_if_not_exists,
            }),
            read => Err(read),
        }
    }

    /// Whether running the operation twice is harmless, so a lost forward may be resent.
    pub fn is_read(&self) -> bool {
        matches!(self, ClientOp::Read { .. } | ClientOp::RywRead { .. })
    }
}

/// The outcome of a client operation, as sent back to the client.
#[derive(Clone, Debug, PartialEq)]
pub enum OpResult {
    WriteOk {
        commit_index: u64,
    },
    CasOk {
        commit_index: u64,
    },
    ReadOk {
        value: Value,
    },
    RywReadOk {
        value: Value,
        served_by: Id,
        /// Applied index of the serving node when it read the value.
        applied_index: u64,
        how: Served,
    },
    Error {
        code: ErrorCode,
        text: String,
    },
}

impl OpResult {
    pub fn type_name(&self) -> &'static str {
        match self {
            OpResult::WriteOk { .. } => "write_ok",
            OpResult::CasOk { .. } => "cas_ok",
            OpResult::ReadOk { .. } => "read_ok",
            OpResult::RywReadOk { .. } => "ryw_read_ok",
            OpResult::Error { .. } => "error",
        }
    }

    pub fn error(code: ErrorCode, text: impl Into<String>) -> OpResult {
        OpResult::Error {
            code,
            text: text.into(),
        }
    }
}

/// Where a `ryw_read` was served.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Served {
    /// By the node the client asked, after waiting `waited_ms` for apply to catch up.
    Locally { waited_ms: u64 },
    /// By the leader, after the node asked forwarded it.
    Redirected { reason: Redirect },
}

/// Why a `ryw_read` went to the leader.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Redirect {
    /// The node asked had not applied the token within its wait bound.
    FollowerBehind,
    /// The client sent `prefer_follower: false`.
    LeaderRequested,
}

impl Redirect {
    pub fn as_str(self) -> &'static str {
        match self {
            Redirect::FollowerBehind => "follower_behind_redirected_to_leader",
            Redirect::LeaderRequested => "leader_requested_by_client",
        }
    }

    pub fn parse(text: &str) -> Option<Redirect> {
        [Redirect::FollowerBehind, Redirect::LeaderRequested]
            .into_iter()
            .find(|r| r.as_str() == text)
    }
}

/// Maelstrom error codes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ErrorCode(pub u64);

impl ErrorCode {
    pub const TIMEOUT: ErrorCode = ErrorCode(0);
    pub const NODE_NOT_FOUND: ErrorCode = ErrorCode(1);
    pub const NOT_SUPPORTED: ErrorCode = ErrorCode(10);
    pub const TEMPORARILY_UNAVAILABLE: ErrorCode = ErrorCode(11);
    pub const MALFORMED_REQUEST: ErrorCode = ErrorCode(12);
    pub const CRASH: ErrorCode = ErrorCode(13);
    pub const ABORT: ErrorCode = ErrorCode(14);
    pub const KEY_DOES_NOT_EXIST: ErrorCode = ErrorCode(20);
    pub const KEY_ALREADY_EXISTS: ErrorCode = ErrorCode(21);
    pub const PRECONDITION_FAILED: ErrorCode = ErrorCode(22);
    pub const TXN_CONFLICT: ErrorCode = ErrorCode(30);

    /// Whether the error proves the operation did not take effect. Timeouts,
    /// crashes and project codes (>= 1000) leave it open.
    pub fn is_definite(self) -> bool {
        !matches!(self.0, 0 | 13) && self.0 < 1000
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// A replicated log entry (Raft Figure 2).
#[derive(Clone, Debug, PartialEq)]
pub struct Entry {
    pub term: u64,
    pub command: Command,
    /// Set on operations forwarded by another node, so that a duplicated
    /// forward applies once (Raft §8, client sessions).
    pub request: Option<RequestId>,
}

/// For people: `term 2: write 5 to key 1 (forwarded by n3 as 8)`.
impl fmt::Display for Entry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "term {}: ", self.term)?;
        match &self.command {
            Command::Noop => write!(f, "no-op")?,
            Command::Write { key, value } => write!(f, "write {value} to key {key}")?,
            Command::Cas {
                key,
                from,
                to,
                create_if_not_exists,
            } => {
                write!(f, "cas key {key} from {from} to {to}")?;
                if *create_if_not_exists {
                    write!(f, " (or create)")?;
                }
            }
        }
        if let Some(request) = &self.request {
            write!(f, " (forwarded by {} as {})", request.origin, request.id)?;
        }
        Ok(())
    }
}

/// Names a forwarded operation: the node it came from and that node's id for it.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RequestId {
    pub origin: Id,
    pub id: u64,
}

/// What an entry does to the state machine.
#[derive(Clone, Debug, PartialEq)]
pub enum Command {
    /// Appended by each new leader so it can commit entries of its own term (§5.4.2, §8).
    Noop,
    Write {
        key: Key,
        value: Value,
    },
    Cas {
        key: Key,
        from: Value,
        to: Value,
        create_if_not_exists: bool,
    },
}

/// RequestVote RPC (Raft §5.2, §5.4.1). With `pre_vote` it only asks whether
/// the vote would be granted for `term`, changing nothing (thesis §9.6).
#[derive(Clone, Debug, PartialEq)]
pub struct RequestVote {
    pub term: u64,
    pub last_log_index: u64,
    pub last_log_term: u64,
    pub pre_vote: bool,
}

#[derive(Clone, Debug, PartialEq)]
pub struct RequestVoteOk {
    pub term: u64,
    pub vote_granted: bool,
    pub pre_vote: bool,
}

/// AppendEntries RPC (Raft §5.3). `seq` numbers the leader's broadcasts so that
/// acknowledgements can confirm leadership for linearizable reads (ReadIndex, §8).
/// Rounds count from 1; an answer carrying [`NO_ROUND`] answers a request of
/// an older term and acknowledges no round.
#[derive(Clone, Debug, PartialEq)]
pub struct AppendEntries {
    pub term: u64,
    pub prev_log_index: u64,
    pub prev_log_term: u64,
    pub entries: Vec<Entry>,
    pub leader_commit: u64,
    pub seq: u64,
}

/// The round an answer carries when it answers no round of the receiver's:
/// the request it answers was of an older term than the member's.
pub const NO_ROUND: u64 = 0;

#[derive(Clone, Debug, PartialEq)]
pub struct AppendEntriesOk {
    pub term: u64,
    pub success: bool,
    /// On success, the index of the last entry the request covered.
    pub match_index: u64,
    /// On failure, where the leader should try next (fast back-off).
    pub next_index_hint: u64,
    pub seq: u64,
}

/// A client operation handed to the leader by the node the client asked.
#[derive(Clone, Debug, PartialEq)]
pub struct Forward {
    /// The asking node's id for the operation; echoed in `ForwardOk`.
    pub fwd_id: u64,
    pub op: ClientOp,
    /// For `ryw_read`: why it was forwarded.
    pub reason: Option<Redirect>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct ForwardOk {
    pub fwd_id: u64,
    pub result: OpResult,
    /// Commit news riding on the answer: the sender's commit index and the
    /// term of its entry there (none before anything commits). The origin
    /// of a write just answered usually holds that entry, so it can commit
    /// and apply it at once, and the session's next `ryw_read` there need
    /// not wait for the next AppendEntries or ask with `commit_wanted`.
    pub commit: Option<Committed>,
}

/// An entry known to be committed: its index and term.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Committed {
    pub index: u64,
    pub term: u64,
}

/// A follower holding reads that wait for entry `index` to commit asks its
/// leader of `term` to say so as soon as it does. One-way: the answer is a
/// [`CommitNews`], and a lost one costs only the read's bounded wait.
#[derive(Clone, Debug, PartialEq)]
pub struct CommitWanted {
    pub term: u64,
    pub index: u64,
}

/// The sender's commit index and the term of its entry there. By Log
/// Matching, a member whose own entry at `commit_index` has `commit_term`
/// holds the same committed prefix, so it may commit up to it (whatever
/// `term` the sender is in: what is committed stays committed).
#[derive(Clone, Debug, PartialEq)]
pub struct CommitNews {
    pub term: u64,
    pub commit_index: u64,
    pub commit_term: u64,
}

#[cfg(test)]
mod display_tests {
    use super::*;

    #[test]
    fn entries_read_as_plain_words() {
        let noop = Entry {
            term: 2,
            command: Command::Noop,
            request: None,
        };
        assert_eq!(noop.to_string(), "term 2: no-op");
        let cas = Entry {
            term: 3,
            command: Command::Cas {
                key: Key::Int(1),
                from: Value::from(4),
                to: Value::from(5),
                create_if_not_exists: true,
            },
            request: Some(RequestId {
                origin: Id::Node(3),
                id: 8,
            }),
        };
        assert_eq!(
            cas.to_string(),
            "term 3: cas key 1 from 4 to 5 (or create) (forwarded by n3 as 8)"
        );
    }
}

/// Sent by a node that lost durable state (see `raft/recovery.rs`): what
/// term, vote and log does each peer hold now? `incarnation` is the
/// asker's, echoed so that an answer meant for an earlier life is dropped.
/// `last_log_index` is where the asker's log ends now: a leader that
/// counted more of it as matching counts only that much from then on.
#[derive(Clone, Debug, PartialEq)]
pub struct Probe {
    pub incarnation: u32,
    pub last_log_index: u64,
}

/// A peer's answer to [`Probe`]: its term, its vote in that term, and the
/// position of the end of its log. It leaves only once that state is durable.
#[derive(Clone, Debug, PartialEq)]
pub struct ProbeOk {
    pub incarnation: u32,
    pub term: u64,
    pub voted_for: Option<Id>,
    pub last_log_index: u64,
    pub last_log_term: u64,
    /// The answerer knows it lost state too (a cut or damaged log) and has
    /// not caught up: its log proves nothing about what was committed, and
    /// its answer does not count.
    pub lost: bool,
}

/// A leader sends its snapshot (see [`crate::Snapshot`]) to a member whose
/// next entry the leader's log no longer holds, in chunks of its text of at
/// most `snapshot_chunk_bytes` (thesis §5.4.2). One chunk is in flight at
/// a time; a heartbeat sends the unacknowledged chunk again.
#[derive(Clone, Debug, PartialEq)]
pub struct InstallSnapshot {
    pub term: u64,
    /// The last index the snapshot covers, and that entry's term.
    pub last_index: u64,
    pub last_term: u64,
    /// Where in the snapshot's text this chunk starts.
    pub offset: u64,
    pub data: String,
    /// The last chunk.
    pub done: bool,
    /// The leader's round, as in `append_entries`: an answer confirms it.
    pub seq: u64,
}

/// A member's answer to [`InstallSnapshot`]: how much of the snapshot at
/// `last_index` it holds (`next_offset`), or that it is installed (or
/// already covered by what the member committed), `done`.
#[derive(Clone, Debug, PartialEq)]
pub struct InstallSnapshotOk {
    pub term: u64,
    pub last_index: u64,
    pub next_offset: u64,
    pub done: bool,
    pub seq: u64,
}
