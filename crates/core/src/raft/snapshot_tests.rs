//! Snapshots and compaction (see `snapshots.rs`): a follower behind the
//! compaction point catches up by snapshot, in chunks, while its reads
//! wait, and serves them from the snapshot, never from older state; a
//! node restarts from its snapshot and the log after it; an older
//! snapshot is refused.

use crate::data::{Key, Value};
use crate::testkit::*;

/// Small numbers, so that compaction happens within a few dozen writes and
/// a snapshot takes several chunks.
fn small_snapshots(config: &mut Config) {
    config.snapshot_every = 10;
    config.compaction_margin = 2;
    config.snapshot_chunk_bytes = 64;
    config.ryw_wait_ms_max = 3_000;
    config.request_timeout_ms = 5_000;
}

#[test]
fn a_follower_behind_the_compaction_point_catches_up_by_snapshot_while_its_read_waits() {
    let mut cluster = TestCluster::with_config(3, 17, small_snapshots);
    let leader = cluster.stable_leader();
    let f = follower(&cluster, leader, &[]);
    cluster.isolate(f);
    let mut token = 0;
    for value in 0..40 {
        token = commit_index_of(&cluster.call(leader, 1, write("x", value)));
    }
    cluster.run_for(10);
    let (base, _) = cluster.node(leader).log().base();
    assert!(
        base > cluster.node(f).log().last_index(),
        "the leader compacted past f's log ({base})"
    );
    let msg = cluster.request(f, 2, ryw("x", token));
    cluster.run_for(50);
    assert!(cluster.reply(msg).is_none(), "f waits: it is cut off");
    cluster.heal();
    assert!(cluster.run_until(2_000, |c| c.reply(msg).is_some()));
    let reply = cluster.reply(msg).expect("answered").clone();
    let (by, applied, how) = served(&reply);
    assert_eq!(by, &node_id(f), "served where it waited");
    assert!(applied >= token, "never from state older than the token");
    assert!(matches!(how, Served::Locally { .. }));
    assert_eq!(value_of(&reply), &Value::from(39));
    let reached = cluster.node(f).reached();
    assert!(reached.count(Event::SnapshotInstalled) >= 1);
    assert!(reached.count(Event::SnapshotInstalledWhileReadsWaited) >= 1);
    assert!(cluster.node(leader).reached().count(Event::SnapshotSent) >= 1);
    // f holds what the leader holds, and takes entries again after it.
    let token = commit_index_of(&cluster.call(leader, 1, write("x", 40)));
    assert!(cluster.run_until(500, |c| c.node(f).applied_index() >= token));
    assert_eq!(
        cluster
            .node(f)
            .kv()
            .get(&Key::Str("x".into()))
            .map(|v| &v.value),
        Some(&Value::from(40))
    );
}

#[test]
fn a_node_restarts_from_its_snapshot_and_the_log_after_it() {
    let mut cluster = TestCluster::with_config(3, 23, small_snapshots);
    let leader = cluster.stable_leader();
    let f = follower(&cluster, leader, &[]);
    for value in 0..25 {
        let key = if value % 2 == 0 { "x" } else { "y" };
        cluster.call(leader, 1, write(key, value));
    }
    cluster.run_for(20);
    let durable = cluster.crash(f);
    let snapshot = durable.snapshot.clone().expect("f took a snapshot");
    assert!(snapshot.index >= 20, "snapshots every 10 entries");
    assert!(
        durable.log.first_index() > 1,
        "f compacted its log under an earlier snapshot"
    );
    cluster.restart(f, durable);
    let node = cluster.node(f);
    assert_eq!(
        node.kv(),
        &snapshot.kv,
        "the state machine is the snapshot's"
    );
    assert!(node.commit_index() >= snapshot.index);
    assert!(node.applied_index() >= snapshot.index);
    // The log after the snapshot, and the leader, bring it up to date.
    cluster.run_for(100);
    assert_eq!(cluster.node(f).kv(), cluster.node(leader).kv());
    assert_eq!(
        cluster.node(f).applied_index(),
        cluster.node(leader).applied_index()
    );
}

#[test]
fn a_snapshot_no_newer_than_what_is_committed_is_refused() {
    let mut node = lone_node(3, 0, durable_with(2, &[1, 1, 2, 2]));
    // Learn that 4 is committed, from a leader of term 2.
    let append = PeerMsg::AppendEntries(AppendEntries {
        term: 2,
        prev_log_index: 4,
        prev_log_term: 2,
        entries: Vec::new(),
        leader_commit: 4,
        seq: 1,
    });
    deliver(
        &mut node,
        Millis::ZERO,
        peer_envelope(1, 0, Payload::Peer(append)),
    );
    assert_eq!(node.commit_index(), 4);
    let old = PeerMsg::InstallSnapshot(InstallSnapshot {
        term: 2,
        last_index: 3,
        last_term: 2,
        offset: 0,
        data: "{}".into(),
        done: true,
        seq: 2,
    });
    let out = deliver(
        &mut node,
        Millis::ZERO,
        peer_envelope(1, 0, Payload::Peer(old)),
    );
    let [Payload::Peer(PeerMsg::InstallSnapshotOk(reply))] = &out[..] else {
        panic!("one answer: {out:?}");
    };
    assert!(reply.done, "covered: the leader may move on past it");
    assert_eq!(node.log().base(), (0, 0), "nothing installed");
    assert_eq!(node.reached().count(Event::SnapshotOlderRefused), 1);
}
