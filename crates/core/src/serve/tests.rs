//! Cluster-level tests of the serving layer: the read-your-writes read
//! path (served at once, after a wait, or by the leader), linearizable
//! reads, forwarding and its retries, the duplicate filter, `cas`, and
//! apply lag.

use crate::data::{Key, Value};
use crate::testkit::*;

#[test]
fn follower_that_applied_the_token_serves_locally_without_waiting() {
    let mut cluster = TestCluster::new(3, 2);
    let leader = cluster.stable_leader();
    let token = commit_index_of(&cluster.call(leader, 1, write("x", 42)));
    let f = follower(&cluster, leader, &[]);
    assert!(cluster.run_until(500, |c| c.node(f).applied_index() >= token));
    let reply = cluster.call(f, 1, ryw("x", token));
    let (by, applied, how) = served(&reply);
    assert_eq!(by, &node_id(f));
    assert!(applied >= token, "read at an index covering the token");
    assert_eq!(how, &Served::Locally { waited_ms: 0 });
    assert_eq!(value_of(&reply), &Value::from(42));
}

#[test]
fn follower_behind_waits_for_apply_then_serves_locally() {
    let mut cluster = TestCluster::new(3, 3);
    let leader = cluster.stable_leader();
    let f = follower(&cluster, leader, &[]);
    cluster.cut.insert((leader, f));
    let token = commit_index_of(&cluster.call(leader, 1, write("x", 7)));
    assert!(
        cluster.node(f).applied_index() < token,
        "the follower is behind"
    );
    let msg = cluster.request(f, 1, ryw("x", token));
    cluster.run_for(30);
    assert!(cluster.reply(msg).is_none(), "no stale answer while behind");
    cluster.heal();
    assert!(cluster.run_until(200, |c| c.reply(msg).is_some()));
    let reply = cluster.reply(msg).expect("served").clone();
    let (by, applied, how) = served(&reply);
    assert_eq!(by, &node_id(f), "served where it was asked");
    assert!(applied >= token);
    let Served::Locally { waited_ms } = how else {
        panic!("expected a local serve, got {how:?}");
    };
    assert!(
        (30..100).contains(waited_ms),
        "waited {waited_ms} ms: from the heal, within the bound"
    );
    assert_eq!(value_of(&reply), &Value::from(7));
}

#[test]
fn follower_behind_past_bound_redirects_to_leader() {
    let mut cluster = TestCluster::new(3, 4);
    let leader = cluster.stable_leader();
    let f = follower(&cluster, leader, &[]);
    // Everything from the leader reaches f 400 ms late, past the 100 ms bound.
    cluster.lag_ms.insert((leader, f), 400);
    let token = commit_index_of(&cluster.call(leader, 1, write("x", 8)));
    let msg = cluster.request(f, 1, ryw("x", token));
    let asked_at = cluster.now;
    assert!(cluster.run_until(1_000, |c| c.reply(msg).is_some()));
    let reply = cluster.reply(msg).expect("served").clone();
    let (by, applied, how) = served(&reply);
    assert_eq!(by, &node_id(leader));
    assert!(applied >= token);
    assert_eq!(
        how,
        &Served::Redirected {
            reason: Redirect::FollowerBehind
        }
    );
    assert_eq!(value_of(&reply), &Value::from(8));
    let (at, envelope) = cluster
        .client_inbox
        .iter()
        .find(|(_, e)| e.body.in_reply_to == Some(msg))
        .expect("reply recorded");
    assert_eq!(
        envelope.src,
        node_id(f),
        "the node asked answers the client"
    );
    assert!(
        at.since(asked_at) >= 100,
        "redirected only after the 100 ms bound"
    );
}

#[test]
fn prefer_follower_false_is_served_by_the_leader() {
    let mut cluster = TestCluster::new(3, 5);
    let leader = cluster.stable_leader();
    let f = follower(&cluster, leader, &[]);
    cluster.call(leader, 1, write("x", 1));
    let op = ClientOp::RywRead {
        key: Key::Str("x".into()),
        last_write_index: 0,
        prefer_follower: false,
    };
    let reply = cluster.call(f, 1, op);
    let (by, _, how) = served(&reply);
    assert_eq!(by, &node_id(leader));
    assert_eq!(
        how,
        &Served::Redirected {
            reason: Redirect::LeaderRequested
        }
    );
}

