//! The leader's message flow: the replication window, heartbeats only to
//! idle peers, and commit news for followers whose reads wait.

use crate::data::Value;
use crate::node::ReadsWaiting;
use crate::testkit::*;

/// The entry counts of the AppendEntries `leader` sent `to`, in order,
/// from the cluster's trace.
fn appends_to(cluster: &TestCluster, leader: usize, to: usize) -> Vec<usize> {
    cluster
        .trace
        .iter()
        .filter(|(_, e)| e.src == node_id(leader) && e.dest == node_id(to))
        .filter_map(|(_, e)| match &e.body.payload {
            Payload::Peer(PeerMsg::AppendEntries(ae)) => Some(ae.entries.len()),
            _ => None,
        })
        .collect()
}

fn sent_of_kind(cluster: &TestCluster, kind: &str) -> usize {
    cluster
        .trace
        .iter()
        .filter(|(_, e)| e.body.payload.kind() == kind)
        .count()
}

#[test]
fn entries_proposed_while_the_window_is_full_share_the_next_append_entries() {
    let mut cluster = TestCluster::new(3, 11);
    let leader = cluster.stable_leader();
    cluster.delay_ms = 10;
    cluster.run_for(1);
    cluster.tracing = true;
    // Three writes within one round trip: the first goes at once, the
    // other two wait for its acknowledgement and then travel together.
    let first = cluster.request(leader, 1, write("a", 1));
    cluster.run_for(2);
    let second = cluster.request(leader, 2, write("b", 2));
    cluster.run_for(2);
    let third = cluster.request(leader, 3, write("c", 3));
    assert!(cluster.run_until(500, |c| [first, second, third]
        .iter()
        .all(|&m| c.reply(m).is_some())));
    for f in (0..3).filter(|&i| i != leader) {
        let with_entries: Vec<usize> = appends_to(&cluster, leader, f)
            .into_iter()
            .filter(|&n| n > 0)
            .collect();
        assert_eq!(
            with_entries,
            [1, 2],
            "to n{}: one, then the two that waited",
            f + 1
        );
    }
}

/// Group commit: with `append_batch_ms`, writes that arrive within the
/// batch interval of the first leave together, when it ends, even though
/// the window was open; the first is not sent before.
#[test]
fn writes_within_the_batch_interval_share_one_append_entries_sent_when_it_ends() {
    let mut cluster = TestCluster::with_config(3, 11, |c| c.append_batch_ms = 6);
    let leader = cluster.stable_leader();
    cluster.delay_ms = 10;
    cluster.run_for(100); // quiet: every window open
    cluster.tracing = true;
    let started_ms = cluster.now.as_ms();
    let first = cluster.request(leader, 1, write("a", 1));
    cluster.run_for(2);
    let second = cluster.request(leader, 2, write("b", 2));
    assert!(cluster.run_until(500, |c| c.reply(first).is_some()
        && c.reply(second).is_some()));
    for f in (0..3).filter(|&i| i != leader) {
        let sent: Vec<(u64, usize)> = cluster
            .trace
            .iter()
            .filter(|(_, e)| e.src == node_id(leader) && e.dest == node_id(f))
            .filter_map(|(at, e)| match &e.body.payload {
                Payload::Peer(PeerMsg::AppendEntries(ae)) if !ae.entries.is_empty() => {
                    Some((at.as_ms() - started_ms, ae.entries.len()))
                }
                _ => None,
            })
            .collect();
        assert_eq!(
            sent.first().map(|&(_, n)| n),
            Some(2),
            "to n{}: {sent:?}",
            f + 1
        );
        assert!(sent[0].0 >= 6, "held for the interval: {sent:?}");
    }
}

#[test]
fn a_wider_window_sends_each_entry_at_once() {
    let mut cluster = TestCluster::with_config(3, 11, |c| c.append_in_flight_max = 3);
    let leader = cluster.stable_leader();
    cluster.delay_ms = 10;
    cluster.run_for(1);
    cluster.tracing = true;
    for client in 1..=3 {
        cluster.request(leader, client, write("a", client.into()));
        cluster.run_for(2);
    }
    cluster.run_for(100);
    for f in (0..3).filter(|&i| i != leader) {
        let with_entries: Vec<usize> = appends_to(&cluster, leader, f)
            .into_iter()
            .filter(|&n| n > 0)
            .collect();
        assert_eq!(with_entries, [1, 1, 1], "to n{}", f + 1);
    }
}

