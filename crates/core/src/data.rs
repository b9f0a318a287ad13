//! What clients store: keys and values. Its own module so that messages
//! and the state machine both use it without using each other.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::value::RawValue;

/// A client's value: any JSON, as in Maelstrom's lin-kv workload, kept
/// exactly as it was sent.
///
/// serde_json holds almost every value exactly, and those stay a
/// `serde_json::Value` (`Json`), cheap to copy and compare. It would change
/// a few numbers: an integer beyond 64 bits or a float like `1e400` (it
/// rounds them to an f64), a float spelled otherwise than it prints back
/// (`1e2`, `2.50`), and the sign of a zero (`-0`). A value holding such a
/// number is kept as its text (`Text`), every number as written.
///
/// Two values are equal when they are the same JSON with every number
/// written the same way (`1`, `1.0` and `1e0` are three values), and
/// objects compare whatever the order of their keys. `Text` is only ever
/// made for a value `Json` cannot hold exactly, so the two forms never hold
/// the same value and the derived equality is that rule.
#[derive(Clone, PartialEq)]
pub enum Value {
    Json(serde_json::Value),
    Text(ExactText),
}

/// The text of a value with a number serde_json would change: compact (no
/// whitespace between tokens), object keys sorted (a later duplicate key
/// wins, as in serde_json), strings escaped as serde_json escapes them, and
/// every number exactly as it was written.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExactText(Box<str>);

impl ExactText {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl Value {
    pub const NULL: Value = Value::Json(serde_json::Value::Null);

    /// Reads a value from its JSON text, exactly. The error is serde_json's
    /// when the text is not one JSON value.
    pub fn parse(text: &str) -> Result<Value, serde_json::Error> {
        match serde_json::from_str::<serde_json::Value>(text) {
            Ok(json) if !may_change(&json) || numbers_exact(text) => Ok(Value::Json(json)),
            // Not held exactly, or not held at all (`1e400` is out of
            // serde_json's range): kept as text.
            _ => {
                let raw: &RawValue = serde_json::from_str(text)?;
                let mut out = String::with_capacity(text.len());
                write_canonical(raw, &mut out)?;
                Ok(Value::Text(ExactText(out.into_boxed_str())))
            }
        }
    }

    /// Keeps `json` as it is, if serde_json holds it exactly; otherwise
    /// reads `text()`, the JSON text `json` was read from. (A decoder that
    /// built a tree calls this, and fetches the text only in the rare case.)
    pub fn from_json_or_text<'t>(
        json: &serde_json::Value,
        text: impl FnOnce() -> Option<&'t str>,
    ) -> Result<Value, String> {
        if !may_change(json) {
            return Ok(Value::Json(json.clone()));
        }
        let text = text().ok_or("the value's text could not be found")?;
        Value::parse(text).map_err(|e| e.to_string())
    }

    pub fn is_null(&self) -> bool {
        matches!(self, Value::Json(serde_json::Value::Null))
    }

    pub fn as_u64(&self) -> Option<u64> {
        self.as_json().and_then(serde_json::Value::as_u64)
    }

    pub fn as_i64(&self) -> Option<i64> {
        self.as_json().and_then(serde_json::Value::as_i64)
    }

    /// The value as serde_json holds it: `None` for a `Text` value, which
    /// it cannot hold exactly.
    pub fn as_json(&self) -> Option<&serde_json::Value> {
        match self {
            Value::Json(json) => Some(json),
            Value::Text(_) => None,
        }
    }
}

impl fmt::Debug for Value {
    /// A `Json` value as serde_json shows it (so that debug output reads
    /// as it did when values were plain `serde_json::Value`s).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Json(json) => json.fmt(f),
            Value::Text(text) => write!(f, "Text({})", text.as_str()),
        }
    }
}

impl Default for Value {
    fn default() -> Value {
        Value::NULL
    }
}

impl From<serde_json::Value> for Value {
    /// A tree serde_json already built holds what it holds: nothing is
    /// lost *here* (whatever was lost, was lost reading it).
    fn from(json: serde_json::Value) -> Value {
        Value::Json(json)
    }
}

macro_rules! value_from {
    ($($t:ty),*) => {$(
        impl From<$t> for Value {
            fn from(v: $t) -> Value {
                Value::Json(serde_json::Value::from(v))
            }
        }
    )*};
}
value_from!(i32, i64, u32, u64, bool, &str, String);

impl fmt::Display for Value {
    /// Compact JSON.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Json(json) => write!(f, "{json}"),
            Value::Text(text) => f.write_str(text.as_str()),
        }
    }
}

