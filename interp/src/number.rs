//! Number ↔ string conversions with PUC Lua 5.4 semantics: `tostring` of integers and floats
//! (`%.14g`, plus `.0` for integral-looking results), string → number coercion
//! (`lua_stringtonumber`: decimal and hexadecimal integers and floats), `tonumber(s, base)`, and
//! the float → integer conversions (exact, floor, ceil) used by the VM and `math`.
//!
//! All functions work on bytes and plain Rust types; none of them allocate except to append to
//! an output buffer, and none of them can panic.

use crate::stdlib::strformat;

/// A Lua number: the result of converting a string.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Number {
    /// An integer numeral (decimal that fits, or hexadecimal, which wraps around).
    Int(i64),
    /// A float numeral (or a decimal integer numeral that overflows).
    Float(f64),
}

/// Lua's `tostring` for floats: C's `%.14g`, then `.0` appended when the result looks like an
/// integer (only `-` and digits). Infinities print as `inf`/`-inf`, NaNs as `nan`/`-nan`
/// according to the sign bit (what glibc prints: `0/0` is `-nan` on x86-64).
pub fn fmt_float(f: f64, out: &mut Vec<u8>) {
    let start = out.len();
    strformat::format_g(f, 14, out);
    if out[start..]
        .iter()
        .all(|&c| c == b'-' || c.is_ascii_digit())
    {
        out.extend_from_slice(b".0");
    }
}

/// Lua's `tostring` for integers (`%d`).
pub fn fmt_int(i: i64, out: &mut Vec<u8>) {
    let mut buf = [0u8; 20];
    let digits = decimal_digits(i.unsigned_abs(), &mut buf);
    if i < 0 {
        out.push(b'-');
    }
    out.extend_from_slice(digits);
}

/// "00", "01", ..., "99": two decimal digits per lookup.
static DIGIT_PAIRS: [u8; 200] = {
    let mut t = [0u8; 200];
    let mut i = 0;
    while i < 100 {
        t[2 * i] = b'0' + (i / 10) as u8;
        t[2 * i + 1] = b'0' + (i % 10) as u8;
        i += 1;
    }
    t
};

/// Writes the decimal digits of `v` at the end of `buf`, returning them.
pub fn decimal_digits(mut v: u64, buf: &mut [u8; 20]) -> &[u8] {
    let mut pos = buf.len();
    while v >= 100 {
        let pair = (v % 100) as usize;
        v /= 100;
        pos -= 2;
        buf[pos..pos + 2].copy_from_slice(&DIGIT_PAIRS[2 * pair..2 * pair + 2]);
    }
    if v >= 10 {
        let pair = v as usize;
        pos -= 2;
        buf[pos..pos + 2].copy_from_slice(&DIGIT_PAIRS[2 * pair..2 * pair + 2]);
    } else {
        pos -= 1;
        buf[pos] = b'0' + v as u8;
    }
    &buf[pos..]
}

/// Appends `tostring(n)`.
pub fn fmt_number(n: Number, out: &mut Vec<u8>) {
    match n {
        Number::Int(i) => fmt_int(i, out),
        Number::Float(f) => fmt_float(f, out),
    }
}

/// C's `isspace` in the "C" locale (space, `\t`, `\n`, `\v`, `\f`, `\r`), which is what Lua uses
/// around numerals.
pub fn is_space(c: u8) -> bool {
    matches!(c, b' ' | b'\t'..=b'\r')
}

/// Strips C-locale whitespace from both ends.
fn trim_space(s: &[u8]) -> &[u8] {
    let start = s.iter().position(|&c| !is_space(c)).unwrap_or(s.len());
    let end = s
        .iter()
        .rposition(|&c| !is_space(c))
        .map_or(start, |p| p + 1);
    &s[start..end]
}

/// Splits an optional leading `-` or `+`, returning (negative, rest).
fn split_sign(s: &[u8]) -> (bool, &[u8]) {
    match s.split_first() {
        Some((b'-', rest)) => (true, rest),
        Some((b'+', rest)) => (false, rest),
        _ => (false, s),
    }
}

/// Splits a leading `0x` / `0X`.
fn strip_hex_prefix(s: &[u8]) -> Option<&[u8]> {
    match s {
        [b'0', b'x' | b'X', rest @ ..] => Some(rest),
        _ => None,
    }
}

