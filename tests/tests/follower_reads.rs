//! The follower-read report's targets, in simulated time (exact, replayable).

use ryw_sim::bench;

#[test]
fn follower_reads_serve_most_reads_locally_and_halve_leader_load_on_5_nodes() {
    let rows = bench::report(1);
    let row = |mode: &str| {
        rows.iter()
            .find(|r| r.nodes == 5 && r.network == "healthy" && r.mode == mode)
            .expect("row present")
    };
    let (follower, leader) = (row("follower"), row("leader"));
    assert!(
        rows.iter().all(|r| r.violations == 0),
        "no checker fired during the report"
    );
    assert!(
        follower.served_locally_share + follower.waited_share >= 0.90,
        "served where asked: {follower:?}"
    );
    assert!(
        follower.leader_msgs_per_op <= leader.leader_msgs_per_op / 2.0,
        "leader load {:.3} vs {:.3} msgs/op",
        follower.leader_msgs_per_op,
        leader.leader_msgs_per_op
    );
    assert!(
        follower.read_p50_ms < leader.read_p50_ms,
        "local reads are faster"
    );
}