/// Three nodes, 2 ms links, and one follower 300 ms away from the leader
/// each way; tracing from the moment it is set up.
fn with_slow_follower(seed: u64) -> (TestCluster, usize, usize) {
    let mut cluster = TestCluster::new(3, seed);
    let leader = cluster.stable_leader();
    let slow = (0..3).find(|&i| i != leader).expect("a follower");
    cluster.delay_ms = 2;
    cluster.lag_ms.insert((leader, slow), 300);
    cluster.lag_ms.insert((slow, leader), 300);
    cluster.run_for(1);
    cluster.tracing = true;
    (cluster, leader, slow)
}

#[test]
fn a_follower_slower_than_the_majority_gets_entries_at_the_majoritys_pace() {
    let (mut cluster, leader, slow) = with_slow_follower(12);
    // Writes every 20 ms commit with the fast follower; the slow one's
    // acknowledgement takes 600 ms, but each commit opens its window.
    for client in 1..=5 {
        let msg = cluster.request(leader, client, write("k", client.into()));
        assert!(cluster.run_until(20, |c| c.reply(msg).is_some()));
        cluster.run_for(20);
    }
    let sent = appends_to(&cluster, leader, slow);
    let with_entries = sent.iter().filter(|&&n| n > 0).count();
    assert!(
        with_entries >= 4,
        "entries reach the slow follower as they commit, not once per its round trip: {sent:?}"
    );
}

#[test]
fn heartbeats_go_only_to_peers_that_heard_nothing_for_an_interval() {
    let mut cluster = TestCluster::with_config(5, 13, |c| c.append_in_flight_max = 8);
    let leader = cluster.stable_leader();
    let interval_ms = 50; // Config::default().heartbeat_interval_ms
    cluster.run_for(interval_ms);
    cluster.tracing = true;
    cluster.run_for(interval_ms * 4);
    let idle: Vec<usize> = (0..5)
        .filter(|&i| i != leader)
        .map(|f| appends_to(&cluster, leader, f).len())
        .collect();
    assert!(
        idle.iter().all(|&n| (3..=5).contains(&n)),
        "idle: one heartbeat per interval each: {idle:?}"
    );
    // Writes every 10 ms reach every peer: no heartbeat is added.
    cluster.trace.clear();
    for client in 1..=20 {
        cluster.request(leader, client, write("k", client.into()));
        cluster.run_for(10);
    }
    let busy: Vec<Vec<usize>> = (0..5)
        .filter(|&i| i != leader)
        .map(|f| appends_to(&cluster, leader, f))
        .collect();
    for sent in &busy {
        assert!(
            sent.iter().all(|&n| n > 0),
            "every AppendEntries carried entries: {sent:?}"
        );
    }
}

/// A settled 3-node cluster of `seed` whose messages take 5 ms, its
/// leader and a follower.
fn three_nodes_5_ms_apart(seed: u64) -> (TestCluster, usize, usize) {
    let mut cluster = TestCluster::new(3, seed);
    let leader = cluster.stable_leader();
    let f = (0..3).find(|&i| i != leader).expect("a follower");
    cluster.delay_ms = 5;
    cluster.run_for(1);
    (cluster, leader, f)
}

#[test]
fn a_waiting_ryw_read_asks_the_leader_and_is_served_on_its_answer() {
    let (mut cluster, leader, f) = three_nodes_5_ms_apart(14);
    let token = commit_index_of(&cluster.call(leader, 1, write("x", 9)));
    // The follower holds the entry, but the commit index came after the
    // AppendEntries that carried it: without news it would wait for the
    // next heartbeat (50 ms).
    assert!(cluster.node(f).log().last_index() >= token);
    assert!(
        cluster.node(f).commit_index() < token,
        "not yet known committed"
    );
    cluster.tracing = true;
    let asked_at = cluster.now;
    let msg = cluster.request(f, 1, ryw("x", token));
    assert!(cluster.run_until(200, |c| c.reply(msg).is_some()));
    let waited_ms = cluster.replied_at(msg).expect("served").since(asked_at);
    assert!(
        waited_ms <= 2 * 5,
        "served after one round trip to the leader, not a heartbeat: {waited_ms} ms"
    );
    assert_eq!(sent_of_kind(&cluster, "commit_wanted"), 1);
    assert_eq!(sent_of_kind(&cluster, "commit_news"), 1);
    let Some(OpResult::RywReadOk { served_by, .. }) = cluster.reply(msg) else {
        panic!("expected ryw_read_ok, got {:?}", cluster.reply(msg));
    };
    assert_eq!(served_by, &node_id(f), "served where it was asked");
}

