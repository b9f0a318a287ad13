//! Cluster-level tests of the node's glue: what reaches neither layer
//! (messages for another node, requests before `init`, internal messages
//! from outside the cluster or claiming this node's own id).

use crate::data::Key;
use crate::testkit::*;

#[test]
fn internal_message_from_a_non_member_is_refused_and_changes_nothing() {
    let mut cluster = TestCluster::new(3, 15);
    let leader = cluster.stable_leader();
    let f = follower(&cluster, leader, &[]);
    let term = cluster.node(f).term();
    let forged = Envelope {
        src: Id::Client(9),
        dest: node_id(f),
        body: Body {
            msg_id: Some(1),
            in_reply_to: None,
            payload: Payload::Peer(PeerMsg::AppendEntries(AppendEntries {
                term: term + 10,
                prev_log_index: 0,
                prev_log_term: 0,
                entries: vec![],
                leader_commit: 0,
                seq: 1,
            })),
        },
    };
    let log_before = cluster.node(f).log().clone();
    cluster.nodes[f]
        .as_mut()
        .expect("up")
        .handle_message(cluster.now, forged);
    assert_eq!(cluster.node(f).term(), term, "term unchanged");
    assert_eq!(cluster.node(f).log(), &log_before, "log unchanged");
    assert_eq!(cluster.node(f).leader(), Some(&node_id(leader)));
    let reply = cluster.nodes[f]
        .as_mut()
        .expect("up")
        .poll_transmit()
        .expect("a refusal");
    assert_eq!(reply.dest, Id::Client(9));
    assert!(
        matches!(reply.body.payload, Payload::Reply(OpResult::Error { code, .. }) if code == ErrorCode::NOT_SUPPORTED)
    );
}

#[test]
fn message_for_another_node_is_dropped_not_answered_as_that_node() {
    let mut cluster = TestCluster::new(1, 17);
    let misrouted = Envelope {
        src: Id::Client(1),
        dest: Id::parse("n9"),
        body: Body {
            msg_id: Some(1),
            in_reply_to: None,
            payload: Payload::Request(write("x", 1)),
        },
    };
    cluster.with_node(0, |node, now| node.handle_message(now, misrouted));
    assert!(cluster.client_inbox.is_empty(), "no reply under any name");
    assert!(
        cluster.node(0).kv().get(&Key::Str("x".into())).is_none(),
        "nothing written"
    );
}

#[test]
fn request_before_init_gets_error_11_naming_init() {
    let mut node = Node::new(Config::default(), Millis::ZERO);
    let request = Envelope {
        src: Id::Client(1),
        dest: Id::parse("n1"),
        body: Body {
            msg_id: Some(4),
            in_reply_to: None,
            payload: Payload::Request(write("x", 1)),
        },
    };
    node.handle_message(Millis::ZERO, request);
    let reply = node.poll_transmit().expect("an answer");
    assert_eq!(reply.body.in_reply_to, Some(4));
    match reply.body.payload {
        Payload::Reply(OpResult::Error { code, text }) => {
            assert_eq!(code, ErrorCode::TEMPORARILY_UNAVAILABLE);
            assert!(text.contains("init"), "{text}");
        }
        other => panic!("expected error 11, got {other:?}"),
    }
    assert!(node.poll_timeout().is_none(), "no timers before init");
}

#[test]
fn peer_message_claiming_to_come_from_this_node_is_refused() {
    let mut cluster = TestCluster::new(3, 18);
    let leader = cluster.stable_leader();
    let f = follower(&cluster, leader, &[]);
    let term = cluster.node(f).term();
    let forged = Envelope {
        src: node_id(f),
        dest: node_id(f),
        body: Body {
            msg_id: Some(1),
            in_reply_to: None,
            payload: Payload::Peer(PeerMsg::RequestVote(RequestVote {
                term: term + 5,
                last_log_index: 100,
                last_log_term: term + 5,
                pre_vote: false,
            })),
        },
    };
    cluster.with_node(f, |node, now| node.handle_message(now, forged));
    assert_eq!(cluster.node(f).term(), term, "no term adopted from itself");
    assert_eq!(cluster.node(f).durable().voted_for, Some(node_id(leader)));
}
