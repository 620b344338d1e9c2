//! Integers appended to a string without `core::fmt`: listings write three or four numbers
//! for each of possibly many thousands of entries, and the formatting machinery cost more
//! than the rest of the line (measured: LIST of 10,000 entries).

/// `v` in decimal, right-aligned in `width` columns filled with `pad` (b' ' or b'0').
pub fn push_dec(out: &mut String, v: u64, width: usize, pad: u8) {
    let mut digits = [0u8; 20];
    let mut i = digits.len();
    let mut n = v;
    loop {
        i -= 1;
        digits[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    let len = digits.len() - i;
    for _ in len..width {
        out.push(char::from(pad));
    }
    for &d in &digits[i..] {
        out.push(char::from(d));
    }
}

/// `v` in lower-case hexadecimal, no padding.
pub fn push_hex(out: &mut String, v: u64) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut digits = [0u8; 16];
    let mut i = digits.len();
    let mut n = v;
    loop {
        i -= 1;
        digits[i] = HEX[(n & 0xf) as usize];
        n >>= 4;
        if n == 0 {
            break;
        }
    }
    for &d in &digits[i..] {
        out.push(char::from(d));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn like_format() {
        for v in [0u64, 7, 42, 1000, 4096, u64::MAX] {
            let mut s = String::new();
            push_dec(&mut s, v, 12, b' ');
            assert_eq!(s, format!("{v:>12}"));
            let mut s = String::new();
            push_dec(&mut s, v, 2, b'0');
            assert_eq!(s, format!("{v:02}"));
            let mut s = String::new();
            push_hex(&mut s, v);
            assert_eq!(s, format!("{v:x}"));
        }
    }
}
