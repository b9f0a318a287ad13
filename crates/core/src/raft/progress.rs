//! What a leader knows of every member: Raft's nextIndex and matchIndex
//! (Figure 2), the newest heartbeat round each acknowledged (ReadIndex), and
//! when each was last heard from (check-quorum). Every question the leader
//! asks of it is "does a majority, counting me, ...?".

use std::collections::VecDeque;
use std::sync::Arc;

use super::members::Members;
use crate::time::Millis;

#[derive(Clone)]
pub(super) struct Progress {
    pub(super) next_index: u64,
    pub(super) match_index: u64,
    /// Newest AppendEntries round (`seq`) the member acknowledged.
    pub(super) acked_seq: u64,
    /// The round of the last refusal below `match_index` that was answered.
    pub(super) refused_seq: u64,
    /// The oldest round whose answers count for `match_index`: the one
    /// after the member last said it lost entries (older answers may come
    /// from before the loss).
    pub(super) answers_from_seq: u64,
    pub(super) last_heard: Millis,
    /// When this leader last sent the member an AppendEntries.
    pub(super) sent_at: Millis,
    /// The last index of each AppendEntries that carried entries and that
    /// neither this member acknowledged nor a majority committed, oldest
    /// first: the replication window.
    pub(super) in_flight: VecDeque<u64>,
    /// The highest index this member asked to hear is committed and has not
    /// yet heard of (0: none).
    pub(super) news_wanted: u64,
    /// The snapshot this member is being sent, until it holds it.
    pub(super) snapshot_sent: Option<SnapshotSend>,
    /// Whether it installed a snapshot from this leader and is still
    /// catching up from there by AppendEntries (until it matches within
    /// `compaction_margin` of the commit index).
    pub(super) after_snapshot: bool,
}

/// A snapshot on its way to one member. Its text is kept until the member
/// holds all of it, even once the leader has a newer snapshot: starting
/// over with each newer one would never finish when snapshots come faster
/// than a transfer takes (a busy leader, small chunks).
#[derive(Clone, Debug)]
pub(super) struct SnapshotSend {
    pub(super) index: u64,
    pub(super) term: u64,
    pub(super) text: Arc<str>,
    /// How much of the text the member acknowledged.
    pub(super) acked: u64,
    /// How much of it was sent: the end of the furthest chunk in flight.
    pub(super) sent: u64,
}

impl Progress {
    /// Forgets the requests that an acknowledgement of, or a commit up to,
    /// `index` settles.
    pub(super) fn settled_up_to(&mut self, index: u64) {
        while self.in_flight.front().is_some_and(|&last| last <= index) {
            self.in_flight.pop_front();
        }
    }

    /// Whether an AppendEntries may carry new entries to this member: fewer
    /// than `window` are unsettled. A request counts until the member
    /// acknowledges it or a majority commits what it carried, so a member
    /// slower than the majority gets entries at the majority's pace rather
    /// than its own round trip's.
    pub(super) fn window_open(&mut self, window: usize, commit_index: u64) -> bool {
        self.settled_up_to(commit_index);
        self.in_flight.len() < window
    }

    /// The member lost durable state and its log now ends at `last_index`
    /// (its disk was wiped, cut or damaged). What it still holds need not
    /// be what it acknowledged: a disk that loses synced writes can hand
    /// back entries since overwritten by a newer leader's, at the same
    /// indexes. So it counts for nothing until it acknowledges again, and
    /// is sent entries from the end of its log on, where the consistency
    /// check finds how far the two logs agree. Counting less is always
    /// safe; what was in flight is answered in rounds no longer heard.
    pub(super) fn lost_entries_after(&mut self, last_index: u64) {
        if self.match_index == 0 {
            // Nothing counted, nothing to forget: its refusals steer
            // `next_index` as for any member.
            return;
        }
        self.match_index = 0;
        self.next_index = self.next_index.min(last_index + 1).max(1);
        self.in_flight.clear();
        self.after_snapshot = false;
    }

    /// After an acknowledgement: a member catching up from a snapshot it
    /// installed has caught up once compaction (to a snapshot's index less
    /// `margin`, so at most the commit index less it) no longer reaches
    /// what it matches.
    pub(super) fn note_caught_up(&mut self, commit_index: u64, margin: u64) {
        self.after_snapshot &= self.match_index + margin < commit_index;
    }

    /// Whether the member lacks entries and its window lets them go.
    pub(super) fn ready_for_entries(
        &mut self,
        last_index: u64,
        window: usize,
        commit_index: u64,
    ) -> bool {
        self.next_index <= last_index && self.window_open(window, commit_index)
    }
}

pub(super) struct Followers {
    all: Vec<Progress>,
    me: usize,
    majority: usize,
}

