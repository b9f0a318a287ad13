//! The shims that plant the bugs: each wraps the real, unmodified core
//! behind the same [`SimNode`] face, intercepting some inputs and answering
//! them itself from the core's read-only state, hiding some outputs, or
//! (for the disk bugs) recovering as an older design did.

use std::collections::{BTreeSet, VecDeque};

use ryw_core::*;

use super::catalogue::Bug;
use crate::node::{core_node, MakeNode, NodeFactory, SimNode, StoreDisk};
use ryw_core::durable::replay;
use ryw_storage::{
    Disk, LogFormat, LogStore, Recovered, RecoveryError, FRAME_HEADER_BYTES, HEADER, LOG_FILE,
};

impl Bug {
    /// Builds nodes carrying this bug.
    pub fn factory(self) -> Box<NodeFactory> {
        match self {
            Bug::TrustTornRecord => return Box::new(TrustingRecovery),
            Bug::ReuseRequestIds
            | Bug::VoteAfterWipe
            | Bug::TrustRetriedFsync
            | Bug::SnapshotForgetsDedup
            | Bug::InstallOlderSnapshot
            | Bug::CompactUnapplied
            | Bug::ReadIndexOldRound => return Box::new(DiskBug(self)),
            _ => {}
        }
        Box::new(
            move |config: Config, durable: Option<Durable>, now: Millis| -> Box<dyn SimNode> {
                let inner = core_node(config, durable, now);
                Box::new(Planted {
                    inner,
                    bug: self,
                    outbox: VecDeque::new(),
                    hidden_replies: BTreeSet::new(),
                    hidden_forwards: BTreeSet::new(),
                    held: Vec::new(),
                    next_msg_id: 1 << 48,
                    match_seen: MatchSeen::default(),
                    now,
                })
            },
        )
    }
}

struct Planted {
    inner: Node,
    bug: Bug,
    /// Messages the shim sends itself, ahead of the core's.
    outbox: VecDeque<Envelope>,
    /// Core replies to hide, already answered by the shim: (client, msg_id).
    hidden_replies: BTreeSet<(Id, u64)>,
    /// Core `forward_ok`s to hide: (origin, fwd_id).
    hidden_forwards: BTreeSet<(Id, u64)>,
    /// `ryw_read`s this shim waits on itself.
    held: Vec<Held>,
    next_msg_id: u64,
    /// `commit-by-count-from-old-term`: what followers acknowledged to this leader.
    match_seen: MatchSeen,
    /// The time of the last input (`ack-before-fsync` reports batches
    /// durable when they are handed out, between inputs).
    now: Millis,
}

/// Match indexes a leader learned from successful AppendEntries replies in
/// one term, by member position.
#[derive(Default)]
struct MatchSeen {
    term: u64,
    by_member: Vec<u64>,
}

/// A `ryw_read` held by `serve-stale-after-wait`.
struct Held {
    client: Id,
    msg_id: Option<u64>,
    key: Key,
    token: u64,
    arrived: Millis,
    until: Millis,
}

impl Planted {
    /// Serves held reads: correctly once applied, stale once the bound passed.
    fn serve_held(&mut self, now: Millis) {
        let applied = self.inner.applied_index();
        let (due, waiting): (Vec<Held>, Vec<Held>) = std::mem::take(&mut self.held)
            .into_iter()
            .partition(|h| h.token <= applied || now >= h.until);
        self.held = waiting;
        for h in due {
            let reply = Payload::Reply(OpResult::RywReadOk {
                value: self.value(&h.key),
                served_by: self.me(),
                applied_index: applied,
                how: Served::Locally {
                    waited_ms: now.since(h.arrived),
                },
            });
            self.send(h.client, h.msg_id, reply);
        }
    }

    fn me(&self) -> Id {
        self.inner.id().cloned().unwrap_or(Id::Node(0))
    }

    fn send(&mut self, dest: Id, in_reply_to: Option<u64>, payload: Payload) {
        self.next_msg_id += 1;
        let envelope = Envelope {
            src: self.me(),
            dest,
            body: Body {
                msg_id: Some(self.next_msg_id),
                in_reply_to,
                payload,
            },
        };
        self.outbox.push_back(envelope);
    }

    fn value(&self, key: &Key) -> Value {
        self.inner
            .kv()
            .get(key)
            .map_or(Value::NULL, |v| v.value.clone())
    }

