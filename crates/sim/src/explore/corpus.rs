//! A search's corpus on disk, to resume it: one scenario file per input
//! (`entry-00001.json`, ...), each a valid scenario anyone can run, and an
//! index `corpus.json` naming each file with its seed and origin.

use std::path::Path;

use serde::{Deserialize, Serialize};

use super::{Entry, Input};
use crate::scenario::Scenario;

#[derive(Serialize, Deserialize)]
struct Indexed {
    file: String,
    seed: u64,
    origin: String,
    new_states: usize,
}

/// Writes `entries` to `dir` (created if missing), replacing an index there.
pub fn save(dir: &Path, entries: &[Entry]) -> Result<(), String> {
    let fail = |e: std::io::Error| format!("{}: {e}", dir.display());
    std::fs::create_dir_all(dir).map_err(fail)?;
    let mut index = Vec::with_capacity(entries.len());
    for (k, entry) in entries.iter().enumerate() {
        let file = format!("entry-{:05}.json", k + 1);
        let mut scenario = entry.input.scenario.clone();
        scenario.description = format!(
            "Found by `ryw-sim explore`: {}. Replay: ryw-sim run {} --seed {}",
            entry.origin,
            dir.join(&file).display(),
            entry.input.seed
        );
        let text = serde_json::to_string_pretty(&scenario).map_err(|e| e.to_string())?;
        std::fs::write(dir.join(&file), text + "\n").map_err(fail)?;
        index.push(Indexed {
            file,
            seed: entry.input.seed,
            origin: entry.origin.clone(),
            new_states: entry.new_states,
        });
    }
    let text = serde_json::to_string_pretty(&index).map_err(|e| e.to_string())?;
    std::fs::write(dir.join("corpus.json"), text + "\n").map_err(fail)
}

/// The entries saved in `dir`, or none if it holds no index yet.
pub fn load(dir: &Path) -> Result<Vec<Entry>, String> {
    let index_path = dir.join("corpus.json");
    if !index_path.exists() {
        return Ok(Vec::new());
    }
    let text = std::fs::read_to_string(&index_path)
        .map_err(|e| format!("{}: {e}", index_path.display()))?;
    let index: Vec<Indexed> =
        serde_json::from_str(&text).map_err(|e| format!("{}: {e}", index_path.display()))?;
    index
        .into_iter()
        .map(|i| {
            Ok(Entry {
                input: Input {
                    scenario: Scenario::load(&dir.join(&i.file))?,
                    seed: i.seed,
                },
                origin: i.origin,
                new_states: i.new_states,
                // Learnt again when the search resumes and reruns it.
                events: Vec::new(),
                // Found again by the search that resumes it.
                base: None,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_saved_corpus_loads_back() {
        let dir = std::env::temp_dir().join(format!("ryw-corpus-{}", std::process::id()));
        let scenario =
            Scenario::parse(r#"{"name": "s", "nodes": 3, "duration_ms": 500}"#).expect("valid");
        let entries = vec![Entry {
            input: Input { scenario, seed: 42 },
            origin: "s.json + reseed".to_owned(),
            new_states: 7,
            events: Vec::new(),
            base: Some(0),
        }];
        save(&dir, &entries).expect("saved");
        let back = load(&dir).expect("loaded");
        assert_eq!(back.len(), 1);
        assert_eq!(back[0].input.seed, 42);
        assert_eq!(back[0].origin, "s.json + reseed");
        assert_eq!(back[0].input.scenario.name, "s");
        assert!(load(&dir.join("nothing-here"))
            .expect("no index")
            .is_empty());
        let _ = std::fs::remove_dir_all(&dir);
    }
}