#[test]
fn a_write_answered_through_a_follower_brings_its_commit_so_the_next_read_there_need_not_wait() {
    let (mut cluster, _, f) = three_nodes_5_ms_apart(16);
    cluster.tracing = true;
    // The session writes through the follower: forwarded, answered by
    // `forward_ok`, which names what the leader knows committed.
    let token = commit_index_of(&cluster.call(f, 1, write("x", 9)));
    let answers: Vec<&ForwardOk> = cluster
        .trace
        .iter()
        .filter_map(|(_, e)| match &e.body.payload {
            Payload::Peer(PeerMsg::ForwardOk(ok)) => Some(ok),
            _ => None,
        })
        .collect();
    assert_eq!(answers.len(), 1);
    let commit = answers[0].commit.expect("commit news rides along");
    assert!(commit.index >= token);
    assert!(
        cluster.node(f).commit_index() >= token,
        "the origin knows its write committed once it hears the answer"
    );
    // So the session's next read at the follower is served at once.
    let asked_at = cluster.now;
    let msg = cluster.request(f, 1, ryw("x", token));
    assert!(cluster.run_until(200, |c| c.reply(msg).is_some()));
    assert_eq!(cluster.replied_at(msg), Some(asked_at), "no wait");
    assert_eq!(sent_of_kind(&cluster, "commit_wanted"), 0);
    let Some(OpResult::RywReadOk {
        served_by, value, ..
    }) = cluster.reply(msg)
    else {
        panic!("expected ryw_read_ok, got {:?}", cluster.reply(msg));
    };
    assert_eq!(served_by, &node_id(f), "served where it was asked");
    assert_eq!(value, &crate::Value::from(9));
}

#[test]
fn reads_waiting_for_the_same_index_ask_once() {
    let (mut cluster, leader, f) = three_nodes_5_ms_apart(15);
    let token = commit_index_of(&cluster.call(leader, 1, write("x", 9)));
    cluster.tracing = true;
    let reads: Vec<u64> = (1..=3)
        .map(|c| cluster.request(f, c, ryw("x", token)))
        .collect();
    assert!(cluster.run_until(200, |c| reads.iter().all(|&m| c.reply(m).is_some())));
    assert_eq!(sent_of_kind(&cluster, "commit_wanted"), 1);
}

/// Member 0 of `size`, holding one entry of term 1, elected leader of
/// term 2 at 1,000 ms by the votes of members 1.. (a majority); its log
/// is then [1, 2] (the no-op of its term), nothing acknowledged yet.
fn elected_leader(size: usize) -> Node {
    let mut leader = lone_node(size, 0, durable_with(1, &[1]));
    let now = Millis(1_000);
    leader.handle_timeout(now); // pre-vote
    let grant = |pre_vote| {
        Payload::Peer(PeerMsg::RequestVoteOk(RequestVoteOk {
            term: 2,
            vote_granted: true,
            pre_vote,
        }))
    };
    for pre_vote in [true, false] {
        for voter in 1..=size / 2 {
            deliver(&mut leader, now, peer_envelope(voter, 0, grant(pre_vote)));
        }
    }
    assert!((leader.role() == RoleKind::Leader), "n1 leads term 2");
    drain(&mut leader);
    leader
}

/// Everything a node sent, with its destination.
fn drain(node: &mut Node) -> Vec<(Id, Payload)> {
    std::iter::from_fn(|| node.poll_transmit())
        .map(|e| (e.dest, e.body.payload))
        .collect()
}

#[test]
fn the_leader_answers_a_question_about_an_uncommitted_index_once_it_commits() {
    let mut leader = elected_leader(3);
    let now = Millis(1_000);
    let last = leader.log().last_index();
    // Asked about the entry before the last: the commit will pass it.
    let wanted = Payload::Peer(PeerMsg::CommitWanted(CommitWanted {
        term: 2,
        index: last - 1,
    }));
    let sent = deliver(&mut leader, now, peer_envelope(2, 0, wanted));
    assert!(
        !sent.iter().any(|p| p.kind() == "commit_news"),
        "not committed yet: no answer"
    );
    let ack = Payload::Peer(PeerMsg::AppendEntriesOk(AppendEntriesOk {
        term: 2,
        success: true,
        match_index: last,
        next_index_hint: 0,
        seq: 1,
    }));
    let sent = deliver(&mut leader, now, peer_envelope(1, 0, ack));
    let news: Vec<&CommitNews> = sent
        .iter()
        .filter_map(|p| match p {
            Payload::Peer(PeerMsg::CommitNews(n)) => Some(n),
            _ => None,
        })
        .collect();
    assert_eq!(
        news,
        [&CommitNews {
            term: 2,
            commit_index: last,
            commit_term: 2
        }],
        "answered once a commit covers the entry"
    );
}

