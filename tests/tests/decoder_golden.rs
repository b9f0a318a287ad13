//! The decoder's exact results, pinned: every line of
//! `tests/data/decode-corpus.txt` (valid messages of every type in compact
//! and spaced form, then each field deleted, set to null, to wrong types,
//! to numbers beyond u64 and f64, duplicated, nested too deep; broken
//! envelopes and lines that are not JSON) must decode to exactly what
//! `tests/data/decode-golden.txt` recorded, errors and their texts included.
//! The golden file was recorded before the typed fast path existed, so this
//! proves the fast path changed no result. `RYW_BLESS=1 cargo test --test
//! decoder_golden` rewrites it (only for an intended change of the decoder).

use ryw_core::codec;

const CORPUS: &str = include_str!("../data/decode-corpus.txt");
const GOLDEN_PATH: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/data/decode-golden.txt");

fn decoded(line: &str) -> String {
    format!("{:?}", codec::decode(line))
}

#[test]
fn every_corpus_line_decodes_exactly_as_recorded() {
    let now: Vec<String> = CORPUS.lines().map(decoded).collect();
    if std::env::var_os("RYW_BLESS").is_some() {
        std::fs::write(GOLDEN_PATH, now.join("\n") + "\n").expect("write the golden file");
        return;
    }
    let golden = std::fs::read_to_string(GOLDEN_PATH)
        .expect("tests/data/decode-golden.txt exists (RYW_BLESS=1 writes it)");
    let golden: Vec<&str> = golden.lines().collect();
    assert_eq!(golden.len(), now.len(), "one golden line per corpus line");
    let differing: Vec<String> = CORPUS
        .lines()
        .zip(golden.iter().zip(&now))
        .filter(|(_, (was, is))| *was != is)
        .map(|(line, (was, is))| format!("line {line}\n  was {was}\n  now {is}"))
        .collect();
    assert!(
        differing.is_empty(),
        "{} of {} lines decode differently:\n{}",
        differing.len(),
        now.len(),
        differing
            .iter()
            .take(5)
            .cloned()
            .collect::<Vec<_>>()
            .join("\n")
    );
}
