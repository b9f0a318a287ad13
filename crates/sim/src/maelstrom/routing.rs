//! What a node under test writes, and where it goes: every stdout line must
//! be a Maelstrom envelope from the node's own id; a message to another
//! node goes through the network model (cut, lost, delayed, duplicated), a
//! reply to a client over its client link, an `init_ok` to the runner; a
//! message to anyone else is a reply to nobody. A process whose stdout
//! closes without the run having crashed it died by itself.

use std::time::{Duration, Instant};

use ryw_core::Id;
use sim_engine::network::Fate;

use super::clock;
use super::reply;
use super::runner::{Due, Runner};
use crate::checkers::{Property, Violation};

impl Runner {
    /// A node's stdout closed. Expected after a crash the run caused;
    /// otherwise the process died by itself, and that is a finding.
    pub(super) fn closed(&mut self, node: usize, life: u64) {
        let slot = &mut self.nodes[node];
        if slot.life != life || slot.process.is_none() {
            return;
        }
        let mut process = slot.process.take().expect("checked");
        clock::let_it_exit();
        let status = process.exited().unwrap_or_else(|| "still running".into());
        let tail = process.stderr_tail(5);
        process.kill();
        slot.died = true;
        let at_ms = self.now_ms();
        let detail = format!(
            "n{} closed its stdout by itself ({status}); it stays down. Its stderr ends:\n{tail}",
            node + 1
        );
        self.report
            .violations
            .push(Violation::new(Property::Protocol, at_ms, None, detail));
    }

    /// One line node `node` wrote: where it goes, through the network.
    pub(super) fn route(&mut self, node: usize, line: &str, at: Instant) {
        let name = format!("n{}", node + 1);
        let envelope = match reply::envelope(line) {
            Ok(envelope) => envelope,
            Err(why) => {
                return self.complain(Property::Protocol, None, format!("{name} wrote {why}"))
            }
        };
        if envelope.src != name {
            let why = format!("{name} wrote a message with src {:?}", envelope.src);
            return self.complain(Property::Protocol, None, why);
        }
        match Id::parse(&envelope.dest) {
            Id::Node(k) if (1..=self.nodes.len() as u32).contains(&k) => {
                let to = k as usize - 1;
                self.report.peer_msgs += 1;
                match self.network.node_to_node(node, to) {
                    Fate::Blocked | Fate::Lost => self.report.dropped += 1,
                    Fate::Delivered { delays_ms, copies } => {
                        self.report.duplicated += (copies - 1) as u64;
                        for delay_ms in &delays_ms[..copies] {
                            let due = Due::ToNode {
                                node: to,
                                line: line.to_owned(),
                            };
                            self.schedule(at + Duration::from_millis(*delay_ms), due);
                        }
                    }
                }
            }
            Id::Client(0) => self.init_reply(node, &envelope),
            Id::Client(_)
                if self
                    .clients
                    .session_of(&Id::parse(&envelope.dest))
                    .is_some() =>
            {
                match self.network.client_link(node) {
                    None => self.report.dropped += 1,
                    Some(delay_ms) => {
                        let due = Due::ToClient {
                            from: node,
                            envelope,
                        };
                        self.schedule(at + Duration::from_millis(delay_ms), due);
                    }
                }
            }
            _ => {
                let why = format!(
                    "{name} sent a {} to {:?}, which is neither a node nor a client of this run (a reply to nobody)",
                    envelope.kind(),
                    envelope.dest
                );
                self.complain(Property::Protocol, None, why);
            }
        }
    }

    fn init_reply(&mut self, node: usize, envelope: &reply::Envelope) {
        let life = self.nodes[node].life;
        if envelope.kind() == "init_ok" && envelope.in_reply_to() == Some(life) {
            self.report.initialised[node] = true;
        } else {
            let why = format!(
                "n{} answered init (msg_id {life}) with a {} in reply to {:?}",
                node + 1,
                envelope.kind(),
                envelope.in_reply_to()
            );
            self.complain(Property::Protocol, None, why);
        }
    }
}
