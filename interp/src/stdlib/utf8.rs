//! The utf8 library (manual §6.5): `char charpattern codepoint codes len offset`, with the
//! `lax` variants that accept surrogates and code points up to `0x7FFFFFFF` (the original
//! 6-byte UTF-8), exactly as PUC Lua 5.4 decodes them.

use crate::stdlib::string::check_stack;
use crate::value::Value;
use crate::vm::native::{Action, Ctx};
use crate::vm::{LuaResult, State};

/// Largest code point accepted in lax mode.
const MAXUTF: u32 = 0x7FFF_FFFF;
/// Largest Unicode code point.
const MAXUNICODE: u32 = 0x10_FFFF;
/// Message for malformed sequences.
const MSG_INVALID: &str = "invalid UTF-8 code";
/// Pattern matching exactly one UTF-8 byte sequence.
const CHARPATTERN: &[u8] = b"[\0-\x7F\xC2-\xFD][\x80-\xBF]*";

/// Installs the `utf8` table.
pub fn open(st: &mut State) {
    let t = st.new_table(0, 6);
    st.register(t, "offset", offset);
    st.register(t, "codepoint", codepoint);
    st.register(t, "char", char);
    st.register(t, "len", len);
    st.register(t, "codes", codes);
    let p = Value::Str(st.intern(CHARPATTERN));
    st.set_field(t, "charpattern", p);
    let g = st.globals;
    st.set_field(g, "utf8", Value::Table(t));
    let l = st.loaded;
    st.set_field(l, "utf8", Value::Table(t));
}

/// `true` for continuation bytes (`10xxxxxx`).
fn iscont(c: u8) -> bool {
    c & 0xC0 == 0x80
}

/// The byte at `i`, or 0 past the end (PUC reads the string's terminating NUL).
fn at(s: &[u8], i: usize) -> u8 {
    s.get(i).copied().unwrap_or(0)
}

/// Relative string position: negative means back from the end (`u_posrelat`).
fn posrelat(pos: i64, len: usize) -> i64 {
    if pos >= 0 {
        pos
    } else if pos.unsigned_abs() > len as u64 {
        0
    } else {
        len as i64 + pos + 1
    }
}

/// Decodes the sequence starting at `i`: the code point and the position after it, or `None`
/// when the bytes are not valid (in strict mode also surrogates and values above U+10FFFF).
fn decode(s: &[u8], i: usize, strict: bool) -> Option<(u32, usize)> {
    const LIMITS: [u32; 6] = [!0, 0x80, 0x800, 0x1_0000, 0x20_0000, 0x400_0000];
    let mut c = u32::from(at(s, i));
    let mut res: u32;
    let mut next = i + 1;
    if c < 0x80 {
        res = c;
    } else {
        res = 0;
        let mut count = 0usize;
        while c & 0x40 != 0 {
            count += 1;
            let cc = at(s, i + count);
            if !iscont(cc) {
                return None;
            }
            res = (res << 6) | u32::from(cc & 0x3F);
            c <<= 1;
        }
        if count > 5 {
            return None;
        }
        res |= (c & 0x7F) << (count * 5);
        if res > MAXUTF || res < LIMITS[count] {
            return None;
        }
        next += count;
    }
    if strict && (res > MAXUNICODE || (0xD800..=0xDFFF).contains(&res)) {
        return None;
    }
    Some((res, next))
}

/// Encodes a code point up to `0x7FFFFFFF` (PUC's `luaO_utf8esc`, extended UTF-8).
fn encode(x: u32, out: &mut Vec<u8>) {
    if x < 0x80 {
        out.push(x as u8);
        return;
    }
    let mut buf = [0u8; 8];
    let mut n = 1;
    let mut x = x;
    let mut mfb: u32 = 0x3f;
    loop {
        buf[8 - n] = 0x80 | (x & 0x3f) as u8;
        n += 1;
        x >>= 6;
        mfb >>= 1;
        if x <= mfb {
            break;
        }
    }
    buf[8 - n] = ((!mfb << 1) | x) as u8;
    out.extend_from_slice(&buf[8 - n..]);
}

fn len(ctx: &mut Ctx) -> LuaResult<Action> {
    let s = ctx.check_str(1)?;
    let l = s.len();
    let posi = posrelat(ctx.opt_int(2, 1)?, l);
    let posj = posrelat(ctx.opt_int(3, -1)?, l);
    let lax = ctx.arg(4).truthy();
    if !(1 <= posi && posi - 1 <= l as i64) {
        return Err(ctx.arg_error(2, "initial position out of bounds"));
    }
    let mut posi = (posi - 1) as usize;
    let posj = posj - 1;
    if posj >= l as i64 {
        return Err(ctx.arg_error(3, "final position out of bounds"));
    }
    let b = s.as_bytes();
    let mut n: i64 = 0;
    while posi as i64 <= posj {
        match decode(b, posi, !lax) {
            Some((_, next)) => {
                posi = next;
                n += 1;
            }
            None => return ctx.ret(&[Value::Nil, Value::Int(posi as i64 + 1)]),
        }
    }
    ctx.ret1(Value::Int(n))
}