#[test]
fn read_forwarded_to_an_old_leader_is_retried_with_the_new_one() {
    // Retries are slow here, so only the re-route on a new leader can
    // answer the read before its deadline.
    let mut cluster = TestCluster::with_config(3, 6, |c| c.forward_retry_ms = 900);
    let old = cluster.stable_leader();
    let f = follower(&cluster, old, &[]);
    let other = follower(&cluster, old, &[f]);
    cluster.cut.insert((old, f));
    let token = commit_index_of(&cluster.call(old, 1, write("x", 9)));
    let msg = cluster.request(f, 1, ryw("x", token));
    // The wait bound passes and f forwards to the old leader, which vanishes.
    cluster.run_for(101);
    cluster.isolate(old);
    assert!(cluster.run_until(2_000, |c| c.node(f).leader() == Some(&node_id(other))));
    // Learning the new leader re-routes the read at once, not at its next retry.
    let learned = cluster.now;
    assert!(cluster.run_until(2_000, |c| c.reply(msg).is_some()));
    let retry_ms = cluster.node(f).config().forward_retry_ms;
    assert!(
        cluster.now.since(learned) < retry_ms,
        "answered {} ms after f learned the new leader",
        cluster.now.since(learned)
    );
    let reply = cluster.reply(msg).expect("answered").clone();
    let (by, applied, _) = served(&reply);
    assert_eq!(by, &node_id(other), "served by the new leader");
    assert!(applied >= token);
    assert_eq!(
        value_of(&reply),
        &Value::from(9),
        "the new leader has the write (§5.4)"
    );
    assert_eq!(cluster.replies_to(msg), 1, "exactly one answer");
}

// Reference: Raft §8 (read-only queries must not return stale data).
#[test]
fn isolated_old_leader_refuses_linearizable_read() {
    let mut cluster = TestCluster::new(3, 8);
    let old = cluster.stable_leader();
    cluster.call(old, 1, write("x", 1));
    cluster.isolate(old);
    let msg = cluster.request(old, 1, read("x"));
    // The majority elects a new leader and overwrites x.
    let new = {
        let ok = cluster.run_until(2_000, |c| c.leaders().iter().any(|&l| l != old));
        assert!(ok, "the majority elects a new leader");
        *cluster
            .leaders()
            .iter()
            .find(|&&l| l != old)
            .expect("new leader")
    };
    cluster.call(new, 2, write("x", 2));
    assert!(cluster.run_until(2_000, |c| c.reply(msg).is_some()));
    match cluster.reply(msg).expect("answered") {
        OpResult::Error { code, .. } => assert!(code.is_definite(), "a refused read is definite"),
        other => panic!("an isolated leader answered a linearizable read: {other:?}"),
    }
    let fresh = cluster.call(new, 1, read("x"));
    assert_eq!(value_of(&fresh), &Value::from(2));
}

#[test]
fn token_no_write_can_have_fails_fast_with_a_definite_error() {
    let mut cluster = TestCluster::new(3, 9);
    let leader = cluster.stable_leader();
    cluster.call(leader, 1, write("x", 1));
    let msg = cluster.request(leader, 1, ryw("x", 999));
    assert!(
        cluster.run_until(50, |c| c.reply(msg).is_some()),
        "one heartbeat round, no wait bound"
    );
    match cluster.reply(msg).expect("answered") {
        OpResult::Error { code, text } => {
            assert_eq!(*code, ErrorCode::PRECONDITION_FAILED);
            let node = cluster.node(leader);
            let expected = format!(
                "last_write_index 999 is beyond every committed entry: leader {} \
                 (term {}) has committed up to {}",
                node_id(leader),
                node.term(),
                node.commit_index()
            );
            assert_eq!(
                text.as_str(),
                expected,
                "names the token, the leader, its commit"
            );
        }
        other => panic!("expected an error, got {other:?}"),
    }
}

#[test]
fn no_leader_means_error_11_within_the_deadline_never_silence() {
    let mut cluster = TestCluster::new(3, 10);
    let leader = cluster.stable_leader();
    let f = follower(&cluster, leader, &[]);
    for i in 0..3 {
        cluster.isolate(i);
    }
    let msg = cluster.request(f, 1, ryw("x", 50));
    cluster.run_for(1_001);
    match cluster.reply(msg) {
        Some(OpResult::Error { code, .. }) => assert_eq!(*code, ErrorCode::TEMPORARILY_UNAVAILABLE),
        other => panic!("expected error 11 at the deadline, got {other:?}"),
    }
}

