//! The clients' side of a run against real processes: a session's request
//! goes through the network to its node, and a reply that reaches its
//! client is held to the task's protocol (an `in_reply_to` the client sent,
//! a reply it can read) and to its follower-read rules (who served it, why,
//! at which applied index) before the checkers and the session see it.

use std::time::Duration;

use ryw_core::{ClientOp, Id, OpResult, Served};

use super::clock;
use super::reply;
use super::report::FollowerReadStats;
use super::runner::{Due, Runner};
use crate::checkers::{Property, Violation};

impl Runner {
    pub(super) fn think(&mut self, session: usize) {
        let at = clock::now() + Duration::from_millis(self.clients.think_ms());
        self.schedule(at, Due::ClientNext { session });
    }

    pub(super) fn client_next(&mut self, session: usize) {
        let now_ms = self.now_ms();
        let Some((node, envelope)) = self.clients.next(now_ms, session) else {
            return;
        };
        let msg_id = envelope.body.msg_id.unwrap_or_default();
        self.sent_max[session] = msg_id;
        let line = ryw_core::codec::encode(&envelope);
        let timeout = clock::now() + Duration::from_millis(self.clients.timeout_ms());
        self.schedule(timeout, Due::ClientTimeout { session, msg_id });
        match self.network.client_link(node) {
            Some(delay_ms) => {
                let at = clock::now() + Duration::from_millis(delay_ms);
                self.schedule(at, Due::ToNode { node, line });
            }
            None => self.report.dropped += 1,
        }
    }

    /// A reply reaches its client: the protocol and follower-read checks
    /// here, then the checkers and the session (see [`Clients`]).
    pub(super) fn reaches_client(&mut self, from: usize, envelope: reply::Envelope) {
        let now_ms = self.now_ms();
        let to = Id::parse(&envelope.dest);
        let session = self.clients.session_of(&to).expect("routed to a session");
        let client = Some(envelope.dest.clone());
        let Some(in_reply_to) = envelope.in_reply_to() else {
            let why = format!(
                "n{} sent {} a {} without in_reply_to",
                from + 1,
                envelope.dest,
                envelope.kind()
            );
            return self.complain(Property::Protocol, client, why);
        };
        if in_reply_to == 0 || in_reply_to > self.sent_max[session] {
            let why = format!(
                "n{} sent {} a {} in reply to msg_id {in_reply_to}, which that client never sent (a wrong in_reply_to)",
                from + 1,
                envelope.dest,
                envelope.kind()
            );
            return self.complain(Property::Protocol, client, why);
        }
        let (result, missing) = match reply::result(&envelope.body) {
            Ok(read) => read,
            Err(why) => {
                let why = format!("n{} answered {}: {why}", from + 1, envelope.dest);
                self.complain(Property::Protocol, client, why);
                // The client cannot tell what happened: it gives up on it.
                if self.clients.give_up(now_ms, session, in_reply_to) {
                    self.think(session);
                }
                return;
            }
        };
        let outstanding = self.clients.sessions[session].outstanding.clone();
        if let Some(request) = outstanding.filter(|o| o.msg_id == in_reply_to) {
            for note in missing {
                self.complain(Property::FollowerReads, client.clone(), note);
            }
            self.check_follower_read(&envelope, &request.op, request.node, &result);
        }
        let body = serde_json::Value::Object(without_ids(&envelope.body));
        if self
            .clients
            .on_reply(now_ms, &to, Some(in_reply_to), result, body)
        {
            self.think(session);
        }
    }

    /// The task's own rules for a `ryw_read` reply, and the tally of where
    /// reads that asked for a follower were served.
    fn check_follower_read(
        &mut self,
        envelope: &reply::Envelope,
        op: &ClientOp,
        asked: usize,
        result: &OpResult,
    ) {
        let (
            ClientOp::RywRead {
                last_write_index,
                prefer_follower,
                ..
            },
            OpResult::RywReadOk { served_by, how, .. },
        ) = (op, result)
        else {
            return;
        };
        let client = Some(envelope.dest.clone());
        let asked_name = format!("n{}", asked + 1);
        let served_here = served_by.to_string() == asked_name;
        if let (Served::Redirected { .. }, Id::Node(k)) = (how, served_by) {
            if (1..=self.nodes.len() as u32).contains(k) {
                self.leader.served_by_leader(*k as usize - 1);
            }
        }
        if *prefer_follower {
            let stats: &mut FollowerReadStats = &mut self.report.follower_reads;
            stats.asked += 1;
            if served_here {
                stats.served_where_asked += 1;
                stats.served_by.insert(asked);
            }
        }
        match how {
            Served::Locally { .. } if !served_here => {
                let why = format!(
                    "a ryw_read sent to {asked_name} was served by {served_by} with no 'reason' saying why"
                );
                self.complain(Property::FollowerReads, client, why);
            }
            Served::Locally { .. } => {
                match envelope
                    .body
                    .get("follower_applied_index")
                    .and_then(|v| v.as_u64())
                {
                    None => {
                        let why = format!(
                            "{asked_name} served a ryw_read itself without 'follower_applied_index'"
                        );
                        self.complain(Property::FollowerReads, client, why);
                    }
                    Some(applied) if applied < *last_write_index => {
                        let at_ms = self.now_ms();
                        let why = format!(
                            "{asked_name} served a ryw_read with last_write_index {last_write_index} at follower_applied_index {applied}: it had not applied the session's write"
                        );
                        self.report.violations.push(Violation::new(
                            Property::FollowerReads,
                            at_ms,
                            client,
                            why,
                        ));
                    }
                    Some(_) => {}
                }
            }
            Served::Redirected { .. } => {}
        }
    }
}

/// A reply's body without its message ids, for the history.
fn without_ids(
    body: &serde_json::Map<String, serde_json::Value>,
) -> serde_json::Map<String, serde_json::Value> {
    let mut body = body.clone();
    body.remove("msg_id");
    body.remove("in_reply_to");
    body
}
