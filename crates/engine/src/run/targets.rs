//! Who a fault aims at: the roles a scenario names (`leader`,
//! `old-leader`, `follower`, `majority`, ...) resolved against the run as
//! it is now, drawing from the fault stream where a role names several
//! nodes.

use rand::Rng;

use super::state::State;
use crate::faults::{self, Target};
use crate::process::Process;

impl<N: Process, E> State<N, E> {
    /// Who leads now: the node that fired a trigger, else the live node
    /// leading the highest term, the same for every fault of this millisecond.
    fn leader_now(&mut self) -> Option<usize> {
        if let Some(leader) = self.faults.leader_override {
            return Some(leader);
        }
        let now_ms = self.now_ms;
        match self.faults.leader_seen {
            Some((at_ms, leader)) if at_ms == now_ms => leader,
            _ => {
                let leader = self.current_leader();
                self.faults.leader_seen = Some((now_ms, leader));
                leader
            }
        }
    }

    fn live_nodes(&self) -> Vec<usize> {
        (0..self.slots.len())
            .filter(|&i| self.slots[i].node.is_some())
            .collect()
    }

    /// `count` of `from`, drawn by the fault stream, in index order.
    fn draw(&mut self, mut from: Vec<usize>, count: usize) -> Vec<usize> {
        let count = count.min(from.len());
        for k in 0..count {
            let pick = self.faults.rng.random_range(k..from.len());
            from.swap(k, pick);
        }
        from.truncate(count);
        from.sort_unstable();
        from
    }

    /// The nodes a fault's name points at now; `None` when it names the
    /// leader and nobody leads.
    pub(super) fn resolve(&mut self, name: &str) -> Option<Vec<usize>> {
        let target = faults::parse_target(name, self.slots.len())
            .unwrap_or_else(|why| unreachable!("Engine::new checked every name: {why}"));
        let followers = |state: &mut Self| {
            let leader = state.leader_now();
            let mut live = state.live_nodes();
            live.retain(|&i| Some(i) != leader);
            live
        };
        Some(match target {
            Target::Node(i) => vec![i],
            Target::Leader => vec![self.leader_now()?],
            Target::OldLeader => {
                let leader = self.leader_now();
                let history = &self.leader_history;
                history
                    .iter()
                    .rev()
                    .find(|&&i| Some(i) != leader)
                    .map(|&i| vec![i])
                    .unwrap_or_default()
            }
            Target::Follower => {
                let candidates = followers(self);
                self.draw(candidates, 1)
            }
            Target::FollowersButOne => {
                let candidates = followers(self);
                let keep = candidates.len().saturating_sub(1);
                self.draw(candidates, keep)
            }
            Target::LongestLog => {
                let longest = self.live_nodes().into_iter().max_by_key(|&i| {
                    let length = self.slots[i].node.as_ref().map_or(0, |n| n.log_length());
                    (length, std::cmp::Reverse(i))
                });
                longest.into_iter().collect()
            }
            Target::All => (0..self.slots.len()).collect(),
            Target::Majority => {
                let live = self.live_nodes();
                let majority = self.slots.len() / 2 + 1;
                self.draw(live, majority)
            }
        })
    }
}
