//! What checkers' unit tests feed them: a session, a request, a reply, the
//! end of a run, and a real node that leads (of a cluster of its own).

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use ryw_core::{Body, ClientOp, Config, Envelope, Id, Millis, Node, OpResult, Payload, RoleKind};

use super::oracle::CommittedLog;
use super::{Checker, Finish, Reply, Verdict};
use crate::report::Summary;
use crate::workload::{Outstanding, Session};

pub fn session() -> Session {
    Session::new(0, 3, &mut ChaCha8Rng::seed_from_u64(0))
}

/// A write of `value` to key 0.
pub fn write_op(value: i64) -> ClientOp {
    ClientOp::Write {
        key: ryw_core::Key::Int(0),
        value: value.into(),
    }
}

/// A cas of key 0 from `from` to `to` (a missing key is not created).
pub fn cas_op(from: i64, to: i64) -> ClientOp {
    ClientOp::Cas {
        key: ryw_core::Key::Int(0),
        from: from.into(),
        to: to.into(),
        create_if_not_exists: false,
    }
}

pub fn request(op: ClientOp) -> Outstanding {
    Outstanding {
        msg_id: 1,
        op,
        node: 0,
        sent_at: Millis(0),
        invoked: 0,
    }
}

pub fn reply<'a>(
    session: &'a Session,
    request: &'a Outstanding,
    result: &'a OpResult,
    oracle: &'a CommittedLog,
) -> Reply<'a> {
    Reply {
        now_ms: 10,
        session,
        request,
        result: Some(result),
        returned: Some(1),
        oracle,
    }
}

/// What `checker` reports at the end of a run whose committed log is `oracle`.
pub fn verdict(checker: &mut dyn Checker, oracle: &CommittedLog) -> Verdict {
    let summary = Summary::default();
    let finish = Finish {
        end_ms: 1000,
        summary: &summary,
        oracle,
    };
    let mut verdict = Verdict::default();
    checker.finish(&finish, &mut verdict);
    verdict
}

/// What each violation of `verdict` says.
pub fn details(verdict: &Verdict) -> Vec<&str> {
    verdict
        .violations
        .iter()
        .map(|v| v.detail.as_str())
        .collect()
}

/// Node `n<k>` alone in its cluster, once it leads.
pub fn lone_leader(k: u32) -> Node {
    let me = Id::Node(k);
    let mut node = Node::new(Config::default(), Millis(0));
    let init = Payload::Init {
        node_id: me.clone(),
        node_ids: vec![me.clone()],
    };
    let envelope = Envelope {
        src: Id::Client(1),
        dest: me,
        body: Body {
            msg_id: Some(1),
            in_reply_to: None,
            payload: init,
        },
    };
    node.handle_message(Millis(0), envelope);
    while node.role() != RoleKind::Leader {
        let at = node
            .poll_timeout()
            .expect("a follower waits for an election");
        node.handle_timeout(at);
    }
    node
}
