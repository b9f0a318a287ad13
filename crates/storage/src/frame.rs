//! Framing: each record is its length, a check of the length, a checksum
//! of the payload, and the payload.
//!
//! The length has a check of its own so that damage can be told from a
//! torn write: a crash leaves a record cut short (its header, or a payload
//! that runs past the end of the file) or, when the file's size reached
//! the disk before its last blocks did, zeros from somewhere in the record
//! to the end of the file. Anything else that fails a check is corruption
//! of bytes that were written whole, and is never taken for a torn tail.

/// Length, its check, and the payload's checksum, before each payload.
pub const FRAME_HEADER_BYTES: usize = 12;

/// No record is longer; a longer length field is damage, not a record.
pub const PAYLOAD_BYTES_MAX: usize = 64 << 20;

fn crc(bytes: &[u8]) -> u32 {
    crc32fast::hash(bytes)
}

fn u32_at(bytes: &[u8], at: usize) -> u32 {
    u32::from_le_bytes([bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]])
}

/// Appends one framed record to `out`.
#[cfg(test)]
pub(crate) fn encode(payload: &[u8], out: &mut Vec<u8>) {
    encode_with(out, |out| out.extend_from_slice(payload));
}

/// Appends one framed record to `out`, its payload whatever `write`
/// appends: written in place, then framed, so it is never copied.
pub(crate) fn encode_with(out: &mut Vec<u8>, write: impl FnOnce(&mut Vec<u8>)) {
    let start = out.len();
    out.extend_from_slice(&[0; FRAME_HEADER_BYTES]);
    write(out);
    let payload = &out[start + FRAME_HEADER_BYTES..];
    let length = u32::try_from(payload.len())
        .ok()
        .filter(|&n| n as usize <= PAYLOAD_BYTES_MAX)
        .expect("a record is far below PAYLOAD_BYTES_MAX")
        .to_le_bytes();
    let checksum = crc(payload).to_le_bytes();
    out[start..start + 4].copy_from_slice(&length);
    out[start + 4..start + 8].copy_from_slice(&crc(&length).to_le_bytes());
    out[start + 8..start + 12].copy_from_slice(&checksum);
}

/// What lies at one offset of the file. Every torn shape runs to the end
/// of the file (cut short, or zeros to the end), so a torn record never has
/// an intact one after it: damage anywhere else is `Corrupt`.
#[derive(Debug, PartialEq)]
pub(crate) enum Frame<'a> {
    /// An intact record, and where the next one starts.
    Intact {
        payload: &'a [u8],
        next: usize,
    },
    /// What a crash leaves of a write in flight: cut short, or zeros to
    /// the end of the file from within this record.
    Torn(String),
    /// Damage a crash cannot cause: bytes written whole that fail a check.
    Corrupt(String),
    End,
}

/// Where the run of zero bytes that ends the file starts (`bytes.len()`
/// when the file does not end in a zero). Our records end in `}` (format 2)
/// or a newline (format 3, see `record.rs`), so a file ends in zeros only
/// when a crash left unwritten blocks behind.
pub(crate) fn zeros_from(bytes: &[u8]) -> usize {
    bytes.iter().rposition(|&b| b != 0).map_or(0, |k| k + 1)
}

