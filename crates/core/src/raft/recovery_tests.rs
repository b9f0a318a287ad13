//! Protocol-aware recovery (see `recovery.rs`): a node that lost its disk
//! neither votes nor campaigns on what it lost, catches up from its peers,
//! and rejoins by itself; a brand-new cluster still elects at once.

use crate::data::Value;
use crate::testkit::*;

fn holds_write(node: &Node, index: u64, value: i64) -> bool {
    let expected = Value::from(value);
    node.log().get(index).is_some_and(
        |entry| matches!(&entry.command, Command::Write { value: v, .. } if *v == expected),
    )
}

// The classic hazard (CTRL, FAST '18): n3 misses ten committed writes, n1
// then loses its disk, n2 (the only other holder) is cut off. n1 and n3 are
// a majority, but must not elect a leader without the writes.
#[test]
fn a_wiped_voter_does_not_help_elect_a_leader_that_lacks_committed_writes() {
    let mut cluster = TestCluster::new(3, 41);
    let leader = cluster.stable_leader();
    let others: Vec<usize> = (0..3).filter(|&i| i != leader).collect();
    let (holder, behind) = (others[0], others[1]);
    cluster.isolate(behind);
    let mut acknowledged = Vec::new();
    for value in 0..10 {
        acknowledged.push((
            commit_index_of(&cluster.call(leader, 1, write("x", value))),
            value,
        ));
    }
    cluster.heal();
    // The leader loses its disk; the holder is cut off; the node that
    // missed the writes is back.
    cluster.crash(leader);
    cluster.restart_wiped(leader);
    cluster.isolate(holder);
    cluster.run_for(3_000);
    for i in [leader, behind] {
        let node = cluster.node(i);
        assert_ne!(
            node.role(),
            RoleKind::Leader,
            "n{} leads without the writes",
            i + 1
        );
    }
    assert!(
        cluster.node(leader).is_recovering(),
        "it heard from one peer of two"
    );
    // The holder returns: it leads, the wiped node catches up and recovers.
    cluster.heal();
    let new_leader = cluster.stable_leader();
    assert!(cluster.run_until(3_000, |c| !c.node(leader).is_recovering()));
    for &(index, value) in &acknowledged {
        for i in [new_leader, leader] {
            assert!(
                holds_write(cluster.node(i), index, value),
                "n{} lost index {index}",
                i + 1
            );
        }
    }
}

#[test]
fn a_brand_new_cluster_on_empty_disks_elects_a_leader_and_nobody_stays_recovering() {
    for seed in 0..20 {
        let mut cluster = TestCluster::new_on_empty_disks(3, seed);
        assert!((0..3).all(|i| cluster.node(i).is_recovering()));
        // One election timeout, one round trip of probes, one election.
        assert!(
            cluster.run_until(1_000, |c| c.leaders().len() == 1),
            "seed {seed}: no leader within a second"
        );
        let leader = cluster.stable_leader();
        commit_index_of(&cluster.call(leader, 1, write("x", 1)));
        assert!(
            cluster.run_until(1_000, |c| (0..3).all(|i| !c.node(i).is_recovering())),
            "seed {seed}"
        );
    }
}

#[test]
fn a_node_wiped_under_a_steady_leader_catches_up_and_votes_again() {
    let mut cluster = TestCluster::new(3, 43);
    let leader = cluster.stable_leader();
    let f = (0..3).find(|&i| i != leader).expect("a follower");
    for value in 0..5 {
        commit_index_of(&cluster.call(leader, 1, write("x", value)));
    }
    cluster.crash(f);
    cluster.restart_wiped(f);
    assert!(
        cluster.run_until(3_000, |c| !c.node(f).is_recovering()),
        "the leader sends it what it lost, though it had acknowledged it"
    );
    assert_eq!(cluster.leaders(), vec![leader], "no election was needed");
    assert_eq!(
        cluster.node(f).log().last_index(),
        cluster.node(leader).log().last_index()
    );
    assert!(!cluster.node(f).durable().recovering);
}