#[test]
fn write_sent_to_a_follower_is_forwarded_and_acknowledged_once() {
    let mut cluster = TestCluster::new(3, 13);
    let leader = cluster.stable_leader();
    let f = follower(&cluster, leader, &[]);
    let msg = cluster.request(f, 1, write("y", 3));
    assert!(cluster.run_until(500, |c| c.reply(msg).is_some()));
    let index = commit_index_of(cluster.reply(msg).expect("acked"));
    assert_eq!(cluster.replies_to(msg), 1);
    let entry = cluster
        .node(leader)
        .log()
        .get(index)
        .expect("entry")
        .clone();
    assert_eq!(
        entry.command,
        Command::Write {
            key: Key::Str("y".into()),
            value: Value::from(3)
        },
        "commit_index names the write's own entry"
    );
}

/// An origin re-sends a forwarded write until it hears back; the leader
/// answers a copy of an applied request with the first copy's outcome and
/// index, and adds no entry for it.
#[test]
fn a_forwarded_write_whose_answer_is_lost_is_sent_again_and_applied_once() {
    let mut cluster = TestCluster::new(3, 13);
    let leader = cluster.stable_leader();
    let f = follower(&cluster, leader, &[]);
    cluster.cut.insert((leader, f)); // the answer (and replication) to f is lost
    cluster.tracing = true;
    let msg = cluster.request(f, 1, write("y", 3));
    cluster.run_for(100);
    assert!(cluster.reply(msg).is_none(), "no answer reached the origin");
    let first = cluster.node(leader).commit_index();
    cluster.heal();
    assert!(cluster.run_until(800, |c| c.reply(msg).is_some()));
    let index = commit_index_of(cluster.reply(msg).expect("acked"));
    assert_eq!(
        index, first,
        "the first copy's entry, committed before the heal"
    );
    let forwards = cluster
        .trace
        .iter()
        .filter(|(_, e)| matches!(e.body.payload, Payload::Peer(PeerMsg::Forward(_))))
        .count();
    assert!(
        forwards >= 2,
        "sent again after the lost answer: {forwards} forwards"
    );
    let written = Command::Write {
        key: Key::Str("y".into()),
        value: Value::from(3),
    };
    let log = cluster.node(leader).log();
    let copies = (1..=log.last_index())
        .filter_map(|i| log.get(i))
        .filter(|e| e.command == written)
        .count();
    assert_eq!(copies, 1, "a copy sent again adds no entry");
    assert!(cluster.run_until(200, |c| c.node(f).applied_index()
        >= c.node(leader).commit_index()));
    let stored = cluster.node(f).kv().get(&Key::Str("y".into())).cloned();
    assert_eq!(
        stored.map(|v| v.index),
        Some(first),
        "applied once, at the first copy"
    );
}

#[test]
fn cas_checks_its_precondition_at_apply() {
    let mut cluster = TestCluster::new(3, 14);
    let leader = cluster.stable_leader();
    let cas = |from: i64, to: i64| ClientOp::Cas {
        key: Key::Str("z".into()),
        from: from.into(),
        to: to.into(),
        create_if_not_exists: false,
    };
    let missing = cluster.call(leader, 1, cas(1, 2));
    assert!(
        matches!(missing, OpResult::Error { code, .. } if code == ErrorCode::KEY_DOES_NOT_EXIST)
    );
    cluster.call(leader, 1, write("z", 1));
    assert!(matches!(
        cluster.call(leader, 1, cas(1, 2)),
        OpResult::CasOk { .. }
    ));
    let stale = cluster.call(leader, 1, cas(1, 3));
    assert!(
        matches!(stale, OpResult::Error { code, .. } if code == ErrorCode::PRECONDITION_FAILED)
    );
    assert_eq!(
        value_of(&cluster.call(leader, 1, read("z"))),
        &Value::from(2)
    );
}

// Reference: Raft §8 (client interaction): a request must not apply twice.
#[test]
fn duplicated_forward_of_a_write_applies_once() {
    let mut cluster = TestCluster::new(3, 16);
    let leader = cluster.stable_leader();
    let f = follower(&cluster, leader, &[]);
    let forward = Envelope {
        src: node_id(f),
        dest: node_id(leader),
        body: Body {
            msg_id: Some(1_000),
            in_reply_to: None,
            payload: Payload::Peer(PeerMsg::Forward(Forward {
                fwd_id: 77,
                op: write("x", 1),
                reason: None,
            })),
        },
    };
    cluster.with_node(leader, |node, now| {
        node.handle_message(now, forward.clone())
    });
    cluster.run_for(50);
    let newer = commit_index_of(&cluster.call(leader, 2, write("x", 2)));
    // The network delivers the old forward a second time, late.
    cluster.with_node(leader, |node, now| {
        node.handle_message(now, forward.clone())
    });
    cluster.run_for(100);
    for i in 0..3 {
        let stored = cluster
            .node(i)
            .kv()
            .get(&Key::Str("x".into()))
            .expect("written");
        assert_eq!(
            stored.value,
            Value::from(2),
            "n{}: the late duplicate changed nothing",
            i + 1
        );
        assert_eq!(stored.index, newer);
    }
}

