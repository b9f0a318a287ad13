//! Who leads, as far as clients can tell: a run against real processes
//! cannot see inside the nodes, so a fault aimed at a role (`leader`,
//! `follower`, ...) resolves against what the replies said, and says so.

use rand::Rng;
use rand_chacha::ChaCha8Rng;
use sim_engine::faults::{parse_target, Target};

/// Who leads, as far as clients can tell: the node that `served_by` names
/// in replies to reads that went to the leader. A guess, and said to be one.
#[derive(Default)]
pub struct LeaderGuess {
    /// Every distinct leader seen, oldest first.
    seen: Vec<usize>,
}

impl LeaderGuess {
    /// A redirected read was served by `node`.
    pub fn served_by_leader(&mut self, node: usize) {
        if self.seen.last() != Some(&node) {
            self.seen.retain(|&n| n != node);
            self.seen.push(node);
        }
    }

    pub fn leader(&self) -> Option<usize> {
        self.seen.last().copied()
    }

    fn old_leader(&self) -> Option<usize> {
        self.seen.iter().rev().nth(1).copied()
    }

    /// The nodes `name` points at now among `up` (live nodes), drawing
    /// from `rng` where a role names several; with how it was resolved
    /// when that was a guess.
    pub fn resolve(
        &self,
        name: &str,
        nodes: usize,
        up: &[usize],
        rng: &mut ChaCha8Rng,
    ) -> (Vec<usize>, Option<String>) {
        let Ok(target) = parse_target(name, nodes) else {
            return (Vec::new(), None);
        };
        let guess = |who: Option<usize>, role: &str| match who {
            Some(node) => (
                vec![node],
                Some(format!("{role} taken to be n{}, from served_by", node + 1)),
            ),
            None => (
                Vec::new(),
                Some(format!("no {role} known yet from served_by: nobody")),
            ),
        };
        let followers = || -> Vec<usize> {
            let leader = self.leader();
            up.iter().copied().filter(|&n| Some(n) != leader).collect()
        };
        match target {
            Target::Node(node) => (vec![node], None),
            Target::All => ((0..nodes).collect(), None),
            Target::Leader => guess(self.leader(), "leader"),
            Target::OldLeader => guess(self.old_leader(), "old leader"),
            Target::Follower => (draw(followers(), 1, rng), None),
            Target::FollowersButOne => {
                let candidates = followers();
                let keep = candidates.len().saturating_sub(1);
                (draw(candidates, keep, rng), None)
            }
            Target::Majority => (draw(up.to_vec(), nodes / 2 + 1, rng), None),
            Target::LongestLog => (Vec::new(), None), // refused before the run
        }
    }
}

/// `count` of `from`, drawn by `rng`, in index order.
fn draw(mut from: Vec<usize>, count: usize, rng: &mut ChaCha8Rng) -> Vec<usize> {
    let count = count.min(from.len());
    for k in 0..count {
        let pick = rng.random_range(k..from.len());
        from.swap(k, pick);
    }
    from.truncate(count);
    from.sort_unstable();
    from
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_leader_is_whoever_served_the_latest_redirected_read() {
        let mut guess = LeaderGuess::default();
        let mut rng = <ChaCha8Rng as rand::SeedableRng>::seed_from_u64(1);
        let (nodes, why) = guess.resolve("leader", 3, &[0, 1, 2], &mut rng);
        assert!(nodes.is_empty() && why.is_some_and(|w| w.contains("no leader")));
        guess.served_by_leader(1);
        guess.served_by_leader(2);
        let (nodes, _) = guess.resolve("leader", 3, &[0, 1, 2], &mut rng);
        assert_eq!(nodes, [2]);
        let (nodes, _) = guess.resolve("old_leader", 3, &[0, 1, 2], &mut rng);
        assert_eq!(nodes, [1]);
        let (nodes, _) = guess.resolve("followers_but_one", 3, &[0, 1, 2], &mut rng);
        assert_eq!(nodes.len(), 1);
        assert_ne!(nodes, [2]);
    }
}