#[test]
fn commit_news_commits_only_an_entry_of_the_named_term() {
    let news = |commit_index, commit_term| {
        Payload::Peer(PeerMsg::CommitNews(CommitNews {
            term: 3,
            commit_index,
            commit_term,
        }))
    };
    let now = Millis::ZERO;
    // Log [1, 1, 2]: news of (3, term 3) names another entry at index 3.
    let mut n = lone_node(3, 0, durable_with(3, &[1, 1, 2]));
    deliver(&mut n, now, peer_envelope(1, 0, news(3, 3)));
    assert_eq!(n.commit_index(), 0, "a different entry at that index");
    deliver(&mut n, now, peer_envelope(1, 0, news(2, 1)));
    assert_eq!(
        n.commit_index(),
        2,
        "the same entry: the prefix is committed"
    );

    // News of an index past the log waits for the entry to arrive.
    let mut n = lone_node(3, 0, durable_with(3, &[1, 1]));
    deliver(&mut n, now, peer_envelope(1, 0, news(3, 3)));
    assert_eq!(n.commit_index(), 0);
    let append = Payload::Peer(PeerMsg::AppendEntries(AppendEntries {
        term: 3,
        prev_log_index: 2,
        prev_log_term: 1,
        entries: vec![entry_at(3, 3)],
        leader_commit: 0,
        seq: 1,
    }));
    deliver(&mut n, now, peer_envelope(1, 0, append));
    assert_eq!(n.commit_index(), 3, "the news held until the entry came");
}

#[test]
fn a_new_leader_is_asked_again_what_the_old_one_was_asked() {
    // Member 0 holds entries 1..=3 of term 1 and knows none committed.
    let mut n = lone_node(3, 0, durable_with(1, &[1, 1, 1]));
    let now = Millis(10);
    let heartbeat_from = |leader: usize, term: u64| {
        let append = Payload::Peer(PeerMsg::AppendEntries(AppendEntries {
            term,
            prev_log_index: 3,
            prev_log_term: 1,
            entries: vec![],
            leader_commit: 0,
            seq: 1,
        }));
        peer_envelope(leader, 0, append)
    };
    let read = |msg_id| Envelope {
        src: Id::Client(1),
        dest: node_id(0),
        body: Body {
            msg_id: Some(msg_id),
            in_reply_to: None,
            payload: Payload::Request(ryw("x", 3)),
        },
    };
    let questions = |sent: &[Payload]| -> Vec<CommitWanted> {
        sent.iter()
            .filter_map(|p| match p {
                Payload::Peer(PeerMsg::CommitWanted(w)) => Some(w.clone()),
                _ => None,
            })
            .collect()
    };
    deliver(&mut n, now, heartbeat_from(1, 1));
    let sent = deliver(&mut n, now, read(1));
    assert_eq!(questions(&sent), [CommitWanted { term: 1, index: 3 }]);
    let sent = deliver(&mut n, now, read(2));
    assert_eq!(questions(&sent), [], "asked already");
    // Member 2 leads term 2: the old leader's answer may never come.
    deliver(&mut n, now, heartbeat_from(2, 2));
    let sent = deliver(&mut n, now, read(3));
    assert_eq!(questions(&sent), [CommitWanted { term: 2, index: 3 }]);
}

#[test]
fn a_peer_sent_to_between_heartbeats_gets_its_heartbeat_an_interval_later() {
    // Leader of 5 (majority 3), elected at 1,000 ms: all peers got the
    // no-op then. At 1,030 only member 1 acknowledges it, with a write
    // waiting, so only member 1 is sent the write (no commit yet).
    let mut leader = elected_leader(5);
    let write_request = Envelope {
        src: Id::Client(1),
        dest: node_id(0),
        body: Body {
            msg_id: Some(1),
            in_reply_to: None,
            payload: Payload::Request(write("x", 1)),
        },
    };
    leader.handle_message(Millis(1_010), write_request);
    drain(&mut leader);
    let ack = Payload::Peer(PeerMsg::AppendEntriesOk(AppendEntriesOk {
        term: 2,
        success: true,
        match_index: 2,
        next_index_hint: 0,
        seq: 1,
    }));
    leader.handle_message(Millis(1_030), peer_envelope(1, 0, ack));
    let sent: Vec<Id> = drain(&mut leader).into_iter().map(|(to, _)| to).collect();
    assert_eq!(sent, [node_id(1)], "the write goes to member 1 alone");
    let heartbeat_to = |leader: &mut Node, at: u64| -> Vec<Id> {
        leader.handle_timeout(Millis(at));
        let sent = drain(leader).into_iter();
        sent.filter(|(_, p)| p.kind() == "append_entries")
            .map(|(to, _)| to)
            .collect()
    };
    assert_eq!(leader.poll_timeout(), Some(Millis(1_050)));
    let idle: Vec<Id> = (2..5).map(node_id).collect();
    assert_eq!(
        heartbeat_to(&mut leader, 1_050),
        idle,
        "members idle since 1,000"
    );
    assert_eq!(
        leader.poll_timeout(),
        Some(Millis(1_080)),
        "member 1 is due an interval after 1,030, not after this heartbeat"
    );
    assert_eq!(heartbeat_to(&mut leader, 1_080), [node_id(1)]);
}

