//! Raft-level tests, each citing the section of the Raft paper ("In Search of
//! an Understandable Consensus Algorithm", extended version) or of Ongaro's
//! thesis that it checks. Logs are built by hand so the shapes the paper
//! draws (Figures 7 and 8) can be met exactly.

use crate::data::Value;
use crate::testkit::*;

/// Restarts every node of `cluster` with the log of the same position in `logs`.
fn restart_with_logs(cluster: &mut TestCluster, current_term: u64, logs: &[&[u64]]) {
    for (i, terms) in logs.iter().enumerate() {
        cluster.crash(i);
        cluster.restart(i, durable_with(current_term, terms));
    }
}

fn terms_of(log: &Log) -> Vec<u64> {
    (1..=log.last_index())
        .map(|i| log.term_at(i).expect("within the log"))
        .collect()
}

fn vote_reply(payloads: &[Payload]) -> &RequestVoteOk {
    match payloads {
        [Payload::Peer(PeerMsg::RequestVoteOk(reply))] => reply,
        other => panic!("expected one request_vote_ok, got {other:?}"),
    }
}

fn append_reply(payloads: &[Payload]) -> &AppendEntriesOk {
    match payloads {
        [Payload::Peer(PeerMsg::AppendEntriesOk(reply))] => reply,
        other => panic!("expected one append_entries_ok, got {other:?}"),
    }
}

/// Asks member 0 for a vote (or a pre-vote) on behalf of member `from`.
fn ask(node: &mut Node, from: usize, request: RequestVote) -> bool {
    let replies = deliver(
        node,
        Millis::ZERO,
        peer_envelope(from, 0, Payload::Peer(PeerMsg::RequestVote(request))),
    );
    vote_reply(&replies).vote_granted
}

fn vote_request(term: u64, last_log_term: u64, last_log_index: u64) -> RequestVote {
    RequestVote {
        term,
        last_log_index,
        last_log_term,
        pre_vote: false,
    }
}

fn ask_vote(node: &mut Node, term: u64, last_log_term: u64, last_log_index: u64) -> bool {
    ask(node, 1, vote_request(term, last_log_term, last_log_index))
}

// Reference: Raft §5.3 and Figure 7. A leader at term 8 meets the six
// follower logs (a)–(f) of the figure: missing entries, extra uncommitted
// entries of its own old terms, and extra entries of terms it never saw.
// Every follower ends up with exactly the leader's log, and the fast
// back-off reaches the farthest one, (f), in a handful of round trips.
#[test]
fn figure_7_followers_a_to_f_converge_on_the_new_leaders_log() {
    let leader_log: &[u64] = &[1, 1, 1, 4, 4, 5, 5, 6, 6, 6];
    let logs: [&[u64]; 7] = [
        leader_log,
        &[1, 1, 1, 4, 4, 5, 5, 6, 6],          // (a) misses one entry
        &[1, 1, 1, 4],                         // (b) misses many
        &[1, 1, 1, 4, 4, 5, 5, 6, 6, 6, 6],    // (c) one extra entry of term 6
        &[1, 1, 1, 4, 4, 5, 5, 6, 6, 6, 7, 7], // (d) two extra entries of term 7
        &[1, 1, 1, 4, 4, 4, 4],                // (e) extra term-4 entries, misses the rest
        &[1, 1, 1, 2, 2, 2, 3, 3, 3, 3, 3],    // (f) terms 2 and 3 the leader never had
    ];
    let mut cluster = TestCluster::with_config(7, 21, |_| {});
    cluster.tracing = true;
    restart_with_logs(&mut cluster, 7, &logs);
    // §5.4.1: (a), (b), (e) and (f) vote for it; (c) and (d) hold more up-to-date logs.
    cluster.with_node(0, |node, now| node.start_election(now));
    assert!(cluster.run_until(20, |c| c.node(0).role() == RoleKind::Leader));
    assert_eq!(cluster.node(0).term(), 8);
    let ack = commit_index_of(&cluster.call(0, 1, write("y", 1)));
    assert_eq!(ack, 12, "after the no-op of term 8 at index 11");
    assert!(cluster.run_until(1_000, |c| (0..7).all(|i| c.node(i).applied_index() >= ack)));
    let expected = terms_of(cluster.node(0).log());
    assert_eq!(expected, [1, 1, 1, 4, 4, 5, 5, 6, 6, 6, 8, 8]);
    for (i, name) in ["a", "b", "c", "d", "e", "f"].iter().enumerate() {
        let follower = cluster.node(i + 1);
        assert_eq!(
            follower.log(),
            cluster.node(0).log(),
            "follower ({name}) holds exactly the leader's log"
        );
        assert_eq!(follower.commit_index(), cluster.node(0).commit_index());
    }
    // Fast back-off (§5.3, end): one step back per conflicting term, not
    // per entry. (f) conflicts in terms 3 and 2, so its rejections name two
    // retry points where stepping back one entry at a time would name seven.
    // (Pipelined requests in flight may each be rejected, so count the
    // distinct hints, not the rejections.)
    let hints_from_f: std::collections::BTreeSet<u64> = cluster
        .trace
        .iter()
        .filter(|(_, e)| e.src == node_id(6))
        .filter_map(|(_, e)| match &e.body.payload {
            Payload::Peer(PeerMsg::AppendEntriesOk(r)) if !r.success => Some(r.next_index_hint),
            _ => None,
        })
        .collect();
    assert_eq!(
        hints_from_f.into_iter().collect::<Vec<_>>(),
        [4, 7],
        "(f) is sent back to the first index of each conflicting term"
    );
}