impl Followers {
    /// A new leader's view: every member's log presumed as long as its own
    /// (`next_index`), nothing known to match, everyone just heard from.
    pub(super) fn new(members: &Members, next_index: u64, now: Millis) -> Followers {
        let progress = Progress {
            next_index,
            match_index: 0,
            acked_seq: 0,
            refused_seq: 0,
            answers_from_seq: 0,
            last_heard: now,
            sent_at: now,
            in_flight: VecDeque::new(),
            news_wanted: 0,
            snapshot_sent: None,
            after_snapshot: false,
        };
        Followers {
            all: vec![progress; members.ids.len()],
            me: members.me,
            majority: members.majority(),
        }
    }

    /// Whether this leader (if `me_too`) and enough peers satisfying
    /// `holds` make a majority.
    fn majority_with(&self, me_too: bool, holds: impl Fn(&Progress) -> bool) -> bool {
        let peers = self
            .all
            .iter()
            .enumerate()
            .filter(|&(peer, p)| peer != self.me && holds(p))
            .count();
        usize::from(me_too) + peers >= self.majority
    }

    /// Whether this leader and enough peers satisfying `holds` make a majority.
    fn majority_where(&self, holds: impl Fn(&Progress) -> bool) -> bool {
        self.majority_with(true, holds)
    }

    /// Whether a majority holds log entry `index` durably. Peers acknowledge
    /// only durable entries; the leader counts itself once its own log is
    /// durable up to `index` (`own_synced_index`), so it may replicate while
    /// its fsync runs (thesis §10.2.1).
    pub(super) fn replicated_on_majority(&self, index: u64, own_synced_index: u64) -> bool {
        self.majority_with(own_synced_index >= index, |p| p.match_index >= index)
    }

    /// The highest log index a majority holds durably, counting this
    /// leader up to `own_synced_index`: the majority-th largest of the
    /// members' match indexes. Work bounded by the members, squared, not by
    /// the log (the members are few; no allocation).
    pub(super) fn majority_match(&self, own_synced_index: u64) -> u64 {
        let held = |member: usize| {
            if member == self.me {
                own_synced_index
            } else {
                self.all[member].match_index
            }
        };
        let members = 0..self.all.len();
        members
            .clone()
            .map(held)
            .filter(|&index| members.clone().filter(|&m| held(m) >= index).count() >= self.majority)
            .max()
            .unwrap_or(0)
    }

    /// Whether a majority acknowledged heartbeat round `seq` or a later one.
    pub(super) fn acked_by_majority(&self, seq: u64) -> bool {
        seq > 0 && self.majority_where(|p| p.acked_seq >= seq)
    }

    /// The oldest index the log must keep for a member heard from within
    /// `live_ms`, if any: a snapshot on its way to it (the log after it is
    /// what the member needs once it has it), or, for a member that
    /// installed one and is catching up from there, what it matches. A
    /// member gone silent holds nothing back.
    pub(super) fn oldest_kept_for(&self, now: Millis, live_ms: u64) -> Option<u64> {
        self.all
            .iter()
            .filter(|p| now.since(p.last_heard) <= live_ms)
            .filter_map(|p| match &p.snapshot_sent {
                Some(sending) => Some(sending.index),
                None => p.after_snapshot.then_some(p.match_index),
            })
            .min()
    }

    /// When the peer that was sent to longest ago was last sent to.
    pub(super) fn oldest_sent_at(&self, me: usize) -> Option<Millis> {
        let peers = self.all.iter().enumerate().filter(|&(peer, _)| peer != me);
        peers.map(|(_, p)| p.sent_at).min()
    }

    /// Whether a majority was heard from within the last `window_ms`.
    pub(super) fn heard_from_majority(&self, now: Millis, window_ms: u64) -> bool {
        self.majority_where(|p| now.since(p.last_heard) < window_ms)
    }
}

impl std::ops::Index<usize> for Followers {
    type Output = Progress;

    fn index(&self, member: usize) -> &Progress {
        &self.all[member]
    }
}

