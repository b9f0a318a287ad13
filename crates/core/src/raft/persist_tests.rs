//! The persistence contract (see `crate::durable`): with a disk, nothing a
//! peer may act on leaves before it is durable, a leader counts only its
//! durable log, and one batch covers everything since the last.

use crate::durable::{replay, Record};
use crate::testkit::node_id;
use crate::testkit::*;

/// Member 0 of 3, restarted from `durable`, on a runtime with a disk that
/// has already made the restart itself durable.
fn disk_node(durable: Durable) -> Node {
    let mut config = lone_node(3, 0, Durable::default()).config().clone();
    config.wait_for_disk = true;
    let mut node = Node::restart(config, durable, Millis::ZERO);
    let batch = node.poll_persist().expect("the new start count");
    assert!(batch.hard_state.is_some() && batch.entries_from.is_none());
    node.handle_persisted(Millis::ZERO, batch.number);
    node
}

fn peer(from: usize, message: PeerMsg) -> Envelope {
    peer_envelope(from, 0, Payload::Peer(message))
}

fn append(term: u64, prev: (u64, u64), entries: Vec<Entry>, leader_commit: u64) -> PeerMsg {
    PeerMsg::AppendEntries(AppendEntries {
        term,
        prev_log_index: prev.0,
        prev_log_term: prev.1,
        entries,
        leader_commit,
        seq: 1,
    })
}

fn drain(node: &mut Node) -> Vec<Payload> {
    std::iter::from_fn(|| node.poll_transmit())
        .map(|e| e.body.payload)
        .collect()
}

/// Makes everything durable and returns what that let out.
fn persist_all(node: &mut Node, now: Millis) -> Vec<Payload> {
    while let Some(batch) = node.poll_persist() {
        node.handle_persisted(now, batch.number);
    }
    drain(node)
}

#[test]
fn a_vote_leaves_only_once_it_is_durable() {
    let mut node = disk_node(durable_with(1, &[1]));
    let request = PeerMsg::RequestVote(RequestVote {
        term: 2,
        last_log_index: 1,
        last_log_term: 1,
        pre_vote: false,
    });
    assert_eq!(deliver(&mut node, Millis(1), peer(1, request)), vec![]);
    let batch = node.poll_persist().expect("term and vote changed");
    let hard = batch.hard_state.clone().expect("hard state");
    assert_eq!((hard.current_term, hard.voted_for), (2, Some(node_id(1))));
    assert_eq!(drain(&mut node), vec![], "written is not durable");
    node.handle_persisted(Millis(2), batch.number);
    match drain(&mut node).as_slice() {
        [Payload::Peer(PeerMsg::RequestVoteOk(reply))] => assert!(reply.vote_granted),
        other => panic!("expected the vote, got {other:?}"),
    }
}

#[test]
fn entries_are_acknowledged_only_once_durable_and_one_batch_covers_them_all() {
    let mut node = disk_node(durable_with(1, &[1]));
    let first = append(2, (1, 1), vec![entry_at(2, 2)], 0);
    let second = append(2, (2, 2), vec![entry_at(3, 2), entry_at(4, 2)], 0);
    assert_eq!(deliver(&mut node, Millis(1), peer(1, first)), vec![]);
    assert_eq!(deliver(&mut node, Millis(2), peer(1, second)), vec![]);
    // Group commit: one batch, from the first new entry to the end.
    let batch = node.poll_persist().expect("a batch");
    assert_eq!(batch.entries_from, Some(2));
    assert!(node.poll_persist().is_none(), "nothing changed since");
    let records: Vec<Record> = batch.records(node.log()).collect();
    assert_eq!(records.len(), 4, "hard state (term 2) and three entries");
    assert_eq!(node.synced_index(), 1);
    node.handle_persisted(Millis(3), batch.number);
    assert_eq!(node.synced_index(), 4);
    let acks: Vec<u64> = drain(&mut node)
        .iter()
        .map(|p| match p {
            Payload::Peer(PeerMsg::AppendEntriesOk(ok)) if ok.success => ok.match_index,
            other => panic!("expected acknowledgements, got {other:?}"),
        })
        .collect();
    assert_eq!(acks, vec![2, 4]);
}

#[test]
fn a_truncation_takes_back_what_an_earlier_batch_made_durable() {
    let mut node = disk_node(durable_with(1, &[1]));
    let old = append(2, (1, 1), vec![entry_at(2, 2), entry_at(3, 2)], 0);
    deliver(&mut node, Millis(1), peer(1, old));
    let early = node.poll_persist().expect("entries 2 and 3 of term 2");
    // A leader of term 3 replaces entry 2 while that batch is being written.
    let new = append(3, (1, 1), vec![entry_at(2, 3)], 0);
    deliver(&mut node, Millis(2), peer(2, new));
    node.handle_persisted(Millis(3), early.number);
    assert_eq!(
        node.synced_index(),
        1,
        "entry 2 on disk is term 2's, not the log's"
    );
    let late = node.poll_persist().expect("the replacement");
    assert_eq!(late.entries_from, Some(2));
    node.handle_persisted(Millis(4), late.number);
    assert_eq!(node.synced_index(), 2);
    // What the two batches wrote, replayed, is the node's durable state.
    let mut written = vec![Record::Entry {
        index: 1,
        entry: entry_at(1, 1),
    }];
    let mut shadow = node.durable().clone();
    shadow.log.truncate_from(2);
    shadow.log.append(entry_at(2, 2));
    shadow.log.append(entry_at(3, 2));
    written.extend(early.records(&shadow.log));
    written.extend(late.records(node.log()));
    let mut recovered = replay(written).expect("replays");
    recovered.starts = node.durable().starts;
    assert_eq!(&recovered, node.durable());
}