/// Value of a hexadecimal digit.
fn hex_value(c: u8) -> Option<u32> {
    char::from(c).to_digit(16)
}

/// Lua's string → number conversion (`lua_stringtonumber`): surrounding whitespace allowed;
/// an optional sign; decimal integers (those overflowing an `i64` become floats), hexadecimal
/// integers `0x...` (wrapping around), decimal floats (`1e10`, `.5`, `5.`) and hexadecimal
/// floats (`0x1.8p3`). `inf`, `nan`, embedded NULs and anything else give `None`.
pub fn str_to_number(s: &[u8]) -> Option<Number> {
    let body = trim_space(s);
    if let Some(i) = str_to_int(body) {
        return Some(Number::Int(i));
    }
    str_to_float(body).map(Number::Float)
}

/// Integer numeral (already trimmed): decimal without overflow, or hexadecimal with wraparound.
fn str_to_int(s: &[u8]) -> Option<i64> {
    let (neg, digits) = split_sign(s);
    if let Some(hex) = strip_hex_prefix(digits) {
        if hex.is_empty() {
            return None;
        }
        let mut acc: u64 = 0;
        for &c in hex {
            acc = acc.wrapping_mul(16).wrapping_add(u64::from(hex_value(c)?));
        }
        let v = acc as i64;
        return Some(if neg { v.wrapping_neg() } else { v });
    }
    if digits.is_empty() {
        return None;
    }
    // Accept up to 2^63 - 1 (or 2^63 when negative); more becomes a float.
    let limit: u64 = if neg { 1 << 63 } else { (1 << 63) - 1 };
    let mut acc: u64 = 0;
    for &c in digits {
        if !c.is_ascii_digit() {
            return None;
        }
        acc = acc
            .checked_mul(10)
            .and_then(|a| a.checked_add(u64::from(c - b'0')))
            .filter(|&a| a <= limit)?;
    }
    Some(if neg {
        (acc as i64).wrapping_neg()
    } else {
        acc as i64
    })
}

/// Float numeral (already trimmed), decimal or hexadecimal. `inf`/`nan` are rejected.
fn str_to_float(s: &[u8]) -> Option<f64> {
    let (neg, body) = split_sign(s);
    let magnitude = match strip_hex_prefix(body) {
        Some(hex) => parse_hex_float(hex)?,
        None => parse_dec_float(body)?,
    };
    Some(if neg { -magnitude } else { magnitude })
}

/// Length of the run of bytes satisfying `pred` at the start of `s`.
fn span(s: &[u8], pred: impl Fn(u8) -> bool) -> usize {
    s.iter().take_while(|&&c| pred(c)).count()
}

/// Unsigned decimal float: `digits [. digits] [e [sign] digits]` with at least one mantissa
/// digit; converted with correct rounding.
fn parse_dec_float(s: &[u8]) -> Option<f64> {
    let int_len = span(s, |c| c.is_ascii_digit());
    let mut i = int_len;
    let mut frac_len = 0;
    if s.get(i) == Some(&b'.') {
        i += 1;
        frac_len = span(&s[i..], |c| c.is_ascii_digit());
        i += frac_len;
    }
    if int_len + frac_len == 0 {
        return None;
    }
    if matches!(s.get(i), Some(b'e' | b'E')) {
        i += 1;
        if matches!(s.get(i), Some(b'+' | b'-')) {
            i += 1;
        }
        let exp_len = span(&s[i..], |c| c.is_ascii_digit());
        if exp_len == 0 {
            return None;
        }
        i += exp_len;
    }
    if i != s.len() {
        return None;
    }
    // Validated above to be a plain ASCII numeral that Rust's parser accepts.
    std::str::from_utf8(s).ok()?.parse::<f64>().ok()
}

