//! The leader runs an operation, for itself or for the origin that
//! forwarded it: a write or cas is proposed (once per request, however
//! often it is sent: the duplicate filter and the proposals of this term
//! say where it went), a read goes to the ReadIndex path or, when its token
//! is applied already, is answered at once.

use std::cmp::Reverse;

use super::ops::{CommitWaiter, Proposal, Timer};
use super::read_queue::{ApplyRead, ReadKind, ReplyTo};
use super::reply::result_of;
use super::state::Serve;
use crate::events::Event;
use crate::kv::Applied;
use crate::message::*;
use crate::raft::Raft;
use crate::time::Millis;

impl Serve {
    /// The leader runs an operation for `reply_to`.
    pub(super) fn lead(
        &mut self,
        raft: &mut Raft,
        now: Millis,
        reply_to: ReplyTo,
        op: ClientOp,
        reason: Option<Redirect>,
        deadline: Millis,
    ) {
        debug_assert!(raft.is_leader());
        let op = match op.into_command() {
            Ok(command) => {
                // Every proposal names its request, so the state machine
                // applies it once however often its origin sends it (an
                // origin re-sends a forwarded operation until it hears an
                // answer, and may end up leading it itself).
                let request = match reply_to {
                    ReplyTo::Remote { node, fwd_id } => RequestId {
                        origin: raft.member_id(node).clone(),
                        id: fwd_id,
                    },
                    ReplyTo::Local(id) => RequestId {
                        origin: raft.me(),
                        id,
                    },
                };
                let held = Proposal {
                    command,
                    request,
                    reply_to,
                    deadline,
                };
                return self.propose_and_wait(raft, now, held, false);
            }
            Err(read) => read,
        };
        match op {
            ClientOp::Read { key } => {
                self.register_index_read(raft, now, key, ReadKind::Linearizable, reply_to, deadline)
            }
            ClientOp::RywRead {
                key,
                last_write_index: token,
                ..
            } => {
                let kind = ReadKind::Ryw { token, reason };
                if self.kv.applied_index() >= token {
                    self.deliver_read(raft, now, &key, kind, reply_to);
                } else if token <= raft.commit_index() {
                    let read = ApplyRead {
                        index: token,
                        key,
                        kind,
                        reply_to,
                        deadline,
                    };
                    raft.note(Event::ReadWaitedForApplyAtLeader);
                    self.ops.reads.wait_for_apply(read);
                } else {
                    // Beyond the commit index: either the token is not yet
                    // committed here, or no acknowledged write has it. Confirm
                    // leadership first, then decide (see `confirm_index_reads`).
                    self.register_index_read(raft, now, key, kind, reply_to, deadline);
                }
            }
            ClientOp::Write { .. } | ClientOp::Cas { .. } => unreachable!("proposed above"),
        }
    }

    /// Proposes `command` for `request` and has `reply_to` wait for its
    /// entry to apply, until `deadline`; a request applied already is
    /// answered from the duplicate filter, and one proposed already in this
    /// term waits for that entry rather than add another. While the log's
    /// backlog is full, or others wait already, it waits in `held` unless
    /// it is being `admitted` from there.
    // Longer than 70 lines on purpose: the four fates of a proposal (answered from the filter, joined to its entry, held, appended) in the order they are tried.
    fn propose_and_wait(&mut self, raft: &mut Raft, now: Millis, held: Proposal, admitted: bool) {
        let Proposal {
            command,
            request,
            reply_to,
            deadline,
        } = held;
        let cas = matches!(command, Command::Cas { .. });
        if let Some((index, first)) = self.kv.first_application(&request) {
            // Applied already (an earlier answer was lost): say again
            // what the first copy did.
            raft.note(Event::DuplicateAnsweredFromFilter);
            let result = result_of(Applied::from(first), index, cas);
            return self.respond(raft, reply_to, result);
        }
        if let Some(&(index, term)) = self.ops.proposed.get(&request) {
            if raft.log().term_at(index) == Some(term) {
                // Proposed and still in the log: wait for that entry.
                let waiters = self.ops.commit_waiters.entry(index).or_default();
                if !waiters.iter().any(|w| w.reply_to == reply_to) {
                    waiters.push(CommitWaiter {
                        term,
                        cas,
                        reply_to,
                        deadline,
                    });
                    let timer = Reverse((deadline, Timer::Waiters(index)));
                    self.ops.timers.push(timer);
                }
                return;
            }
        }
        if !admitted && (raft.backlog_full() || !self.ops.held.is_empty()) {
            // A copy sent again while one is held joins it.
            if self.ops.held_requests.insert(request.clone()) {
                raft.note(Event::WriteHeldForBacklog);
                self.ops.held.push_back(Proposal {
                    command,
                    request,
                    reply_to,
                    deadline,
                });
            }
            return;
        }
        let (index, term) = raft.propose(now, command, Some(request.clone()), self);
        self.ops.proposed.insert(request, (index, term));
        let waiter = CommitWaiter {
            term,
            cas,
            reply_to,
            deadline,
        };
        let waiters = self.ops.commit_waiters.entry(index).or_default();
        assert!(
            waiters.iter().all(|w| w.term != term),
            "one proposal per (index, term): a leader appends each index once"
        );
        waiters.push(waiter);
        self.ops
            .timers
            .push(Reverse((deadline, Timer::Waiters(index))));
    }

    /// Appends the held writes the backlog has room for, newest first: an
    /// overloaded leader serves the clients still waiting rather than
    /// those most likely to have given up (their client's timeout may be
    /// shorter than the node's), so some writes succeed however long the
    /// overload lasts. One whose deadline passed is dropped (its origin
    /// answers its client at that deadline; it never entered the log).
    pub(crate) fn admit_held(&mut self, raft: &mut Raft, now: Millis) {
        while !self.ops.held.is_empty() && raft.is_leader() && !raft.backlog_full() {
            let held = self.ops.held.pop_back().expect("checked non-empty");
            self.ops.held_requests.remove(&held.request);
            if held.deadline > now {
                self.propose_and_wait(raft, now, held, true);
            }
        }
    }
}