pub(crate) fn read(bytes: &[u8], at: usize) -> Frame<'_> {
    let rest = &bytes[at.min(bytes.len())..];
    if rest.is_empty() {
        return Frame::End;
    }
    let zeros = zeros_from(bytes);
    // The zeros that end the file start inside this record, before `end`.
    let zeroed_before = |end: usize| zeros < bytes.len() && zeros < end;
    if rest.len() < FRAME_HEADER_BYTES {
        return Frame::Torn(format!(
            "{} bytes, too short for a record header",
            rest.len()
        ));
    }
    let length = u32_at(rest, 0);
    if crc(&rest[..4]) != u32_at(rest, 4) {
        if zeroed_before(at + FRAME_HEADER_BYTES) {
            return Frame::Torn("a record header zeroed by a torn write".into());
        }
        return Frame::Corrupt("record header checksum mismatch".into());
    }
    let payload_bytes = length as usize;
    if payload_bytes > PAYLOAD_BYTES_MAX {
        return Frame::Corrupt(format!("length {payload_bytes} is beyond any record"));
    }
    let end = at + FRAME_HEADER_BYTES + payload_bytes;
    let Some(payload) = rest.get(FRAME_HEADER_BYTES..FRAME_HEADER_BYTES + payload_bytes) else {
        return Frame::Torn(format!(
            "length {payload_bytes} runs past the end of the file"
        ));
    };
    if crc(payload) != u32_at(rest, 8) {
        if zeroed_before(end) {
            return Frame::Torn("a record zeroed from within by a torn write".into());
        }
        return Frame::Corrupt("payload checksum mismatch".into());
    }
    Frame::Intact { payload, next: end }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn two_records() -> (Vec<u8>, usize) {
        let mut bytes = Vec::new();
        encode(b"{\"a\": 1}", &mut bytes);
        let second = bytes.len();
        encode(b"{\"b\": 22}", &mut bytes);
        (bytes, second)
    }

    #[test]
    fn a_frame_reads_back() {
        let (bytes, second) = two_records();
        assert_eq!(
            read(&bytes, 0),
            Frame::Intact {
                payload: b"{\"a\": 1}",
                next: second
            }
        );
        assert_eq!(read(&bytes, bytes.len()), Frame::End);
    }

    #[test]
    fn any_flipped_bit_even_in_the_last_record_is_corruption_not_a_torn_tail() {
        let (bytes, second) = two_records();
        for bit in 0..bytes.len() * 8 {
            let mut flipped = bytes.clone();
            flipped[bit / 8] ^= 1 << (bit % 8);
            let at = if bit / 8 < second { 0 } else { second };
            assert!(
                matches!(read(&flipped, at), Frame::Corrupt(_)),
                "bit {bit} flipped: {:?}",
                read(&flipped, at)
            );
        }
    }

    #[test]
    fn a_write_cut_short_or_zeroed_from_any_byte_is_torn() {
        let (bytes, second) = two_records();
        for cut in second + 1..bytes.len() {
            assert!(
                matches!(read(&bytes[..cut], second), Frame::Torn(_)),
                "cut at {cut}"
            );
            let mut zeroed = bytes.clone();
            zeroed[cut..].fill(0);
            assert!(
                matches!(read(&zeroed, second), Frame::Torn(_)),
                "zeroed from {cut}: {:?}",
                read(&zeroed, second)
            );
        }
        let mut zeroed = bytes.clone();
        zeroed[second..].fill(0);
        assert!(matches!(read(&zeroed, second), Frame::Torn(_)));
        assert!(matches!(read(&zeroed, 0), Frame::Intact { .. }));
    }

    #[test]
    fn zeros_at_the_end_excuse_only_the_record_they_start_in() {
        let (bytes, second) = two_records();
        // The first record is corrupt and the file ends in zeros that start
        // in the second: the first is still corruption.
        let mut both = bytes.clone();
        both[FRAME_HEADER_BYTES + 2] ^= 0x04;
        both[bytes.len() - 3..].fill(0);
        assert!(matches!(read(&both, 0), Frame::Corrupt(_)));
        // Zeros that start right after a complete, corrupt record belong to
        // the next write: the record is corrupt, not torn.
        let mut after = bytes[..second].to_vec();
        after[FRAME_HEADER_BYTES + 2] ^= 0x04;
        after.extend_from_slice(&[0; 20]);
        assert!(matches!(read(&after, 0), Frame::Corrupt(_)));
        // A corrupt header with zeros from inside its payload on: the header
        // was written whole, so it is corruption.
        let mut header = bytes.clone();
        header[second + 5] ^= 0x01; // the length check
        let tail = bytes.len() - 4;
        header[tail..].fill(0);
        assert!(matches!(read(&header, second), Frame::Corrupt(_)));
    }

    #[test]
    fn a_lone_header_at_the_end_is_torn_only_if_it_checks() {
        let (bytes, second) = two_records();
        let header = &bytes[..second + FRAME_HEADER_BYTES];
        assert!(matches!(read(header, second), Frame::Torn(_)));
        let mut flipped = header.to_vec();
        flipped[second + 5] ^= 0x01;
        assert!(matches!(read(&flipped, second), Frame::Corrupt(_)));
    }

    #[test]
    fn a_length_beyond_any_record_is_corruption_even_when_it_checks() {
        let length = (PAYLOAD_BYTES_MAX as u32 + 1).to_le_bytes();
        let mut bytes = length.to_vec();
        bytes.extend_from_slice(&crc(&length).to_le_bytes());
        bytes.extend_from_slice(&[1, 2, 3, 4, b'}']);
        assert!(
            matches!(read(&bytes, 0), Frame::Corrupt(why) if why.contains("beyond any record"))
        );
    }
}
