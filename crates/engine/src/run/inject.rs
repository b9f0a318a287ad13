//! Where faults are injected and healed: the engine's side of
//! [`crate::faults`], which owns the nodes that pause, crash and restart.
//! Whom each fault hits is `targets.rs`.

use super::state::{OpenSpan, Slot, State};
use super::Engine;
use crate::diagram::Span;
use crate::disk::Unsynced;
use crate::faults::{self, Applied, DiskLoss, Trigger};
use crate::harness::Harness;
use crate::process::Process;

/// A fault waiting for its trigger: (index, trigger).
type Armed = (usize, Trigger);

impl<H: Harness> Engine<H> {
    /// Notes a new leader, and starts the faults whose trigger node `i`'s
    /// last step fired, before anything it sent is routed: a crash or a cut
    /// then loses the messages that step produced.
    pub(super) fn fire_triggers(&mut self, i: usize) {
        let Some(node) = self.state.slots[i].node.as_ref() else {
            return;
        };
        let leading = node.leading();
        if leading.is_none() && self.state.last_seen[i].0.is_none() {
            return; // led neither before nor now: nothing to note (the common case)
        }
        let log_length = node.log_length();
        let (led_before, length_before) =
            std::mem::replace(&mut self.state.last_seen[i], (leading, log_length));
        let elected = leading.is_some_and(|term| term > self.state.led_term_max);
        // Appended while it already led: not the entry its election adds.
        let appended = leading.is_some() && led_before == leading && log_length > length_before;
        if let (true, Some(term)) = (elected, leading) {
            self.state.led_term_max = term;
            if self.state.leader_history.last() != Some(&i) {
                self.state.leader_history.push(i);
            }
        }
        if !elected && !appended {
            return;
        }
        let (fired, waiting): (Vec<Armed>, Vec<Armed>) =
            std::mem::take(&mut self.state.faults.armed)
                .into_iter()
                .partition(|&(_, trigger)| match trigger {
                    Trigger::LeaderElected => elected,
                    Trigger::LeaderAppended => appended,
                });
        self.state.faults.armed = waiting;
        for (index, _) in fired {
            let fault = &self.state.faults.list[index];
            let start_ms = self.state.now_ms.saturating_add(fault.after_ms);
            if start_ms >= fault.until_ms {
                continue;
            }
            if fault.after_ms == 0 {
                self.apply_fault(index, Some(i));
            } else {
                let event = super::Event::FaultTriggered { index, leader: i };
                self.state.queue.push(start_ms, event);
            }
        }
    }

    pub(super) fn fault_start(&mut self, index: usize) {
        match self.state.faults.list[index].when {
            Some(trigger) => {
                let label = &self.state.faults.labels[index];
                let detail = format!("arm {label}: starts when {}", trigger.describe());
                self.state.trace.note(self.state.now_ms, "fault", &detail);
                self.state.faults.armed.push((index, trigger));
            }
            None => self.apply_fault(index, None),
        }
    }

