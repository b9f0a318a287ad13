//! Swarm draws (TigerBeetle VOPR's swarm testing): a scenario with
//! `"swarm": true` has its network, faults and (for the wide ranges) its
//! cluster and workload drawn from the seed, within the ranges it names.

use rand::Rng;
use rand_chacha::ChaCha8Rng;
use sim_engine::swarm;

use super::schema::{Disks, FaultKind, Scenario, SwarmRanges};

impl Scenario {
    /// Swarm mode: replaces network parameters and faults by ones drawn from
    /// `rng`, so different seeds explore different fault mixes.
    pub fn draw_swarm(&mut self, rng: &mut ChaCha8Rng) {
        match self.swarm_ranges {
            SwarmRanges::Classic => self.draw_classic(rng),
            SwarmRanges::Wide => self.draw_wide(rng),
            SwarmRanges::Disk => self.draw_disk(rng),
            SwarmRanges::LyingDisk => {
                self.draw_disk(rng);
                // Damage stays on one node: the lies below pick it.
                self.faults
                    .retain(|f| !matches!(f.kind, FaultKind::Corrupt { .. }));
                let count = rng.random_range(1..=4);
                let lies =
                    swarm::draw_lying_disk_faults(rng, self.nodes, self.fault_time_ms(), count);
                self.faults.extend(lies);
                self.faults.sort_by_key(|f| (f.at_ms, f.until_ms));
            }
        }
    }

    fn draw_disk(&mut self, rng: &mut ChaCha8Rng) {
        self.network.delay_ms_min = rng.random_range(0..=3);
        self.network.delay_ms_max = self.network.delay_ms_min + rng.random_range(1..=20);
        swarm::draw_lossy_links(&mut self.network, rng);
        self.workload.sticky = rng.random_bool(0.5);
        self.faults.clear();
        for _ in 0..rng.random_range(0..=3) {
            let fault = swarm::draw_fault(rng, self.nodes, self.fault_time_ms(), 100..=2_000, 0.3);
            self.faults.push(fault);
        }
        let count = rng.random_range(1..=6);
        let (disks, faults) = swarm::draw_disks(rng, self.nodes, self.fault_time_ms(), count);
        self.disk = Disks {
            of: (1..=self.nodes)
                .map(|k| format!("n{k}"))
                .zip(disks)
                .collect(),
            ..Disks::default()
        };
        self.faults.extend(faults);
        self.faults.sort_by_key(|f| (f.at_ms, f.until_ms));
    }

    fn draw_classic(&mut self, rng: &mut ChaCha8Rng) {
        let on = |rng: &mut ChaCha8Rng| rng.random_bool(0.5);
        self.network.delay_ms_min = rng.random_range(0..=3);
        self.network.delay_ms_max = self.network.delay_ms_min + rng.random_range(0..=20);
        swarm::draw_lossy_links(&mut self.network, rng);
        self.workload.sticky = on(rng);
        self.faults.clear();
        let count = rng.random_range(0..=6);
        for _ in 0..count {
            let fault = swarm::draw_fault(rng, self.nodes, self.fault_time_ms(), 100..=3_000, 0.3);
            self.faults.push(fault);
        }
        self.faults.sort_by_key(|f| (f.at_ms, f.until_ms));
    }

    fn draw_wide(&mut self, rng: &mut ChaCha8Rng) {
        let on = |rng: &mut ChaCha8Rng| rng.random_bool(0.5);
        self.nodes = [3, 5, 7][rng.random_range(0..3)];
        self.network.delay_ms_min = rng.random_range(0..=5);
        self.network.delay_ms_max = self.network.delay_ms_min + rng.random_range(0..=40);
        swarm::draw_lossy_links(&mut self.network, rng);
        let node = &mut self.node;
        node.election_timeout_ms_min = rng.random_range(100..=300);
        // Narrow ranges make candidates time out together and split votes.
        node.election_timeout_ms_max = node.election_timeout_ms_min
            + if on(rng) {
                rng.random_range(5..=30)
            } else {
                rng.random_range(50..=300)
            };
        node.heartbeat_interval_ms = rng.random_range(20..=node.election_timeout_ms_min / 2);
        // Small batches make lagging followers catch up over many messages,
        // so old-term entries can reach a majority apart from the new
        // leader's own.
        node.append_entries_max = if on(rng) { rng.random_range(1..=4) } else { 64 };
        // Narrow windows hold entries back until acknowledgements return.
        node.append_in_flight_max = rng.random_range(1..=4);
        let w = &mut self.workload;
        w.sessions = rng.random_range(2..=12);
        w.keys = rng.random_range(6..=16);
        w.think_ms_max = rng.random_range(0..=30);
        if self.network.delay_ms_max == 0 {
            // With no delay anywhere, clients and nodes would answer each
            // other forever without the clock moving.
            w.think_ms_max = w.think_ms_max.max(1);
        }
        w.sticky = on(rng);
        w.mix.write = rng.random_range(10..=70);
        w.mix.ryw_read = rng.random_range(10..=60);
        self.faults.clear();
        let count = rng.random_range(0..=10);
        for _ in 0..count {
            if rng.random_bool(0.1) {
                let crashes =
                    swarm::draw_majority_crash(rng, self.nodes, self.fault_time_ms(), 50..=3_000);
                self.faults.extend(crashes);
                continue;
            }
            let mut fault =
                swarm::draw_fault(rng, self.nodes, self.fault_time_ms(), 50..=3_000, 0.5);
            swarm::maybe_aim_at_next_leader(&mut fault, rng, 0.4);
            self.faults.push(fault);
        }
        self.faults.sort_by_key(|f| (f.at_ms, f.until_ms));
    }

    /// Faults heal in time for the liveness check to see the cluster recover.
    fn fault_time_ms(&self) -> u64 {
        self.duration_ms
            .saturating_sub(self.expect.liveness_ms)
            .max(1)
    }
}