impl std::ops::IndexMut<usize> for Followers {
    fn index_mut(&mut self, member: usize) -> &mut Progress {
        &mut self.all[member]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::id::Id;

    fn five_members_led_by(me: usize) -> Followers {
        let members = Members {
            me,
            ids: (1..=5).map(Id::Node).collect(),
        };
        Followers::new(&members, 10, Millis(0))
    }

    /// Compaction keeps the log after the oldest snapshot on its way to a
    /// member heard from lately, or after what a member that installed one
    /// matches; a member gone silent holds nothing back, or one crashed
    /// mid-transfer would keep the log growing for ever.
    #[test]
    fn only_a_live_member_holds_back_compaction_for_its_snapshot() {
        let mut followers = five_members_led_by(0);
        let sending = |index| SnapshotSend {
            index,
            term: 1,
            text: Arc::from(""),
            acked: 0,
            sent: 0,
        };
        assert_eq!(followers.oldest_kept_for(Millis(100), 300), None);
        followers[1].snapshot_sent = Some(sending(40));
        followers[3].snapshot_sent = Some(sending(25));
        followers[1].last_heard = Millis(90);
        followers[3].last_heard = Millis(80);
        assert_eq!(followers.oldest_kept_for(Millis(100), 300), Some(25));
        // n4 silent for longer than the bound: only n2's transfer counts.
        assert_eq!(followers.oldest_kept_for(Millis(385), 300), Some(40));
        assert_eq!(followers.oldest_kept_for(Millis(391), 300), None);
        // A member that installed a snapshot and catches up from there
        // holds back what it matches, while it is heard from.
        followers[2].after_snapshot = true;
        followers[2].match_index = 33;
        followers[2].last_heard = Millis(380);
        assert_eq!(followers.oldest_kept_for(Millis(391), 300), Some(33));
        followers[3].last_heard = Millis(390);
        assert_eq!(followers.oldest_kept_for(Millis(391), 300), Some(25));
        assert_eq!(followers.oldest_kept_for(Millis(691), 300), None);
    }

    #[test]
    fn a_member_after_a_snapshot_has_caught_up_once_compaction_cannot_reach_its_match() {
        let mut followers = five_members_led_by(0);
        let p = &mut followers[1];
        p.after_snapshot = true;
        p.match_index = 10;
        // Margin 2: compaction reaches at most commit - 2.
        p.note_caught_up(13, 2);
        assert!(p.after_snapshot, "commit 13 may compact to 11, past 10");
        p.note_caught_up(12, 2);
        assert!(!p.after_snapshot, "commit 12 compacts to 10 at most");
        // A member that installed nothing is never marked by it.
        p.match_index = 1;
        p.note_caught_up(100, 2);
        assert!(!p.after_snapshot);
    }

    #[test]
    fn the_leader_counts_itself_toward_every_majority() {
        let mut followers = five_members_led_by(2);
        followers[0].match_index = 7;
        assert!(
            !followers.replicated_on_majority(7, 10),
            "leader + one of five"
        );
        followers[4].match_index = 9;
        assert!(
            followers.replicated_on_majority(7, 10),
            "leader + two of five"
        );
        assert!(!followers.replicated_on_majority(8, 10));
        assert!(
            !followers.replicated_on_majority(7, 6),
            "the leader's own copy counts only once durable"
        );
        followers[3].match_index = 7;
        assert!(
            followers.replicated_on_majority(7, 6),
            "three peers of five"
        );
        // The leader's own slot never counts twice.
        followers[2].acked_seq = 3;
        followers[1].acked_seq = 3;
        assert!(!followers.acked_by_majority(3));
        followers[3].acked_seq = 4;
        assert!(followers.acked_by_majority(3));
        assert!(!followers.acked_by_majority(0), "round 0 was never sent");
    }

    #[test]
    fn contact_is_judged_within_the_window() {
        let mut followers = five_members_led_by(0);
        for (member, heard_ms) in [(1, 10), (2, 50), (3, 95), (4, 99)] {
            followers[member].last_heard = Millis(heard_ms);
        }
        assert!(followers.heard_from_majority(Millis(100), 10), "n4 and n5");
        assert!(!followers.heard_from_majority(Millis(100), 5), "only n5");
    }

    #[test]
    fn a_member_that_lost_state_counts_for_nothing_until_it_answers_again() {
        let mut followers = five_members_led_by(0);
        let p = &mut followers[1];
        p.match_index = 5;
        p.next_index = 9;
        p.in_flight.extend([7, 8]);
        p.lost_entries_after(5);
        assert_eq!(
            (p.match_index, p.next_index, p.in_flight.len()),
            (0, 6, 0),
            "what it holds to 5 may be an older version: nothing counts until it answers again"
        );
        p.match_index = 5;
        p.next_index = 9;
        p.lost_entries_after(3);
        assert_eq!(
            (p.match_index, p.next_index, p.in_flight.len()),
            (0, 4, 0),
            "sent again from 4"
        );
        p.match_index = 1;
        p.next_index = 2;
        p.lost_entries_after(3);
        assert_eq!(
            (p.match_index, p.next_index),
            (0, 2),
            "never further on than the leader had it"
        );
        p.next_index = 7;
        p.in_flight.push_back(6);
        p.lost_entries_after(3);
        assert_eq!(
            (p.next_index, p.in_flight.len()),
            (7, 1),
            "nothing counted: refusals will steer it"
        );
    }
}
