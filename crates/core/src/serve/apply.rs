//! Applying committed entries to the state machine, in log order, each
//! `apply_delay_ms` after this node learnt it committed (apply lag), and
//! resolving what waited for them: proposals' outcomes and reads. The
//! replica decides what is committed; this file what follows from it.

use super::reply::result_of;
use super::state::Serve;
use crate::events::Event;
use crate::id::Id;
use crate::kv::Applied;
use crate::message::*;
use crate::raft::Raft;
use crate::snapshot::Snapshot;
use crate::time::Millis;

impl Serve {
    /// Applies committed entries strictly in order, each `apply_delay_ms`
    /// after this node learnt it committed, and resolves what waited on them.
    pub(crate) fn apply_committed(&mut self, raft: &mut Raft, now: Millis) {
        assert!(
            self.kv.applied_index() <= raft.commit_index()
                && raft.commit_index() <= raft.log().last_index(),
            "applied ({}) <= commit ({}) <= last log index ({})",
            self.kv.applied_index(),
            raft.commit_index(),
            raft.log().last_index()
        );
        if self.kv.applied_index() == raft.commit_index() {
            return;
        }
        if self
            .commits_learnt
            .back()
            .is_none_or(|&(index, _)| index < raft.commit_index())
        {
            self.commits_learnt.push_back((raft.commit_index(), now));
        }
        // Apply up to the newest commit index learnt long enough ago.
        let delay_ms = raft.config().apply_delay_ms;
        let mut applicable = self.kv.applied_index();
        while let Some(&(index, learnt)) = self.commits_learnt.front() {
            if now.since(learnt) < delay_ms {
                break;
            }
            applicable = applicable.max(index);
            self.commits_learnt.pop_front();
        }
        if applicable == self.kv.applied_index() {
            return;
        }
        while self.kv.applied_index() < applicable {
            let index = self.kv.applied_index() + 1;
            let entry = raft
                .log()
                .get(index)
                .expect("committed entries are in the log");
            let term = entry.term;
            let request = entry.request.clone();
            let outcome = self.kv.apply(index, entry);
            self.on_applied(raft, index, term, request.as_ref(), outcome);
        }
        self.snapshot_if_due(raft, now);
        self.serve_applied_reads(raft, now);
    }

    /// Takes a snapshot every `snapshot_every` applied entries: the state
    /// machine with its duplicate filter, at the applied index.
    fn snapshot_if_due(&mut self, raft: &mut Raft, now: Millis) {
        let every = raft.config().snapshot_every;
        let applied = self.kv.applied_index();
        if every == 0 || applied < raft.snapshot_index() + every {
            return;
        }
        let snapshot = Snapshot {
            index: applied,
            term: raft
                .log()
                .term_at(applied)
                .expect("the applied entry is in the log"),
            members: raft.member_ids().map(<[Id]>::to_vec).unwrap_or_default(),
            kv: if raft.config().planted.snapshot_forgets_dedup {
                self.kv.without_filter()
            } else {
                self.kv.clone()
            },
        };
        raft.take_snapshot(now, snapshot);
    }

    /// The replica installed a leader's snapshot: the state machine becomes
    /// it, if it is newer (never older state), and reads waiting for an
    /// index it covers are served from it.
    pub(super) fn install_snapshot(&mut self, raft: &mut Raft, now: Millis) {
        let Some(snapshot) = raft.durable().snapshot.clone() else {
            return;
        };
        let older = snapshot.index <= self.kv.applied_index();
        if older && !raft.config().planted.install_older_snapshot {
            return;
        }
        if !self.ops.waiting_apply.is_empty() {
            raft.note(Event::SnapshotInstalledWhileReadsWaited);
        }
        self.kv = snapshot.kv.clone();
        self.commits_learnt
            .retain(|&(index, _)| index > snapshot.index);
        // Proposals waiting on entries the snapshot covers were this
        // node's as a leader; their outcome is in the snapshot's filter, and
        // their deadline answers them ("may or may not").
        self.serve_applied_reads(raft, now);
    }

    /// Resolves the proposals waiting on the entry just applied at `index`.
    fn on_applied(
        &mut self,
        raft: &mut Raft,
        index: u64,
        term: u64,
        request: Option<&RequestId>,
        outcome: Applied,
    ) {
        if let Some(request) = request {
            self.ops.proposed.remove(request);
        }
        let Some(waiters) = self.ops.commit_waiters.remove(&index) else {
            return;
        };
        for waiter in waiters {
            let result = if waiter.term != term {
                // A different entry committed at this index, so this one never
                // can: each index commits exactly one entry.
                OpResult::error(
                    ErrorCode::TEMPORARILY_UNAVAILABLE,
                    format!(
                        "leadership changed: entry {index} of term {} was replaced by term {term}'s; \
                         the operation did not take effect",
                        waiter.term
                    ),
                )
            } else {
                // A copy sent again (its first answer may have been lost)
                // reports what the first copy did, at the first copy's index.
                match outcome {
                    Applied::Duplicate { index, first } => {
                        raft.note(Event::DuplicateAnsweredFromFilter);
                        result_of(first.into(), index, waiter.cas)
                    }
                    other => result_of(other, index, waiter.cas),
                }
            };
            self.respond(raft, waiter.reply_to, result);
        }
    }
}