// Reference: Raft §5.4.1 (election restriction): a vote goes only to a
// candidate whose log is at least as up to date: a later last term wins,
// and with equal last terms the longer log wins.
#[test]
fn election_restriction_compares_last_term_first_then_length() {
    let voter = || lone_node(3, 0, durable_with(3, &[1, 1, 3, 3, 3]));
    // A longer log of an older term is less up to date.
    assert!(
        !ask_vote(&mut voter(), 4, 2, 10),
        "older last term, longer log"
    );
    // Same last term: the shorter log is less up to date.
    assert!(
        !ask_vote(&mut voter(), 4, 3, 4),
        "same last term, shorter log"
    );
    // Same last term and length: up to date.
    assert!(ask_vote(&mut voter(), 4, 3, 5), "equal logs");
    // A later last term wins even with a much shorter log.
    assert!(
        ask_vote(&mut voter(), 4, 4, 1),
        "later last term, shorter log"
    );
    // Pre-votes (thesis §9.6) apply the same restriction.
    let mut node = voter();
    let pre_vote = RequestVote {
        pre_vote: true,
        ..vote_request(4, 2, 10)
    };
    assert!(!ask(&mut node, 1, pre_vote));
    assert_eq!(node.term(), 3, "a pre-vote changes no term");
}

// Reference: Raft §5.2 and Figure 2 (RequestVote receiver, rule 2): one
// vote per term, and the vote survives a restart.
#[test]
fn a_node_votes_once_per_term_even_across_a_restart() {
    let mut node = lone_node(3, 0, durable_with(3, &[1]));
    assert!(ask_vote(&mut node, 4, 1, 1), "first candidate of term 4");
    let second = vote_request(4, 1, 1);
    assert!(
        !ask(&mut node, 2, second.clone()),
        "second candidate, same term"
    );
    let mut restarted = lone_node(3, 0, node.durable().clone());
    assert!(!ask(&mut restarted, 2, second), "the vote was durable");
    assert!(
        ask_vote(&mut restarted, 4, 1, 1),
        "the same candidate may ask again"
    );
}

// Reference: Raft §5.4.1 at cluster level: a minority holding a longer log
// of an older term never wins, and the majority's entries survive.
#[test]
fn minority_with_a_longer_log_of_an_older_term_cannot_win() {
    for seed in 0..5 {
        let mut cluster = TestCluster::new(5, 30 + seed);
        let logs: [&[u64]; 5] = [
            &[1, 1, 1, 1, 1, 1],
            &[1, 1, 1, 1, 1, 1],
            &[1, 2],
            &[1, 2],
            &[1, 2],
        ];
        restart_with_logs(&mut cluster, 2, &logs);
        // The long logs campaign first, and again: they must still lose.
        for i in [0, 1] {
            cluster.with_node(i, |node, now| node.start_election(now));
        }
        let leader = cluster.stable_leader();
        assert!(
            leader >= 2,
            "seed {seed}: n{} led with an outdated log",
            leader + 1
        );
        let ack = commit_index_of(&cluster.call(leader, 1, write("y", 1)));
        assert!(cluster.run_until(1_000, |c| (0..5).all(|i| c.node(i).applied_index() >= ack)));
        for i in 0..5 {
            assert_eq!(cluster.node(i).log().term_at(2), Some(2), "seed {seed}");
        }
    }
}

