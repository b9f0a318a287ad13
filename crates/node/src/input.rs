//! Input: one thread reads stdin and hands the node's thread whole lines,
//! many at a time. A line each would cost, per request, an allocation
//! freed on the other thread and a trip through the channel: together
//! more than a fifth of what the node did with a small request.

use std::io::{self, BufRead};
use std::sync::mpsc::SyncSender;
use std::thread;

/// What the node's thread waits for: lines of input, the end of input, or
/// word that an fsync ended (`Durability::poll_synced` takes its result).
/// The result itself travels apart from the input, so that it is never
/// queued behind lines read ahead: the next fsync starts only once the
/// node has taken it.
pub enum Input {
    /// Whole lines, each with its newline (but perhaps the last of the
    /// input): all stdin had buffered when they were read.
    Lines(Vec<u8>),
    Closed,
    Synced,
}

/// One thread reads stdin into `inputs`, and says when it ends. The
/// channel is bounded: a sender that pipes faster than the node answers
/// waits on the pipe, instead of the node holding its whole input in
/// memory.
pub fn spawn_stdin_reader(inputs: SyncSender<Input>) {
    thread::spawn(move || {
        let mut stdin = io::stdin().lock();
        loop {
            match read_lines(&mut stdin) {
                Ok(Some(lines)) => {
                    if inputs.send(Input::Lines(lines)).is_err() {
                        return;
                    }
                }
                Ok(None) => break,
                Err(e) => {
                    eprintln!("ryw-node: reading stdin: {e}");
                    break;
                }
            }
        }
        let _ = inputs.send(Input::Closed);
    });
}

/// The whole lines `reader` has buffered, waiting for more only while not
/// one line is whole; at the end of input, what is left. `None` once
/// nothing is. The newline is sought from the end, so only the part of a
/// line after the last one is walked.
fn read_lines(reader: &mut impl BufRead) -> io::Result<Option<Vec<u8>>> {
    let mut lines = Vec::new();
    loop {
        let buffered = reader.fill_buf()?;
        if buffered.is_empty() {
            return Ok((!lines.is_empty()).then_some(lines));
        }
        match buffered.iter().rposition(|&b| b == b'\n') {
            Some(last_newline) => {
                let whole = last_newline + 1;
                lines.extend_from_slice(&buffered[..whole]);
                reader.consume(whole);
                return Ok(Some(lines));
            }
            None => {
                // Part of a line longer than the buffer: keep it, read on.
                let part = buffered.len();
                lines.extend_from_slice(buffered);
                reader.consume(part);
            }
        }
    }
}

/// The lines received and not handled yet, taken one at a time.
#[derive(Default)]
pub struct PendingLines {
    lines: Vec<u8>,
    at: usize,
}

impl PendingLines {
    pub fn is_empty(&self) -> bool {
        self.at == self.lines.len()
    }

    /// Takes `lines` in; only once those before are all taken.
    pub fn refill(&mut self, lines: Vec<u8>) {
        debug_assert!(self.is_empty(), "lines are handled in the order read");
        self.lines = lines;
        self.at = 0;
    }

    /// The next line, with its newline if it has one.
    pub fn next_line(&mut self) -> Option<&[u8]> {
        let rest = self.lines.get(self.at..).filter(|rest| !rest.is_empty())?;
        // `skip_until` finds the newline with the standard library's
        // memchr, as reading line by line did.
        let length = { rest }
            .skip_until(b'\n')
            .expect("reading a slice cannot fail");
        self.at += length;
        Some(&rest[..length])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What one read hands over (a slice reader cannot fail).
    fn read(reader: &mut impl BufRead) -> Option<Vec<u8>> {
        read_lines(reader).expect("reading a slice cannot fail")
    }

    fn all_lines(mut pending: PendingLines) -> Vec<Vec<u8>> {
        std::iter::from_fn(|| pending.next_line().map(<[u8]>::to_vec)).collect()
    }

    #[test]
    fn lines_come_out_whole_and_in_order_however_the_reads_split_them() {
        let input = b"{\"a\":1}\n\n{\"b\":2}\r\n{\"c\":3}".to_vec();
        // A buffer of 4 bytes splits every line but the empty one.
        let mut reader = io::BufReader::with_capacity(4, &input[..]);
        let mut pending = PendingLines::default();
        let mut lines = Vec::new();
        while let Some(chunk) = read(&mut reader) {
            assert!(pending.is_empty());
            pending.refill(chunk);
            while let Some(line) = pending.next_line() {
                lines.push(line.to_vec());
            }
        }
        let expected: Vec<&[u8]> = vec![b"{\"a\":1}\n", b"\n", b"{\"b\":2}\r\n", b"{\"c\":3}"];
        assert_eq!(lines, expected);
    }

    #[test]
    fn one_read_hands_over_every_whole_line_buffered_and_keeps_the_part() {
        let input = b"one\ntwo\nthr".to_vec();
        let mut reader = io::BufReader::with_capacity(64, &input[..]);
        let first = read(&mut reader).expect("two whole lines");
        assert_eq!(first, b"one\ntwo\n");
        assert_eq!(read(&mut reader).expect("the part left"), b"thr");
        assert_eq!(read(&mut reader), None);
        let mut pending = PendingLines::default();
        pending.refill(first);
        assert_eq!(
            all_lines(pending),
            vec![b"one\n".to_vec(), b"two\n".to_vec()]
        );
    }

    #[test]
    fn no_input_is_no_lines() {
        let mut reader = io::BufReader::new(&b""[..]);
        assert_eq!(read(&mut reader), None);
        assert!(PendingLines::default().is_empty());
        assert_eq!(all_lines(PendingLines::default()), Vec::<Vec<u8>>::new());
    }
}