    /// Starts fault `index`; `leader`, when given, is the node `"leader"`
    /// names. A fault that names the leader while nobody leads waits for
    /// the next one instead.
    // Longer than 70 lines on purpose: one fault's start: resolve targets, plan, switch the network, take nodes down, shade, in that order.
    pub(super) fn apply_fault(&mut self, index: usize, leader: Option<usize>) {
        self.state.faults.leader_override = leader;
        let kind = self.state.faults.list[index].kind.clone();
        let mut leaderless = false;
        let applied = faults::plan(&kind, self.state.slots.len(), |name| {
            self.state.resolve(name).unwrap_or_else(|| {
                leaderless = true;
                Vec::new()
            })
        });
        self.state.faults.leader_override = None;
        let state = &mut self.state;
        if leaderless {
            let label = &state.faults.labels[index];
            let detail = format!("wait {label}: nobody leads; starts when a leader is elected");
            state.trace.note(state.now_ms, "fault", &detail);
            state.faults.armed.push((index, Trigger::LeaderElected));
            return;
        }
        faults::switch_network(&applied, &mut state.network, true);
        match &applied {
            Applied::Pause(nodes) => {
                for &x in nodes {
                    state.slots[x].paused += 1;
                }
            }
            Applied::Crash(nodes, unsynced, loss) => {
                for &x in nodes {
                    state.slots[x].crashes += 1;
                    state.take_down(x, *unsynced, loss.clone());
                }
            }
            Applied::Corrupt { nodes, bits, file } => {
                for &x in nodes {
                    let rng = &mut state.disk_rng;
                    if let Some(disk) = disk_of_slot::<H::Node>(&mut state.slots[x]) {
                        for (file, at) in disk.corrupt(*bits, rng, file.as_deref()) {
                            let detail =
                                format!("n{}: flipped a bit of {file} at byte {at}", x + 1);
                            state.trace.note(state.now_ms, "corrupt", &detail);
                        }
                    }
                }
            }
            Applied::FullDisk(nodes) => {
                for &x in nodes {
                    if let Some(disk) = disk_of_slot::<H::Node>(&mut state.slots[x]) {
                        disk.set_full(true);
                    }
                }
            }
            Applied::CrashAtRename { nodes, file } => {
                for &x in nodes {
                    if let Some(disk) = disk_of_slot::<H::Node>(&mut state.slots[x]) {
                        disk.crash_at_rename = Some(file.clone());
                    }
                }
            }
            Applied::FsyncError(nodes) => {
                for &x in nodes {
                    if let Some(disk) = disk_of_slot::<H::Node>(&mut state.slots[x]) {
                        disk.set_failing(true);
                    }
                }
            }
            Applied::SlowFsync { nodes, extra_ms } => {
                for &x in nodes {
                    let slot = &mut state.slots[x];
                    slot.fsync_extra_ms = slot.fsync_extra_ms.saturating_add(*extra_ms);
                }
            }
            Applied::Cuts(_)
            | Applied::Lag { .. }
            | Applied::Links { .. }
            | Applied::ClientLinks { .. } => {}
        }
        let detail = format!(
            "start {} {}",
            state.faults.labels[index],
            faults::describe(&kind, &applied)
        );
        state.trace.note(state.now_ms, "fault", &detail);
        if state.recording.is_some() {
            state.faults.open_spans[index] = Some(OpenSpan {
                lanes: faults::shaded_lanes(&kind, &applied),
                from_ms: state.now_ms,
                kind: kind.shading(),
                title: detail,
            });
        }
        state.faults.applied[index] = Some(applied);
    }

    pub(super) fn fault_end(&mut self, index: usize) {
        // A triggered fault whose trigger never fired expires unstarted.
        self.state.faults.armed.retain(|&(armed, _)| armed != index);
        let Some(applied) = self.state.faults.applied[index].take() else {
            return;
        };
        let detail = format!(
            "end {} {}",
            self.state.faults.labels[index],
            faults::describe(&self.state.faults.list[index].kind, &applied)
        );
        let now_ms = self.state.now_ms;
        self.state.trace.note(now_ms, "heal", &detail);
        self.close_span(index);
        faults::switch_network(&applied, &mut self.state.network, false);
        match applied {
            Applied::Cuts(_)
            | Applied::Lag { .. }
            | Applied::Links { .. }
            | Applied::ClientLinks { .. } => {}
            Applied::Pause(nodes) => {
                for x in nodes {
                    self.state.slots[x].paused -= 1;
                    if self.state.slots[x].paused == 0 {
                        self.resume(x);
                    }
                }
            }
            Applied::Crash(nodes, _, _) => {
                for x in nodes {
                    self.state.slots[x].crashes -= 1;
                    self.restart_if_free(x);
                }
            }
            Applied::FsyncError(nodes) => {
                for x in nodes {
                    if let Some(disk) = disk_of_slot::<H::Node>(&mut self.state.slots[x]) {
                        disk.set_failing(false);
                    }
                    // A node that stopped on the failure is started again.
                    if std::mem::take(&mut self.state.slots[x].stopped) {
                        self.restart_if_free(x);
                    }
                }
            }
            Applied::Corrupt { .. } => {}
            Applied::CrashAtRename { nodes, .. } => {
                for x in nodes {
                    if let Some(disk) = disk_of_slot::<H::Node>(&mut self.state.slots[x]) {
                        disk.crash_at_rename = None;
                    }
                    // A node that crashed at the rename is started again.
                    if std::mem::take(&mut self.state.slots[x].stopped) {
                        self.restart_if_free(x);
                    }
                }
            }
            Applied::FullDisk(nodes) => {
                for x in nodes {
                    if let Some(disk) = disk_of_slot::<H::Node>(&mut self.state.slots[x]) {
                        disk.set_full(false);
                    }
                }
            }
            Applied::SlowFsync { nodes, extra_ms } => {
                for x in nodes {
                    let slot = &mut self.state.slots[x];
                    slot.fsync_extra_ms = slot.fsync_extra_ms.saturating_sub(extra_ms);
                }
            }
        }
    }

