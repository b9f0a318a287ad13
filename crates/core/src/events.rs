//! Named events ("sometimes" points): rare states a test run should reach
//! at least once, counted where they happen so that a sweep can say which
//! hard states it explored. They observe and never act: a count is one
//! array increment, and nothing reads it but the harness.

/// One named event of the core.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Event {
    FollowerReadServedAtOnce,
    FollowerReadWaitedThenServed,
    FollowerReadWaitedThenRedirected,
    ReadSentToLeaderByClient,
    LeaderServedForwardedRywRead,
    LinearizableReadConfirmed,
    ReadWaitedForApplyAtLeader,
    CommitAskedFor,
    CommittedByNews,
    LeaderElected,
    PreVoteRefused,
    VoteRefusedLogBehind,
    VoteRefusedAlreadyVoted,
    CheckQuorumStepDown,
    LeaderDeposedWithUncommitted,
    EntryOverwritten,
    OldTermCommittedThroughCurrent,
    AppendRejectedMismatch,
    DuplicateAnsweredFromFilter,
    ForwardSentAgain,
    RequestTimedOutIndeterminate,
    RecoveryStarted,
    VoteDeferredWhileRecovering,
    RecoveryFinished,
    ReplyWaitedForDisk,
    SnapshotTaken,
    SnapshotSent,
    SnapshotInstalled,
    SnapshotInstalledWhileReadsWaited,
    SnapshotOlderRefused,
    ReadsArmedAtFirstCommit,
    TermNoticeInOwnTerm,
    WriteHeldForBacklog,
}

impl Event {
    pub const COUNT: usize = 33;

    pub const ALL: [Event; Event::COUNT] = [
        Event::FollowerReadServedAtOnce,
        Event::FollowerReadWaitedThenServed,
        Event::FollowerReadWaitedThenRedirected,
        Event::ReadSentToLeaderByClient,
        Event::LeaderServedForwardedRywRead,
        Event::LinearizableReadConfirmed,
        Event::ReadWaitedForApplyAtLeader,
        Event::CommitAskedFor,
        Event::CommittedByNews,
        Event::LeaderElected,
        Event::PreVoteRefused,
        Event::VoteRefusedLogBehind,
        Event::VoteRefusedAlreadyVoted,
        Event::CheckQuorumStepDown,
        Event::LeaderDeposedWithUncommitted,
        Event::EntryOverwritten,
        Event::OldTermCommittedThroughCurrent,
        Event::AppendRejectedMismatch,
        Event::DuplicateAnsweredFromFilter,
        Event::ForwardSentAgain,
        Event::RequestTimedOutIndeterminate,
        Event::RecoveryStarted,
        Event::VoteDeferredWhileRecovering,
        Event::RecoveryFinished,
        Event::ReplyWaitedForDisk,
        Event::SnapshotTaken,
        Event::SnapshotSent,
        Event::SnapshotInstalled,
        Event::SnapshotInstalledWhileReadsWaited,
        Event::SnapshotOlderRefused,
        Event::ReadsArmedAtFirstCommit,
        Event::TermNoticeInOwnTerm,
        Event::WriteHeldForBacklog,
    ];