#[test]
fn a_commit_sends_what_waited_to_a_follower_slower_than_the_majority() {
    let (mut cluster, leader, slow) = with_slow_follower(16);
    let first = cluster.request(leader, 1, write("a", 1));
    cluster.run_for(1);
    // Proposed while both windows are full: it waits.
    let second = cluster.request(leader, 2, write("b", 2));
    assert!(cluster.run_until(100, |c| c.reply(second).is_some()));
    let first_committed_at = cluster.replied_at(first).expect("acknowledged");
    let second_index = commit_index_of(cluster.reply(second).expect("acknowledged"));
    // When an AppendEntries first carried the second write to the slow one.
    let sent_at = cluster
        .trace
        .iter()
        .filter(|(_, e)| e.src == node_id(leader) && e.dest == node_id(slow))
        .find_map(|(at, e)| match &e.body.payload {
            Payload::Peer(PeerMsg::AppendEntries(ae))
                if ae.prev_log_index + ae.entries.len() as u64 >= second_index =>
            {
                Some(*at)
            }
            _ => None,
        });
    assert_eq!(
        sent_at,
        Some(first_committed_at),
        "it leaves for the slow follower when the first write commits"
    );
}

/// A `forward` of `write x 9` from member 1 under `fwd_id`.
fn forwarded_write(fwd_id: u64) -> Payload {
    Payload::Peer(PeerMsg::Forward(Forward {
        fwd_id,
        op: write("x", 9),
        reason: None,
    }))
}

/// Member `from` acknowledges the leader's log up to `match_index`.
fn acknowledged(from: usize, match_index: u64) -> Envelope {
    let ack = Payload::Peer(PeerMsg::AppendEntriesOk(AppendEntriesOk {
        term: 2,
        success: true,
        match_index,
        next_index_hint: 0,
        seq: 1,
    }));
    peer_envelope(from, 0, ack)
}

/// The `forward_ok`s among `sent`.
fn answers(sent: &[Payload]) -> Vec<&ForwardOk> {
    sent.iter()
        .filter_map(|p| match p {
            Payload::Peer(PeerMsg::ForwardOk(ok)) => Some(ok),
            _ => None,
        })
        .collect()
}

/// `sent` holds exactly one `forward_ok`: the write done at `index`.
fn assert_answered_once(sent: &[Payload], index: u64) {
    let answered = answers(sent);
    assert_eq!(answered.len(), 1, "one answer: {answered:?}");
    assert_eq!(
        answered[0].result,
        OpResult::WriteOk {
            commit_index: index
        }
    );
}

#[test]
fn a_copy_sent_again_while_the_first_waits_adds_no_entry_and_is_answered_once() {
    let mut leader = elected_leader(3);
    let now = Millis(1_000);
    deliver(&mut leader, now, peer_envelope(1, 0, forwarded_write(7)));
    let index = leader.log().last_index();
    let sent = deliver(
        &mut leader,
        now.plus(5),
        peer_envelope(1, 0, forwarded_write(7)),
    );
    assert!(answers(&sent).is_empty());
    assert_eq!(leader.log().last_index(), index, "no second entry");
    let sent = deliver(&mut leader, now.plus(6), acknowledged(2, index));
    assert_answered_once(&sent, index);
}

#[test]
fn a_copy_sent_again_after_the_first_copys_wait_ended_is_answered_when_the_entry_applies() {
    // The origin's clock may run slower than the leader's: its copy can
    // come after the leader stopped waiting on the first one's behalf.
    let mut leader = elected_leader(3);
    let now = Millis(1_000);
    deliver(&mut leader, now, peer_envelope(1, 0, forwarded_write(7)));
    let index = leader.log().last_index();
    // Member 2 keeps the leader in office without taking the entry.
    deliver(&mut leader, now.plus(900), acknowledged(2, index - 1));
    let later = now.plus(leader.config().request_timeout_ms + 1);
    leader.handle_timeout(later);
    drain(&mut leader);
    deliver(&mut leader, later, peer_envelope(1, 0, forwarded_write(7)));
    assert_eq!(leader.log().last_index(), index, "no second entry");
    let sent = deliver(&mut leader, later.plus(1), acknowledged(2, index));
    assert_answered_once(&sent, index);
}

