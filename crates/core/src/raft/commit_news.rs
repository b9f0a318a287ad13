//! Commit news: a follower holding `ryw_read`s that wait for an entry to
//! commit asks its leader to say when it does, instead of waiting for the
//! next AppendEntries to carry the commit index (a whole heartbeat interval
//! when no writes flow, and with a replication window, until the follower's
//! next acknowledgement is answered). The leader answers once, one-way; a
//! lost question or answer costs only the read's bounded wait.

use super::state::{Raft, Role};
use crate::events::Event;
use crate::message::*;

impl Raft {
    /// Follower side: reads now wait for entry `index`; asks the leader to
    /// tell once it commits, unless this node knows it did or asked already.
    /// (Asking only after a few milliseconds, in case an AppendEntries
    /// brings the news first, saved 2-3% of the leader's messages in the
    /// benchmark and cost 1-4 ms of read p99, so it asks at once.)
    pub(crate) fn want_commit(&mut self, index: u64) {
        if index <= self.commit_index || index <= self.news.asked || self.is_leader() {
            return;
        }
        let Some(leader) = self.leader else {
            return; // the read waits, then goes to whoever leads by then
        };
        self.news.asked = index;
        self.note(Event::CommitAskedFor);
        let wanted = CommitWanted {
            term: self.durable.current_term,
            index,
        };
        self.send_to_member(leader, Payload::Peer(PeerMsg::CommitWanted(wanted)));
    }

    /// Leader side: answers at once if `index` is committed, otherwise
    /// remembers to answer when it is.
    pub(super) fn on_commit_wanted(&mut self, from: usize, wanted: CommitWanted) {
        if wanted.term != self.durable.current_term {
            return; // asked a leader of another term; its read falls back
        }
        let commit_index = self.commit_index;
        let Role::Leader(leader) = &mut self.role else {
            return;
        };
        if wanted.index > commit_index {
            let progress = &mut leader.progress[from];
            progress.news_wanted = progress.news_wanted.max(wanted.index);
            return;
        }
        self.send_commit_news(from);
    }

    /// Leader side, after the commit index advanced: answers every member
    /// whose question it now settles.
    pub(super) fn answer_commit_questions(&mut self) {
        let commit_index = self.commit_index;
        for peer in 0..self.members().ids.len() {
            let Role::Leader(leader) = &mut self.role else {
                return;
            };
            let progress = &mut leader.progress[peer];
            if progress.news_wanted == 0 || progress.news_wanted > commit_index {
                continue;
            }
            progress.news_wanted = 0;
            self.send_commit_news(peer);
        }
    }

    fn send_commit_news(&mut self, peer: usize) {
        let news = CommitNews {
            term: self.durable.current_term,
            commit_index: self.commit_index,
            commit_term: self
                .durable
                .log
                .term_at(self.commit_index)
                .expect("the commit index is within the log"),
        };
        self.send_to_member(peer, Payload::Peer(PeerMsg::CommitNews(news)));
    }

    /// Any member's news is sound to use whatever its term: what is
    /// committed stays committed. News naming an entry this node lacks is
    /// kept until the entry arrives.
    pub(super) fn on_commit_news(&mut self, news: CommitNews) {
        self.hear_commit(Committed {
            index: news.commit_index,
            term: news.commit_term,
        });
    }

    /// Commit news from any message that carries it.
    pub(crate) fn hear_commit(&mut self, commit: Committed) {
        self.commit_by_news(commit.index, commit.term);
        if commit.index > self.news.heard.0.max(self.commit_index) {
            self.news.heard = (commit.index, commit.term);
        }
    }

    /// What this node knows committed, to send along (none before anything
    /// commits).
    pub(crate) fn known_committed(&self) -> Option<Committed> {
        let index = self.commit_index;
        let term = self.durable.log.term_at(index).filter(|_| index > 0)?;
        Some(Committed { index, term })
    }

    /// Uses the news held back, now that the log may hold its entry.
    pub(super) fn use_commit_news(&mut self) {
        let (index, term) = self.news.heard;
        self.commit_by_news(index, term);
    }

    /// Commits up to `index` if this node's entry there has `term`: by Log
    /// Matching the logs agree up to there, and the sender knew that
    /// prefix committed.
    fn commit_by_news(&mut self, index: u64, term: u64) {
        if index > self.commit_index && self.durable.log.term_at(index) == Some(term) {
            self.commit_index = index;
            self.note(Event::CommittedByNews);
        }
    }
}
