//! The end of a run against real processes: the checkers' verdicts, the
//! complaints gathered as the run went (each once, with how often), and
//! the follower-read share, into the report.

use std::time::Instant;

use super::report::Report;
use super::runner::Runner;
use crate::checkers::{Finish, Property, Verdict, Violation};
use crate::report::Summary;

impl Runner {
    /// Moves the complaints into the report, each with its count.
    pub(super) fn report_complaints(&mut self) {
        for (_, (count, mut violation)) in std::mem::take(&mut self.complaints) {
            if count > 1 {
                violation.detail.push_str(&format!(" ({count} times)"));
            }
            self.report.violations.push(violation);
        }
    }

    /// Records a complaint once per distinct text, counting repeats.
    pub(super) fn complain(&mut self, property: Property, session: Option<String>, detail: String) {
        let at_ms = self.now_ms();
        self.complaints
            .entry(format!("{property}: {detail}"))
            .or_insert_with(|| (0, Violation::new(property, at_ms, session, detail)))
            .0 += 1;
    }

    pub(super) fn finish(&mut self, end_ms: u64, started: Instant) -> Report {
        let summary = Summary {
            scenario: self.scenario.name.clone(),
            seed: self.setup.seed,
            ops: self.clients.ops(),
            ..Summary::default()
        };
        let finish = Finish {
            end_ms,
            summary: &summary,
            oracle: &self.clients.oracle,
        };
        let mut verdict = Verdict::default();
        for checker in &mut self.clients.checkers {
            checker.finish(&finish, &mut verdict);
        }
        let report = &mut self.report;
        report.violations.extend(verdict.violations);
        self.report_complaints();
        let report = &mut self.report;
        if let Some(violation) = report.follower_reads.verdict(self.nodes.len(), end_ms) {
            report.violations.push(violation);
        }
        report.violations.sort_by_key(|v| v.at_ms);
        report.undecided_keys = verdict.undecided_keys;
        report.ops = summary.ops;
        report.reads_served = self.clients.reads_served;
        report.run_ms = end_ms;
        report.wall_ms = started.elapsed().as_millis() as u64;
        report.history = self.clients.history.take();
        std::mem::take(&mut self.report)
    }
}