// A node that lost its vote answers nothing until it knows the term and
// the vote it may have given; then it votes only as the answers allow.
#[test]
fn a_recovering_node_defers_votes_until_its_peers_answered() {
    let mut node = lone_node(
        3,
        0,
        Durable {
            recovering: true,
            ..Durable::default()
        },
    );
    let request = |term| {
        peer_envelope(
            1,
            0,
            Payload::Peer(PeerMsg::RequestVote(RequestVote {
                term,
                last_log_index: 0,
                last_log_term: 0,
                pre_vote: false,
            })),
        )
    };
    let out = deliver(&mut node, Millis::ZERO, request(3));
    assert!(
        out.iter()
            .all(|p| matches!(p, Payload::Peer(PeerMsg::Probe(_)))),
        "only probes, no vote: {out:?}"
    );
    assert_eq!(out.len(), 2, "both peers are asked");
    let incarnation = node.config().incarnation;
    let answer_to = |incarnation, from, term, voted_for: Option<Id>, lost| {
        peer_envelope(
            from,
            0,
            Payload::Peer(PeerMsg::ProbeOk(ProbeOk {
                incarnation,
                term,
                voted_for,
                last_log_index: 0,
                last_log_term: 0,
                lost,
            })),
        )
    };
    let answer = |from, term, voted_for| answer_to(incarnation, from, term, voted_for, false);
    // Answers meant for an earlier life, and from a peer that lost state
    // itself, count for nothing.
    for from in [1, 2] {
        let stale = answer_to(incarnation.wrapping_add(1), from, 3, None, false);
        assert!(deliver(&mut node, Millis::ZERO, stale).is_empty());
        let lost = answer_to(incarnation, from, 3, None, true);
        assert!(deliver(&mut node, Millis::ZERO, lost).is_empty());
    }
    assert!(node.is_recovering());
    let (a, b) = (
        answer(1, 3, Some(node_id(2))),
        answer(2, 3, Some(node_id(2))),
    );
    assert!(deliver(&mut node, Millis::ZERO, a).is_empty());
    let out = deliver(&mut node, Millis::ZERO, b);
    let votes: Vec<bool> = out
        .iter()
        .filter_map(|p| match p {
            Payload::Peer(PeerMsg::RequestVoteOk(v)) => Some(v.vote_granted),
            _ => None,
        })
        .collect();
    assert_eq!(
        votes,
        [false],
        "the answers say n3 already had its vote in term 3: n2 does not get it"
    );
    assert_eq!(node.durable().voted_for, Some(node_id(2)));
    assert!(!node.is_recovering(), "the empty floor is reached at once");
    // Answers after the floor is set change nothing.
    let late = answer(1, 9, Some(node_id(1)));
    deliver(&mut node, Millis::ZERO, late);
    assert_eq!(
        (node.term(), node.durable().voted_for.clone()),
        (3, Some(node_id(2)))
    );
}

// A probe lost on the way is asked again on the recovery's own timer: a
// steady leader keeps the node's election timer from ever firing, and a
// follower never speaks to another follower, so neither would ask again.
#[test]
fn a_lost_probe_is_sent_again_though_a_steady_leader_keeps_the_election_timer_quiet() {
    let mut cluster = TestCluster::new(3, 44);
    let leader = cluster.stable_leader();
    let f = (0..3).find(|&i| i != leader).expect("a follower");
    let other = (0..3).find(|&i| i != leader && i != f).expect("another");
    commit_index_of(&cluster.call(leader, 1, write("x", 1)));
    cluster.crash(f);
    cluster.cut.insert((f, other));
    cluster.restart_wiped(f);
    cluster.run_for(600);
    assert!(
        cluster.node(f).is_recovering(),
        "its probe to n{} was lost",
        other + 1
    );
    cluster.heal();
    assert!(
        cluster.run_until(1_000, |c| !c.node(f).is_recovering()),
        "asked again once the link is back"
    );
}