#[test]
fn a_local_write_whose_entry_is_replaced_is_sent_to_the_next_leader_not_refused() {
    let mut cluster = TestCluster::new(3, 17);
    let old = cluster.stable_leader();
    cluster.isolate(old);
    // Proposed by the leader its clients asked, which no one hears now.
    let msg = cluster.request(old, 1, write("z", 5));
    let proposed_at = cluster.node(old).log().last_index();
    // The others elect a leader and commit entries of their own there.
    assert!(cluster.run_until(600, |c| c
        .leaders()
        .iter()
        .any(|&l| l != old && c.node(l).commit_index() >= proposed_at)));
    cluster.tracing = true;
    cluster.heal();
    assert!(cluster.run_until(800, |c| c.reply(msg).is_some()));
    // Its entry was replaced, so that copy never took effect; the write is
    // tried again with the new leader instead of being answered "not done".
    let reply = cluster.reply(msg).expect("answered");
    assert!(
        matches!(reply, OpResult::WriteOk { .. }),
        "expected write_ok, got {reply:?}"
    );
    assert!(
        cluster.trace.iter().any(|(_, e)| e.src == node_id(old)
            && matches!(e.body.payload, Payload::Peer(PeerMsg::Forward(_)))),
        "sent to the next leader"
    );
    assert_eq!(cluster.replies_to(msg), 1);
}

#[test]
fn a_forward_ok_carries_commit_news_only_once_something_is_committed() {
    // A follower that has committed nothing refuses the forward (it does
    // not lead) and has no news to send along.
    let mut n = lone_node(3, 0, durable_with(1, &[1]));
    let sent = deliver(&mut n, Millis(10), peer_envelope(1, 0, forwarded_write(7)));
    let answered = answers(&sent);
    assert_eq!(answered.len(), 1);
    assert_eq!(answered[0].commit, None, "{answered:?}");
    // Once it knows entry 1 committed, the news names it.
    let news = Payload::Peer(PeerMsg::CommitNews(CommitNews {
        term: 1,
        commit_index: 1,
        commit_term: 1,
    }));
    deliver(&mut n, Millis(11), peer_envelope(1, 0, news));
    let sent = deliver(&mut n, Millis(12), peer_envelope(1, 0, forwarded_write(8)));
    assert_eq!(
        answers(&sent)[0].commit,
        Some(Committed { index: 1, term: 1 })
    );
}

// A timer that no longer stands for anything (a waiting read served early)
// does not wake the node: the next timeout it asks for is a real one.
#[test]
fn a_read_served_before_its_wait_bound_leaves_no_timer_behind() {
    let mut cluster = TestCluster::new(3, 21);
    let leader = cluster.stable_leader();
    let f = (0..3).find(|&i| i != leader).expect("a follower");
    let token = commit_index_of(&cluster.call(leader, 1, write("x", 1)));
    // The follower has not heard the entry is committed: the read waits
    // (bound 100 ms) and is served once it applies there.
    cluster.cut.insert((leader, f));
    let sent_at = cluster.now;
    let read = cluster.request(f, 2, ryw("x", token));
    cluster.run_for(5);
    assert!(cluster.reply(read).is_none(), "it waits");
    cluster.heal();
    assert!(cluster.run_until(60, |c| c.reply(read).is_some()));
    assert!(cluster.replied_at(read).expect("answered") < sent_at.plus(100));
    let next = cluster.node(f).poll_timeout().expect("a timer");
    assert!(
        next > sent_at.plus(100),
        "the served read's wait bound ({:?}) no longer wakes the node: next {next:?}",
        sent_at.plus(100)
    );
}

// Leader-side work for an origin ends at its deadline: the origin has
// answered its client by then, and an answer after it would be noise.
#[test]
fn the_leader_stops_waiting_for_an_origin_at_the_deadline_and_does_not_answer_later() {
    // Woken exactly at the deadline, or a millisecond after it.
    for late_ms in [0, 1] {
        let mut leader = elected_leader(3);
        let now = Millis(1_000);
        deliver(&mut leader, now, peer_envelope(1, 0, forwarded_write(7)));
        let index = leader.log().last_index();
        deliver(&mut leader, now.plus(900), acknowledged(2, index - 1));
        let later = now.plus(leader.config().request_timeout_ms + late_ms);
        leader.handle_timeout(later);
        drain(&mut leader);
        let sent = deliver(&mut leader, later.plus(1), acknowledged(2, index));
        assert!(leader.commit_index() >= index, "the entry commits");
        assert!(
            answers(&sent).is_empty(),
            "+{late_ms} ms: nobody waits for it: {sent:?}"
        );
    }
}

