//! Scenario files: what a run simulates, in JSON a person can read.
//! Parsing is strict (unknown fields are errors) and every error names the
//! file and the field.
//!
//! [`schema`] holds the format and what it means to a run, [`validate`]
//! the bounds and refusals, [`draw`] the swarm draws.

pub mod draw;
pub mod schema;
pub mod validate;

pub use schema::*;
pub use validate::{Limit, DELAY_MS_MAX, DELAY_TAIL_MS_MEAN_MAX, LIMITS, TIME_MS_MAX};

#[cfg(test)]
mod tests {
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    use super::*;

    #[test]
    fn minimal_scenario_takes_defaults() {
        let s =
            Scenario::parse(r#"{"name": "m", "nodes": 3, "duration_ms": 1000}"#).expect("valid");
        assert_eq!(s.workload.sessions, 4);
        assert_eq!(s.node.ryw_wait_ms_max, 100);
    }

    #[test]
    fn errors_name_the_field() {
        let cases = [
            (r#"{"name": "m", "nodes": 0, "duration_ms": 1}"#, "'nodes'"),
            (
                r#"{"name": "m", "nodes": 3, "duration_ms": 1, "netwrk": {}}"#,
                "netwrk",
            ),
            (
                r#"{"name": "m", "nodes": 3, "duration_ms": 1, "network": {"delay_ms_min": 9, "delay_ms_max": 1}}"#,
                "network.delay_ms_min",
            ),
            (
                r#"{"name": "m", "nodes": 3, "duration_ms": 1, "faults": [{"at_ms": 5, "until_ms": 1, "kind": "ring"}]}"#,
                "faults[0].until_ms",
            ),
            (
                r#"{"name": "m", "nodes": 3, "duration_ms": 1, "faults": [{"at_ms": 1, "until_ms": 2, "kind": "pause", "node": "n9"}]}"#,
                "faults[0]",
            ),
            (
                r#"{"name": "m", "nodes": 3, "duration_ms": 1, "faults": [{"at_ms": 1, "until_ms": 2, "kind": "melt"}]}"#,
                "melt",
            ),
            (
                r#"{"name": "m", "nodes": 3, "duration_ms": 1, "node": {"heartbeat_interval_ms": 500}}"#,
                "heartbeat_interval_ms",
            ),
            (
                r#"{"name": "m", "nodes": 3, "duration_ms": 1, "workload": {"mix": {"write": 0, "ryw_read": 0, "ryw_read_leader": 0, "read": 0, "cas": 0}}}"#,
                "workload.mix",
            ),
        ];
        for (text, field) in cases {
            let err = Scenario::parse(text).expect_err(text);
            assert!(err.contains(field), "{err:?} should name {field}");
        }
    }

    #[test]
    fn a_mix_means_the_same_at_the_top_level_and_in_a_phase() {
        let text = r#"{"name": "m", "nodes": 3, "duration_ms": 1000,
            "workload": {"mix": {"write": 1}, "phases": [{"from_ms": 500, "mix": {"write": 1}}]}}"#;
        let s = Scenario::parse(text).expect("parses");
        let weights = |m: &Mix| [m.write, m.ryw_read, m.ryw_read_leader, m.read, m.cas];
        assert_eq!(weights(&s.workload.mix), [1, 0, 0, 0, 0], "writes only");
        assert_eq!(weights(&s.workload.mix), weights(&s.workload.phases[0].mix));
        let default =
            Scenario::parse(r#"{"name": "m", "nodes": 3, "duration_ms": 1000}"#).expect("parses");
        assert_eq!(
            weights(&default.workload.mix),
            weights(&Mix::default()),
            "left out"
        );
    }

    // Combinations that cannot do what they say: refused at load time,
    // naming the fields, instead of silently doing something else.
    #[test]
    fn combinations_that_would_be_silently_ignored_are_refused_naming_the_fields() {
        let base = r#""name": "m", "nodes": 3, "duration_ms": 1000"#;
        let cases = [
            (
                format!(r#"{{{base}, "node": {{"apply_delay_ms": 1000}}}}"#),
                "'node.apply_delay_ms' (1000) is at or above 'node.request_timeout_ms' (1000)",
            ),
            (
                format!(r#"{{{base}, "node": {{"apply_delay_ms_of": {{"n2": 1500}}}}}}"#),
                "'node.apply_delay_ms_of.n2' (1500)",
            ),
            (
                format!(
                    r#"{{{base}, "swarm": true, "faults": [{{"at_ms": 1, "until_ms": 2, "kind": "ring"}}]}}"#
                ),
                "field 'faults': with \"swarm\": true the seed draws it",
            ),
            (
                format!(r#"{{{base}, "swarm": true, "network": {{"loss": 0.5}}}}"#),
                "field 'network'",
            ),
            (
                format!(r#"{{{base}, "swarm": true, "workload": {{"sticky": true}}}}"#),
                "field 'workload.sticky'",
            ),
            (
                format!(r#"{{{base}, "swarm_ranges": "disk"}}"#),
                "field 'swarm_ranges' needs",
            ),
            (
                format!(r#"{{{base}, "swarm": true}}"#),
                "field 'duration_ms' (1000) must be longer than 'expect.liveness_ms' (5000)",
            ),
            (
                format!(
                    r#"{{{base}, "nodes": 5, "faults": [{{"at_ms": 1, "until_ms": 2, "kind": "split", "groups": [["n1", "n2"], ["n2", "n3"]]}}]}}"#
                ),
                r#""n2" is in 'groups[0]' and 'groups[1]'"#,
            ),
        ];
        for (text, said) in cases {
            let text = text.replace(
                r#""nodes": 3, "duration_ms": 1000, "nodes": 5"#,
                r#""nodes": 5, "duration_ms": 1000"#,
            );
            let err = Scenario::parse(&text).expect_err(&text);
            assert!(err.contains(said), "{err:?} should say {said}");
        }
        // The same fields without the conflict load.
        for text in [
            format!(r#"{{{base}, "node": {{"apply_delay_ms": 999}}}}"#),
            format!(
                r#"{{{base}, "swarm": true, "swarm_ranges": "disk", "expect": {{"liveness_ms": 500}}}}"#
            ),
        ] {
            Scenario::parse(&text).unwrap_or_else(|e| panic!("{text}: {e}"));
        }
    }

    #[test]
    fn numbers_beyond_their_bounds_and_nonsense_are_refused() {
        let base = r#""name": "m", "nodes": 3"#;
        let cases = [
            (format!(r#"{{{base}, "duration_ms": 1e400}}"#), "field 'duration_ms'"),
            (
                format!(r#"{{{base}, "duration_ms": 1000, "network": {{"loss": 1e400}}}}"#),
                "field 'network.loss'",
            ),
            (
                format!(r#"{{{base}, "duration_ms": 1000000000000}}"#),
                "duration_ms",
            ),
            (format!(r#"{{{base}, "duration_ms": -5}}"#), "duration_ms"),
            (
                format!(r#"{{{base}, "duration_ms": 1000, "workload": {{"sessions": 1000}}}}"#),
                "workload.sessions",
            ),
            (
                format!(r#"{{{base}, "duration_ms": 1000, "expect": {{"liveness_ms": 0}}}}"#),
                "expect.liveness_ms",
            ),
            (
                format!(
                    r#"{{{base}, "duration_ms": 1000, "network": {{"delay_tail_ms_mean": 1e300}}}}"#
                ),
                "delay_tail_ms_mean",
            ),
            (
                format!(
                    r#"{{{base}, "duration_ms": 1000, "faults": [{{"at_ms": 1, "until_ms": 2, "kind": "lag", "node": "n1", "extra_ms": 18446744073709551615}}]}}"#
                ),
                "extra_ms",
            ),
            (
                format!(
                    r#"{{{base}, "duration_ms": 1000, "faults": [{{"at_ms": 1, "until_ms": 18446744073709551615, "kind": "ring"}}]}}"#
                ),
                "until_ms",
            ),
            (
                format!(
                    r#"{{{base}, "duration_ms": 1000, "faults": [{{"at_ms": 1, "until_ms": 2, "kind": "pause", "node": "n01"}}]}}"#
                ),
                "n01",
            ),
            (
                format!(
                    r#"{{{base}, "duration_ms": 1000, "faults": [{{"at_ms": 1, "until_ms": 2, "kind": "pause", "node": "n+1"}}]}}"#
                ),
                "n+1",
            ),
            (
                format!(
                    r#"{{{base}, "duration_ms": 1000, "faults": [{{"at_ms": 1, "until_ms": 2, "kind": "one_way", "from": ["n1"], "to": ["n1"]}}]}}"#
                ),
                "to itself",
            ),
            (
                format!(
                    r#"{{{base}, "duration_ms": 1000, "faults": [{{"at_ms": 1, "until_ms": 2, "kind": "one_way", "from": [], "to": ["n1"]}}]}}"#
                ),
                "both",
            ),
            (
                format!(
                    r#"{{{base}, "duration_ms": 1000, "faults": [{{"at_ms": 1, "until_ms": 2, "kind": "ring", "after_ms": 5}}]}}"#
                ),
                "after_ms",
            ),
            ("[]".to_owned(), "JSON object"),
            (
                r#"{"name": "m", "nodes": 2, "duration_ms": 1000, "faults": [{"at_ms": 1, "until_ms": 2, "kind": "split"}]}"#.to_owned(),
                "a split of 2 node(s)",
            ),
            (
                format!(r#"{{{base}, "duration_ms": 1000, "faults": [{{"at_ms": 1, "until_ms": 2, "kind": "ring"}}]}}"#),
                "a ring of 3 nodes cuts nothing",
            ),
            (
                format!(r#"{{{base}, "duration_ms": 1000, "faults": [{{"at_ms": 1, "until_ms": "never", "kind": "ring"}}]}}"#),
                "expect.liveness",
            ),
            (
                format!(r#"{{{base}, "duration_ms": 1000, "faults": [{{"at_ms": 1, "until_ms": "soon", "kind": "ring"}}]}}"#),
                "\"never\"",
            ),
            (
                format!(r#"{{{base}, "duration_ms": 1000, "network": {{"delay_ms_min": 0, "delay_ms_max": 0}}, "workload": {{"think_ms_max": 0}}}}"#),
                "workload.think_ms_max",
            ),
            (
                format!(r#"{{{base}, "duration_ms": 1000, "faults": [{{"at_ms": 1, "until_ms": 2, "kind": "split", "minority_with": "n1", "groups": [["n2"]]}}]}}"#),
                "not both",
            ),
            (
                format!(r#"{{{base}, "duration_ms": 1000, "faults": [{{"at_ms": 1, "until_ms": 2, "kind": "pause", "node": "chief"}}]}}"#),
                "old_leader",
            ),
        ];
        for (text, named) in cases {
            let err = Scenario::parse(&text).expect_err(&text);
            assert!(err.contains(named), "{err:?} should name {named}");
        }
        let wrong_type = Scenario::parse(r#"{"name": "m", "nodes": 3, "duration_ms": "soon"}"#)
            .expect_err("a string is no duration");
        assert!(
            wrong_type.starts_with("field 'duration_ms'"),
            "{wrong_type}"
        );
    }

    #[test]
    fn new_fault_forms_parse() {
        let base = r#""name": "m", "nodes": 7, "duration_ms": 1000"#;
        let text = format!(
            r#"{{{base}, "expect": {{"liveness": false}}, "faults": [
                {{"at_ms": 1, "until_ms": "never", "kind": "split", "groups": [["n1", "n2"], ["n3", "n4"]]}},
                {{"at_ms": 1, "until_ms": 5, "kind": "lag", "node": "follower", "extra_ms": 50, "spare_clients": true}},
                {{"at_ms": 1, "until_ms": 5, "kind": "crash", "node": "majority"}}
            ]}}"#
        );
        let s = Scenario::parse(&text).expect("valid");
        assert!(s.faults[0].never_heals());
        assert_eq!(s.last_heal_ms(), 5, "a fault that never heals is no heal");
        assert_eq!(s.end_ms(), 1000, "no liveness: the run ends on time");
        // And it writes back as it was read.
        let again =
            Scenario::parse(&serde_json::to_string(&s).expect("serialises")).expect("valid");
        assert!(again.faults[0].never_heals());
    }

    #[test]
    fn swarm_draws_valid_scenarios() {
        let base =
            Scenario::parse(r#"{"name": "s", "nodes": 5, "duration_ms": 10000, "swarm": true}"#)
                .expect("valid");
        for seed in 0..200 {
            let mut s = base.clone();
            s.draw_swarm(&mut ChaCha8Rng::seed_from_u64(seed));
            s.validate()
                .unwrap_or_else(|e| panic!("seed {seed} drew an invalid scenario: {e}"));
            assert!(
                s.last_heal_ms() + s.expect.liveness_ms <= s.duration_ms,
                "faults heal in time for liveness"
            );
        }
    }
}