    /// The value as if every entry in the log were already applied.
    fn uncommitted_value(&self, key: &Key) -> Value {
        let mut value = self.value(key);
        let log = self.inner.log();
        for index in self.inner.applied_index() + 1..=log.last_index() {
            match log.get(index).map(|e| &e.command) {
                Some(Command::Write { key: k, value: v }) if k == key => value = v.clone(),
                Some(Command::Cas {
                    key: k,
                    from,
                    to,
                    create_if_not_exists,
                }) if k == key
                    && (value == *from || (value.is_null() && *create_if_not_exists)) =>
                {
                    value = to.clone();
                }
                _ => {}
            }
        }
        value
    }

    fn ryw_reply(&self, value: Value, applied_index: u64) -> Payload {
        Payload::Reply(OpResult::RywReadOk {
            value,
            served_by: self.me(),
            applied_index,
            how: Served::Locally { waited_ms: 0 },
        })
    }

    /// Returns true when the shim handled the message itself.
    // Longer than 70 lines on purpose: one arm per planted bug that intercepts input, so each bug's mistake reads in one place.
    fn intercept(&mut self, now: Millis, envelope: &Envelope) -> bool {
        let from = envelope.src.clone();
        let msg_id = envelope.body.msg_id;
        let leads = self.inner.role() == RoleKind::Leader;
        match (self.bug, &envelope.body.payload) {
            (Bug::SkipTokenCheck, Payload::Request(ClientOp::RywRead { key, .. }))
                if self.inner.id().is_some() =>
            {
                let reply = self.ryw_reply(self.value(key), self.inner.applied_index());
                self.send(from, msg_id, reply);
                true
            }
            (
                Bug::ReadUncommitted,
                Payload::Request(ClientOp::RywRead {
                    key,
                    last_write_index,
                    ..
                }),
            ) if self.inner.log().last_index() >= *last_write_index => {
                let reply =
                    self.ryw_reply(self.uncommitted_value(key), self.inner.log().last_index());
                self.send(from, msg_id, reply);
                true
            }
            (
                Bug::ServeStaleAfterWait,
                Payload::Request(ClientOp::RywRead {
                    key,
                    last_write_index,
                    prefer_follower: true,
                }),
            ) if !leads && self.inner.id().is_some() => {
                self.held.push(Held {
                    client: from,
                    msg_id,
                    key: key.clone(),
                    token: *last_write_index,
                    arrived: now,
                    until: now.plus(self.inner.config().ryw_wait_ms_max),
                });
                self.serve_held(now);
                true
            }
            (
                Bug::ServeByCommitIndex,
                Payload::Request(ClientOp::RywRead {
                    key,
                    last_write_index,
                    ..
                }),
            ) if self.inner.id().is_some() && *last_write_index <= self.inner.commit_index() => {
                // The mistake: "committed" read as "applied". The state
                // machine may still be behind the commit index.
                let reply = self.ryw_reply(self.value(key), self.inner.commit_index());
                self.send(from, msg_id, reply);
                true
            }
            (Bug::StaleLeaderRead, Payload::Request(ClientOp::Read { key })) if leads => {
                let result = self.lin_read(key);
                self.send(from, msg_id, Payload::Reply(result));
                true
            }
            (Bug::StaleLeaderRead, Payload::Peer(PeerMsg::Forward(f)))
                if leads && matches!(f.op, ClientOp::Read { .. }) =>
            {
                let result = self.lin_read(f.op.key());
                let reply = Payload::Peer(PeerMsg::ForwardOk(ForwardOk {
                    fwd_id: f.fwd_id,
                    result,
                    commit: None,
                }));
                self.send(from, None, reply);
                true
            }
            (Bug::AckBeforeCommit, Payload::Request(ClientOp::Write { .. })) if leads => {
                self.inner.handle_message(now, envelope.clone());
                let commit_index = self.inner.log().last_index();
                if let Some(id) = msg_id {
                    self.hidden_replies.insert((from.clone(), id));
                }
                self.send(
                    from,
                    msg_id,
                    Payload::Reply(OpResult::WriteOk { commit_index }),
                );
                true
            }
            (Bug::AckBeforeCommit, Payload::Peer(PeerMsg::Forward(f)))
                if leads && matches!(f.op, ClientOp::Write { .. }) =>
            {
                self.inner.handle_message(now, envelope.clone());
                let commit_index = self.inner.log().last_index();
                self.hidden_forwards.insert((from.clone(), f.fwd_id));
                let reply = Payload::Peer(PeerMsg::ForwardOk(ForwardOk {
                    fwd_id: f.fwd_id,
                    result: OpResult::WriteOk { commit_index },
                    commit: None,
                }));
                self.send(from, None, reply);
                true
            }
            _ => false,
        }
    }

