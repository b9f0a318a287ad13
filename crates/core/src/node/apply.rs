//! Applying committed entries to the state machine, in log order, each
//! `apply_delay_ms` after this node learnt it committed (apply lag), and
//! resolving what waited for them: proposals' outcomes and reads. The
//! serving side of commit: Raft decides what is committed, this file
//! what follows from it.

use super::Node;
use crate::time::Millis;

impl Node {
    /// When the oldest committed but unapplied entries become due.
    pub(super) fn next_apply_at(&self) -> Option<Millis> {
        let &(_, learnt) = self.commits_learnt.front()?;
        Some(learnt.plus(self.config.apply_delay_ms))
    }

    /// Applies committed entries strictly in order, each `apply_delay_ms`
    /// after this node learnt it committed, and resolves what waited on them.
    pub(super) fn apply_committed(&mut self, now: Millis) {
        assert!(
            self.kv.applied_index() <= self.commit_index
                && self.commit_index <= self.durable.log.last_index(),
            "applied ({}) <= commit ({}) <= last log index ({})",
            self.kv.applied_index(),
            self.commit_index,
            self.durable.log.last_index()
        );
        if self.kv.applied_index() == self.commit_index {
            return;
        }
        if self
            .commits_learnt
            .back()
            .is_none_or(|&(index, _)| index < self.commit_index)
        {
            self.commits_learnt.push_back((self.commit_index, now));
        }
        // Apply up to the newest commit index learnt long enough ago.
        let delay_ms = self.config.apply_delay_ms;
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
            let entry = self
                .durable
                .log
                .get(index)
                .expect("committed entries are in the log");
            let term = entry.term;
            let request = entry.request.clone();
            let outcome = self.kv.apply(index, entry);
            self.on_applied(index, term, request.as_ref(), outcome);
        }
        self.serve_applied_reads(now);
    }
}
