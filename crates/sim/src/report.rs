//! What a run reports: counts by operation and outcome, where reads were
//! served, violations, and speed.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde::Serialize;

use crate::violation::Violation;

#[derive(Clone, Debug, Default, Serialize)]
pub struct Summary {
    pub scenario: String,
    pub seed: u64,
    pub violations: Vec<Violation>,
    pub sim_ms: u64,
    /// Why the run went past `duration_ms`, if it did (the liveness
    /// window): surprising, so the summary says it.
    #[serde(skip)]
    pub extended: Option<String>,
    pub wall_ms: u64,
    pub delivered: u64,
    pub delivered_per_s: u64,
    pub dropped: u64,
    pub duplicated: u64,
    /// "write ok", "ryw_read fail", "cas info" ... -> count
    pub ops: BTreeMap<String, u64>,
    pub reads_local: u64,
    pub reads_after_wait: u64,
    pub reads_redirected: u64,
    /// Parameters the seed drew (swarm mode), as JSON text.
    pub drawn: Option<serde_json::Value>,
    /// Keys whose lin-kv history was too tangled to decide within the search budget.
    pub linearizability_undecided_keys: usize,
    /// Keys the read mapping (polynomial) could not decide, which went to
    /// the search; the undecided ones are among them.
    pub linearizability_searched_keys: usize,
    /// Properties the run was not held to, and why.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub not_judged: Vec<String>,
    /// The planted bug the run used, if any.
    pub bug: Option<String>,
    /// FNV-1a of the trace (when tracing or hashing).
    pub trace_hash: Option<String>,
    /// Why writing the trace file failed, if it did (the trace is then incomplete).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub trace_error: Option<String>,
    /// Messages sent or received by whichever node led at that moment.
    pub leader_msgs: u64,
    /// The same messages by kind (`append_entries`, `ryw_read_ok`, ...).
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub leader_msgs_by_kind: BTreeMap<String, u64>,
    /// Messages nodes sent to nodes (Raft RPCs and forwards), lost ones included.
    pub peer_msgs: u64,
    /// Log entries carried by the AppendEntries that nodes sent.
    pub entries_sent: u64,
    /// Whether the run stopped at its event bound, before its end time
    /// (its liveness and end-of-run checks then judge a partial run).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub cut_short: bool,
    /// Nodes that refused to start from what their disk kept (corruption),
    /// each with why: they stayed down for the rest of the run.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub refused_starts: Vec<String>,
    /// Restarts that found durable state lost (a wiped, cut or damaged
    /// disk; a node's first boot on an empty disk is not counted), each
    /// with when and what: such a node catches up from its peers.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub lost_at_boot: Vec<String>,
    /// How often each named event ([`ryw_core::Event::ALL`] order) happened
    /// in the run, over every node and every life of it. Not in the JSON
    /// summary, whose hash the trace baseline pins.
    #[serde(skip)]
    pub reached: Vec<u64>,
    /// The distinct abstract states the run reached, as sorted hashes (see
    /// [`crate::abstract_state`]). Not in the JSON summary.
    #[serde(skip)]
    pub abstract_states: Vec<u64>,
    /// Latency of every successful operation, by kind ("write", "ryw_read", ...).
    #[serde(skip)]
    pub latencies_ms: BTreeMap<String, Vec<u64>>,
    /// The client history, when the run was asked to keep it.
    #[serde(skip)]
    pub history: Option<crate::history::History>,
    /// What a diagram needs, when the run was asked to record it.
    #[serde(skip)]
    pub recording: Option<crate::diagram::Recording>,
}

impl Summary {
    /// Whether the run passed: nothing violated and, unless undecided keys
    /// are accepted, every key's history decided.
    pub fn passed(&self, allow_undecided: bool) -> bool {
        self.violations.is_empty() && (allow_undecided || self.linearizability_undecided_keys == 0)
    }

    pub fn replay_command(&self, scenario_path: &str) -> String {
        let path = shell_word(scenario_path);
        match &self.bug {
            Some(bug) => format!(
                "ryw-sim run {path} --seed {} --bug {}",
                self.seed,
                shell_word(bug)
            ),
            None => format!("ryw-sim run {path} --seed {}", self.seed),
        }
    }

