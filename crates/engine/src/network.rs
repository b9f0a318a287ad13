//! The virtual network between nodes: per-message delay (uniform plus an
//! exponential tail), loss, duplication, and the partitions and lag that
//! faults switch on and off. Reordering follows from independent delays.

use std::collections::BTreeMap;

use rand::Rng;
use rand_chacha::ChaCha8Rng;

use serde::{Deserialize, Serialize};

/// Node-to-node links, as a scenario file writes them. Client links only
/// get `delay_ms_min..=delay_ms_max`.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct NetworkParams {
    pub delay_ms_min: u64,
    pub delay_ms_max: u64,
    /// Mean of an exponential extra delay added to every message (0: none).
    pub delay_tail_ms_mean: f64,
    /// Probability that a message is lost.
    pub loss: f64,
    /// Probability that a message is delivered twice.
    pub duplicate: f64,
}

impl Default for NetworkParams {
    fn default() -> NetworkParams {
        NetworkParams {
            delay_ms_min: 1,
            delay_ms_max: 5,
            delay_tail_ms_mean: 0.0,
            loss: 0.0,
            duplicate: 0.0,
        }
    }
}

/// What happens to one node-to-node message.
pub enum Fate {
    /// Cut by a partition.
    Blocked,
    /// Lost by the lossy link.
    Lost,
    /// Delivered after each delay (two delays: duplicated).
    Delivered { delays_ms: [u64; 2], copies: usize },
}

pub struct Network {
    params: NetworkParams,
    rng: ChaCha8Rng,
    /// Directed cuts, counted so that overlapping faults compose and heal independently.
    cuts: BTreeMap<(usize, usize), u32>,
    /// Extra delay per node on its links to nodes, summed over active lag faults.
    lag_ms: Vec<u64>,
    /// Extra delay per node on its client links (lag that spares clients
    /// adds to `lag_ms` only).
    client_lag_ms: Vec<u64>,
    /// Lossy or slow directed links: every active fault's (loss, extra_ms).
    degraded_links: BTreeMap<(usize, usize), Vec<(f64, u64)>>,
    /// Per node: every active fault's (loss, extra_ms) on its client links.
    degraded_client_links: Vec<Vec<(f64, u64)>>,
    /// Per node: which faults touch it, worked out when the faults change
    /// (rarely) rather than when asked (after every step).
    touched: Vec<Touched>,
}

/// Which kinds of network fault touch one node.
#[derive(Clone, Copy, Default)]
struct Touched {
    cut: bool,
    slowed: bool,
}

impl Network {
    pub fn new(params: NetworkParams, nodes: usize, rng: ChaCha8Rng) -> Network {
        Network {
            params,
            rng,
            cuts: BTreeMap::new(),
            lag_ms: vec![0; nodes],
            client_lag_ms: vec![0; nodes],
            degraded_links: BTreeMap::new(),
            degraded_client_links: vec![Vec::new(); nodes],
            touched: vec![Touched::default(); nodes],
        }
    }

    pub fn params(&self) -> &NetworkParams {
        &self.params
    }

    pub fn cut(&mut self, from: usize, to: usize) {
        *self.cuts.entry((from, to)).or_insert(0) += 1;
        self.retouch();
    }

    pub fn uncut(&mut self, from: usize, to: usize) {
        if let Some(count) = self.cuts.get_mut(&(from, to)) {
            *count -= 1;
            if *count == 0 {
                self.cuts.remove(&(from, to));
            }
        }
        self.retouch();
    }

    /// Whether a cut touches any link of `node`, either way.
    pub fn cut_off(&self, node: usize) -> bool {
        self.touched[node].cut
    }

    /// Whether lag, or a lossy or slow link, touches `node`.
    pub fn slowed(&self, node: usize) -> bool {
        self.touched[node].slowed
    }

    /// Works out [`Network::cut_off`] and [`Network::slowed`] for every
    /// node again, after a fault changed.
    fn retouch(&mut self) {
        for (node, touched) in self.touched.iter_mut().enumerate() {
            let touches = |&(from, to): &(usize, usize)| from == node || to == node;
            *touched = Touched {
                cut: self.cuts.keys().any(touches),
                slowed: self.lag_ms[node] > 0
                    || self.client_lag_ms[node] > 0
                    || !self.degraded_client_links[node].is_empty()
                    || self.degraded_links.keys().any(touches),
            };
        }
    }

    /// Slows every link of `node` by `extra_ms`, its client links too
    /// unless `spare_clients`.
    pub fn add_lag(&mut self, node: usize, extra_ms: u64, spare_clients: bool) {
        self.lag_ms[node] = self.lag_ms[node].saturating_add(extra_ms);
        if !spare_clients {
            self.client_lag_ms[node] = self.client_lag_ms[node].saturating_add(extra_ms);
        }
        self.retouch();
    }