// Reference: Raft §5.3 / §5.4.2: an entry of the leader's term commits once
// a majority, counting the leader, stores it, and not before.
#[test]
fn commit_needs_exactly_a_majority_of_replicas() {
    let mut cluster = TestCluster::new(5, 40);
    let leader = cluster.stable_leader();
    let followers: Vec<usize> = (0..5).filter(|&i| i != leader).collect();
    let base = commit_index_of(&cluster.call(leader, 1, write("x", 0)));
    // Leader + one follower: 2 of 5, not a majority.
    for &f in &followers[1..] {
        cluster.cut.insert((leader, f));
        cluster.cut.insert((f, leader));
    }
    let msg = cluster.request(leader, 1, write("x", 1));
    cluster.run_for(100);
    assert!(cluster.reply(msg).is_none(), "acknowledged by 2 of 5");
    assert_eq!(cluster.node(leader).commit_index(), base);
    assert_eq!(cluster.node(followers[0]).log().last_index(), base + 1);
    // Leader + two followers: exactly a majority.
    cluster.cut.remove(&(leader, followers[1]));
    cluster.cut.remove(&(followers[1], leader));
    assert!(cluster.run_until(100, |c| c.reply(msg).is_some()));
    assert_eq!(
        commit_index_of(cluster.reply(msg).expect("answered")),
        base + 1
    );
    assert_eq!(cluster.node(leader).commit_index(), base + 1);
    assert!(cluster.run_until(100, |c| c.node(followers[0]).commit_index() == base + 1));
}

// Reference: Raft §5.3 (AppendEntries receiver, rules 2–4). A follower
// rejects a request whose previous entry it lacks or holds with another
// term, hinting where the leader should retry; it truncates a conflicting
// suffix, appends what is new, and keeps entries that already match.
#[test]
fn append_entries_truncates_conflicts_and_hints_at_the_first_index_of_the_term() {
    let append = |prev_log_index, prev_log_term, entries: Vec<Entry>, leader_commit| {
        Payload::Peer(PeerMsg::AppendEntries(AppendEntries {
            term: 5,
            prev_log_index,
            prev_log_term,
            entries,
            leader_commit,
            seq: 1,
        }))
    };
    let node = || lone_node(3, 0, durable_with(4, &[1, 1, 2, 2, 2, 2]));
    let now = Millis::ZERO;

    // Missing previous entry: retry just past the follower's log.
    let mut n = node();
    let replies = deliver(&mut n, now, peer_envelope(1, 0, append(9, 4, vec![], 0)));
    let reply = append_reply(&replies);
    assert!(!reply.success);
    assert_eq!(reply.next_index_hint, 7);

    // Conflicting previous entry (term 2 there, leader says 3): skip the
    // whole term 2 at once, back to its first index.
    let mut n = node();
    let replies = deliver(&mut n, now, peer_envelope(1, 0, append(5, 3, vec![], 0)));
    let reply = append_reply(&replies);
    assert!(!reply.success);
    assert_eq!(reply.next_index_hint, 3, "first index of term 2");
    assert_eq!(
        terms_of(n.log()),
        [1, 1, 2, 2, 2, 2],
        "a rejection changes no log"
    );

    // Never hint below what the follower knows is committed: those entries
    // match any current leader's (§5.4.3).
    let mut n = node();
    let replies = deliver(&mut n, now, peer_envelope(1, 0, append(3, 2, vec![], 3)));
    assert!(append_reply(&replies).success);
    assert_eq!(n.commit_index(), 3);
    let replies = deliver(&mut n, now, peer_envelope(1, 0, append(5, 3, vec![], 3)));
    assert_eq!(
        append_reply(&replies).next_index_hint,
        4,
        "just past the commit index"
    );

    // Matching previous entry, conflicting suffix: truncate and append.
    let mut n = node();
    let new = vec![entry_at(3, 5), entry_at(4, 5)];
    let replies = deliver(&mut n, now, peer_envelope(1, 0, append(2, 1, new, 3)));
    let reply = append_reply(&replies);
    assert!(reply.success);
    assert_eq!(reply.match_index, 4);
    assert_eq!(
        terms_of(n.log()),
        [1, 1, 5, 5],
        "entries 3..=6 of term 2 are gone"
    );
    assert_eq!(n.commit_index(), 3, "leader_commit, capped by what matched");
    assert_eq!(n.applied_index(), 3);

    // A stale or duplicated request whose entries already match truncates
    // nothing: entries after it are kept.
    let mut n = node();
    let old = vec![entry_at(2, 1), entry_at(3, 2)];
    let replies = deliver(&mut n, now, peer_envelope(1, 0, append(1, 1, old, 0)));
    let reply = append_reply(&replies);
    assert!(reply.success);
    assert_eq!(reply.match_index, 3);
    assert_eq!(terms_of(n.log()), [1, 1, 2, 2, 2, 2], "nothing truncated");

    // The commit index learned is capped by the last entry this request
    // proved matching, never the follower's whole log.
    let mut n = node();
    let replies = deliver(&mut n, now, peer_envelope(1, 0, append(2, 1, vec![], 6)));
    assert!(append_reply(&replies).success);
    assert_eq!(n.commit_index(), 2);

    // A request from an older term is refused with the current term.
    let mut n = node();
    let stale = Payload::Peer(PeerMsg::AppendEntries(AppendEntries {
        term: 3,
        prev_log_index: 0,
        prev_log_term: 0,
        entries: vec![entry_at(1, 3)],
        leader_commit: 1,
        seq: 1,
    }));
    let replies = deliver(&mut n, now, peer_envelope(1, 0, stale));
    let reply = append_reply(&replies);
    assert!(!reply.success);
    assert_eq!(reply.term, 4);
    assert_eq!(terms_of(n.log()), [1, 1, 2, 2, 2, 2]);
}