fn codepoint(ctx: &mut Ctx) -> LuaResult<Action> {
    let s = ctx.check_str(1)?;
    let l = s.len();
    let posi = posrelat(ctx.opt_int(2, 1)?, l);
    let pose = posrelat(ctx.opt_int(3, posi)?, l);
    let lax = ctx.arg(4).truthy();
    if posi < 1 {
        return Err(ctx.arg_error(2, "out of bounds"));
    }
    if pose > l as i64 {
        return Err(ctx.arg_error(3, "out of bounds"));
    }
    if posi > pose {
        return Ok(Action::Return(0));
    }
    if pose - posi >= i64::from(i32::MAX) {
        return Err(ctx.error("string slice too long"));
    }
    check_stack(ctx, (pose - posi) as usize + 1, "string slice too long")?;
    let b = s.as_bytes();
    let end = pose as usize;
    let mut i = posi as usize - 1;
    let mut n = 0;
    while i < end {
        match decode(b, i, !lax) {
            Some((code, next)) => {
                ctx.push(Value::Int(i64::from(code)));
                n += 1;
                i = next;
            }
            None => return Err(ctx.error(MSG_INVALID)),
        }
    }
    Ok(Action::Return(n))
}

fn char(ctx: &mut Ctx) -> LuaResult<Action> {
    let n = ctx.nargs();
    let mut out = Vec::with_capacity(n);
    for i in 1..=n {
        let code = ctx.check_int(i)? as u64;
        if code > u64::from(MAXUTF) {
            return Err(ctx.arg_error(i, "value out of range"));
        }
        encode(code as u32, &mut out);
    }
    let v = ctx.new_string(out);
    ctx.ret1(v)
}

fn offset(ctx: &mut Ctx) -> LuaResult<Action> {
    let s = ctx.check_str(1)?;
    let l = s.len();
    let mut n = ctx.check_int(2)?;
    let default = if n >= 0 { 1 } else { l as i64 + 1 };
    let posi = posrelat(ctx.opt_int(3, default)?, l);
    if !(1 <= posi && posi - 1 <= l as i64) {
        return Err(ctx.arg_error(3, "position out of bounds"));
    }
    let b = s.as_bytes();
    let mut posi = (posi - 1) as usize;
    if n == 0 {
        while posi > 0 && iscont(at(b, posi)) {
            posi -= 1;
        }
    } else {
        if iscont(at(b, posi)) {
            return Err(ctx.error("initial position is a continuation byte"));
        }
        if n < 0 {
            while n < 0 && posi > 0 {
                loop {
                    posi -= 1;
                    if !(posi > 0 && iscont(at(b, posi))) {
                        break;
                    }
                }
                n += 1;
            }
        } else {
            n -= 1;
            while n > 0 && posi < l {
                loop {
                    posi += 1;
                    if !iscont(at(b, posi)) {
                        break;
                    }
                }
                n -= 1;
            }
        }
    }
    if n == 0 {
        ctx.ret1(Value::Int(posi as i64 + 1))
    } else {
        ctx.ret1(Value::Nil)
    }
}

/// Iterator of `utf8.codes`: the control value is the byte position of the previous character.
fn iter_aux(ctx: &mut Ctx, strict: bool) -> LuaResult<Action> {
    let s = ctx.check_str(1)?;
    let b = s.as_bytes();
    let l = b.len() as u64;
    let mut n = match ctx.arg(2) {
        Value::Int(i) => i as u64,
        v => ctx.st.to_integer(v).unwrap_or(0) as u64,
    };
    if n < l {
        while iscont(at(b, n as usize)) {
            n += 1;
        }
    }
    if n >= l {
        return Ok(Action::Return(0));
    }
    match decode(b, n as usize, strict) {
        Some((code, next)) if !iscont(at(b, next)) => {
            ctx.ret(&[Value::Int(n as i64 + 1), Value::Int(i64::from(code))])
        }
        _ => Err(ctx.error(MSG_INVALID)),
    }
}

fn iter_strict(ctx: &mut Ctx) -> LuaResult<Action> {
    iter_aux(ctx, true)
}

fn iter_lax(ctx: &mut Ctx) -> LuaResult<Action> {
    iter_aux(ctx, false)
}

fn codes(ctx: &mut Ctx) -> LuaResult<Action> {
    let lax = ctx.arg(2).truthy();
    let s = ctx.check_str(1)?;
    if iscont(at(s.as_bytes(), 0)) {
        return Err(ctx.arg_error(1, MSG_INVALID));
    }
    let f = if lax {
        ctx.st.new_native(iter_lax, "for iterator")
    } else {
        ctx.st.new_native(iter_strict, "for iterator")
    };
    ctx.ret(&[f, Value::Str(s), Value::Int(0)])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encode_decode_round_trip() {
        for &cp in &[
            0u32, 0x7F, 0x80, 0x7FF, 0x800, 0xFFFF, 0x1_0000, 0x10_FFFF, 0x20_0000, MAXUTF,
        ] {
            let mut b = Vec::new();
            encode(cp, &mut b);
            assert_eq!(decode(&b, 0, false), Some((cp, b.len())));
            if cp <= MAXUNICODE {
                assert!(std::str::from_utf8(&b).is_ok());
            }
        }
    }

    #[test]
    fn rejects_invalid_sequences() {
        assert_eq!(decode(b"\xC0\x80", 0, false), None); // overlong
        assert_eq!(decode(b"\xE2\x82", 0, false), None); // truncated
        assert_eq!(decode(b"\xFF", 0, false), None);
        assert_eq!(decode(b"\xED\xA0\x80", 0, true), None); // surrogate (strict)
        assert_eq!(decode(b"\xED\xA0\x80", 0, false), Some((0xD800, 3)));
    }
}