    /// Undoes [`Network::add_lag`].
    pub fn remove_lag(&mut self, node: usize, extra_ms: u64, spare_clients: bool) {
        self.lag_ms[node] = self.lag_ms[node].saturating_sub(extra_ms);
        if !spare_clients {
            self.client_lag_ms[node] = self.client_lag_ms[node].saturating_sub(extra_ms);
        }
        self.retouch();
    }

    /// Adds (`active`) or removes one fault's loss and delay on link `from -> to`.
    pub fn degrade_link(&mut self, from: usize, to: usize, loss: f64, extra_ms: u64, active: bool) {
        let faults = self.degraded_links.entry((from, to)).or_default();
        switch(faults, (loss, extra_ms), active);
        if faults.is_empty() {
            self.degraded_links.remove(&(from, to));
        }
        self.retouch();
    }

    /// Adds (`active`) or removes one fault's loss and delay on every client link of `node`.
    pub fn degrade_client_links(&mut self, node: usize, loss: f64, extra_ms: u64, active: bool) {
        switch(
            &mut self.degraded_client_links[node],
            (loss, extra_ms),
            active,
        );
        self.retouch();
    }

    fn delay_ms(&mut self) -> u64 {
        let p = &self.params;
        let mut ms = self.rng.random_range(p.delay_ms_min..=p.delay_ms_max);
        if p.delay_tail_ms_mean > 0.0 {
            let u: f64 = self.rng.random_range(0.0..1.0);
            // `as` saturates: a tail beyond u64 is the longest delay, not a wrap.
            ms = ms.saturating_add((-p.delay_tail_ms_mean * (1.0 - u).ln()) as u64);
        }
        ms
    }

    pub fn node_to_node(&mut self, from: usize, to: usize) -> Fate {
        if self.cuts.contains_key(&(from, to)) {
            return Fate::Blocked;
        }
        let mut degraded_ms = 0;
        if let Some(faults) = self.degraded_links.get(&(from, to)) {
            let (loss, extra_ms) = combined(faults);
            if loss > 0.0 && self.rng.random_bool(loss) {
                return Fate::Lost;
            }
            degraded_ms = extra_ms;
        }
        if self.params.loss > 0.0 && self.rng.random_bool(self.params.loss) {
            return Fate::Lost;
        }
        let lag_ms = self.lag_ms[from]
            .saturating_add(self.lag_ms[to])
            .saturating_add(degraded_ms);
        let first = self.delay_ms().saturating_add(lag_ms);
        if self.params.duplicate > 0.0 && self.rng.random_bool(self.params.duplicate) {
            let second = self.delay_ms().saturating_add(lag_ms);
            return Fate::Delivered {
                delays_ms: [first, second],
                copies: 2,
            };
        }
        Fate::Delivered {
            delays_ms: [first, 0],
            copies: 1,
        }
    }

    /// The delay of one message between a client and `node`, or `None`
    /// if it is lost. Client links lose nothing (as in Maelstrom) unless a
    /// client-link fault says so; a lagging node is slow to reach.
    pub fn client_link(&mut self, node: usize) -> Option<u64> {
        let mut degraded_ms = 0;
        if !self.degraded_client_links[node].is_empty() {
            let (loss, extra_ms) = combined(&self.degraded_client_links[node]);
            if loss > 0.0 && self.rng.random_bool(loss) {
                return None;
            }
            degraded_ms = extra_ms;
        }
        let p = &self.params;
        let delay_ms = self.rng.random_range(p.delay_ms_min..=p.delay_ms_max);
        Some(
            delay_ms
                .saturating_add(self.client_lag_ms[node])
                .saturating_add(degraded_ms),
        )
    }
}

/// Adds or removes one fault's (loss, extra_ms).
fn switch(faults: &mut Vec<(f64, u64)>, fault: (f64, u64), active: bool) {
    if active {
        faults.push(fault);
    } else if let Some(k) = faults.iter().position(|&f| f == fault) {
        faults.remove(k);
    }
}

/// Several faults on one link: a message survives only if it survives
/// each, and is delayed by each.
fn combined(faults: &[(f64, u64)]) -> (f64, u64) {
    let survives: f64 = faults.iter().map(|&(loss, _)| 1.0 - loss).product();
    let extra_ms = faults
        .iter()
        .fold(0u64, |sum, &(_, ms)| sum.saturating_add(ms));
    ((1.0 - survives).clamp(0.0, 1.0), extra_ms)
}

#[cfg(test)]
mod tests {
    use rand::SeedableRng;

    use super::*;

    fn network() -> Network {
        Network::new(NetworkParams::default(), 3, ChaCha8Rng::seed_from_u64(1))
    }

    #[test]
    fn overlapping_cuts_heal_independently() {
        let mut net = network();
        net.cut(0, 1);
        net.cut(0, 1);
        net.uncut(0, 1);
        assert!(
            matches!(net.node_to_node(0, 1), Fate::Blocked),
            "one fault still cuts it"
        );
        assert!(
            matches!(net.node_to_node(1, 0), Fate::Delivered { .. }),
            "cuts are one-way"
        );
        net.uncut(0, 1);
        assert!(matches!(net.node_to_node(0, 1), Fate::Delivered { .. }));
    }