// Reference: Raft thesis §6.4 (ReadIndex), step 1: a new leader does not
// know which entries committed until it commits one of its own term, so it
// answers no read before that, even when its old commit index would answer.
#[test]
fn new_leader_answers_no_read_before_committing_in_its_term() {
    let mut cluster = TestCluster::new(3, 50);
    // Every node holds x=1 at index 1 (term 1) but none knows it committed.
    restart_with_logs(&mut cluster, 1, &[&[1], &[1], &[1]]);
    cluster.with_node(0, |node, now| node.start_election(now));
    // The leader's messages to its followers are slow (but not so slow that
    // they start an election): its no-op of term 2 cannot commit for a while.
    cluster.lag_ms.insert((0, 1), 120);
    cluster.lag_ms.insert((0, 2), 120);
    assert!(cluster.run_until(20, |c| c.node(0).role() == RoleKind::Leader));
    assert_eq!(cluster.node(0).commit_index(), 0);
    let lin = cluster.request(0, 1, read("x"));
    let ryw_read = cluster.request(0, 2, ryw("x", 0));
    // A token the old leader may have handed out: not committed here yet.
    let ryw_token = cluster.request(0, 3, ryw("x", 1));
    cluster.run_for(80);
    assert!(
        cluster.reply(ryw_token).is_none(),
        "token answered before a commit of term 2"
    );
    assert!(
        cluster.reply(lin).is_none(),
        "read answered before a commit of term 2"
    );
    assert!(
        cluster.reply(ryw_read).is_some(),
        "a token of 0 needs nothing"
    );
    assert!(cluster.run_until(1_000, |c| c.reply(lin).is_some()));
    match cluster.reply(lin).expect("answered") {
        OpResult::ReadOk { value } => assert_eq!(value, &Value::from(1_001)),
        other => panic!("expected the committed value, got {other:?}"),
    }
    assert!(
        cluster.node(0).commit_index() >= 2,
        "the no-op committed first"
    );
    assert!(cluster.run_until(100, |c| c.reply(ryw_token).is_some()));
    match cluster.reply(ryw_token).expect("answered") {
        OpResult::RywReadOk {
            value, served_by, ..
        } => {
            assert_eq!(value, &Value::from(1_001));
            assert_eq!(served_by, &node_id(0), "by the leader that was asked");
        }
        other => panic!("a token that is committed now must be served, got {other:?}"),
    }
}

// Reference: Raft thesis §6.4, step 3 and §6.4.1: a leader that a majority
// no longer acknowledges answers no linearizable read and no ryw_read it
// would have to confirm, even while it still believes it leads.
#[test]
fn deposed_leader_answers_no_read_that_needs_confirmation() {
    let mut cluster = TestCluster::new(3, 51);
    let old = cluster.stable_leader();
    let token = commit_index_of(&cluster.call(old, 1, write("x", 1)));
    cluster.isolate(old);
    let lin = cluster.request(old, 1, read("x"));
    let beyond = cluster.request(old, 2, ryw("x", token + 1));
    cluster.run_for(100);
    assert_eq!(
        cluster.node(old).role(),
        RoleKind::Leader,
        "still believes it leads"
    );
    assert!(cluster.reply(lin).is_none() && cluster.reply(beyond).is_none());
    cluster.run_for(2_000);
    for msg in [lin, beyond] {
        match cluster.reply(msg) {
            Some(OpResult::Error { code, .. }) => assert!(code.is_definite()),
            other => panic!("a deposed leader answered: {other:?}"),
        }
    }
}