// Waiting reads are found by what they wait for, never by walking them
// all: a follower with a thousand `ryw_read`s waiting for a far index
// applies new entries with the same work as one with ten. Counted, not
// timed ([`crate::work`]: entry lookups and waiting reads looked at).
#[test]
fn applies_at_a_follower_cost_the_same_however_many_reads_wait_there() {
    let mut work = Vec::new();
    for waiting in [10, 1_000] {
        let mut cluster = TestCluster::with_config(3, 17, |c| {
            c.ryw_wait_ms_max = 50_000;
            c.request_timeout_ms = 100_000;
        });
        let leader = cluster.stable_leader();
        let f = (0..3).find(|&i| i != leader).expect("a follower");
        for _ in 0..waiting {
            cluster.request(f, 2, ryw("x", 1_000_000));
        }
        cluster.run_for(20);
        crate::work::take();
        for value in 0..5 {
            cluster.call(leader, 1, write("x", value));
        }
        cluster.run_for(20);
        work.push(crate::work::take());
        assert!(
            cluster.node(f).kv().applied_index() >= 5,
            "the follower applied the writes"
        );
    }
    assert!(
        work[1] <= work[0] + 8,
        "work for five writes, with 10 and 1,000 reads waiting: {work:?}"
    );
}

// The same at the leader: a thousand linearizable reads waiting for a
// leadership round that no follower acknowledges (both are cut off) do
// not make each later step walk them.
#[test]
fn steps_at_a_leader_cost_the_same_however_many_reads_wait_for_a_round() {
    let mut work = Vec::new();
    for waiting in [10, 1_000] {
        let mut cluster = TestCluster::with_config(3, 19, |c| {
            c.request_timeout_ms = 100_000;
        });
        let leader = cluster.stable_leader();
        cluster.call(leader, 1, write("x", 1));
        for i in (0..3).filter(|&i| i != leader) {
            cluster.isolate(i);
        }
        for _ in 0..waiting {
            cluster.request(leader, 2, read("x"));
        }
        crate::work::take();
        for value in 0..5 {
            cluster.request(leader, 1, write("x", value));
        }
        cluster.run_for(20);
        work.push(crate::work::take());
        assert!(
            (cluster.node(leader).role() == RoleKind::Leader),
            "still leading"
        );
    }
    assert!(
        work[1] <= work[0] + 8,
        "work for five writes, with 10 and 1,000 reads waiting: {work:?}"
    );
}

// Named events are counted where they happen: the waiting read above asks
// for commit news, learns the commit from it and is served where it
// waited; a read the follower can serve at once is counted as such.
#[test]
fn named_events_are_counted_where_they_happen() {
    use crate::events::Event;
    let (mut cluster, leader, f) = three_nodes_5_ms_apart(14);
    assert_eq!(
        cluster.node(leader).reached().count(Event::LeaderElected),
        1
    );
    let token = commit_index_of(&cluster.call(leader, 1, write("x", 9)));
    let msg = cluster.request(f, 1, ryw("x", token));
    assert!(cluster.run_until(200, |c| c.reply(msg).is_some()));
    let at_f = cluster.node(f).reached().clone();
    assert_eq!(at_f.count(Event::CommitAskedFor), 1);
    assert_eq!(at_f.count(Event::CommittedByNews), 1);
    assert_eq!(at_f.count(Event::FollowerReadWaitedThenServed), 1);
    assert_eq!(at_f.count(Event::FollowerReadServedAtOnce), 0);
    let msg = cluster.request(f, 1, ryw("x", token));
    assert!(cluster.run_until(200, |c| c.reply(msg).is_some()));
    let at_f = cluster.node(f).reached();
    assert_eq!(at_f.count(Event::FollowerReadServedAtOnce), 1);
    assert_eq!(
        at_f.count(Event::LeaderElected),
        0,
        "only the winner counts it"
    );
}