    /// Every node's (cut off, slowed), as the abstract state reads them.
    fn touched(net: &Network) -> Vec<(bool, bool)> {
        (0..3).map(|n| (net.cut_off(n), net.slowed(n))).collect()
    }

    #[test]
    fn a_node_is_cut_off_or_slowed_exactly_while_a_fault_touches_it() {
        let mut net = network();
        let clear = vec![(false, false); 3];
        assert_eq!(touched(&net), clear);
        // A one-way cut touches both its ends, and heals with its last fault.
        net.cut(0, 1);
        net.cut(0, 1);
        net.uncut(0, 1);
        assert_eq!(
            touched(&net),
            [(true, false), (true, false), (false, false)]
        );
        net.uncut(0, 1);
        assert_eq!(touched(&net), clear);
        // Each kind of slowing, on and off.
        net.add_lag(2, 50, true);
        assert_eq!(touched(&net)[2], (false, true));
        net.remove_lag(2, 50, true);
        assert_eq!(touched(&net), clear);
        net.add_lag(1, 50, false);
        net.remove_lag(1, 20, false);
        assert_eq!(touched(&net)[1], (false, true), "30 ms of lag are left");
        net.remove_lag(1, 30, false);
        // Lag left on the client links alone still slows the node.
        net.add_lag(0, 40, false);
        net.remove_lag(0, 40, true);
        assert_eq!(touched(&net)[0], (false, true));
        net.remove_lag(0, 40, false);
        assert_eq!(touched(&net), clear);
        net.degrade_link(2, 0, 0.5, 0, true);
        assert_eq!(
            touched(&net),
            [(false, true), (false, false), (false, true)]
        );
        net.degrade_link(2, 0, 0.5, 0, false);
        net.degrade_client_links(1, 1.0, 0, true);
        assert_eq!(
            touched(&net),
            [(false, false), (false, true), (false, false)]
        );
        net.degrade_client_links(1, 1.0, 0, false);
        assert_eq!(touched(&net), clear);
    }

    #[test]
    fn lag_adds_to_every_link_of_the_node_until_removed() {
        let mut net = network();
        net.add_lag(2, 300, false);
        let Fate::Delivered { delays_ms, .. } = net.node_to_node(0, 2) else {
            panic!("delivered");
        };
        assert!(delays_ms[0] >= 300);
        assert!(net.client_link(2).is_some_and(|ms| ms >= 300));
        net.remove_lag(2, 300, false);
        assert!(net.client_link(2).is_some_and(|ms| ms <= 5));
    }

    #[test]
    fn lag_that_spares_clients_slows_only_node_links() {
        let mut net = network();
        net.add_lag(1, 300, true);
        assert!(net.client_link(1).is_some_and(|ms| ms <= 5));
        let Fate::Delivered { delays_ms, .. } = net.node_to_node(0, 1) else {
            panic!("delivered");
        };
        assert!(delays_ms[0] >= 300);
    }

    #[test]
    fn degraded_links_lose_and_slow_one_way_until_healed() {
        let mut net = network();
        net.degrade_link(0, 1, 1.0, 0, true);
        net.degrade_link(0, 1, 0.0, 200, true);
        assert!(matches!(net.node_to_node(0, 1), Fate::Lost));
        net.degrade_link(0, 1, 1.0, 0, false);
        let Fate::Delivered { delays_ms, .. } = net.node_to_node(0, 1) else {
            panic!("the lossy fault healed");
        };
        assert!(delays_ms[0] >= 200, "the slow one still holds");
        assert!(
            matches!(net.node_to_node(1, 0), Fate::Delivered { .. }),
            "one way"
        );
        net.degrade_client_links(2, 1.0, 0, true);
        assert_eq!(net.client_link(2), None);
        net.degrade_client_links(2, 1.0, 0, false);
        assert!(net.client_link(2).is_some());
    }

    #[test]
    fn loss_and_duplication_happen_at_their_rates() {
        let params = NetworkParams {
            loss: 0.2,
            duplicate: 0.1,
            ..NetworkParams::default()
        };
        let mut net = Network::new(params, 2, ChaCha8Rng::seed_from_u64(2));
        let (mut lost, mut doubled) = (0, 0);
        for _ in 0..10_000 {
            match net.node_to_node(0, 1) {
                Fate::Lost => lost += 1,
                Fate::Delivered { copies: 2, .. } => doubled += 1,
                _ => {}
            }
        }
        assert!((1_800..2_200).contains(&lost), "lost {lost}");
        assert!(
            (600..1_000).contains(&doubled),
            "duplicated {doubled} of ~8000 delivered"
        );
    }
}
