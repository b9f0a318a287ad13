//! The store's look in space-time diagrams (the drawing itself is the
//! engine's): Raft RPCs grey and purple, forwards orange, client requests
//! blue, replies green, errors red; violations circled.

use sim_engine::diagram::{Callout, Drawn, Palette};
pub use sim_engine::diagram::{Recording, ARROWS_MAX};

use crate::violation::Violation;

fn colour(kind: &str) -> &'static str {
    match kind {
        "append_entries" | "append_entries_ok" => "#b0b0b0",
        "request_vote" | "request_vote_ok" => "#8e44ad",
        "forward" | "forward_ok" => "#e67e22",
        "error" => "#c0392b",
        k if k.ends_with("_ok") => "#27ae60",
        _ => "#2471a3",
    }
}

pub const STORE: Palette = Palette {
    colour,
    legend: &[
        ("append_entries", "replication"),
        ("request_vote", "votes"),
        ("forward", "forwards"),
        ("write", "client requests"),
        ("write_ok", "replies"),
        ("error", "errors"),
    ],
};

/// Draws the window `from_ms..=to_ms` of a recorded run, its violations
/// circled; also says how many messages it had to leave out.
pub fn render(rec: &Recording, violations: &[Violation], from_ms: u64, to_ms: u64) -> Drawn {
    let callouts: Vec<Callout<'_>> = violations
        .iter()
        .map(|v| Callout {
            title: format!("[{}] {}", v.checker, v.detail),
            highlights: &v.highlights,
        })
        .collect();
    sim_engine::diagram::draw(rec, &STORE, &callouts, from_ms, to_ms)
}

/// Simulated time a diagram shows when no window is asked for and nothing failed.
pub const DEFAULT_WINDOW_MS: u64 = 500;
/// Before the first violation's earliest moment, the default window shows this much.
const LEAD_IN_MS: u64 = 300;
/// After the violation, this much.
const LEAD_OUT_MS: u64 = 100;

/// The window a diagram shows when none is asked for, and why: around the
/// first violation (from a little before the earliest moment it points at
/// to a little after it), or else the start of the run.
pub fn default_window(violations: &[Violation], end_ms: u64) -> (u64, u64, String) {
    match violations.first() {
        Some(v) => {
            let earliest = v
                .highlights
                .iter()
                .map(|h| h.at_ms)
                .min()
                .unwrap_or(v.at_ms);
            let from_ms = earliest.min(v.at_ms).saturating_sub(LEAD_IN_MS);
            let to_ms = v.at_ms.saturating_add(LEAD_OUT_MS).min(end_ms);
            (
                from_ms,
                to_ms,
                format!(
                    "around the first violation ({} at {} ms)",
                    v.checker, v.at_ms
                ),
            )
        }
        None => {
            let to_ms = DEFAULT_WINDOW_MS.min(end_ms);
            (0, to_ms, format!("the first {to_ms} ms (nothing failed)"))
        }
    }
}