    /// Rewrites a message on its way in, for bugs that change how the core
    /// judges it rather than answering it.
    fn rewrite_incoming(&mut self, envelope: &mut Envelope) {
        let log = self.inner.log();
        let (my_term, my_index) = (log.last_term(), log.last_index());
        match (self.bug, &mut envelope.body.payload) {
            (Bug::VoteIgnoresLastTerm, Payload::Peer(PeerMsg::RequestVote(request))) => {
                // Judge by length alone: present the candidate's last term so
                // that the core's (term, index) comparison gives the same answer.
                request.last_log_term = if request.last_log_index >= my_index {
                    request.last_log_term.max(my_term)
                } else {
                    request.last_log_term.min(my_term)
                };
            }
            (Bug::TrustCommitNews, Payload::Peer(PeerMsg::CommitNews(news))) => {
                // Take the news for whatever entry sits at its index here.
                if let Some(term) = log.term_at(news.commit_index) {
                    news.commit_term = term;
                }
            }
            (Bug::CommitByCountFromOldTerm, Payload::Peer(PeerMsg::AppendEntriesOk(reply)))
                if reply.success && reply.term == self.inner.term() =>
            {
                let from = member_position(&envelope.src);
                let members = self.members();
                let seen = &mut self.match_seen;
                if seen.term != reply.term {
                    *seen = MatchSeen {
                        term: reply.term,
                        by_member: vec![0; members],
                    };
                }
                if let Some(slot) = from.and_then(|k| seen.by_member.get_mut(k)) {
                    *slot = (*slot).max(reply.match_index);
                }
            }
            _ => {}
        }
    }

    /// Rewrites a message the core sends, for the same kind of bug.
    fn rewrite_outgoing(&self, envelope: &mut Envelope) {
        if let (Bug::CommitByCountFromOldTerm, Payload::Peer(PeerMsg::AppendEntries(request))) =
            (self.bug, &mut envelope.body.payload)
        {
            request.leader_commit = request.leader_commit.max(self.commit_by_count());
        }
    }

    /// The highest index a majority stores, by the match indexes seen in
    /// this term, whatever the entry's term: §5.4.2's rule left out.
    fn commit_by_count(&self) -> u64 {
        let seen = &self.match_seen;
        if self.inner.role() != RoleKind::Leader || seen.term != self.inner.term() {
            return 0;
        }
        let me = self.inner.id().and_then(member_position);
        let mut matches: Vec<u64> = seen
            .by_member
            .iter()
            .enumerate()
            .map(|(k, &m)| {
                if Some(k) == me {
                    self.inner.log().last_index()
                } else {
                    m
                }
            })
            .collect();
        matches.sort_unstable_by(|a, b| b.cmp(a));
        let majority = matches.len() / 2 + 1;
        matches.get(majority - 1).copied().unwrap_or(0)
    }

    fn members(&self) -> usize {
        self.inner
            .config()
            .cluster
            .as_ref()
            .map_or(0, |c| c.members.len())
    }

    fn lin_read(&self, key: &Key) -> OpResult {
        match self.inner.kv().get(key) {
            Some(v) => OpResult::ReadOk {
                value: v.value.clone(),
            },
            None => OpResult::error(ErrorCode::KEY_DOES_NOT_EXIST, "no such key"),
        }
    }

    fn hidden(&mut self, envelope: &Envelope) -> bool {
        match &envelope.body.payload {
            Payload::Reply(OpResult::WriteOk { .. }) => envelope
                .body
                .in_reply_to
                .is_some_and(|id| self.hidden_replies.remove(&(envelope.dest.clone(), id))),
            Payload::Peer(PeerMsg::ForwardOk(f)) => self
                .hidden_forwards
                .remove(&(envelope.dest.clone(), f.fwd_id)),
            _ => false,
        }
    }
}

/// Position of a node id among the members `n1..nN`.
fn member_position(id: &Id) -> Option<usize> {
    match id {
        Id::Node(k) => (*k as usize).checked_sub(1),
        _ => None,
    }
}

impl SimNode for Planted {
    fn handle_message(&mut self, now: Millis, mut envelope: Envelope) {
        self.now = now;
        self.rewrite_incoming(&mut envelope);
        if !self.intercept(now, &envelope) {
            self.inner.handle_message(now, envelope);
        }
        self.serve_held(now);
    }

    fn handle_timeout(&mut self, now: Millis) {
        self.now = now;
        self.inner.handle_timeout(now);
        self.serve_held(now);
    }

