//! The input path of `ryw-node`, as a library so tests can drive exactly
//! what the binary runs.

use ryw_core::{codec, Millis, Node};

/// Longest input line accepted; longer ones are skipped (and logged).
pub const LINE_BYTES_MAX: usize = 16 * 1024 * 1024;

/// Feeds one raw input line to the node. A line that cannot be an envelope
/// is skipped and the reason returned for the log; everything else reaches
/// the node, which answers bad requests itself.
pub fn handle_line(node: &mut Node, now: Millis, line: &[u8]) -> Result<(), String> {
    if line.len() > LINE_BYTES_MAX {
        return Err(format!(
            "skipping a line of {} bytes (limit {LINE_BYTES_MAX})",
            line.len()
        ));
    }
    let text =
        std::str::from_utf8(line).map_err(|_| "skipping a line that is not UTF-8".to_string())?;
    let text = text.trim();
    if text.is_empty() {
        return Ok(());
    }
    let envelope =
        codec::decode(text).map_err(|e| format!("skipping line: {e}: {}", preview(text)))?;
    node.handle_message(now, envelope);
    Ok(())
}

fn preview(text: &str) -> &str {
    codec::cut_at_char_boundary(text, 120)
}
