//! The node's Maelstrom face, without the codec: `init`, input the codec
//! could not accept, messages from outside the cluster, diagnostics, and
//! the numbering of the node's own messages.

use super::*;
use crate::testkit::*;

fn envelope(src: Id, dest: &str, msg_id: Option<u64>, payload: Payload) -> Envelope {
    Envelope {
        src,
        dest: Id::parse(dest),
        body: Body {
            msg_id,
            in_reply_to: None,
            payload,
        },
    }
}

fn init(node_id: &str, node_ids: &[&str]) -> Payload {
    Payload::Init {
        node_id: Id::parse(node_id),
        node_ids: node_ids.iter().map(|id| Id::parse(id)).collect(),
    }
}

fn drain(node: &mut Node) -> Vec<Envelope> {
    std::iter::from_fn(|| node.poll_transmit()).collect()
}

fn error_of(envelope: &Envelope) -> (ErrorCode, &str) {
    match &envelope.body.payload {
        Payload::Reply(OpResult::Error { code, text }) => (*code, text),
        other => panic!("expected an error, got {other:?}"),
    }
}

fn uninitialised() -> Node {
    Node::new(Config::default(), Millis::ZERO)
}

#[test]
fn init_is_answered_with_init_ok_and_joins_the_cluster() {
    let mut node = uninitialised();
    let msg = envelope(
        Id::Client(0),
        "n1",
        Some(1),
        init("n1", &["n1", "n2", "n3"]),
    );
    node.handle_message(Millis::ZERO, msg);
    let out = drain(&mut node);
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].src, Id::parse("n1"));
    assert_eq!(out[0].dest, Id::Client(0));
    assert_eq!(out[0].body.in_reply_to, Some(1));
    assert_eq!(
        out[0].body.msg_id,
        Some(0),
        "a node's own msg_ids count from 0"
    );
    assert!(matches!(out[0].body.payload, Payload::InitOk));
    assert_eq!(node.id(), Some(&Id::parse("n1")));
    assert!(
        node.poll_timeout().is_some(),
        "an election timer runs after init"
    );
}

#[test]
fn a_repeated_identical_init_is_acknowledged_and_a_different_one_refused() {
    let mut node = uninitialised();
    let members = ["n1", "n2", "n3"];
    node.handle_message(
        Millis::ZERO,
        envelope(Id::Client(0), "n1", Some(1), init("n1", &members)),
    );
    drain(&mut node);
    node.handle_message(
        Millis::ZERO,
        envelope(Id::Client(0), "n1", Some(2), init("n1", &members)),
    );
    let again = drain(&mut node);
    assert!(matches!(again[0].body.payload, Payload::InitOk));
    assert_eq!(again[0].body.msg_id, Some(1), "msg_ids rise by one");
    for (me, others) in [("n1", &["n1", "n2"][..]), ("n2", &members[..])] {
        node.handle_message(
            Millis::ZERO,
            envelope(Id::Client(0), "n1", Some(3), init(me, others)),
        );
        let refused = drain(&mut node);
        let (code, text) = error_of(&refused[0]);
        assert_eq!(code, ErrorCode::PRECONDITION_FAILED);
        assert_eq!(text, "already initialised as n1 of n1, n2, n3");
    }
    assert_eq!(node.id(), Some(&Id::parse("n1")), "membership unchanged");
}

#[test]
fn init_naming_a_node_outside_its_own_list_is_malformed() {
    let mut node = uninitialised();
    let msg = envelope(Id::Client(0), "n4", Some(1), init("n4", &["n1", "n2"]));
    node.handle_message(Millis::ZERO, msg);
    let out = drain(&mut node);
    let (code, _) = error_of(&out[0]);
    assert_eq!(code, ErrorCode::MALFORMED_REQUEST);
    assert!(node.id().is_none(), "still waiting for a valid init");
}

#[test]
fn input_the_codec_refused_is_answered_with_its_code_and_type() {
    let mut cluster = TestCluster::new(1, 3);
    let invalid = Payload::Invalid(Invalid {
        type_name: "write".into(),
        code: ErrorCode::MALFORMED_REQUEST,
        text: "missing field 'key'".into(),
        peer: false,
    });
    cluster.with_node(0, |node, now| {
        node.handle_message(now, envelope(Id::Client(2), "n1", Some(9), invalid))
    });
    let (_, reply) = cluster.client_inbox.last().expect("answered");
    assert_eq!(reply.body.in_reply_to, Some(9));
    let (code, text) = error_of(reply);
    assert_eq!(code, ErrorCode::MALFORMED_REQUEST);
    assert_eq!(text, "write: missing field 'key'");
}

#[test]
fn a_peer_message_from_a_client_before_init_is_dropped_with_a_warning() {
    let mut node = uninitialised();
    let vote = Payload::Peer(PeerMsg::RequestVote(RequestVote {
        term: 1,
        last_log_index: 0,
        last_log_term: 0,
        pre_vote: false,
    }));
    node.handle_message(Millis::ZERO, envelope(Id::Client(1), "n1", Some(1), vote));
    assert!(drain(&mut node).is_empty(), "nothing to answer before init");
    let warning = node.poll_warning().expect("a diagnostic");
    assert!(warning.contains("before init"), "{warning}");
    assert!(node.poll_warning().is_none());
}

#[test]
fn diagnostics_are_kept_up_to_a_bound() {
    let mut cluster = TestCluster::new(3, 4);
    assert_eq!(
        cluster.node(0).config().rng_seed,
        4,
        "the config it was given"
    );
    let leader = cluster.stable_leader();
    let f = (0..3).find(|&i| i != leader).expect("a follower");
    while cluster.nodes[f]
        .as_mut()
        .expect("up")
        .poll_warning()
        .is_some()
    {}
    // Append entries whose terms fall: malformed, so each one is dropped with a warning.
    let malformed = |seq| {
        Payload::Peer(PeerMsg::AppendEntries(AppendEntries {
            term: 1,
            prev_log_index: 0,
            prev_log_term: 2,
            entries: vec![],
            leader_commit: 0,
            seq,
        }))
    };
    let node = cluster.nodes[f].as_mut().expect("up");
    let now = cluster.now;
    for seq in 0..(crate::outbox::WARNINGS_MAX as u64 + 10) {
        let msg = envelope(
            node_id(leader),
            &node_id(f).to_string(),
            None,
            malformed(seq),
        );
        node.handle_message(now, msg);
    }
    let warnings: Vec<String> = std::iter::from_fn(|| node.poll_warning()).collect();
    assert_eq!(warnings.len(), crate::outbox::WARNINGS_MAX);
    assert!(
        warnings
            .iter()
            .all(|w| w.contains("dropping append_entries")),
        "{:?}",
        warnings.first()
    );
}

// Maelstrom: a message without msg_id expects no reply.
#[test]
fn a_request_without_msg_id_gets_no_reply_and_a_warning() {
    let mut cluster = TestCluster::new(1, 5);
    cluster.run_for(10);
    let request = Envelope {
        src: Id::Client(1),
        dest: node_id(0),
        body: Body {
            msg_id: None,
            in_reply_to: None,
            payload: Payload::Request(write("x", 1)),
        },
    };
    cluster.with_node(0, |node, now| {
        node.handle_message(now, request);
        assert!(node.poll_transmit().is_none(), "no reply");
        let warning = node.poll_warning().expect("a warning");
        assert!(warning.contains("no msg_id"), "{warning}");
    });
}