impl Serialize for Value {
    /// A `Text` value goes out as its text through serde_json's raw values;
    /// another serializer would get it as a string.
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Value::Json(json) => json.serialize(serializer),
            Value::Text(text) => match serde_json::from_str::<&RawValue>(text.as_str()) {
                Ok(raw) => raw.serialize(serializer),
                Err(_) => serializer.serialize_str(text.as_str()),
            },
        }
    }
}

impl<'de> Deserialize<'de> for Value {
    /// Reads the value's text, exactly ([`Value::parse`]): this needs
    /// serde_json's deserializer from text, not from a `serde_json::Value`
    /// tree (which has lost the text already).
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Value, D::Error> {
        let raw = Box::<RawValue>::deserialize(deserializer)?;
        Value::parse(raw.get()).map_err(serde::de::Error::custom)
    }
}

/// Whether serde_json may have changed a number of this tree: it holds a
/// float (what an integer beyond 64 bits, `-0` or `1e2` becomes). Cheap, so
/// that common values skip the text.
fn may_change(json: &serde_json::Value) -> bool {
    match json {
        serde_json::Value::Number(n) => n.is_f64(),
        serde_json::Value::Array(items) => items.iter().any(may_change),
        serde_json::Value::Object(fields) => fields.values().any(may_change),
        _ => false,
    }
}

/// Whether every number token of a JSON text prints back from serde_json
/// as written: integers within 64 bits, floats in serde_json's own
/// spelling, and no negative zero (serde_json's equality ignores its sign).
pub fn numbers_exact(text: &str) -> bool {
    number_tokens(text).all(|at| number_exact(&text[at]))
}

/// Where the number tokens of a JSON text are (outside its strings).
pub fn number_tokens(text: &str) -> impl Iterator<Item = std::ops::Range<usize>> + '_ {
    let bytes = text.as_bytes();
    let (mut k, mut in_string) = (0, false);
    std::iter::from_fn(move || {
        while k < bytes.len() {
            let b = bytes[k];
            if in_string {
                match b {
                    b'\\' => k += 1,
                    b'"' => in_string = false,
                    _ => {}
                }
                k += 1;
            } else if b == b'"' {
                in_string = true;
                k += 1;
            } else if b == b'-' || b.is_ascii_digit() {
                let start = k;
                while k < bytes.len()
                    && matches!(bytes[k], b'-' | b'+' | b'.' | b'e' | b'E' | b'0'..=b'9')
                {
                    k += 1;
                }
                return Some(start..k);
            } else {
                k += 1;
            }
        }
        None
    })
}

fn number_exact(token: &str) -> bool {
    if token.starts_with("-0")
        && token
            .bytes()
            .all(|b| matches!(b, b'-' | b'0' | b'.' | b'e' | b'E' | b'+'))
    {
        return false; // a negative zero
    }
    if !token.contains(['.', 'e', 'E']) {
        return token.parse::<i64>().is_ok() || token.parse::<u64>().is_ok();
    }
    let printed = token
        .parse::<f64>()
        .ok()
        .and_then(serde_json::Number::from_f64)
        .map(|n| n.to_string());
    printed.as_deref() == Some(token)
}

/// Writes `raw` in the form [`ExactText`] describes.
fn write_canonical(raw: &RawValue, out: &mut String) -> Result<(), serde_json::Error> {
    let text = raw.get();
    match text.as_bytes().first() {
        Some(b'{') => {
            let fields: BTreeMap<String, &RawValue> = serde_json::from_str(text)?;
            out.push('{');
            for (k, (key, value)) in fields.into_iter().enumerate() {
                if k > 0 {
                    out.push(',');
                }
                out.push_str(&serde_json::to_string(&key)?);
                out.push(':');
                write_canonical(value, out)?;
            }
            out.push('}');
        }
        Some(b'[') => {
            let items: Vec<&RawValue> = serde_json::from_str(text)?;
            out.push('[');
            for (k, item) in items.into_iter().enumerate() {
                if k > 0 {
                    out.push(',');
                }
                write_canonical(item, out)?;
            }
            out.push(']');
        }
        Some(b'-' | b'0'..=b'9') => out.push_str(text),
        // A string, true, false or null: as serde_json prints it.
        _ => out.push_str(&serde_json::from_str::<serde_json::Value>(text)?.to_string()),
    }
    Ok(())
}

/// Keys are JSON strings or integers.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Key {
    Int(i64),
    Str(String),
}