    /// Human-readable summary; wall-clock figures are on their own last line.
    // Longer than 70 lines on purpose: the summary's lines in the order they print.
    pub fn text(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(out, "scenario {} seed {}", self.scenario, self.seed);
        if let Some(bug) = &self.bug {
            let _ = writeln!(out, "planted bug: {bug}");
        }
        if let Some(drawn) = &self.drawn {
            let _ = writeln!(out, "drawn parameters: {drawn}");
        }
        match &self.extended {
            Some(why) => {
                let _ = writeln!(out, "simulated {} ms: {why}", self.sim_ms);
            }
            None => {
                let _ = writeln!(out, "simulated {} ms", self.sim_ms);
            }
        }
        let ops: Vec<String> = self.ops.iter().map(|(k, v)| format!("{k}: {v}")).collect();
        let _ = writeln!(out, "operations: {}", ops.join(", "));
        let _ = writeln!(
            out,
            "ryw_read served: {} locally at once, {} locally after waiting, {} redirected to the leader",
            self.reads_local, self.reads_after_wait, self.reads_redirected
        );
        let _ = writeln!(
            out,
            "messages: {} delivered, {} dropped, {} duplicated",
            self.delivered, self.dropped, self.duplicated
        );
        let _ = writeln!(
            out,
            "abstract states: {} distinct",
            self.abstract_states.len()
        );
        for why in &self.not_judged {
            let _ = writeln!(out, "not judged: {why}");
        }
        if self.linearizability_undecided_keys > 0 {
            let _ = writeln!(
                out,
                "linearizability: {} keys undecided within the search budget",
                self.linearizability_undecided_keys
            );
        }
        if self.cut_short {
            let _ = writeln!(
                out,
                "cut short at {} ms by its event bound: the end-of-run checks judged a partial run",
                self.sim_ms
            );
        }
        for refused in &self.refused_starts {
            let _ = writeln!(out, "refused to start (stayed down): {refused}");
        }
        for lost in &self.lost_at_boot {
            let _ = writeln!(out, "lost durable state (caught up from peers): {lost}");
        }
        if let Some(hash) = &self.trace_hash {
            let _ = writeln!(out, "trace hash {hash}");
        }
        if self.violations.is_empty() && self.linearizability_undecided_keys > 0 {
            let _ = writeln!(
                out,
                "violations: none found, but undecided is not passed (--allow-undecided accepts it)"
            );
        } else if self.violations.is_empty() {
            let _ = writeln!(out, "violations: none");
        } else {
            let _ = writeln!(out, "violations: {}", self.violations.len());
            for v in &self.violations {
                let _ = writeln!(out, "  {v}");
            }
        }
        let _ = writeln!(
            out,
            "wall {} ms, {} delivered messages per second",
            self.wall_ms, self.delivered_per_s
        );
        out
    }
}

/// `text` as one word of a POSIX shell command: unchanged when it is made
/// of characters no shell treats specially, otherwise in single quotes (a
/// quote inside written `'\''`), so a printed replay line runs as printed.
pub fn shell_word(text: &str) -> String {
    let plain = !text.is_empty()
        && text
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_-./:=@%+,".contains(c));
    if plain {
        text.to_owned()
    } else {
        format!("'{}'", text.replace('\'', r"'\''"))
    }
}

/// A name for a one-line report: as it is, or, if it holds a line break or
/// another control character, quoted and escaped so the line stays one.
pub fn one_line(name: &str) -> std::borrow::Cow<'_, str> {
    if name.chars().any(char::is_control) {
        std::borrow::Cow::Owned(format!("{name:?}"))
    } else {
        std::borrow::Cow::Borrowed(name)
    }
}

#[cfg(test)]
mod shell_tests {
    use super::*;

    #[test]
    fn replay_lines_quote_what_a_shell_would_split_or_expand() {
        assert_eq!(
            shell_word("sim-scenarios/disk/power-cut.json"),
            "sim-scenarios/disk/power-cut.json"
        );
        assert_eq!(
            shell_word("my scenarios/a b.json"),
            "'my scenarios/a b.json'"
        );
        assert_eq!(shell_word("it's.json"), r"'it'\''s.json'");
        assert_eq!(shell_word("$HOME/x;rm"), "'$HOME/x;rm'");
        assert_eq!(shell_word(""), "''");
        let summary = Summary {
            seed: 7,
            bug: Some("skip-token-check".into()),
            ..Summary::default()
        };
        assert_eq!(
            summary.replay_command("a b.json"),
            "ryw-sim run 'a b.json' --seed 7 --bug skip-token-check"
        );
    }

    #[test]
    fn a_name_with_a_line_break_stays_on_one_line() {
        assert_eq!(one_line("healthy"), "healthy");
        assert_eq!(one_line("two\nlines"), "\"two\\nlines\"");
        assert!(!one_line("two\nlines").contains('\n'));
    }
}