// A leader offered more writes than it can replicate holds them back once
// its log runs its bound of windows past its commit index (here 2 windows
// of 4 entries: 8), and appends the newest first when the backlog shrinks:
// those are the clients most likely still waiting.
#[test]
fn writes_beyond_the_backlog_bound_wait_and_the_newest_go_first() {
    // Windows of 4 entries x 2 in flight: one window is 8 entries.
    let mut cluster = TestCluster::with_config(3, 91, |c| {
        c.append_entries_max = 4;
        c.append_in_flight_max = 2;
        c.backlog_windows_max = 1;
    });
    let leader = cluster.stable_leader();
    let base = cluster.node(leader).log().last_index();
    for f in (0..3).filter(|&f| f != leader) {
        cluster.isolate(f);
    }
    let msgs: Vec<u64> = (0..20)
        .map(|value| cluster.request(leader, 1, write("x", value)))
        .collect();
    cluster.run_for(20);
    let node = cluster.node(leader);
    assert_eq!(
        node.log().last_index() - node.commit_index(),
        8,
        "the log stops at the bound"
    );
    assert!(node.log().last_index() - base < 20, "some writes wait");
    assert!(node.reached().count(Event::WriteHeldForBacklog) >= 11);
    let in_log: Vec<bool> = (0..20)
        .map(|value| {
            let log = cluster.node(leader).log();
            (log.first_index()..=log.last_index()).any(|i| {
                matches!(log.get(i).map(|e| &e.command), Some(Command::Write { value: v, .. }) if *v == Value::from(value))
            })
        })
        .collect();
    let held: Vec<usize> = (0..20).filter(|&k| !in_log[k]).collect();
    assert!(held.len() >= 11);
    cluster.heal();
    assert!(cluster.run_until(2_000, |c| msgs.iter().all(|&m| c.reply(m).is_some())));
    // Of the held writes, the last to come went in first.
    let index_of = |m: u64| commit_index_of(cluster.reply(m).expect("answered"));
    for pair in held.windows(2) {
        assert!(
            index_of(msgs[pair[1]]) < index_of(msgs[pair[0]]),
            "held write {} went in before {}",
            pair[0],
            pair[1]
        );
    }
}

// Held writes never entered the log: a leader that loses its leadership
// hands them to the next one, and a held write whose deadline passes is
// dropped without ever being appended.
#[test]
fn held_writes_follow_the_leadership_and_expire_unappended() {
    let mut cluster = TestCluster::with_config(3, 92, |c| {
        c.append_entries_max = 1;
        c.backlog_windows_max = 1;
        c.request_timeout_ms = 300;
    });
    let leader = cluster.stable_leader();
    for f in (0..3).filter(|&f| f != leader) {
        cluster.isolate(f);
    }
    let first = cluster.request(leader, 1, write("x", 1));
    let held = cluster.request(leader, 2, write("x", 2));
    cluster.run_for(10);
    let tail = cluster.node(leader).log().last_index();
    // Past the deadline while still held: never appended, whatever comes.
    cluster.run_for(400);
    assert!(cluster.reply(held).is_some(), "answered at its deadline");
    cluster.heal();
    assert!(cluster.run_until(3_000, |c| c.leaders().len() == 1
        && c.node(c.leaders()[0]).commit_index() >= tail));
    let appended = |c: &TestCluster| {
        (0..3).any(|k| {
            let log = c.node(k).log();
            (log.base().0 + 1..=log.last_index()).any(|i| {
                matches!(log.get(i).map(|e| &e.command), Some(Command::Write { value, .. }) if *value == Value::from(2))
            })
        })
    };
    assert!(!appended(&cluster), "an expired held write entered a log");
    let _ = first;

    // Leadership lost while a write is held: it goes to the next leader.
    let leader = cluster.stable_leader();
    for f in (0..3).filter(|&f| f != leader) {
        cluster.isolate(f);
    }
    let _blocker = cluster.request(leader, 1, write("y", 1));
    let moved = cluster.request(leader, 3, write("y", 2));
    cluster.run_for(10);
    assert!(
        cluster
            .node(leader)
            .reached()
            .count(Event::WriteHeldForBacklog)
            >= 1
    );
    // The others elect a new leader; the old one hears of it and steps down.
    cluster.heal();
    cluster.isolate(leader);
    assert!(cluster.run_until(2_000, |c| c.leaders().iter().any(|&l| l != leader)));
    cluster.heal();
    assert!(cluster.run_until(2_000, |c| c.reply(moved).is_some()));
}

// What the simulator's abstract state reads off a node: which kinds of
// reads wait there.
#[test]
fn a_node_says_which_kinds_of_reads_wait_there() {
    let mut cluster = TestCluster::new(3, 93);
    let leader = cluster.stable_leader();
    let f = (0..3).find(|&k| k != leader).expect("a follower");
    assert_eq!(cluster.node(f).reads_waiting(), ReadsWaiting::default());
    // A follower read waiting for a token nobody committed yet.
    cluster.isolate(f);
    let token = commit_index_of(&cluster.call(leader, 1, write("x", 1)));
    let _ = cluster.request(f, 2, ryw("x", token));
    let waiting = cluster.node(f).reads_waiting();
    assert!(waiting.for_apply_at_origin && !waiting.for_round_at_leader);
    // A lin-kv read at a leader cut off from its followers waits for its round.
    cluster.heal();
    cluster.isolate(leader);
    let _ = cluster.request(leader, 3, read("x"));
    let waiting = cluster.node(leader).reads_waiting();
    assert!(waiting.for_round_at_leader && !waiting.for_apply_at_origin);
    assert!(!waiting.for_apply_at_leader);
}
