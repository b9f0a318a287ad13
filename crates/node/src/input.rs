//! Input: one thread reads stdin and hands the node's thread whole lines,
//! many at a time. A line each would cost, per request, an allocation
//! freed on the other thread and a trip through the channel: together
//! more than a fifth of what the node did with a small request.

use std::io::{self, BufRead};
use std::sync::mpsc::{Receiver, RecvTimeoutError, SyncSender};
use std::thread;
use std::time::Duration;

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

/// The node's side of the input: what it received and has not handled
/// yet, and whether the input ended.
pub struct Inputs {
    received: Receiver<Input>,
    pending: PendingLines,
    closed: bool,
}

impl Inputs {
    pub fn new(received: Receiver<Input>) -> Inputs {
        Inputs {
            received,
            pending: PendingLines::default(),
            closed: false,
        }
    }

    /// stdin ended (Maelstrom never closes it, plain pipes do) and every
    /// line before the end was handled.
    pub fn closed(&self) -> bool {
        self.closed
    }

    /// One burst: unless lines are pending already, waits for input at
    /// most `wait` (`None`: until there is some); then hands `handle` up
    /// to `lines_max` lines without waiting again. Whether it took any
    /// input (a wake-up for a finished fsync counts: the node looks at
    /// the disk after each burst).
    pub fn burst(
        &mut self,
        wait: Option<Duration>,
        lines_max: usize,
        mut handle: impl FnMut(&[u8]),
    ) -> bool {
        let mut took = false;
        if self.pending.is_empty() {
            let next = match wait {
                Some(wait) => self.received.recv_timeout(wait),
                None => self
                    .received
                    .recv()
                    .map_err(|_| RecvTimeoutError::Disconnected),
            };
            match next {
                Ok(input) => took |= self.take(input),
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => self.closed = true,
            }
        }
        let mut handled = 0;
        while handled < lines_max {
            if let Some(line) = self.pending.next_line() {
                handle(line);
                handled += 1;
                took = true;
                continue;
            }
            // Received only once the lines before are handled, so the end
            // of input is seen after the last of them.
            match self.received.try_recv() {
                Ok(input) => took |= self.take(input),
                Err(_) => break,
            }
        }
        took
    }

    /// Takes one input in (only once the lines before are all handled).
    fn take(&mut self, input: Input) -> bool {
        match input {
            Input::Lines(lines) => self.pending.refill(lines),
            Input::Closed => self.closed = true,
            // Taken after the burst, with any result that came without word.
            Input::Synced => {}
        }
        true
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

    /// `lines` lines of input sent as reads of 1,000 lines, then the end.
    fn inputs_of(lines: usize) -> Inputs {
        let (send, received) = std::sync::mpsc::sync_channel(lines / 1000 + 2);
        let all: Vec<String> = (0..lines).map(|k| format!("line {k}\n")).collect();
        for chunk in all.chunks(1000) {
            send.send(Input::Lines(chunk.concat().into_bytes()))
                .expect("queued");
        }
        send.send(Input::Closed).expect("queued");
        Inputs::new(received)
    }

    #[test]
    fn a_burst_handles_at_most_its_lines_in_order_and_the_end_comes_after_the_last() {
        let mut inputs = inputs_of(2_500);
        let mut seen = Vec::new();
        let mut bursts = Vec::new();
        while !inputs.closed() {
            let before = seen.len();
            let took = inputs.burst(None, 1024, |line| {
                seen.push(String::from_utf8_lossy(line).into_owned());
            });
            assert!(took);
            bursts.push(seen.len() - before);
        }
        assert_eq!(bursts, [1024, 1024, 452]);
        let expected: Vec<String> = (0..2_500).map(|k| format!("line {k}\n")).collect();
        assert_eq!(seen, expected);
    }

    #[test]
    fn a_wake_up_alone_is_a_burst_and_nothing_waiting_is_none() {
        let (send, received) = std::sync::mpsc::sync_channel(2);
        let mut inputs = Inputs::new(received);
        send.send(Input::Synced).expect("queued");
        let wait = Some(Duration::from_millis(1));
        assert!(inputs.burst(wait, 1024, |_| panic!("no lines")));
        assert!(!inputs.burst(wait, 1024, |_| panic!("no lines")));
        assert!(!inputs.closed());
        drop(send);
        assert!(!inputs.burst(wait, 1024, |_| panic!("no lines")));
        assert!(inputs.closed(), "the sender gone is the end of input");
    }

    #[test]
    fn no_input_is_no_lines() {
        let mut reader = io::BufReader::new(&b""[..]);
        assert_eq!(read(&mut reader), None);
        assert!(PendingLines::default().is_empty());
        assert_eq!(all_lines(PendingLines::default()), Vec::<Vec<u8>>::new());
    }
}