/// A recovering member 0 of 3 that has heard a heartbeat of `term` from n2
/// (when `term` > 0), then the answers of n2 and n3: (term, vote).
fn confirmed_after(term: u64, durable: Durable, answers: [(u64, Option<usize>); 2]) -> Node {
    let mut node = lone_node(3, 0, durable);
    if term > 0 {
        let heartbeat = Payload::Peer(PeerMsg::AppendEntries(AppendEntries {
            term,
            prev_log_index: 0,
            prev_log_term: 0,
            entries: Vec::new(),
            leader_commit: 0,
            seq: 1,
        }));
        deliver(&mut node, Millis::ZERO, peer_envelope(1, 0, heartbeat));
        assert_eq!(node.leader(), Some(&node_id(1)));
    }
    let incarnation = node.config().incarnation;
    for (from, (term, vote)) in [(1, answers[0]), (2, answers[1])] {
        let answer = Payload::Peer(PeerMsg::ProbeOk(ProbeOk {
            incarnation,
            term,
            voted_for: vote.map(node_id),
            last_log_index: 0,
            last_log_term: 0,
            lost: false,
        }));
        deliver(&mut node, Millis::ZERO, peer_envelope(from, 0, answer));
    }
    assert!(
        !node.is_recovering(),
        "confirmed, and the empty floor is reached"
    );
    node
}

fn wiped() -> Durable {
    Durable {
        recovering: true,
        ..Durable::default()
    }
}

#[test]
fn a_term_learnt_since_the_loss_is_kept_and_so_is_its_leader() {
    // Answers older than what a leader already told it: nothing goes back.
    let node = confirmed_after(5, wiped(), [(3, Some(2)), (3, None)]);
    assert_eq!((node.term(), node.durable().voted_for.clone()), (5, None));
    assert_eq!(node.leader(), Some(&node_id(1)), "still following n2");
    // Answers of the same term: the vote they agree on, the leader kept.
    let node = confirmed_after(4, wiped(), [(4, Some(1)), (4, Some(1))]);
    assert_eq!(
        (node.term(), node.durable().voted_for.clone()),
        (4, Some(node_id(1)))
    );
    assert_eq!(node.leader(), Some(&node_id(1)));
}

#[test]
fn a_newer_answered_term_is_taken_and_the_old_leader_forgotten() {
    let node = confirmed_after(2, wiped(), [(3, Some(2)), (2, None)]);
    assert_eq!(
        (node.term(), node.durable().voted_for.clone()),
        (3, Some(node_id(2)))
    );
    assert_eq!(node.leader(), None, "n2 led term 2, not 3");
}

#[test]
fn a_vote_the_disk_kept_is_not_replaced_by_the_answers() {
    let kept = Durable {
        current_term: 4,
        voted_for: Some(node_id(2)),
        recovering: true,
        lost: true,
        ..Durable::default()
    };
    let node = confirmed_after(0, kept, [(4, Some(1)), (4, Some(1))]);
    assert_eq!(
        (node.term(), node.durable().voted_for.clone()),
        (4, Some(node_id(2)))
    );
}

#[test]
fn a_brand_new_node_records_no_vote_in_term_zero() {
    let node = confirmed_after(0, wiped(), [(0, None), (0, None)]);
    assert_eq!((node.term(), node.durable().voted_for.clone()), (0, None));
}

/// A leader of term 2 over a 5-entry log of term 1 (n1 of three), whose
/// member n3 acknowledged everything in the first round and then said, by
/// a probe, that it lost its log.
fn leader_whose_member_lost_its_log() -> Node {
    leader_whose_member_lost_state(0)
}

/// The same, but n3's log came back holding `kept` entries.
fn leader_whose_member_lost_state(kept: u64) -> Node {
    let mut leader = lone_node(3, 0, durable_with(1, &[1, 1, 1, 1, 1]));
    let now = Millis(1_000);
    leader.handle_timeout(now); // pre-vote
    for pre_vote in [true, false] {
        let grant = Payload::Peer(PeerMsg::RequestVoteOk(RequestVoteOk {
            term: 2,
            vote_granted: true,
            pre_vote,
        }));
        deliver(&mut leader, now, peer_envelope(1, 0, grant));
    }
    assert_eq!(leader.role(), RoleKind::Leader);
    let last = leader.log().last_index();
    deliver(
        &mut leader,
        now,
        peer_envelope(2, 0, append_ack(true, last, 0, 1)),
    );
    let probe = Payload::Peer(PeerMsg::Probe(Probe {
        incarnation: 7,
        last_log_index: kept,
    }));
    deliver(&mut leader, now, peer_envelope(2, 0, probe));
    leader
}

