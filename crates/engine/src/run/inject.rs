//! Where faults are injected and healed: the engine's side of
//! [`crate::faults`], which owns the nodes that pause, crash and restart.

use super::{Engine, OpenSpan};
use crate::diagram::Span;
use crate::faults::{self, Applied, Target, Trigger};
use crate::harness::Harness;
use crate::process::Process;

impl<H: Harness> Engine<H> {
    /// The node a fault's name points at now.
    fn resolve(&self, name: &str) -> usize {
        match faults::parse_target(name, self.state.slots.len()) {
            Ok(Target::Node(i)) => i,
            Ok(Target::Leader) => self
                .state
                .leader_override
                .unwrap_or_else(|| self.state.current_leader()),
            // Engine::new checked every name.
            Err(why) => unreachable!("{why}"),
        }
    }

    /// Starts the faults waiting for a new leader when node `i` has just
    /// won, before anything it sent as leader is routed.
    pub(super) fn fire_triggers(&mut self, i: usize) {
        let Some(term) = self.state.slots[i].node.as_ref().and_then(|n| n.leading()) else {
            return;
        };
        if term <= self.state.led_term_max {
            return;
        }
        self.state.led_term_max = term;
        for index in std::mem::take(&mut self.state.armed) {
            let fault = &self.state.faults[index];
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
        match self.state.faults[index].when {
            Some(Trigger::LeaderElected) => {
                let detail = format!("arm faults[{index}]: starts when a leader is elected");
                self.state.trace.note(self.state.now_ms, "fault", &detail);
                self.state.armed.push(index);
            }
            None => self.apply_fault(index, None),
        }
    }

    /// Starts fault `index`; `leader`, when given, is the node `"leader"` names.
    pub(super) fn apply_fault(&mut self, index: usize, leader: Option<usize>) {
        self.state.leader_override = leader;
        let kind = self.state.faults[index].kind.clone();
        let applied = faults::plan(&kind, self.state.slots.len(), |name| self.resolve(name));
        self.state.leader_override = None;
        let state = &mut self.state;
        faults::switch_network(&applied, &mut state.network, true);
        match applied {
            Applied::Pause(x) => state.slots[x].paused = true,
            Applied::Crash(x) => {
                let slot = &mut state.slots[x];
                if let Some(crashed) = slot.node.take() {
                    slot.crashed = Some(crashed.durable());
                    slot.incarnation += 1;
                    slot.timer_at_ms = None;
                    slot.backlog.clear();
                }
            }
            Applied::Cuts(_) | Applied::Lag(..) => {}
        }
        let detail = format!(
            "start faults[{index}] {}",
            faults::describe(&kind, &applied)
        );
        state.trace.note(state.now_ms, "fault", &detail);
        if state.recording.is_some() {
            state.open_spans[index] = Some(OpenSpan {
                lanes: faults::shaded_lanes(&kind, &applied),
                from_ms: state.now_ms,
                kind: kind.shading(),
                title: detail,
            });
        }
        state.applied[index] = Some(applied);
    }

    pub(super) fn fault_end(&mut self, index: usize) {
        // A triggered fault whose trigger never fired expires unstarted.
        self.state.armed.retain(|&armed| armed != index);
        let Some(applied) = self.state.applied[index].take() else {
            return;
        };
        let detail = format!(
            "end faults[{index}] {}",
            faults::describe(&self.state.faults[index].kind, &applied)
        );
        let now_ms = self.state.now_ms;
        self.state.trace.note(now_ms, "heal", &detail);
        self.close_span(index);
        faults::switch_network(&applied, &mut self.state.network, false);
        match applied {
            Applied::Cuts(_) | Applied::Lag(..) => {}
            Applied::Pause(x) => {
                let state = &mut self.state;
                state.slots[x].paused = false;
                let backlog = std::mem::take(&mut state.slots[x].backlog);
                for &(_, arrow) in &backlog {
                    state.arrow_arrived(arrow, false);
                }
                if let Some(node) = state.slots[x].node.as_mut() {
                    for (message, _) in backlog {
                        state.stats.delivered += 1;
                        state.trace.message(now_ms, "deliver", &message);
                        node.handle_message(now_ms, message);
                    }
                    if node.poll_timeout().is_some_and(|t| t <= now_ms) {
                        node.handle_timeout(now_ms);
                    }
                }
                state.slots[x].timer_at_ms = None;
                self.after_step(x);
            }
            Applied::Crash(x) => {
                if let Some(durable) = self.state.slots[x].crashed.take() {
                    let node = self.harness.boot(x, Some(durable), now_ms);
                    self.state.slots[x].node = Some(node);
                    self.harness.on_restart(x);
                    self.after_step(x);
                }
            }
        }
    }

    /// Turns a fault's open shading into spans on its timelines.
    pub(super) fn close_span(&mut self, index: usize) {
        let now_ms = self.state.now_ms;
        let open = self.state.open_spans[index].take();
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