// Reference: Raft thesis §9.6 (pre-vote): a node cut off from a healthy
// leader neither raises its term while away nor deposes the leader when it
// returns.
#[test]
fn pre_vote_keeps_a_returning_partitioned_node_from_deposing_the_leader() {
    let mut cluster = TestCluster::new(3, 60);
    let leader = cluster.stable_leader();
    let term = cluster.node(leader).term();
    let f = (0..3).find(|&i| i != leader).expect("a follower");
    cluster.isolate(f);
    cluster.run_for(3_000);
    assert_eq!(
        cluster.node(f).term(),
        term,
        "pre-votes never raise the term"
    );
    assert_ne!(cluster.node(f).role(), RoleKind::Leader);
    cluster.heal();
    cluster.run_for(1_000);
    assert_eq!(cluster.leaders(), vec![leader], "the leader kept its place");
    assert_eq!(cluster.node(leader).term(), term);
    // Followers of a live leader refuse pre-votes even from a node whose log
    // is as good as theirs.
    let other = (0..3)
        .find(|&i| i != leader && i != f)
        .expect("another follower");
    let last_log_index = cluster.node(other).log().last_index();
    let last_log_term = cluster.node(other).log().last_term();
    let request = RequestVote {
        term: term + 1,
        last_log_index,
        last_log_term,
        pre_vote: true,
    };
    let now = cluster.now;
    let node = cluster.nodes[other].as_mut().expect("up");
    let replies = deliver(
        node,
        now,
        peer_envelope(f, other, Payload::Peer(PeerMsg::RequestVote(request))),
    );
    assert!(!vote_reply(&replies).vote_granted, "the leader is alive");
}

// Reference: Raft thesis §6.2 (check-quorum): a leader that hears from no
// majority for an election timeout steps down, so clients stop waiting on it.
#[test]
fn check_quorum_makes_an_isolated_leader_step_down() {
    let mut cluster = TestCluster::new(3, 61);
    let leader = cluster.stable_leader();
    let term = cluster.node(leader).term();
    let since = cluster.now;
    cluster.isolate(leader);
    let max_ms = cluster.node(leader).config().election_timeout_ms_max;
    let heartbeat_ms = cluster.node(leader).config().heartbeat_interval_ms;
    let stepped_down = cluster.run_until(max_ms + 2 * heartbeat_ms, |c| {
        c.node(leader).role() != RoleKind::Leader
    });
    assert!(
        stepped_down,
        "still leading {} ms after isolation",
        cluster.now.since(since)
    );
    assert_eq!(
        cluster.node(leader).term(),
        term,
        "stepping down needs no new term"
    );
    // A leader in touch with a majority stays.
    let mut healthy = TestCluster::new(3, 62);
    let leader = healthy.stable_leader();
    let f = (0..3).find(|&i| i != leader).expect("a follower");
    healthy.isolate(f);
    healthy.run_for(5 * max_ms);
    assert!(healthy.leaders().contains(&leader), "one follower suffices");
}