    fn poll_transmit(&mut self) -> Option<Envelope> {
        if let Some(envelope) = self.outbox.pop_front() {
            return Some(envelope);
        }
        loop {
            let mut envelope = self.inner.poll_transmit()?;
            if !self.hidden(&envelope) {
                self.rewrite_outgoing(&mut envelope);
                return Some(envelope);
            }
        }
    }

    fn poll_timeout(&self) -> Option<Millis> {
        let held = self.held.iter().map(|h| h.until).min();
        match (self.inner.poll_timeout(), held) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    fn poll_persist(&mut self) -> Option<ryw_core::durable::PersistBatch> {
        let mut batch = self.inner.poll_persist()?;
        match self.bug {
            // Written is as good as synced, it thinks.
            Bug::AckBeforeFsync => self.inner.handle_persisted(self.now, batch.number),
            Bug::VoteNotPersisted => {
                if let Some(hard_state) = batch.hard_state.as_mut() {
                    hard_state.voted_for = None;
                }
            }
            _ => {}
        }
        Some(batch)
    }

    fn handle_persisted(&mut self, now: Millis, number: u64) {
        self.now = now;
        self.inner.handle_persisted(now, number);
        self.serve_held(now);
    }

    fn handle_persist_failed(&mut self, why: &str) {
        self.inner.handle_persist_failed(why);
    }

    fn core(&self) -> &Node {
        &self.inner
    }
}

/// `trust-torn-record`: the real node, on a recovery that verifies nothing.
struct TrustingRecovery;

impl MakeNode for TrustingRecovery {
    fn make(&self, config: Config, durable: Option<Durable>, now: Millis) -> Box<dyn SimNode> {
        Box::new(core_node(config, durable, now))
    }

    /// Reads records by their length alone: no header, length or payload
    /// check. A record that parses is data; the first that does not is
    /// taken for a torn tail and cut, with everything after it.
    fn recover(
        &self,
        mut disk: StoreDisk,
    ) -> Result<(LogStore<StoreDisk>, Recovered), RecoveryError> {
        let bytes = disk.read_all(LOG_FILE)?;
        let mut records = Vec::new();
        let (format, _) = LogFormat::nearest(&bytes[..HEADER.len().min(bytes.len())]);
        let mut at = HEADER.len().min(bytes.len());
        while let Some(header) = bytes.get(at..at + FRAME_HEADER_BYTES) {
            let length = u32::from_le_bytes([header[0], header[1], header[2], header[3]]) as usize;
            let start = at + FRAME_HEADER_BYTES;
            let Some(payload) = bytes.get(start..start.saturating_add(length)) else {
                break;
            };
            let Ok(record) = format.decode(payload) else {
                break;
            };
            records.push(record);
            at = start + length;
        }
        let kept = if at < HEADER.len() { 0 } else { at };
        disk.truncate(LOG_FILE, kept as u64)?;
        let count = records.len();
        let durable = replay(records).map_err(|why| RecoveryError::Unreadable {
            file: LOG_FILE.into(),
            offset: HEADER.len() as u64,
            why,
        })?;
        let recovered = Recovered {
            durable,
            records: count,
            cut: None,
            lost: None,
        };
        Ok((LogStore::resume(disk, kept as u64), recovered))
    }
}

/// The real node with one of the old designs of its disk handling
/// (`reuse-request-ids`, `vote-after-wipe`, `trust-retried-fsync`), or
/// with one of the core's `PlantedBugs` switched on (bugs inside a step).
struct DiskBug(Bug);

impl MakeNode for DiskBug {
    fn make(&self, mut config: Config, durable: Option<Durable>, now: Millis) -> Box<dyn SimNode> {
        let mut durable = durable.unwrap_or_default();
        match self.0 {
            // Ids numbered by the start count on the disk, as before they
            // were drawn at boot: a wiped disk starts the count again.
            Bug::ReuseRequestIds => config.incarnation = (durable.starts + 1) as u32,
            // Whatever the disk lost, trust what is left.
            Bug::VoteAfterWipe => durable.recovering = false,
            // Inside a step, where a shim cannot reach: the core's switches.
            Bug::SnapshotForgetsDedup => config.planted.snapshot_forgets_dedup = true,
            Bug::InstallOlderSnapshot => config.planted.install_older_snapshot = true,
            Bug::CompactUnapplied => config.planted.compact_unapplied = true,
            Bug::ReadIndexOldRound => config.planted.read_index_old_round = true,
            _ => {}
        }
        Box::new(core_node(config, Some(durable), now))
    }

    fn retries_failed_fsync(&self) -> bool {
        self.0 == Bug::TrustRetriedFsync
    }
}