/// Unsigned hexadecimal float after `0x`: `hexdigits [. hexdigits] [p [sign] digits]` with at
/// least one mantissa digit; converted exactly with round-half-even, including subnormals and
/// overflow to infinity, however many digits are given.
fn parse_hex_float(s: &[u8]) -> Option<f64> {
    // Significant bits accumulated in `mant` (at most 60 bits, so a digit always fits), the
    // binary exponent to apply to it, and whether any nonzero digit was dropped.
    let mut mant: u64 = 0;
    let mut exp: i64 = 0;
    let mut sticky = false;
    let mut any_digit = false;
    let mut seen_point = false;
    let mut i = 0;
    while let Some(&c) = s.get(i) {
        if c == b'.' {
            if seen_point {
                break;
            }
            seen_point = true;
        } else if let Some(d) = hex_value(c) {
            any_digit = true;
            if mant >> 56 == 0 {
                mant = (mant << 4) | u64::from(d);
                if seen_point {
                    exp = exp.saturating_sub(4);
                }
            } else {
                sticky |= d != 0;
                if !seen_point {
                    exp = exp.saturating_add(4);
                }
            }
        } else {
            break;
        }
        i += 1;
    }
    if !any_digit {
        return None;
    }
    if matches!(s.get(i), Some(b'p' | b'P')) {
        i += 1;
        let (neg, rest) = split_sign(&s[i..]);
        i = s.len() - rest.len();
        let len = span(rest, |c| c.is_ascii_digit());
        if len == 0 {
            return None;
        }
        // Saturate far beyond the double range; digits past that cannot matter.
        let e = rest[..len].iter().fold(0i64, |acc, &c| {
            (acc * 10 + i64::from(c - b'0')).min(1 << 40)
        });
        exp = exp.saturating_add(if neg { -e } else { e });
        i += len;
    }
    if i != s.len() {
        return None;
    }
    Some(compose_binary(mant, exp, sticky))
}

/// Correctly rounds `(mant + ε) × 2^exp` to a double, where `ε` is a nonzero amount smaller than
/// one unit of `mant` iff `sticky`.
fn compose_binary(mant: u64, exp: i64, sticky: bool) -> f64 {
    if mant == 0 {
        return 0.0;
    }
    let nbits = i64::from(64 - mant.leading_zeros());
    // Exponent of the most significant bit.
    let top = exp.saturating_add(nbits - 1);
    if top > 1023 {
        return f64::INFINITY;
    }
    // Bits to keep: 53 for normal results, fewer for subnormal ones (lsb weight 2^-1074).
    let keep = if top >= -1022 { 53 } else { top + 1075 };
    if keep < 0 {
        return 0.0; // below half of the smallest subnormal
    }
    let drop = nbits - keep;
    let mut kept = if drop > 0 {
        let drop = drop as u32; // 1..=64
        let m = u128::from(mant);
        let kept = (m >> drop) as u64;
        let rem = m & ((1u128 << drop) - 1);
        let half = 1u128 << (drop - 1);
        if rem > half || (rem == half && (sticky || kept & 1 == 1)) {
            kept + 1
        } else {
            kept
        }
    } else {
        mant << (-drop) as u32
    };
    if keep < 53 {
        // Subnormal (a carry into 2^52 yields the smallest normal, still encoded correctly).
        return f64::from_bits(kept);
    }
    let mut lsb_exp = top - 52;
    if kept == 1 << 53 {
        kept >>= 1;
        lsb_exp += 1;
    }
    let biased = lsb_exp + 52 + 1023;
    if biased > 2046 {
        return f64::INFINITY;
    }
    f64::from_bits(((biased as u64) << 52) | (kept & ((1 << 52) - 1)))
}

/// `tonumber(s, base)` for `base` in 2..=36: optional surrounding whitespace, optional `-`/`+`,
/// one or more alphanumeric digits valid in `base` (letters in either case); wraps around on
/// overflow. `None` for anything else (including embedded NULs or an invalid base).
pub fn str_to_int_base(s: &[u8], base: u32) -> Option<i64> {
    if !(2..=36).contains(&base) {
        return None;
    }
    let (neg, digits) = split_sign(trim_space(s));
    if digits.is_empty() {
        return None;
    }
    let mut acc: u64 = 0;
    for &c in digits {
        let d = char::from(c).to_digit(36).filter(|&d| d < base)?;
        acc = acc.wrapping_mul(u64::from(base)).wrapping_add(u64::from(d));
    }
    let v = acc as i64;
    Some(if neg { v.wrapping_neg() } else { v })
}

/// 2^63 as a float: the first value above the `i64` range.
const TWO_POW_63: f64 = 9_223_372_036_854_775_808.0;