#[test]
fn a_leader_replicates_before_its_fsync_but_counts_itself_only_after() {
    let mut node = disk_node(durable_with(1, &[1]));
    node.handle_timeout(Millis(1_000));
    let grant = |term, pre_vote| {
        PeerMsg::RequestVoteOk(RequestVoteOk {
            term,
            vote_granted: true,
            pre_vote,
        })
    };
    let pre_votes = drain(&mut node);
    assert_eq!(pre_votes.len(), 2, "pre-votes change nothing durable");
    assert_eq!(
        deliver(&mut node, Millis(1_001), peer(1, grant(2, true))),
        vec![]
    );
    let asks = persist_all(&mut node, Millis(1_002));
    assert_eq!(
        asks.len(),
        2,
        "vote requests leave once the vote for itself is durable"
    );
    let sent = deliver(&mut node, Millis(1_003), peer(1, grant(2, false)));
    assert_eq!(node.role(), RoleKind::Leader);
    assert!(
        sent.iter()
            .filter(|p| matches!(p, Payload::Peer(PeerMsg::AppendEntries(_))))
            .count()
            == 2,
        "append_entries go out before the leader's own fsync: {sent:?}"
    );
    assert_eq!(node.log().last_index(), 2, "the new term's no-op");
    let ack = PeerMsg::AppendEntriesOk(AppendEntriesOk {
        term: 2,
        success: true,
        match_index: 2,
        next_index_hint: 0,
        seq: 1,
    });
    deliver(&mut node, Millis(1_004), peer(1, ack));
    assert_eq!(
        node.commit_index(),
        0,
        "one durable follower and an unsynced leader are not a majority"
    );
    persist_all(&mut node, Millis(1_005));
    assert_eq!(node.commit_index(), 2);
}

#[test]
fn without_a_disk_everything_is_durable_at_once() {
    let mut node = lone_node(3, 0, durable_with(1, &[1]));
    let request = PeerMsg::RequestVote(RequestVote {
        term: 2,
        last_log_index: 1,
        last_log_term: 1,
        pre_vote: false,
    });
    assert_eq!(deliver(&mut node, Millis(1), peer(1, request)).len(), 1);
    assert!(node.poll_persist().is_none());
}

#[test]
fn a_request_that_times_out_while_the_disk_fails_says_why() {
    let mut node = disk_node(durable_with(1, &[1]));
    let timed_out = |node: &mut Node, msg_id: u64, at: Millis| -> String {
        let request = Envelope {
            src: Id::Client(1),
            dest: node_id(0),
            body: Body {
                msg_id: Some(msg_id),
                in_reply_to: None,
                payload: Payload::Request(crate::testkit::write("x", 1)),
            },
        };
        node.handle_message(at, request);
        let deadline = at.plus(node.config().request_timeout_ms);
        node.handle_timeout(deadline);
        let replies = drain(node);
        match replies.iter().find_map(|p| match p {
            Payload::Reply(OpResult::Error { text, .. }) => Some(text.clone()),
            _ => None,
        }) {
            Some(text) => text,
            None => panic!("no error reply in {replies:?}"),
        }
    };
    node.handle_persist_failed("raft.log: no space left on device");
    let text = timed_out(&mut node, 7, Millis(10));
    assert!(
        text.ends_with("; this node cannot write its log: raft.log: no space left on device"),
        "{text}"
    );
    // Once a batch is durable again, the disk is fine: nothing more is said.
    node.handle_message(
        Millis(20),
        peer(1, append(1, (1, 1), vec![entry_at(2, 1)], 1)),
    );
    persist_all(&mut node, Millis(20));
    let text = timed_out(&mut node, 8, Millis(3_000));
    assert!(!text.contains("cannot write its log"), "{text}");
}

// Messages leave in the order the node made them, skipping only those
// still waiting for the disk: a reply that waited for a vote's fsync goes
// out between the messages made before and after it, not ahead of them
// nor behind.
#[test]
fn messages_leave_in_the_order_they_were_made_once_the_disk_allows() {
    let mut node = disk_node(durable_with(1, &[1]));
    // A peer message from outside the cluster: an error reply that waits
    // for nothing.
    let stranger = || Envelope {
        src: node_id(7),
        dest: node_id(0),
        body: Body {
            msg_id: Some(5),
            in_reply_to: None,
            payload: Payload::Peer(PeerMsg::RequestVote(RequestVote {
                term: 9,
                last_log_index: 0,
                last_log_term: 0,
                pre_vote: false,
            })),
        },
    };
    let vote = PeerMsg::RequestVote(RequestVote {
        term: 2,
        last_log_index: 1,
        last_log_term: 1,
        pre_vote: false,
    });
    node.handle_message(Millis(1), stranger());
    node.handle_message(Millis(1), peer(1, vote));
    node.handle_message(Millis(1), stranger());
    persist_all_quietly(&mut node);
    let sent: Vec<Envelope> = std::iter::from_fn(|| node.poll_transmit()).collect();
    let kinds: Vec<&str> = sent.iter().map(|e| e.body.payload.type_name()).collect();
    assert_eq!(kinds, ["error", "request_vote_ok", "error"]);
    let ids: Vec<Option<u64>> = sent.iter().map(|e| e.body.msg_id).collect();
    assert!(ids.windows(2).all(|w| w[0] < w[1]), "{ids:?}");
}

/// Makes everything durable without draining what that let out.
fn persist_all_quietly(node: &mut Node) {
    while let Some(batch) = node.poll_persist() {
        node.handle_persisted(Millis(2), batch.number);
    }
}
