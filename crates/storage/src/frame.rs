//! Framing: each record is its length, a checksum, and its payload.

/// The first bytes of every log file: magic and format version.
pub const HEADER: &[u8; 8] = b"RYWLOG1\n";
/// Length and checksum, before each payload.
pub const FRAME_HEADER_BYTES: usize = 8;
/// No record is longer; a longer length field is damage, not a record.
pub const PAYLOAD_BYTES_MAX: usize = 64 << 20;

pub(crate) fn checksum(length: [u8; 4], payload: &[u8]) -> u32 {
    let mut hasher = crc32fast::Hasher::new();
    hasher.update(&length);
    hasher.update(payload);
    hasher.finalize()
}

/// Appends one framed record to `out`.
pub(crate) fn encode(payload: &[u8], out: &mut Vec<u8>) {
    let length = u32::try_from(payload.len())
        .ok()
        .filter(|&n| n as usize <= PAYLOAD_BYTES_MAX)
        .expect("a record is far below PAYLOAD_BYTES_MAX")
        .to_le_bytes();
    out.extend_from_slice(&length);
    out.extend_from_slice(&checksum(length, payload).to_le_bytes());
    out.extend_from_slice(payload);
}

/// What lies at one offset of the file.
#[derive(Debug, PartialEq)]
pub(crate) enum Frame<'a> {
    /// An intact record, and where the next one starts.
    Intact {
        payload: &'a [u8],
        next: usize,
    },
    /// Not an intact record: too short, too long, or a checksum mismatch.
    Damaged(String),
    End,
}

pub(crate) fn read(bytes: &[u8], at: usize) -> Frame<'_> {
    let rest = &bytes[at.min(bytes.len())..];
    if rest.is_empty() {
        return Frame::End;
    }
    if rest.len() < FRAME_HEADER_BYTES {
        return Frame::Damaged(format!(
            "{} bytes, too short for a record header",
            rest.len()
        ));
    }
    let length = [rest[0], rest[1], rest[2], rest[3]];
    let stored = u32::from_le_bytes([rest[4], rest[5], rest[6], rest[7]]);
    let payload_bytes = u32::from_le_bytes(length) as usize;
    if payload_bytes > PAYLOAD_BYTES_MAX {
        return Frame::Damaged(format!("length {payload_bytes} is beyond any record"));
    }
    let Some(payload) = rest.get(FRAME_HEADER_BYTES..FRAME_HEADER_BYTES + payload_bytes) else {
        return Frame::Damaged(format!(
            "length {payload_bytes} runs past the end of the file"
        ));
    };
    if checksum(length, payload) != stored {
        return Frame::Damaged("checksum mismatch".into());
    }
    Frame::Intact {
        payload,
        next: at + FRAME_HEADER_BYTES + payload_bytes,
    }
}

/// Whether an intact record starts anywhere after `from`: then damage at
/// `from` is not a torn tail. Scans every offset, since a damaged length
/// says nothing about where the next record starts.
pub(crate) fn intact_after(bytes: &[u8], from: usize) -> Option<usize> {
    (from + 1..bytes.len()).find(|&at| {
        matches!(read(bytes, at), Frame::Intact { payload, .. } if looks_like_record(payload))
    })
}

/// A payload our encoder could have written: a JSON object. (An intact
/// checksum over a few random bytes is rare but possible; this makes a
/// false "intact record" in garbage rarer still.)
fn looks_like_record(payload: &[u8]) -> bool {
    payload.first() == Some(&b'{') && payload.last() == Some(&b'}')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_frame_reads_back_and_any_flipped_bit_is_caught() {
        let mut bytes = Vec::new();
        encode(b"{\"a\": 1}", &mut bytes);
        assert_eq!(
            read(&bytes, 0),
            Frame::Intact {
                payload: b"{\"a\": 1}",
                next: bytes.len()
            }
        );
        for bit in 0..bytes.len() * 8 {
            let mut flipped = bytes.clone();
            flipped[bit / 8] ^= 1 << (bit % 8);
            assert!(
                matches!(read(&flipped, 0), Frame::Damaged(_)),
                "bit {bit} flipped went unnoticed"
            );
        }
        for cut in 1..bytes.len() {
            assert!(matches!(read(&bytes[..cut], 0), Frame::Damaged(_)));
        }
    }
}
