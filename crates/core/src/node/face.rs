//! The node's Maelstrom face outside the store's own work: `init` (and a
//! second one that disagrees with the first), input the codec could not
//! accept, and internal messages from outside the cluster.

use super::Node;
use crate::config::Cluster;
use crate::id::Id;
use crate::message::*;
use crate::time::Millis;

impl Node {
    pub(super) fn on_init(
        &mut self,
        now: Millis,
        src: Id,
        dest: Id,
        msg_id: Option<u64>,
        node_id: Id,
        node_ids: Vec<Id>,
    ) {
        let cluster = Cluster {
            me: node_id,
            members: node_ids,
        };
        let refusal = match (self.raft.member_ids(), cluster.validate()) {
            (_, Err(why)) => Some((ErrorCode::MALFORMED_REQUEST, why)),
            (Some(ids), Ok(())) if ids != cluster.members || self.raft.me() != cluster.me => {
                let list = self.raft.member_list().unwrap_or_default();
                Some((
                    ErrorCode::PRECONDITION_FAILED,
                    format!("already initialised as {} of {list}", self.raft.me()),
                ))
            }
            _ => None,
        };
        if let Some((code, text)) = refusal {
            let payload = Payload::Reply(OpResult::error(code, text));
            return self.raft.send_from(dest, src, msg_id, payload);
        }
        let first_init = !self.raft.has_joined();
        self.raft
            .send_from(cluster.me.clone(), src, msg_id, Payload::InitOk);
        if first_init {
            self.raft.join_cluster(cluster, now, &mut self.serve);
        }
    }

    pub(super) fn on_invalid(&mut self, src: Id, dest: Id, msg_id: Option<u64>, invalid: Invalid) {
        let Invalid {
            type_name,
            code,
            text,
            peer,
        } = invalid;
        if peer {
            if self.raft.member_index(&src).is_none() {
                return self.refuse_internal(src, dest, msg_id, &type_name);
            }
            // A peer's message we cannot read: answering would only confuse it.
            return self
                .raft
                .warn(format!("dropping malformed {type_name} from {src}: {text}"));
        }
        let text = if type_name.is_empty() {
            text
        } else {
            format!("{type_name}: {text}")
        };
        if msg_id.is_none() {
            // Nothing to reply to: say so on the node's log instead.
            return self.raft.warn(format!(
                "ignoring a malformed message from {src} without msg_id: {text}"
            ));
        }
        self.raft.send_from(
            dest,
            src,
            msg_id,
            Payload::Reply(OpResult::error(code, text)),
        );
    }

    pub(super) fn refuse_internal(
        &mut self,
        src: Id,
        dest: Id,
        msg_id: Option<u64>,
        type_name: &str,
    ) {
        let text = match self.raft.member_list() {
            None => format!("{type_name} from {src} before init: ignored"),
            Some(list) => format!(
                "{type_name} is a message between cluster nodes and {src} is not one of {list}"
            ),
        };
        self.raft.warn(text.clone());
        if msg_id.is_some() && self.raft.has_joined() {
            let error = OpResult::error(ErrorCode::NOT_SUPPORTED, text);
            self.raft
                .send_from(dest, src, msg_id, Payload::Reply(error));
        }
    }
}