/// Converts an integral float in `[-2^63, 2^63)` to `i64`.
fn integral_to_int(f: f64) -> Option<i64> {
    if (-TWO_POW_63..TWO_POW_63).contains(&f) {
        Some(f as i64)
    } else {
        None
    }
}

/// Lua's float → integer conversion (exact only): `Some(i)` iff `f` is integral and within the
/// `i64` range (`-0.0` gives 0; NaN and infinities give `None`).
pub fn float_to_int_exact(f: f64) -> Option<i64> {
    if f.floor() == f {
        integral_to_int(f)
    } else {
        None
    }
}

/// `floor(f)` as an integer, `None` when out of range or NaN (used by `math.floor` and loop
/// limits).
pub fn float_floor_to_int(f: f64) -> Option<i64> {
    integral_to_int(f.floor())
}

/// `ceil(f)` as an integer, `None` when out of range or NaN.
pub fn float_ceil_to_int(f: f64) -> Option<i64> {
    integral_to_int(f.ceil())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tostr(f: f64) -> String {
        let mut out = Vec::new();
        fmt_float(f, &mut out);
        String::from_utf8(out).unwrap()
    }

    fn num(s: &str) -> Option<Number> {
        str_to_number(s.as_bytes())
    }

    fn float(s: &str) -> f64 {
        match num(s) {
            Some(Number::Float(f)) => f,
            other => panic!("{s:?} -> {other:?}"),
        }
    }

    #[test]
    fn float_tostring() {
        // Expected values from lua5.4.
        let cases: &[(f64, &str)] = &[
            (1e15, "1e+15"),
            (1e16, "1e+16"),
            (2f64.powi(53), "9.007199254741e+15"),
            (2f64.powi(63), "9.2233720368548e+18"),
            (0.1, "0.1"),
            (1.0 / 3.0, "0.33333333333333"),
            (-0.0, "-0.0"),
            (0.0, "0.0"),
            (1e100, "1e+100"),
            (123456789012345678.0, "1.2345678901235e+17"),
            (1234.5678901234, "1234.5678901234"),
            (1e-5, "1e-05"),
            (123e-7, "1.23e-05"),
            (100.0, "100.0"),
            (-42.0, "-42.0"),
            (1e14, "1e+14"),
            (123456789012345.0, "1.2345678901234e+14"),
            (12345678901234.0, "12345678901234.0"),
            (0.0001, "0.0001"),
            (5e-324, "4.9406564584125e-324"),
            (f64::MAX, "1.7976931348623e+308"),
            (f64::INFINITY, "inf"),
            (f64::NEG_INFINITY, "-inf"),
            (2.5, "2.5"),
            (-1.5e300, "-1.5e+300"),
        ];
        for &(f, want) in cases {
            assert_eq!(tostr(f), want, "{f:e}");
        }
        // PUC on x86-64 prints 0/0 as "-nan" and -(0/0) as "nan": by sign bit.
        assert_eq!(tostr(f64::from_bits(0xfff8_0000_0000_0000)), "-nan");
        assert_eq!(tostr(f64::from_bits(0x7ff8_0000_0000_0000)), "nan");
    }

    #[test]
    fn int_tostring() {
        let mut out = Vec::new();
        fmt_int(0, &mut out);
        out.push(b' ');
        fmt_int(i64::MIN, &mut out);
        out.push(b' ');
        fmt_int(i64::MAX, &mut out);
        out.push(b' ');
        fmt_int(-7, &mut out);
        assert_eq!(out, b"0 -9223372036854775808 9223372036854775807 -7");
        // Every digit count and pair boundary.
        let mut v: u64 = 1;
        for _ in 0..19 {
            for x in [v - 1, v, v + 1, v * 5, v * 9 + 9] {
                let mut buf = [0u8; 20];
                assert_eq!(decimal_digits(x, &mut buf), x.to_string().as_bytes());
            }
            v *= 10;
        }
        let mut buf = [0u8; 20];
        assert_eq!(
            decimal_digits(u64::MAX, &mut buf),
            u64::MAX.to_string().as_bytes()
        );
    }

    #[test]
    fn integers_from_strings() {
        assert_eq!(num("0"), Some(Number::Int(0)));
        assert_eq!(num("  10  "), Some(Number::Int(10)));
        assert_eq!(num("-012"), Some(Number::Int(-12)));
        assert_eq!(num("+7"), Some(Number::Int(7)));
        assert_eq!(num("9223372036854775807"), Some(Number::Int(i64::MAX)));
        assert_eq!(num("-9223372036854775808"), Some(Number::Int(i64::MIN)));
        assert_eq!(num("9223372036854775808"), Some(Number::Float(TWO_POW_63)));
        assert_eq!(
            num("-9223372036854775809"),
            Some(Number::Float(-TWO_POW_63))
        );
        assert_eq!(
            num(&format!("1{}", "0".repeat(30))),
            Some(Number::Float(1e30))
        );
        assert_eq!(num("0xffffffffffff"), Some(Number::Int((1 << 48) - 1)));
        assert_eq!(num("0xffffffffffffffff"), Some(Number::Int(-1)));
        assert_eq!(num("-0xffffffffffffffff"), Some(Number::Int(1)));
        assert_eq!(num(&format!("0x1{}", "0".repeat(30))), Some(Number::Int(0)));
        assert_eq!(num("+0x2"), Some(Number::Int(2)));
        assert_eq!(num("-0xaA"), Some(Number::Int(-170)));
        assert_eq!(num("\t\n\x0b\x0c\r 5 \t"), Some(Number::Int(5)));
    }

    #[test]
    fn floats_from_strings() {
        assert_eq!(float("+0.01"), 0.01);
        assert_eq!(float("+.01"), 0.01);
        assert_eq!(float(".01"), 0.01);
        assert_eq!(float("-1."), -1.0);
        assert_eq!(float("+1."), 1.0);
        assert_eq!(float("-1.2e2"), -120.0);
        assert_eq!(float("  +0.001e+3 \n\t"), 1.0);
        assert_eq!(float("+1.23E18"), 1.23e18);
        assert_eq!(float(" -1.00000000000001 "), -1.00000000000001);
        assert_eq!(float("1e400"), f64::INFINITY);
        assert_eq!(float("1e-400"), 0.0);
        assert_eq!(float("1e99999999999999999999"), f64::INFINITY);
        assert_eq!(
            float("0.1000000000000000055511151231257827021181583404541015625"),
            0.1
        );
        assert_eq!(float("2.4703282292062327e-324"), 0.0);
        assert_eq!(float("2.4703282292062328e-324"), 5e-324);
        assert!(float("-0.0").is_sign_negative());
    }

    #[test]
    fn hex_floats_from_strings() {
        assert_eq!(float("0x1.8p3"), 12.0);
        assert_eq!(float("0x1P4"), 16.0);
        assert_eq!(float("  0x2.5  "), 37.0 / 16.0);
        assert_eq!(float("  -0x2.5  "), -37.0 / 16.0);
        assert_eq!(float("  +0x0.51p+8  "), 81.0);
        assert_eq!(float("0x.8"), 0.5);
        assert_eq!(float("0x8."), 8.0);
        assert_eq!(float("0x1.fffffffffffffp1023"), f64::MAX);
        assert_eq!(float("0x1.fffffffffffff8p1023"), f64::INFINITY);
        assert_eq!(float("0x1p1024"), f64::INFINITY);
        assert_eq!(float("0x.0000000000001p-1022"), 5e-324);
        assert_eq!(float("0x1p-1074"), 5e-324);
        assert_eq!(float("0x1p-1075"), 0.0);
        assert_eq!(float("0x1.000001p-1075"), 5e-324);
        assert_eq!(float("0x3p-1076"), 5e-324);
        assert_eq!(float("0x1.fffffffffffffp-1023"), 2.2250738585072014e-308);
        assert_eq!(float("0x0.fffffffffffff8p-1022"), 2.2250738585072014e-308);
        assert_eq!(float("0x1p99999999999999999999"), f64::INFINITY);
        assert_eq!(float("0x1p-99999999999999999999"), 0.0);
        // Round half to even at 53 bits, with and without far sticky digits.
        assert_eq!(float("0x1.00000000000008p0"), 1.0);
        assert_eq!(float("0x1.00000000000018p0"), 1.0 + 2.0 * f64::EPSILON);
        assert_eq!(float("0x1.000000000000080000000001p0"), 1.0 + f64::EPSILON);
        let fs = "f".repeat(13);
        assert_eq!(float(&format!("0x{fs}.0")), 2f64.powi(52) - 1.0);
        for n in [150, 300, 500] {
            let fs = "f".repeat(n);
            assert_eq!(float(&format!("0x{fs}.0")), 2f64.powi(4 * n as i32));
            let zs = "0".repeat(n);
            assert_eq!(float(&format!("0x0.{zs}1")), 2f64.powi(-4 * (n as i32 + 1)));
        }
        assert_eq!(float(&format!("0x3.{}", "0".repeat(1000))), 3.0);
        assert_eq!(
            num(&format!("0x{}a", "0".repeat(1000))),
            Some(Number::Int(10))
        );
        assert_eq!(float(&format!("0xe03{}p-4000", "0".repeat(1000))), 3587.0);
        assert_eq!(float(&format!("0x.{}74p4004", "0".repeat(1000))), 7.25);
    }

    #[test]
    fn invalid_numerals() {
        for s in [
            "", "  ", "-", "  -0x ", "+ 0.01", "+.e1", "1e", "1.0e+", ".", "inf", " INF ", "Nan",
            "nan", "infinity", "1  a", "1\0", "1 \0", "1\0 ", "e1", "e  1", " 3.4.5 ", "0x", "x",
            "x3", "0x3.3.3", "00x2", "0x 2", "0 x2", "23x", "- 0xaa", "-0xaaP ", "0x0.51p",
            "0x5p+-2", "0x.p1", "0x1p", "1e+-5", "--1", "0x-1", "1_000",
        ] {
            assert_eq!(num(s), None, "{s:?}");
        }
    }

    #[test]
    fn integers_in_bases() {
        let b = |s: &str, base| str_to_int_base(s.as_bytes(), base);
        assert_eq!(b("  001010  ", 2), Some(10));
        assert_eq!(b("  001010  ", 10), Some(1010));
        assert_eq!(b("  -1010  ", 2), Some(-10));
        assert_eq!(b("10", 36), Some(36));
        assert_eq!(b("  -10  ", 36), Some(-36));
        assert_eq!(b("  +1Z  ", 36), Some(71));
        assert_eq!(b("  -1z  ", 36), Some(-71));
        assert_eq!(b("-fFfa", 16), Some(-65530));
        assert_eq!(b("ffffFFFF", 16), Some(0xffff_ffff));
        assert_eq!(b("\t10000000000\t", 7), Some(7i64.pow(10)));
        assert_eq!(b(&"1".repeat(62), 2), Some((1 << 62) - 1));
        assert_eq!(b("ffffffffffffffffff", 16), Some(-1));
        for (s, base) in [
            ("fFfa", 15),
            ("099", 8),
            ("1\0", 2),
            ("", 8),
            ("  ", 9),
            ("0xf", 10),
            ("1  a", 2),
            ("-", 10),
            ("1.0", 10),
            ("1", 37),
            ("1", 1),
        ] {
            assert_eq!(b(s, base), None, "{s:?} {base}");
        }
    }

    #[test]
    fn float_to_int() {
        assert_eq!(float_to_int_exact(3.0), Some(3));
        assert_eq!(float_to_int_exact(-0.0), Some(0));
        assert_eq!(float_to_int_exact(3.5), None);
        assert_eq!(float_to_int_exact(-TWO_POW_63), Some(i64::MIN));
        assert_eq!(float_to_int_exact(TWO_POW_63), None);
        assert_eq!(float_to_int_exact(f64::NAN), None);
        assert_eq!(float_to_int_exact(f64::INFINITY), None);
        assert_eq!(float_floor_to_int(-3.5), Some(-4));
        assert_eq!(float_ceil_to_int(-3.5), Some(-3));
        assert_eq!(float_floor_to_int(9.3e18), None);
        assert_eq!(float_ceil_to_int(-9.3e18), None);
        assert_eq!(float_ceil_to_int(-9.223_372_036_854_776e18), Some(i64::MIN));
        assert_eq!(float_floor_to_int(f64::NAN), None);
        assert_eq!(float_floor_to_int(f64::NEG_INFINITY), None);
    }
}