// Reference: Raft thesis §6.4, step 3: the leadership round that confirms a
// read must start after the read arrived. Here acknowledgements of the new
// leader's first AppendEntries, sent long before a read, arrive after a newer
// leader has committed a write. They may commit the old leader's no-op, but
// must not confirm the read, or it would return the overwritten value.
#[test]
fn a_read_is_confirmed_only_by_a_round_sent_after_it_arrived() {
    let mut cluster = TestCluster::with_config(3, 70, |c| {
        c.election_timeout_ms_min = 150;
        c.election_timeout_ms_max = 160;
    });
    // x=1 is at index 1 everywhere; nobody knows it committed.
    restart_with_logs(&mut cluster, 1, &[&[1], &[1], &[1]]);
    cluster.with_node(0, |node, now| node.start_election(now));
    assert!(cluster.run_until(10, |c| c.node(0).role() == RoleKind::Leader));
    let old_term = cluster.node(0).term();
    // Its first AppendEntries is on the way; the acknowledgements crawl back,
    // and nothing more of n1's reaches the others.
    cluster.lag_ms.insert((1, 0), 270);
    cluster.lag_ms.insert((2, 0), 270);
    cluster.run_for(3);
    cluster.cut.insert((0, 1));
    cluster.cut.insert((0, 2));
    // n2 and n3 elect a new leader and overwrite x.
    assert!(cluster.run_until(400, |c| c.leaders().iter().any(|&l| l != 0)));
    let new = *cluster
        .leaders()
        .iter()
        .find(|&&l| l != 0)
        .expect("new leader");
    let msg = cluster.request(new, 1, write("x", 2));
    assert!(cluster.run_until(100, |c| c.reply(msg).is_some()));
    commit_index_of(cluster.reply(msg).expect("acknowledged"));
    // The old leader still believes it leads and gets a read.
    assert_eq!(cluster.node(0).role(), RoleKind::Leader);
    assert_eq!(cluster.node(0).term(), old_term);
    assert_eq!(
        cluster.node(0).commit_index(),
        0,
        "its acknowledgements are still on the way"
    );
    let read_msg = cluster.request(0, 2, read("x"));
    cluster.run_for(2_000);
    match cluster.reply(read_msg) {
        Some(OpResult::ReadOk { value }) => {
            assert_eq!(
                value,
                &Value::from(2),
                "a read after x=2 was acknowledged saw x=1"
            )
        }
        Some(OpResult::Error { code, .. }) => assert!(code.is_definite()),
        other => panic!("unexpected answer {other:?}"),
    }
}

// Reference: Raft thesis §9.6: a pre-vote is granted only for a term newer
// than the voter's, and a pre-candidate counts only grants for the term it
// asked about; a refusal carrying a newer term teaches it that term.
#[test]
fn pre_votes_count_only_grants_for_the_asked_term_and_teach_newer_terms() {
    // A voter at term 5 refuses a pre-vote for term 5: it is not newer.
    let mut voter = lone_node(3, 0, durable_with(5, &[1]));
    let stale = RequestVote {
        pre_vote: true,
        ..vote_request(5, 1, 1)
    };
    assert!(!ask(&mut voter, 1, stale));
    let fresh = RequestVote {
        pre_vote: true,
        ..vote_request(6, 1, 1)
    };
    assert!(ask(&mut voter, 2, fresh), "a newer term is granted");

    let pre_candidate = || {
        let mut node = lone_node(3, 0, durable_with(3, &[1]));
        node.handle_timeout(Millis(1_000));
        assert_eq!(node.role(), RoleKind::PreCandidate);
        std::iter::from_fn(|| node.poll_transmit()).for_each(drop);
        node
    };
    let answer = |node: &mut Node, from: usize, term: u64, vote_granted: bool| {
        let reply = Payload::Peer(PeerMsg::RequestVoteOk(RequestVoteOk {
            term,
            vote_granted,
            pre_vote: true,
        }));
        node.handle_message(Millis(1_001), peer_envelope(from, 0, reply));
    };
    // Refusals at the asked term (4) are not votes.
    let mut node = pre_candidate();
    answer(&mut node, 1, 4, false);
    answer(&mut node, 2, 4, false);
    assert_ne!(
        node.role(),
        RoleKind::Candidate,
        "refusals counted as votes"
    );
    // A refusal from a newer term moves the node to that term as a follower.
    let mut node = pre_candidate();
    answer(&mut node, 1, 7, false);
    assert_eq!((node.term(), node.role()), (7, RoleKind::Follower));
    // One grant for the asked term makes a majority of 3 with its own.
    let mut node = pre_candidate();
    answer(&mut node, 1, 4, true);
    assert_eq!((node.term(), node.role()), (4, RoleKind::Candidate));
}

// Reference: Raft §5.1 (a message from an older term is ignored) and §5.3:
// an acknowledgement sent in an earlier term says nothing about the
// follower's log now, so it must not count toward a commit.
#[test]
fn acknowledgements_from_an_older_term_count_for_nothing() {
    let mut cluster = TestCluster::new(3, 80);
    let leader = cluster.stable_leader();
    let term = cluster.node(leader).term();
    assert!(term >= 1);
    for f in (0..3).filter(|&f| f != leader) {
        cluster.isolate(f);
    }
    let msg = cluster.request(leader, 1, write("x", 1));
    let index = cluster.node(leader).log().last_index();
    for f in (0..3).filter(|&f| f != leader) {
        let stale = Payload::Peer(PeerMsg::AppendEntriesOk(AppendEntriesOk {
            term: term - 1,
            success: true,
            match_index: index,
            next_index_hint: 0,
            seq: 1,
        }));
        cluster.with_node(leader, |node, now| {
            node.handle_message(now, peer_envelope(f, leader, stale))
        });
    }
    cluster.run_for(20);
    assert!(
        cluster.reply(msg).is_none(),
        "committed on stale acknowledgements"
    );
    assert!(cluster.node(leader).commit_index() < index);
}