// Reference: Raft §8: forwarded requests are deduplicated by (origin, id),
// so a restarted node must never reuse an id its earlier life forwarded,
// even when its disk, and every counter on it, is gone.
#[test]
fn writes_forwarded_by_a_restarted_follower_are_not_taken_for_duplicates() {
    let mut cluster = TestCluster::new(3, 19);
    let leader = cluster.stable_leader();
    let f = follower(&cluster, leader, &[]);
    let first = commit_index_of(&cluster.call(f, 1, write("x", 1)));
    let durable = cluster.crash(f);
    assert_eq!(durable.starts, 1, "one start so far");
    cluster.restart(f, durable);
    assert_eq!(cluster.node(f).durable().starts, 2, "the restart counted");
    let second = commit_index_of(&cluster.call(f, 1, write("x", 2)));
    assert!(second > first);
    let reply = cluster.call(leader, 1, read("x"));
    assert_eq!(
        value_of(&reply),
        &Value::from(2),
        "the second write applied"
    );
    cluster.crash(f);
    cluster.restart_wiped(f);
    assert_eq!(
        cluster.node(f).durable().starts,
        1,
        "the count started again"
    );
    let third = commit_index_of(&cluster.call(f, 1, write("x", 3)));
    assert!(third > second, "a new entry, not the first life's");
    let reply = cluster.call(leader, 1, read("x"));
    assert_eq!(value_of(&reply), &Value::from(3), "the third write applied");
}

#[test]
fn a_forwarded_read_whose_forward_was_lost_is_retried_before_its_deadline() {
    let mut cluster = TestCluster::new(3, 20);
    let leader = cluster.stable_leader();
    let f = follower(&cluster, leader, &[]);
    let token = commit_index_of(&cluster.call(leader, 1, write("x", 3)));
    assert!(cluster.run_until(500, |c| c.node(f).applied_index() >= token));
    // The forward is lost on the way; the link then heals.
    cluster.cut.insert((f, leader));
    let sent = cluster.now;
    let msg = cluster.request(
        f,
        2,
        ClientOp::RywRead {
            key: Key::Str("x".into()),
            last_write_index: 0,
            prefer_follower: false,
        },
    );
    cluster.run_for(5);
    cluster.cut.remove(&(f, leader));
    let retry_ms = cluster.node(f).config().forward_retry_ms;
    assert!(cluster.run_until(2 * retry_ms, |c| c.reply(msg).is_some()));
    assert!(
        cluster.now.since(sent) < 2 * retry_ms,
        "retried after {retry_ms} ms"
    );
    let reply = cluster.reply(msg).expect("answered").clone();
    assert_eq!(value_of(&reply), &Value::from(3), "served by the retry");
}

// TiDB #43583's shape: a follower knows an entry is committed but has not
// applied it yet. A read whose token it has not applied must wait for the
// apply (or go to the leader), never answer from the older state.
#[test]
fn apply_lags_commit_and_reads_still_see_their_writes() {
    let mut cluster = TestCluster::with_config(3, 4, |c| c.apply_delay_ms = 80);
    let leader = cluster.stable_leader();
    let token = commit_index_of(&cluster.call(leader, 1, write("x", 7)));
    let f = follower(&cluster, leader, &[]);
    let lagging =
        |c: &TestCluster| c.node(f).commit_index() >= token && c.node(f).applied_index() < token;
    assert!(
        cluster.run_until(1_000, lagging),
        "the follower knows the write committed before it applies it"
    );
    let reply = cluster.call(f, 1, ryw("x", token));
    let (_, applied, how) = served(&reply);
    assert!(applied >= token, "served at an index covering the token");
    assert_eq!(value_of(&reply), &Value::from(7));
    assert!(
        !matches!(how, Served::Locally { waited_ms: 0 }),
        "it could not have been served at once: {how:?}"
    );
    // And apply catches up on its own, without any message.
    assert!(cluster.run_until(200, |c| (0..3).all(|i| c.node(i).applied_index() >= token)));
}