    /// The name reports, scenario files (`expect.reach`) and CSV use.
    pub fn name(self) -> &'static str {
        self.describe().0
    }

    /// What it means, in one line.
    pub fn meaning(self) -> &'static str {
        self.describe().1
    }

    // Longer than 70 lines on purpose: one arm per event, each its name and meaning side by side.
    fn describe(self) -> (&'static str, &'static str) {
        match self {
            Event::FollowerReadServedAtOnce => (
                "follower-read-served-at-once",
                "a follower served a ryw_read from its own state at once",
            ),
            Event::FollowerReadWaitedThenServed => (
                "follower-read-waited-then-served",
                "a follower's ryw_read waited for its token to apply, then was served there",
            ),
            Event::FollowerReadWaitedThenRedirected => (
                "follower-read-waited-then-redirected",
                "a follower's ryw_read waited out its bound and went to the leader",
            ),
            Event::ReadSentToLeaderByClient => (
                "read-sent-to-leader-by-client",
                "a ryw_read with prefer_follower false went from a follower to the leader",
            ),
            Event::LeaderServedForwardedRywRead => (
                "leader-served-forwarded-ryw-read",
                "the leader answered a ryw_read that a follower forwarded",
            ),
            Event::LinearizableReadConfirmed => (
                "linearizable-read-confirmed",
                "a lin-kv read's leadership round (ReadIndex) was acknowledged by a majority",
            ),
            Event::ReadWaitedForApplyAtLeader => (
                "read-waited-for-apply-at-leader",
                "a leader-side read waited for its index to be applied",
            ),
            Event::CommitAskedFor => (
                "commit-asked-for",
                "a follower with waiting reads asked its leader when an index commits",
            ),
            Event::CommittedByNews => (
                "committed-by-news",
                "a follower advanced its commit index from commit news, not AppendEntries",
            ),
            Event::LeaderElected => ("leader-elected", "a candidate won an election"),
            Event::PreVoteRefused => (
                "pre-vote-refused",
                "a pre-vote was refused (a live leader, an old term or a log behind)",
            ),
            Event::VoteRefusedLogBehind => (
                "vote-refused-log-behind",
                "a vote was refused because the candidate's log is behind (§5.4.1)",
            ),
            Event::VoteRefusedAlreadyVoted => (
                "vote-refused-already-voted",
                "a vote was refused because this node voted for another in the term",
            ),
            Event::CheckQuorumStepDown => (
                "check-quorum-step-down",
                "a leader that lost contact with a majority stepped down",
            ),
            Event::LeaderDeposedWithUncommitted => (
                "leader-deposed-with-uncommitted",
                "a leader lost its leadership holding entries it had not committed",
            ),
            Event::EntryOverwritten => (
                "entry-overwritten",
                "a follower replaced a conflicting entry with a new leader's (§5.3)",
            ),
            Event::OldTermCommittedThroughCurrent => (
                "old-term-committed-through-current",
                "entries of an older term were committed by committing one of the current term (Figure 8)",
            ),
            Event::AppendRejectedMismatch => (
                "append-rejected-mismatch",
                "a follower refused AppendEntries whose previous entry it does not hold",
            ),
            Event::DuplicateAnsweredFromFilter => (
                "duplicate-answered-from-filter",
                "a write sent again was answered from the duplicate filter, not applied twice",
            ),
            Event::ForwardSentAgain => (
                "forward-sent-again",
                "an origin sent an unanswered forward to the leader again",
            ),
            Event::RequestTimedOutIndeterminate => (
                "request-timed-out-indeterminate",
                "a write left the node and no answer came in time (error 0)",
            ),
            Event::RecoveryStarted => (
                "recovery-started",
                "a node that lost state (or is new) started protocol-aware recovery",
            ),
            Event::VoteDeferredWhileRecovering => (
                "vote-deferred-while-recovering",
                "a recovering node held a vote request until it knew what it lost",
            ),
            Event::RecoveryFinished => (
                "recovery-finished",
                "a recovering node caught up and may vote again",
            ),
            Event::ReplyWaitedForDisk => (
                "reply-waited-for-disk",
                "a vote or acknowledgement waited for its fsync before it left",
            ),
            Event::SnapshotTaken => (
                "snapshot-taken",
                "a node took a snapshot and compacted its log under it",
            ),
            Event::SnapshotSent => (
                "snapshot-sent",
                "a leader sent a snapshot to a member behind its log's start",
            ),
            Event::SnapshotInstalled => (
                "snapshot-installed",
                "a member installed a snapshot a leader sent",
            ),
            Event::SnapshotInstalledWhileReadsWaited => (
                "snapshot-installed-while-reads-waited",
                "a follower installed a snapshot while ryw_reads waited for apply there",
            ),
            Event::SnapshotOlderRefused => (
                "snapshot-older-refused",
                "a member refused a snapshot no newer than what it had committed",
            ),
            Event::ReadsArmedAtFirstCommit => (
                "reads-armed-at-first-commit",
                "lin-kv reads that reached a new leader before its first commit in its term were given a round then",
            ),
            Event::TermNoticeInOwnTerm => (
                "term-notice-in-own-term",
                "a leader got a member's answer to an older term's request (a former life's) carrying its own term",
            ),
            Event::WriteHeldForBacklog => (
                "write-held-for-backlog",
                "a leader held a write back because its log ran its bound of windows past its commit index",
            ),
        }
    }

    /// The event named `name`.
    pub fn parse(name: &str) -> Option<Event> {
        Event::ALL.into_iter().find(|e| e.name() == name)
    }
}

/// How often each event happened at one node.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reached {
    counts: [u64; Event::COUNT],
    /// The sum of `counts`: a harness that reads the counts after every
    /// step skips them when it has not moved.
    total: u64,
}

impl Default for Reached {
    fn default() -> Reached {
        Reached {
            counts: [0; Event::COUNT],
            total: 0,
        }
    }
}

impl Reached {
    pub(crate) fn note(&mut self, event: Event) {
        self.counts[event as usize] += 1;
        self.total += 1;
    }

    /// How many events happened in all.
    pub fn total(&self) -> u64 {
        self.total
    }

    pub fn count(&self, event: Event) -> u64 {
        self.counts[event as usize]
    }

    /// Every count, in [`Event::ALL`] order.
    pub fn counts(&self) -> &[u64; Event::COUNT] {
        &self.counts
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_event_has_its_own_name_and_a_meaning_and_its_place_in_all() {
        let mut names = std::collections::BTreeSet::new();
        for (k, event) in Event::ALL.into_iter().enumerate() {
            assert_eq!(event as usize, k, "{event:?} out of place");
            assert!(names.insert(event.name()), "{} twice", event.name());
            assert!(!event.meaning().is_empty());
            assert_eq!(Event::parse(event.name()), Some(event));
        }
        assert_eq!(Event::parse("no-such-event"), None);
    }

    #[test]
    fn counts_are_kept_per_event_in_all_order() {
        let mut reached = Reached::default();
        reached.note(Event::EntryOverwritten);
        reached.note(Event::EntryOverwritten);
        reached.note(Event::LeaderElected);
        let mut expected = [0; Event::COUNT];
        expected[Event::EntryOverwritten as usize] = 2;
        expected[Event::LeaderElected as usize] = 1;
        assert_eq!(reached.counts(), &expected);
        assert_eq!(reached.count(Event::EntryOverwritten), 2);
        assert_eq!(reached.total(), 3, "the sum of the counts");
        assert_eq!(Reached::default().total(), 0);
        assert_eq!(
            Event::LeaderElected.meaning(),
            "a candidate won an election"
        );
    }
}
