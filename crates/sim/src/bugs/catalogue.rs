//! The catalogue of planted bugs: each one's name, what it does, and
//! which checkers must catch it.

use crate::checkers::Property;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Bug {
    SkipTokenCheck,
    ReadUncommitted,
    AckBeforeCommit,
    StaleLeaderRead,
    ServeStaleAfterWait,
    VoteIgnoresLastTerm,
    CommitByCountFromOldTerm,
    ServeByCommitIndex,
    AckBeforeFsync,
    VoteNotPersisted,
    TrustTornRecord,
    TrustCommitNews,
    ReuseRequestIds,
    VoteAfterWipe,
    TrustRetriedFsync,
    SnapshotForgetsDedup,
    InstallOlderSnapshot,
    CompactUnapplied,
    ReadIndexOldRound,
}

impl Bug {
    pub const ALL: [Bug; 19] = [
        Bug::SkipTokenCheck,
        Bug::ReadUncommitted,
        Bug::AckBeforeCommit,
        Bug::StaleLeaderRead,
        Bug::ServeStaleAfterWait,
        Bug::VoteIgnoresLastTerm,
        Bug::CommitByCountFromOldTerm,
        Bug::ServeByCommitIndex,
        Bug::AckBeforeFsync,
        Bug::VoteNotPersisted,
        Bug::TrustTornRecord,
        Bug::TrustCommitNews,
        Bug::ReuseRequestIds,
        Bug::VoteAfterWipe,
        Bug::TrustRetriedFsync,
        Bug::SnapshotForgetsDedup,
        Bug::InstallOlderSnapshot,
        Bug::CompactUnapplied,
        Bug::ReadIndexOldRound,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Bug::SkipTokenCheck => "skip-token-check",
            Bug::ReadUncommitted => "read-uncommitted",
            Bug::AckBeforeCommit => "ack-before-commit",
            Bug::StaleLeaderRead => "stale-leader-read",
            Bug::ServeStaleAfterWait => "serve-stale-after-wait",
            Bug::VoteIgnoresLastTerm => "vote-ignores-last-term",
            Bug::CommitByCountFromOldTerm => "commit-by-count-from-old-term",
            Bug::ServeByCommitIndex => "serve-by-commit-index",
            Bug::AckBeforeFsync => "ack-before-fsync",
            Bug::VoteNotPersisted => "vote-not-persisted",
            Bug::TrustTornRecord => "trust-torn-record",
            Bug::TrustCommitNews => "trust-commit-news",
            Bug::ReuseRequestIds => "reuse-request-ids",
            Bug::VoteAfterWipe => "vote-after-wipe",
            Bug::TrustRetriedFsync => "trust-retried-fsync",
            Bug::SnapshotForgetsDedup => "snapshot-forgets-dedup",
            Bug::InstallOlderSnapshot => "install-older-snapshot",
            Bug::CompactUnapplied => "compact-unapplied",
            Bug::ReadIndexOldRound => "read-index-old-round",
        }
    }

    pub fn description(self) -> &'static str {
        match self {
            Bug::SkipTokenCheck => "nodes answer ryw_read from local state without comparing the token",
            Bug::ReadUncommitted => {
                "ryw_read checks the token against the log length and reads entries not yet committed"
            }
            Bug::AckBeforeCommit => "the leader acknowledges a write as soon as it appends it, before a majority holds it",
            Bug::StaleLeaderRead => "a node that believes it leads answers lin-kv read without confirming leadership",
            Bug::ServeStaleAfterWait => {
                "a follower still behind the token when its wait bound passes serves its own stale state"
            }
            Bug::VoteIgnoresLastTerm => {
                "voters compare only log lengths, not last terms (Raft §5.4.1 broken): a longer log of an older term wins"
            }
            Bug::CommitByCountFromOldTerm => {
                "the leader commits any entry a majority stores, of whatever term (Raft §5.4.2 removed, Figure 8)"
            }
            Bug::ServeByCommitIndex => {
                "ryw_read checks the token against the commit index, not the applied index, and reads a state that has not applied it yet (TiDB #43583)"
            }
            Bug::AckBeforeFsync => {
                "nodes take a write to the disk for an fsync: votes and append_entries_ok leave, and a leader counts its own log, before the fsync completes (etcd #14140's unsynced tails)"
            }
            Bug::VoteNotPersisted => {
                "the term is written to disk but the vote is not: after a crash a node may vote again in a term it already voted in"
            }
            Bug::TrustCommitNews => {
                "a follower told that index i is committed commits its own entry at i without checking that it has the named term: a stale entry of a deposed leader becomes committed there (Log Matching skipped)"
            }
            Bug::ReuseRequestIds => {
                "operation ids come from a start counter kept on the disk: a node whose disk was wiped gives out its first life's ids again, and the leader's duplicate filter takes new writes for old ones"
            }
            Bug::VoteAfterWipe => {
                "a node that lost its disk votes and campaigns at once on its empty log, as if new: it can help elect a leader without the writes it had acknowledged, or vote twice in a term"
            }
            Bug::TrustRetriedFsync => {
                "after an fsync fails the node asks again and trusts the fsync that passes, though the failed one's pages were dropped (fsyncgate)"
            }
            Bug::TrustTornRecord => {
                "recovery checks no checksum: it trusts whatever record parses and takes the first one that does not for the end of the log, so corrupt records come back as data and later ones are cut"
            }
            Bug::SnapshotForgetsDedup => {
                "snapshots leave out the duplicate filter: a request sent again after a node restarted from a snapshot, or installed one, applies a second time there"
            }
            Bug::InstallOlderSnapshot => {
                "a member installs a snapshot no newer than what it committed, as if it were its whole state: its log, commit index and state machine go back to it"
            }
            Bug::CompactUnapplied => {
                "once snapshots begin, every input compacts the log to the commit index: entries not yet applied, and entries no snapshot covers, are gone, and a member behind can never catch up"
            }
            Bug::ReadIndexOldRound => {
                "when a new leader first commits, the lin-kv reads that waited for it are armed with the heartbeat round already in flight, not the next one: acknowledgements sent before those reads arrived confirm them, and a leader deposed meanwhile serves a stale read"
            }
        }
    }

    /// The checkers whose report counts as catching it. Losing committed
    /// entries shows first wherever it shows first: a checker of the log, a
    /// lost acknowledged write, a stale read, or the core's own assertion
    /// that a committed entry is never overwritten (a `panic` violation).
    pub fn caught_by(self) -> &'static [Property] {
        match self {
            Bug::SkipTokenCheck
            | Bug::ReadUncommitted
            | Bug::ServeStaleAfterWait
            | Bug::ServeByCommitIndex => &[Property::ReadYourWrites],
            Bug::VoteNotPersisted => &[Property::OneVotePerTerm, Property::ElectionSafety],
            Bug::AckBeforeFsync
            | Bug::TrustTornRecord
            | Bug::TrustCommitNews
            | Bug::ReuseRequestIds
            | Bug::VoteAfterWipe
            | Bug::TrustRetriedFsync
            | Bug::SnapshotForgetsDedup => &[
                Property::LogMatching,
                Property::Durability,
                Property::ReadYourWrites,
                Property::MonotonicReads,
                Property::Linearizability,
                Property::ElectionSafety,
                Property::OneVotePerTerm,
                Property::ServedState,
                Property::Panic,
            ],
            Bug::AckBeforeCommit => &[Property::Durability],
            Bug::StaleLeaderRead => &[Property::Linearizability],
            // Read-your-writes reads a follower forwards take the leader's
            // ReadIndex path too: a deposed leader serves them stale as well.
            Bug::ReadIndexOldRound => &[
                Property::Linearizability,
                Property::ReadYourWrites,
                Property::MonotonicReads,
            ],
            Bug::InstallOlderSnapshot => &[
                Property::CommitMonotonicity,
                Property::LogMatching,
                Property::Durability,
                Property::ReadYourWrites,
                Property::MonotonicReads,
                Property::Linearizability,
                Property::ServedState,
                Property::Panic,
            ],
            Bug::CompactUnapplied => &[
                Property::Efficiency,
                Property::LogMatching,
                Property::Durability,
                Property::ReadYourWrites,
                Property::MonotonicReads,
                Property::Linearizability,
                Property::ServedState,
                Property::Liveness,
                Property::Panic,
            ],
            Bug::VoteIgnoresLastTerm | Bug::CommitByCountFromOldTerm => &[
                Property::LogMatching,
                Property::Durability,
                Property::ReadYourWrites,
                Property::MonotonicReads,
                Property::Linearizability,
                Property::Panic,
            ],
        }
    }

    /// Whether a run's violations show this bug.
    pub fn caught(self, summary: &crate::Summary) -> bool {
        summary
            .violations
            .iter()
            .any(|v| self.caught_by().contains(&v.checker))
    }

    pub fn parse(name: &str) -> Result<Bug, String> {
        Bug::ALL
            .into_iter()
            .find(|b| b.name() == name)
            .ok_or_else(|| {
                let names: Vec<&str> = Bug::ALL.iter().map(|b| b.name()).collect();
                format!("unknown bug {name:?}; known: {}", names.join(", "))
            })
    }
}
