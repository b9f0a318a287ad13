//! Sweeps seeds of the primary-backup register from the engine's tests and
//! prints the first run that breaks it, with the line that replays it.
//!
//!     cargo run -p sim-engine --example register [-- correct]

#[path = "../tests/support/register.rs"]
mod register;

use register::{run, Flavour};

fn main() {
    let flavour = match std::env::args().nth(1).as_deref() {
        Some("correct") => Flavour::Correct,
        _ => Flavour::AckOnSend,
    };
    for seed in 0..1_000 {
        let (verdict, hash) = run(flavour, seed, true);
        if let Some(first) = verdict.violations.first() {
            println!("{flavour:?}: seed {seed} fails: {first}");
            println!(
                "trace hash {:016x}: the same seed replays it exactly",
                hash.unwrap_or(0)
            );
            return;
        }
    }
    println!("{flavour:?}: seeds 0..1000 pass");
}
