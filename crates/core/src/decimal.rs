//! Numbers written as decimal text without the formatting machinery: on
//! every message's path, and on every number of a snapshot.

/// Decimal digits without going through `fmt` (the encoder's hot spot).
/// `n` in decimal.
pub(crate) fn write_u64(out: &mut String, mut n: u64) {
    let mut digits = [0u8; 20];
    let mut at = digits.len();
    loop {
        at -= 1;
        digits[at] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    // Pushed one by one: for the few digits of a message's numbers this
    // costs less than validating them as UTF-8 and copying them as a slice
    // (a third of the cost per number, measured with callgrind).
    out.reserve(digits.len() - at);
    for &digit in &digits[at..] {
        out.push(char::from(digit));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_read_as_decimal() {
        for n in [0, 7, 10, 999, 1_000_000, u64::MAX] {
            let mut out = String::from("x");
            write_u64(&mut out, n);
            assert_eq!(out, format!("x{n}"));
        }
    }
}