/// What a member of term `term` answers a request of an older term.
fn term_notice(term: u64) -> Payload {
    Payload::Peer(PeerMsg::AppendEntriesOk(AppendEntriesOk {
        term,
        success: false,
        match_index: 0,
        next_index_hint: 0,
        seq: NO_ROUND,
    }))
}

// Reference: Raft §5.1 and thesis §6.4, step 3. A member answers a request
// of an older term with its term alone, answering no round: the sender may
// be a new life of a leader that leads again in that very term, counting
// its rounds from 1 again, and an echoed old round would confirm one of the
// new leadership's reads with an answer sent before the read arrived (the
// simulator's `new-leader-late-acks` found it: a stale lin-kv read).
#[test]
fn an_answer_to_an_older_terms_request_acknowledges_no_round() {
    // The member's side: term 4 answering an AppendEntries of term 3.
    let mut member = lone_node(3, 2, durable_with(4, &[1]));
    let old = Payload::Peer(PeerMsg::AppendEntries(AppendEntries {
        term: 3,
        prev_log_index: 1,
        prev_log_term: 1,
        entries: vec![],
        leader_commit: 1,
        seq: 21,
    }));
    let reply = deliver(&mut member, Millis(10), peer_envelope(1, 2, old));
    let reply = append_reply(&reply);
    assert_eq!((reply.term, reply.success, reply.seq), (4, false, NO_ROUND));

    // The leader's side: such answers confirm no read, and are not refusals
    // of its entries either (nothing is sent again).
    let mut cluster = TestCluster::new(3, 81);
    let leader = cluster.stable_leader();
    let term = cluster.node(leader).term();
    for f in (0..3).filter(|&f| f != leader) {
        cluster.isolate(f);
    }
    let read_msg = cluster.request(leader, 1, read("x"));
    for f in (0..3).filter(|&f| f != leader) {
        let notice = term_notice(term);
        let mut sent = Vec::new();
        cluster.with_node(leader, |node, now| {
            sent = deliver(node, now, peer_envelope(f, leader, notice))
        });
        assert!(sent.is_empty(), "a term notice answered with {sent:?}");
    }
    cluster.run_for(20);
    assert!(
        cluster.reply(read_msg).is_none(),
        "a read confirmed by answers to no round"
    );
    // Nor are they contact: a leader hearing only such notices is cut off,
    // and check-quorum steps it down.
    for _ in 0..40 {
        cluster.run_for(50);
        for f in (0..3).filter(|&f| f != leader) {
            let notice = term_notice(term);
            cluster.with_node(leader, |node, now| {
                node.handle_message(now, peer_envelope(f, leader, notice))
            });
        }
    }
    assert_ne!(cluster.node(leader).role(), RoleKind::Leader);
}

// Reference: Raft §5.3: the leader commits the highest entry of its term
// that a majority stores, even while newer entries are still on their way.
#[test]
fn an_entry_on_a_majority_commits_while_a_newer_one_is_in_flight() {
    let mut cluster = TestCluster::new(3, 81);
    let leader = cluster.stable_leader();
    let a = (0..3).find(|&i| i != leader).expect("a follower");
    let b = (0..3).find(|&i| i != leader && i != a).expect("another");
    cluster.isolate(b);
    commit_index_of(&cluster.call(leader, 1, write("x", 0)));
    // w1 leaves at once; w2 a millisecond later. a's acknowledgement of w1
    // gets through, its acknowledgement of w2 is lost.
    let w1 = cluster.request(leader, 1, write("x", 1));
    cluster.run_for(1);
    let w2 = cluster.request(leader, 2, write("x", 2));
    cluster.run_for(1);
    cluster.cut.insert((a, leader));
    cluster.run_for(20);
    assert!(
        cluster.reply(w1).is_some(),
        "w1 is on a majority: it commits"
    );
    assert!(cluster.reply(w2).is_none(), "w2 is not");
}