/// A member whose disk lost synced writes can come back holding entries
/// it acknowledged in an older version (a newer leader's entries at the
/// same indexes were overwrites the disk lost). Its log's length says
/// nothing of whether it matches: when it refuses the entries after its
/// end, the leader goes back as far as the refusal says, below that end.
/// Before, the leader still counted the member as matching to its end,
/// went back no further than that, and the member never caught up. Found
/// by `ryw-sim explore` (plain swarm's own sequence): `swarm-lying-disk`
/// seed 8589934658.
#[test]
fn a_member_whose_disk_handed_back_older_entries_is_sent_the_log_from_where_they_differ() {
    let mut leader = leader_whose_member_lost_state(3);
    let now = Millis(1_000);
    // n3 holds 3 entries, but the 3rd is not the leader's: it refuses
    // (round 2, that of its notice) and points at 1, where its term began.
    let out = deliver(
        &mut leader,
        now,
        peer_envelope(2, 0, append_ack(false, 0, 1, 2)),
    );
    assert!(
        sends_entries_after(&out, 0),
        "the log from its start, below the member's end: {out:?}"
    );
}

fn append_ack(success: bool, match_index: u64, next_index_hint: u64, seq: u64) -> Payload {
    Payload::Peer(PeerMsg::AppendEntriesOk(AppendEntriesOk {
        term: 2,
        success,
        match_index,
        next_index_hint,
        seq,
    }))
}

/// Whether `sent` holds an AppendEntries that carries entries after `prev`.
fn sends_entries_after(sent: &[Payload], prev: u64) -> bool {
    sent.iter().any(|p| {
        matches!(p, Payload::Peer(PeerMsg::AppendEntries(ae)) if ae.prev_log_index == prev && !ae.entries.is_empty())
    })
}

/// A member's acknowledgement sent before it lost its entries can arrive
/// after it said so (the network delays it, or duplicates it): it must not
/// make the leader count again what the member no longer holds. If it did,
/// the leader would read the member's refusals as late ones, keep sending
/// from past its end, and the member would never catch up; and it would
/// count the member toward a majority for entries it lacks. Answers of the
/// round the notice began do count, at once. Found by `ryw-sim explore`:
/// `swarm-lying-disk` seed 748736184532127582.
#[test]
fn an_acknowledgement_sent_before_a_members_loss_does_not_count_after_it() {
    let mut leader = leader_whose_member_lost_its_log();
    let (now, last) = (Millis(1_000), leader.log().last_index());
    // The old acknowledgement arrives again, late (round 1).
    deliver(
        &mut leader,
        now,
        peer_envelope(2, 0, append_ack(true, last, 0, 1)),
    );
    refusal_draws_the_log_from_the_start(&mut leader);
}

/// n3, in the round its loss notice began (2), refuses what it cannot
/// place: the leader answers at once with its log from the start (had a
/// late answer put n3's match back, it would send from past n3's end).
fn refusal_draws_the_log_from_the_start(leader: &mut Node) {
    let refusal = peer_envelope(2, 0, append_ack(false, 0, 1, 2));
    let out = deliver(leader, Millis(1_000), refusal);
    assert!(
        sends_entries_after(&out, 0),
        "the leader answers the refusal with n3's log from the start: {out:?}"
    );
}

/// The same for the answers to a snapshot: one that completed before the
/// loss counts for nothing after it, one of the new round counts at once.
#[test]
fn a_snapshot_answer_sent_before_a_members_loss_does_not_count_after_it() {
    let mut leader = leader_whose_member_lost_its_log();
    let (now, last) = (Millis(1_000), leader.log().last_index());
    let done = |seq| {
        Payload::Peer(PeerMsg::InstallSnapshotOk(InstallSnapshotOk {
            term: 2,
            last_index: last,
            next_offset: 0,
            done: true,
            seq,
        }))
    };
    deliver(&mut leader, now, peer_envelope(2, 0, done(1)));
    refusal_draws_the_log_from_the_start(&mut leader);
    // n3 now has it all, by a snapshot answered in the new round.
    let out = deliver(&mut leader, now, peer_envelope(2, 0, done(2)));
    assert!(
        out.iter().any(
            |p| matches!(p, Payload::Peer(PeerMsg::AppendEntries(ae)) if ae.prev_log_index == last)
        ),
        "the leader goes on from the snapshot at once: {out:?}"
    );
}