// A slow state machine applies an entry when it is due, not at whatever
// step happens next: the node asks to be woken for it.
#[test]
fn a_lagging_apply_happens_when_due_and_the_write_is_acknowledged_then() {
    let mut cluster = TestCluster::with_config(1, 6, |c| c.apply_delay_ms = 80);
    let leader = cluster.stable_leader();
    cluster.run_for(7); // away from any heartbeat boundary
    let sent_at = cluster.now;
    let msg_id = cluster.request(leader, 1, write("x", 1));
    assert!(
        cluster.node(leader).commit_index() > cluster.node(leader).applied_index(),
        "a cluster of one commits at once, and applies later"
    );
    assert!(cluster.run_until(1_000, |c| c.reply(msg_id).is_some()));
    let acked_at = cluster.replied_at(msg_id).expect("acknowledged");
    assert_eq!(
        acked_at.since(sent_at),
        80,
        "applied exactly apply_delay_ms later"
    );
}

// ReadIndex (Raft §8) when the round takes longer than a heartbeat: timers
// fire while the read waits, and must not drop it.
#[test]
fn a_linearizable_read_survives_timers_firing_while_its_round_is_out() {
    let mut cluster = TestCluster::new(3, 7);
    let leader = cluster.stable_leader();
    cluster.call(leader, 1, write("x", 5));
    cluster.delay_ms = 60; // a round trip spans more than one heartbeat
    let asked_at = cluster.now;
    let msg_id = cluster.request(leader, 1, read("x"));
    assert!(cluster.run_until(900, |c| c.reply(msg_id).is_some()));
    assert_eq!(
        cluster.reply(msg_id),
        Some(&OpResult::ReadOk { value: 5.into() })
    );
    let answered_at = cluster.replied_at(msg_id).expect("answered");
    assert!(
        answered_at.since(asked_at) < 400,
        "answered after one or two rounds, not at the deadline: {} ms",
        answered_at.since(asked_at)
    );
}

// A leader that loses leadership with reads still waiting for their round
// hands its own clients' reads back to be retried with the next leader,
// instead of leaving them to time out.
#[test]
fn reads_waiting_on_a_deposed_leader_are_retried_with_the_next_one() {
    let mut cluster = TestCluster::new(3, 8);
    let old = cluster.stable_leader();
    cluster.call(old, 1, write("x", 9));
    cluster.isolate(old);
    let asked_at = cluster.now;
    let msg_id = cluster.request(old, 1, read("x"));
    // The others elect a leader; the old one steps down (check-quorum).
    assert!(cluster.run_until(600, |c| c.node(old).role() != RoleKind::Leader));
    cluster.heal();
    assert!(cluster.run_until(1_500, |c| c.reply(msg_id).is_some()));
    let reply = cluster.reply(msg_id).cloned();
    assert_eq!(
        reply,
        Some(OpResult::ReadOk { value: 9.into() }),
        "served by the new leader"
    );
    let answered_at = cluster.replied_at(msg_id).expect("answered");
    let deadline_ms = Config::default().request_timeout_ms;
    assert!(
        answered_at.since(asked_at) < deadline_ms,
        "answered before the deadline, after {} ms",
        answered_at.since(asked_at)
    );
}

// A read waiting at the leader for its token to be applied (apply lags
// commit) must survive the heartbeats that fire meanwhile.
#[test]
fn a_read_waiting_for_a_lagging_apply_survives_timers_firing_meanwhile() {
    let mut cluster = TestCluster::with_config(3, 9, |c| c.apply_delay_ms = 120);
    let leader = cluster.stable_leader();
    cluster.call(leader, 1, write("x", 5));
    cluster.request(leader, 1, write("x", 6));
    let lagging = |c: &TestCluster| c.node(leader).commit_index() > c.node(leader).applied_index();
    assert!(
        cluster.run_until(500, lagging),
        "the leader commits before it applies"
    );
    let token = cluster.node(leader).commit_index();
    let asked_at = cluster.now;
    let msg_id = cluster.request(leader, 2, ryw("x", token));
    assert!(cluster.run_until(900, |c| c.reply(msg_id).is_some()));
    assert_eq!(
        value_of(cluster.reply(msg_id).expect("answered")),
        &Value::from(6)
    );
    let answered_at = cluster.replied_at(msg_id).expect("answered");
    assert!(
        answered_at.since(asked_at) <= 120,
        "answered when the token applied, not at the deadline: {} ms",
        answered_at.since(asked_at)
    );
}
