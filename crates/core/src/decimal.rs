//! Numbers written as decimal text without the formatting machinery: on
//! every message's path, and on every number of a snapshot.

/// Two decimal digits per entry: "00", "01", .., "99".
const PAIRS: &[u8; 200] = b"\
0001020304050607080910111213141516171819\
2021222324252627282930313233343536373839\
4041424344454647484950515253545556575859\
6061626364656667686970717273747576777879\
8081828384858687888990919293949596979899";

/// Decimal digits without going through `fmt` (the encoder's hot spot).
/// `n` in decimal.
pub(crate) fn write_u64(out: &mut String, mut n: u64) {
    // A single digit, the commonest number in a message, needs no buffer.
    if n < 10 {
        out.push(char::from(b'0' + n as u8));
        return;
    }
    // Two digits at a time from the right, from a table: half the
    // divisions of digit by digit.
    let mut digits = [0u8; 20];
    let mut at = digits.len();
    while n >= 100 {
        let pair = (n % 100) as usize * 2;
        n /= 100;
        at -= 2;
        digits[at..at + 2].copy_from_slice(&PAIRS[pair..pair + 2]);
    }
    if n >= 10 {
        let pair = n as usize * 2;
        at -= 2;
        digits[at..at + 2].copy_from_slice(&PAIRS[pair..pair + 2]);
    } else {
        at -= 1;
        digits[at] = b'0' + n as u8;
    }
    // Pushed as chars: checking the digits as UTF-8 cost more than the
    // division.
    out.extend(digits[at..].iter().map(|&d| char::from(d)));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_read_as_decimal() {
        for n in (0..1000).chain([1_000_000, 12_345_678_901, u64::MAX - 1, u64::MAX]) {
            let mut out = String::from("x");
            write_u64(&mut out, n);
            assert_eq!(out, format!("x{n}"));
        }
    }
}