// AppendEntries that no Raft leader could send are refused before they reach
// the log (and its assertions): a term at index 0, a previous term newer than
// the message, entry terms that fall or pass the message's term.
#[test]
fn append_entries_no_leader_could_send_are_refused_and_change_nothing() {
    let malformed = [
        (0, 1, vec![entry_at(1, 2)]),                 // term at the empty prefix
        (2, 9, vec![]),                               // previous term newer than the message (5)
        (2, 1, vec![entry_at(3, 2), entry_at(4, 1)]), // entry terms fall
        (2, 1, vec![entry_at(3, 6)]),                 // entry newer than the message
    ];
    for (prev_log_index, prev_log_term, entries) in malformed {
        let mut node = lone_node(3, 0, durable_with(4, &[1, 1, 2]));
        let request = Payload::Peer(PeerMsg::AppendEntries(AppendEntries {
            term: 5,
            prev_log_index,
            prev_log_term,
            entries,
            leader_commit: 3,
            seq: 1,
        }));
        let replies = deliver(&mut node, Millis::ZERO, peer_envelope(1, 0, request));
        assert!(replies.is_empty(), "no answer to a malformed request");
        assert_eq!(terms_of(node.log()), [1, 1, 2], "log unchanged");
        assert_eq!((node.term(), node.commit_index()), (4, 0));
        let warning = node.poll_warning().expect("a diagnostic");
        assert!(warning.contains("dropping append_entries"), "{warning}");
    }
}

// A refusal below the match index refuses entries the member acknowledged:
// late, or from a disk that lost them. The leader answers one per round, so
// a member that keeps refusing on a duplicating network cannot set off a
// storm of ever more AppendEntries.
#[test]
fn refusals_of_acknowledged_entries_are_answered_once_per_round() {
    let mut cluster = TestCluster::new(3, 82);
    let leader = cluster.stable_leader();
    commit_index_of(&cluster.call(leader, 1, write("x", 1)));
    let member = (0..3).find(|&i| i != leader).expect("a follower");
    let term = cluster.node(leader).term();
    let refusal = || {
        Payload::Peer(PeerMsg::AppendEntriesOk(AppendEntriesOk {
            term,
            success: false,
            match_index: 0,
            next_index_hint: 1,
            seq: 7,
        }))
    };
    let mut resent = 0;
    cluster.with_node(leader, |node, now| {
        for _ in 0..5 {
            node.handle_message(now, peer_envelope(member, leader, refusal()));
        }
        while let Some(out) = node.poll_transmit() {
            resent += usize::from(matches!(
                out.body.payload,
                Payload::Peer(PeerMsg::AppendEntries(_))
            ));
        }
    });
    assert_eq!(resent, 1, "five copies of one round's refusal, one answer");
    commit_index_of(&cluster.call(leader, 2, write("x", 2)));
}

// The commit step does work bounded by the members, not by the log: a
// leader whose followers fell thousands of entries behind (a slow follower,
// append_entries_max 1) must not walk its whole uncommitted tail on every
// acknowledgement, or a long run turns quadratic. Counted, not timed.
#[test]
fn an_acknowledgement_costs_the_same_however_long_the_uncommitted_tail() {
    let mut lookups_per_ack = Vec::new();
    for tail in [100, 3_000] {
        // A tail that long needs a backlog bound that allows it (a leader
        // also inherits one from earlier terms, whatever its bound).
        let mut cluster = TestCluster::with_config(3, 83, |c| c.backlog_windows_max = 1_000);
        let leader = cluster.stable_leader();
        let a = (0..3).find(|&i| i != leader).expect("a follower");
        let b = (0..3).find(|&i| i != leader && i != a).expect("another");
        cluster.isolate(a);
        cluster.isolate(b);
        for value in 0..tail {
            cluster.request(leader, 1, write("x", value));
        }
        let term = cluster.node(leader).term();
        assert!(cluster.node(leader).log().last_index() >= tail as u64);
        let ack = Payload::Peer(PeerMsg::AppendEntriesOk(AppendEntriesOk {
            term,
            success: true,
            match_index: 1,
            next_index_hint: 0,
            seq: 1,
        }));
        crate::work::take();
        cluster.with_node(leader, |node, now| {
            node.handle_message(now, peer_envelope(a, leader, ack));
        });
        lookups_per_ack.push(crate::work::take());
    }
    assert!(
        lookups_per_ack[1] <= lookups_per_ack[0] + 8 && lookups_per_ack[1] < 64,
        "entry lookups for one acknowledgement, tails of 100 and 3,000: {lookups_per_ack:?}"
    );
}