    /// Boots node `x` from what its crash kept, unless a crash fault still
    /// holds it down.
    fn restart_if_free(&mut self, x: usize) {
        if self.state.slots[x].crashes > 0 {
            return;
        }
        if let Some(durable) = self.state.slots[x].crashed.take() {
            self.boot(x, Some(durable));
        }
    }

    /// The last pause holding node `x` has ended: it takes its backlog, and
    /// a timer that fell due while it was frozen.
    fn resume(&mut self, x: usize) {
        let now_ms = self.state.now_ms;
        let state = &mut self.state;
        let backlog = std::mem::take(&mut state.slots[x].backlog);
        for &(_, arrow) in &backlog {
            state.arrow_arrived(arrow, false);
        }
        let clock_ms = state.node_ms(x);
        let synced = std::mem::take(&mut state.slots[x].synced_backlog);
        if let Some(node) = state.slots[x].node.as_mut() {
            for (message, _) in backlog {
                state.stats.delivered += 1;
                state.trace.message(now_ms, "deliver", &message);
                node.handle_message(clock_ms, message);
            }
            for (sync, ok) in synced {
                if ok {
                    node.handle_synced(clock_ms, sync);
                } else {
                    node.handle_sync_failed(clock_ms, sync);
                }
            }
            if node.poll_timeout().is_some_and(|t| t <= clock_ms) {
                node.handle_timeout(clock_ms);
            }
        }
        state.slots[x].timer_at_ms = None;
        if !state.stop_if_asked(x) {
            return self.after_step(x);
        }
        // Frozen through its fault, it learnt of it only after the fault's
        // end restarted such nodes ([`stop_fault_over`]): restart it now.
        let slot = &mut self.state.slots[x];
        if stop_fault_over(slot) && std::mem::take(&mut slot.stopped) {
            self.restart_if_free(x);
        }
    }

    /// Turns a fault's open shading into spans on its timelines.
    pub(super) fn close_span(&mut self, index: usize) {
        let now_ms = self.state.now_ms;
        let open = self.state.faults.open_spans[index].take();
        if let (Some(open), Some(rec)) = (open, self.state.recording.as_mut()) {
            for lane in open.lanes {
                rec.spans.push(Span {
                    lane,
                    from_ms: open.from_ms,
                    to_ms: now_ms,
                    kind: open.kind,
                    title: open.title.clone(),
                });
            }
        }
    }
}

/// The disk of a node, live or crashed (a node that refused to start has none).
impl<N: Process, E> State<N, E> {
    /// Takes node `x` down as a crash: its volatile state and messages in
    /// flight to it are lost; its disk keeps what `unsynced` says of writes
    /// not yet fsynced, and loses what `loss` says.
    pub(super) fn take_down(&mut self, x: usize, unsynced: Unsynced, loss: DiskLoss) {
        let slot = &mut self.slots[x];
        let Some(crashed) = slot.node.take() else {
            return;
        };
        let mut durable = crashed.durable();
        if let Some(disk) = N::disk_of(&mut durable) {
            disk.crash(unsynced, &mut self.disk_rng);
            match loss {
                DiskLoss::Nothing => {}
                DiskLoss::Wipe => {
                    disk.wipe();
                    self.trace
                        .note(self.now_ms, "lose", &format!("n{}: the whole disk", x + 1));
                }
                DiskLoss::SyncedTail(file) => {
                    let cut = disk.lose_synced_tail(&mut self.disk_rng, file.as_deref());
                    if let Some((file, had, kept)) = cut {
                        let detail = format!("n{}: {file} cut from {had} to {kept} bytes", x + 1);
                        self.trace.note(self.now_ms, "lose", &detail);
                    }
                }
            }
        }
        slot.crashed = Some(durable);
        slot.incarnation += 1;
        slot.timer_at_ms = None;
        slot.backlog.clear();
        slot.synced_backlog.clear();
        slot.sync_done_ms = 0;
    }
}

/// Whether no fault that stops a node (a failing fsync, a crash at a
/// rename) holds its disk now. A node that stopped on one learns of it
/// late if a pause froze it through the fault: left down, it was down for
/// good (a run's liveness failed for a node its faults never meant to
/// take away for ever).
fn stop_fault_over<N: Process>(slot: &mut Slot<N>) -> bool {
    disk_of_slot(slot).is_none_or(|disk| !disk.is_failing() && disk.crash_at_rename.is_none())
}

fn disk_of_slot<N: Process>(slot: &mut Slot<N>) -> Option<&mut crate::disk::SimDisk> {
    match (slot.node.as_mut(), slot.crashed.as_mut()) {
        (Some(node), _) => node.disk_mut(),
        (None, Some(durable)) => N::disk_of(durable),
        (None, None) => None,
    }
}
