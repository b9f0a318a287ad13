//! Fuzzing `ryw-node`'s input path with garbage: garbled and truncated
//! lines, wrong types, huge numbers, deep nesting, unknown types, and Raft
//! messages from client ids. The node must not panic, must print only valid
//! envelopes, and must still answer a valid request afterwards.

use proptest::prelude::*;
use ryw_core::{codec, Body, Config, Envelope, Id, Millis, Node, OpResult, Payload, Value};
use ryw_node::handle_line;

const INIT_ONE: &str = r#"{"src":"c0","dest":"n1","body":{"type":"init","msg_id":1,"node_id":"n1","node_ids":["n1"]}}"#;
const INIT_THREE: &str = r#"{"src":"c0","dest":"n1","body":{"type":"init","msg_id":1,"node_id":"n1","node_ids":["n1","n2","n3"]}}"#;

/// Lines a careless or hostile peer might send.
fn garbage_line() -> impl Strategy<Value = Vec<u8>> {
    let valid = prop_oneof![
        Just(r#"{"src":"c1","dest":"n1","body":{"type":"write","msg_id":5,"key":"k","value":7}}"#.to_string()),
        Just(r#"{"src":"c1","dest":"n1","body":{"type":"ryw_read","msg_id":6,"key":3,"last_write_index":2}}"#.to_string()),
        Just(r#"{"src":"c1","dest":"n1","body":{"type":"cas","msg_id":7,"key":"k","from":7,"to":8}}"#.to_string()),
        Just(r#"{"src":"n2","dest":"n1","body":{"type":"append_entries","msg_id":1,"term":1,"prev_log_index":0,"prev_log_term":0,"entries":[{"term":1,"op":"noop"}],"leader_commit":0,"seq":1}}"#.to_string()),
    ];
    let field_values = prop_oneof![
        Just("null".to_string()),
        Just("-1".to_string()),
        Just("1e400".to_string()),
        Just("18446744073709551616".to_string()),
        Just("\"text\"".to_string()),
        Just("[1,2]".to_string()),
        Just("{}".to_string()),
        Just("true".to_string()),
        (1usize..3000).prop_map(|depth| format!("{}{}", "[".repeat(depth), "]".repeat(depth))),
    ];
    let types = prop_oneof![
        Just("write"),
        Just("read"),
        Just("cas"),
        Just("ryw_read"),
        Just("init"),
        Just("request_vote"),
        Just("request_vote_ok"),
        Just("append_entries"),
        Just("append_entries_ok"),
        Just("forward"),
        Just("forward_ok"),
        Just("txn"),
        Just(""),
    ];
    let fields = prop_oneof![
        Just("msg_id"),
        Just("key"),
        Just("value"),
        Just("last_write_index"),
        Just("prefer_follower"),
        Just("term"),
        Just("entries"),
        Just("from"),
        Just("to"),
        Just("node_ids"),
        Just("fwd_id"),
        Just("op"),
    ];
    let sources = prop_oneof![
        Just("c1"),
        Just("c9"),
        Just("n2"),
        Just("n9"),
        Just("lin-kv")
    ];
    prop_oneof![
        // Raw bytes.
        prop::collection::vec(any::<u8>(), 0..200),
        // Valid lines, truncated or with a byte flipped.
        (valid.clone(), any::<prop::sample::Index>(), any::<u8>()).prop_map(|(line, at, byte)| {
            let mut bytes = line.into_bytes();
            let i = at.index(bytes.len());
            if byte % 2 == 0 {
                bytes.truncate(i);
            } else {
                bytes[i] = byte;
            }
            bytes
        }),
        // Well-formed envelopes with any type and one field of any shape, from anyone.
        (sources, types, fields, field_values, any::<bool>()).prop_map(
            |(src, t, field, value, with_id)| {
                let id = if with_id { "\"msg_id\":9," } else { "" };
                format!(
                    r#"{{"src":"{src}","dest":"n1","body":{{"type":"{t}",{id}"{field}":{value}}}}}"#
                )
                .into_bytes()
            }
        ),
        valid.prop_map(String::into_bytes),
    ]
}

/// Feeds lines, then checks every output line and returns them.
fn feed(node: &mut Node, now: Millis, lines: &[Vec<u8>]) -> Vec<Envelope> {
    for line in lines {
        let _ = handle_line(node, now, line);
    }
    let mut out = Vec::new();
    while let Some(envelope) = node.poll_transmit() {
        let text = codec::encode(&envelope);
        let back =
            codec::decode(&text).unwrap_or_else(|e| panic!("invalid output line {text}: {e}"));
        assert_eq!(back, envelope, "output round-trips: {text}");
        assert_eq!(envelope.src, Id::parse("n1"));
        out.push(envelope);
    }
    out
}

fn reply_to(out: &[Envelope], msg_id: u64) -> Option<&OpResult> {
    out.iter().find_map(|e| match &e.body {
        Body {
            in_reply_to: Some(id),
            payload: Payload::Reply(r),
            ..
        } if *id == msg_id => Some(r),
        _ => None,
    })
}

proptest! {
    #![proptest_config(ryw_tests::fuzz_config(2_000))]

    #[test]
    fn garbage_never_breaks_a_node(lines in prop::collection::vec(garbage_line(), 1..20), one_node in any::<bool>()) {
        let mut node = Node::new(Config { rng_seed: 1, ..Config::default() }, Millis(0));
        let init = if one_node { INIT_ONE } else { INIT_THREE };
        feed(&mut node, Millis(0), &[init.as_bytes().to_vec()]);
        let term_before = node.term();
        feed(&mut node, Millis(1), &lines);
        if one_node {
            // A single node still leads and answers a valid write and read.
            let write = br#"{"src":"c5","dest":"n1","body":{"type":"write","msg_id":1001,"key":"after","value":"ok"}}"#.to_vec();
            let read = br#"{"src":"c5","dest":"n1","body":{"type":"read","msg_id":1002,"key":"after"}}"#.to_vec();
            let out = feed(&mut node, Millis(2), &[write, read]);
            prop_assert!(matches!(reply_to(&out, 1001), Some(OpResult::WriteOk { .. })), "{out:?}");
            prop_assert!(matches!(reply_to(&out, 1002), Some(OpResult::ReadOk { value }) if *value == Value::from("ok")), "{out:?}");
        } else {
            // Forged Raft messages from non-members change nothing.
            let from_members = lines.iter().any(|l| String::from_utf8_lossy(l).contains(r#""src":"n2""#));
            if !from_members {
                prop_assert_eq!(node.term(), term_before);
            }
            let out = feed(&mut node, Millis(3), &[br#"{"src":"c5","dest":"n1","body":{"type":"init","msg_id":77,"node_id":"n1","node_ids":["n1","n2","n3"]}}"#.to_vec()]);
            prop_assert!(reply_to(&out, 77).is_none(), "re-init answers init_ok, not a reply body");
            prop_assert!(out.iter().any(|e| e.body.in_reply_to == Some(77)), "still answering");
        }
    }
}
