//! Cluster-level tests of the replica, through the node: elections,
//! replication, the commit rule of Figure 8, and restart from durable
//! state (sections of the Raft paper cited).

use crate::data::{Key, Value};
use crate::testkit::*;

// Reference: Raft §5.2 (election safety: at most one leader per term).
#[test]
fn first_election_elects_exactly_one_leader_that_everyone_follows() {
    for size in [3, 5] {
        for seed in 0..20 {
            let mut cluster = TestCluster::new(size, seed);
            let leader = cluster.stable_leader();
            let term = cluster.node(leader).term();
            cluster.run_for(1_000);
            assert_eq!(
                cluster.leaders(),
                vec![leader],
                "seed {seed}: leadership is stable"
            );
            for i in 0..size {
                assert_eq!(cluster.node(i).term(), term);
                assert_eq!(cluster.node(i).leader(), Some(&node_id(leader)));
            }
        }
    }
}

#[test]
fn single_node_cluster_leads_and_commits_without_peers() {
    let mut cluster = TestCluster::new(1, 7);
    assert_eq!(cluster.leaders(), vec![0], "leads right after joining");
    let ack = cluster.call(0, 1, write("x", 1));
    assert_eq!(commit_index_of(&ack), 2, "index 1 is the leader's no-op");
}

// Reference: Raft §5.3 (log replication), §5.4.2 (commit only own-term entries).
#[test]
fn writes_replicate_commit_and_apply_everywhere_in_order() {
    let mut cluster = TestCluster::new(5, 1);
    let leader = cluster.stable_leader();
    let mut indexes = Vec::new();
    for v in 0..10 {
        let ack = cluster.call(leader, 1, write("k", v));
        indexes.push(commit_index_of(&ack));
    }
    assert!(
        indexes.windows(2).all(|w| w[0] < w[1]),
        "acknowledged indexes are distinct and rising"
    );
    let last = *indexes.last().expect("ten writes");
    assert!(cluster.run_until(1_000, |c| (0..5).all(|i| c.node(i).applied_index() >= last)));
    for i in 0..5 {
        assert_eq!(
            cluster.node(i).log(),
            cluster.node(leader).log(),
            "logs match"
        );
        let stored = cluster
            .node(i)
            .kv()
            .get(&Key::Str("k".into()))
            .expect("applied");
        assert_eq!(stored.value, Value::from(9));
        assert_eq!(stored.index, last);
    }
}

// Reference: Raft §5.4.2, Figure 8: a leader never commits an entry of an
// older term by counting replicas, even once a majority stores it.
#[test]
fn figure_8_old_term_entry_on_a_majority_is_not_committed() {
    let entry = |term| Entry {
        term,
        command: Command::Write {
            key: Key::Str("x".into()),
            value: Value::from(term),
        },
        request: None,
    };
    let durable = |term, terms: &[u64]| {
        let mut d = Durable {
            current_term: term,
            ..Durable::default()
        };
        for &t in terms {
            d.log.append(entry(t));
        }
        d
    };
    // (c) of Figure 8: S1 has (1,2), S2 has (1,2), S3/S4 have (1), S5 has (1,3).
    let mut cluster = TestCluster::with_config(5, 11, |c| c.append_entries_max = 1);
    let logs: [&[u64]; 5] = [&[1, 2], &[1, 2], &[1], &[1], &[1, 3]];
    for (i, log) in logs.iter().enumerate() {
        cluster.crash(i);
        cluster.restart(i, durable(3, log));
    }
    cluster.isolate(4);
    // S1 wins term 4 with votes from S2..S4 (its election is started first).
    cluster.with_node(0, |node, now| node.start_election(now));
    assert!(cluster.run_until(50, |c| c.node(0).role() == RoleKind::Leader));
    // ... and replicates its term-2 entry, one entry per message, until S3 has it.
    assert!(cluster.run_until(200, |c| c.node(2).log().term_at(2) == Some(2)));
    // S3 and S4 acknowledge, but S1's next entry (its own no-op) never reaches them.
    cluster.cut.insert((0, 2));
    cluster.cut.insert((0, 3));
    cluster.run_for(20);
    let raft = cluster.node(0).raft();
    assert!(raft.is_leader(), "S1 still leads");
    let holders = 1
        + (1..5)
            .filter(|&p| raft.match_index_of(p).is_some_and(|m| m >= 2))
            .count();
    assert!(
        holders >= 3,
        "S1 knows (term 2, index 2) is on a majority ({holders})"
    );
    // Counting those replicas would commit it; S1 must not.
    let before_crash = cluster.node(0).commit_index();
    assert!(
        before_crash < 2,
        "S1 committed index {before_crash} from an older term by counting"
    );
    cluster.crash(0);
    // (d) S5 returns and wins term 5 with S2..S4's votes, overwriting index 2.
    cluster.heal();
    cluster.isolate(0);
    // S5 was at term 3 and S2..S4 voted in term 4: S5 campaigns for term 5.
    cluster.with_node(4, |node, now| {
        node.start_election(now);
        node.start_election(now);
    });
    let leader = cluster.stable_leader();
    assert_eq!(
        leader, 4,
        "S5's log (last term 3) is more up to date than S2..S4's"
    );
    assert!(cluster.run_until(500, |c| (1..5).all(|i| c.node(i).applied_index() >= 2)));
    for i in 1..5 {
        assert_eq!(
            cluster.node(i).log().term_at(2),
            Some(3),
            "S{}: index 2 is S5's entry",
            i + 1
        );
    }
}

// Reference: Raft Figure 2 (persistent state) and §5.2.
#[test]
fn node_restarted_from_durable_state_keeps_every_acknowledged_write() {
    let mut cluster = TestCluster::new(3, 12);
    let leader = cluster.stable_leader();
    let f = follower(&cluster, leader, &[]);
    let mut last = 0;
    for v in 0..5 {
        last = commit_index_of(&cluster.call(leader, 1, write("x", v)));
    }
    assert!(cluster.run_until(500, |c| c.node(f).applied_index() >= last));
    let durable = cluster.crash(f);
    assert!(
        durable.log.last_index() >= last,
        "the follower persisted the acknowledged log"
    );
    cluster.restart(f, durable.clone());
    assert_eq!(
        cluster.node(f).term(),
        durable.current_term,
        "term survives"
    );
    assert_eq!(
        cluster.node(f).applied_index(),
        0,
        "volatile state starts empty"
    );
    assert!(
        cluster.run_until(500, |c| c.node(f).applied_index() >= last),
        "re-learns the commit index"
    );
    // Now crash the leader: the survivors elect a new one holding everything.
    let durable = cluster.crash(leader);
    let new = cluster.stable_leader();
    assert_ne!(new, leader);
    let reply = cluster.call(new, 1, read("x"));
    assert_eq!(value_of(&reply), &Value::from(4));
    cluster.restart(leader, durable);
    let ack = commit_index_of(&cluster.call(new, 1, write("x", 5)));
    assert!(cluster.run_until(1_000, |c| c.node(leader).applied_index() >= ack));
    assert_eq!(cluster.node(leader).log(), cluster.node(new).log());
}