impl fmt::Display for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Key::Int(k) => write!(f, "{k}"),
            Key::Str(k) => write!(f, "{k:?}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text_of(value: &Value) -> Option<&str> {
        match value {
            Value::Text(text) => Some(text.as_str()),
            Value::Json(_) => None,
        }
    }

    #[test]
    fn numbers_serde_json_would_change_are_kept_as_written() {
        let kept = [
            ("18446744073709551616", "18446744073709551616"),
            ("-9223372036854775809", "-9223372036854775809"),
            (
                "123456789012345678901234567890",
                "123456789012345678901234567890",
            ),
            ("1e400", "1e400"),
            ("1e2", "1e2"),
            ("1e300", "1e300"),
            ("2.50", "2.50"),
            ("-0", "-0"),
            ("-0.0", "-0.0"),
            (
                " [1, 2.50 ,{ \"b\" : 1E2, \"a\":\"\\u0041\"}] ",
                r#"[1,2.50,{"a":"A","b":1E2}]"#,
            ),
        ];
        for (sent, text) in kept {
            let value = Value::parse(sent).expect("JSON");
            assert_eq!(text_of(&value), Some(text), "{sent}");
            assert_eq!(value.to_string(), text, "{sent}");
            assert_eq!(serde_json::to_string(&value).expect("serializes"), text);
        }
    }

    #[test]
    fn values_serde_json_holds_exactly_stay_json() {
        for sent in [
            "0",
            "7",
            "-5",
            "18446744073709551615",
            "-9223372036854775808",
            "1.5",
            "-0.25",
            "1e+300",
            "0.0",
            "\"x\"",
            "null",
            r#"{"a":[1,true]}"#,
            // A float sends the whole value through the text check, where
            // integers of either sign at the ends of 64 bits still pass.
            "[18446744073709551615, -9223372036854775808, 1.5]",
        ] {
            let value = Value::parse(sent).expect("JSON");
            assert!(text_of(&value).is_none(), "{sent} stays Json");
            assert_eq!(
                value,
                Value::Json(serde_json::from_str(sent).expect("JSON"))
            );
        }
    }

    #[test]
    fn equality_is_the_same_json_with_numbers_written_the_same() {
        let same = |a: &str, b: &str| Value::parse(a).expect("a") == Value::parse(b).expect("b");
        assert!(same("18446744073709551617", "18446744073709551617"));
        assert!(!same("18446744073709551616", "18446744073709551617"));
        assert!(same(r#"{"b":1e400,"a":1}"#, r#"{ "a" : 1 , "b" : 1e400 }"#));
        assert!(!same("1e2", "100.0"));
        assert!(!same("1", "1.0"));
        assert!(!same("-0", "0"));
        assert!(!same("-0.0", "0.0"));
        assert!(same("0", "0"));
    }

    #[test]
    fn a_tree_is_kept_unless_it_may_have_changed_and_then_its_text_is_read() {
        let json: serde_json::Value = serde_json::from_str("[1, 2]").expect("JSON");
        let kept = Value::from_json_or_text(&json, || panic!("text not needed"));
        assert_eq!(kept, Ok(Value::Json(json)));
        let json: serde_json::Value = serde_json::from_str("18446744073709551616").expect("JSON");
        let read = Value::from_json_or_text(&json, || Some("18446744073709551616"));
        assert_eq!(
            read.map(|v| v.to_string()).as_deref(),
            Ok("18446744073709551616")
        );
    }

    #[test]
    fn accessors_see_json_values_and_not_text_ones() {
        let big = Value::parse("18446744073709551616").expect("JSON");
        assert_eq!(Value::from(7u64).as_u64(), Some(7));
        assert_eq!(Value::from(-3i64).as_i64(), Some(-3));
        assert_eq!(Value::from(-3i64).as_u64(), None);
        assert_eq!(
            (big.as_u64(), big.as_i64(), big.as_json()),
            (None, None, None)
        );
        assert_eq!(Value::from("x").as_json(), Some(&serde_json::json!("x")));
        assert!(Value::NULL.is_null() && Value::default().is_null());
        assert!(!Value::from(0u64).is_null() && !big.is_null());
        assert_eq!(
            Value::from(serde_json::json!([1, "a"])).to_string(),
            r#"[1,"a"]"#
        );
        assert_eq!(format!("{:?}", Value::from(5u64)), "Number(5)");
        assert_eq!(format!("{big:?}"), "Text(18446744073709551616)");
    }

    #[test]
    fn deserializing_from_text_keeps_the_value_exactly() {
        let values: Vec<Value> =
            serde_json::from_str("[18446744073709551616, 7, 1e2]").expect("JSON");
        assert_eq!(
            values,
            [
                Value::parse("18446744073709551616").expect("JSON"),
                Value::from(7u64),
                Value::parse("1e2").expect("JSON"),
            ]
        );
    }

    #[test]
    fn number_tokens_are_found_outside_strings_only() {
        let text = r#"{"a\"1": [12, -3.5e+2], "b": "4 5", "c": 0}"#;
        let tokens: Vec<&str> = number_tokens(text).map(|at| &text[at]).collect();
        assert_eq!(tokens, ["12", "-3.5e+2", "0"]);
    }
}
