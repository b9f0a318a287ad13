//! Maelstrom endpoint ids ("n1", "c7", or anything else a harness chooses).

use std::fmt;
use std::sync::Arc;

/// An endpoint id. The common Maelstrom shapes `n<k>` and `c<k>` are stored as
/// numbers so ids are cheap to copy around the simulator's hot path; anything
/// else keeps its text.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Id {
    Node(u32),
    Client(u32),
    Other(Arc<str>),
}

impl Id {
    /// Parses an id. Only canonical numbers (no sign, no leading zero) take the
    /// compact form, so that printing an id always gives back the input text.
    pub fn parse(text: &str) -> Id {
        let compact = |digits: &str| -> Option<u32> {
            let canonical = !digits.is_empty()
                && digits.bytes().all(|b| b.is_ascii_digit())
                && (digits == "0" || !digits.starts_with('0'));
            if canonical {
                digits.parse().ok()
            } else {
                None
            }
        };
        if let Some(k) = text.strip_prefix('n').and_then(compact) {
            Id::Node(k)
        } else if let Some(k) = text.strip_prefix('c').and_then(compact) {
            Id::Client(k)
        } else {
            Id::Other(Arc::from(text))
        }
    }

    /// Appends the id's text to `out`, as `Display` does, without the
    /// formatting machinery (for texts built on the hot path).
    pub fn push_to(&self, out: &mut String) {
        let (prefix, k) = match self {
            Id::Other(text) => return out.push_str(text),
            Id::Node(k) => ('n', k),
            Id::Client(k) => ('c', k),
        };
        out.push(prefix);
        crate::decimal::write_u64(out, u64::from(*k));
    }
}

impl fmt::Display for Id {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Id::Node(k) => write!(f, "n{k}"),
            Id::Client(k) => write!(f, "c{k}"),
            Id::Other(text) => f.write_str(text),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_print_back_exactly_as_parsed() {
        for text in [
            "n1",
            "c0",
            "n10",
            "n01",
            "c",
            "x",
            "n-1",
            "lin-kv",
            "n4294967296",
        ] {
            assert_eq!(Id::parse(text).to_string(), text);
            let mut pushed = String::from(">");
            Id::parse(text).push_to(&mut pushed);
            assert_eq!(
                pushed,
                format!(">{text}"),
                "push_to appends what Display prints"
            );
        }
        assert_eq!(Id::parse("n3"), Id::Node(3));
        assert_eq!(Id::parse("c12"), Id::Client(12));
        assert!(matches!(Id::parse("n01"), Id::Other(_)));
    }
}
