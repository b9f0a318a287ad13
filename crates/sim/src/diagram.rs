//! The store's look in space-time diagrams (the drawing itself is the
//! engine's): Raft RPCs grey and purple, forwards orange, client requests
//! blue, replies green, errors red; violations circled.

use sim_engine::diagram::{Callout, Palette};
pub use sim_engine::diagram::{Recording, ARROWS_MAX};

use crate::checkers::Violation;

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

/// Draws the window `from_ms..=to_ms` of a recorded run, its violations circled.
pub fn render(rec: &Recording, violations: &[Violation], from_ms: u64, to_ms: u64) -> String {
    let callouts: Vec<Callout<'_>> = violations
        .iter()
        .map(|v| Callout {
            title: format!("[{}] {}", v.checker, v.detail),
            highlights: &v.highlights,
        })
        .collect();
    sim_engine::diagram::render(rec, &STORE, &callouts, from_ms, to_ms)
}
