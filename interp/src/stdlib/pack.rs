//! The `string.pack` / `string.unpack` / `string.packsize` engine (manual §6.4.2): format
//! parsing, alignment, integer and float encodings, with PUC Lua 5.4's exact error messages and
//! error order.
//!
//! The native layout is that of PUC Lua on x86-64 Linux: `short` 2, `int` 4, `long` 8,
//! `size_t` 8, `lua_Integer` 8, `float` 4, `double`/`lua_Number` 8 bytes, maximum alignment 8,
//! and native endianness taken from the target.
//!
//! A format string ends at its first NUL byte (PUC reads it as a C string).

use std::borrow::Cow;

/// Largest integer size (`i16`, `I16`, `s16`, `!16`).
pub const MAX_INT_SIZE: usize = 16;
/// PUC's `MAXSIZE` (`INT_MAX`): limit for `packsize` results and option sizes.
const MAX_SIZE: usize = i32::MAX as usize;
/// Size of `lua_Integer`.
const LUA_INT_SIZE: usize = 8;
/// Maximum alignment used by a bare `!` (`offsetof(struct { char c; union {double ...} u; }, u)`).
const NATIVE_MAX_ALIGN: usize = 8;
/// Native byte order.
const NATIVE_LITTLE: bool = cfg!(target_endian = "little");

/// An error from pack/unpack/packsize.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PackError {
    /// A plain Lua error with this message (e.g. "invalid format option 'y'").
    Error(String),
    /// An argument error: the caller raises "bad argument #`arg` to 'pack' (`msg`)" (with its
    /// own function name). Argument numbers are Lua's: the format is #1.
    Arg {
        /// Lua argument number.
        arg: usize,
        /// Message inside the parentheses.
        msg: String,
    },
}

impl PackError {
    fn arg(arg: usize, msg: &str) -> PackError {
        PackError::Arg {
            arg,
            msg: msg.to_string(),
        }
    }
}

impl std::fmt::Display for PackError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PackError::Error(m) => f.write_str(m),
            PackError::Arg { arg, msg } => write!(f, "bad argument #{arg} ({msg})"),
        }
    }
}

impl std::error::Error for PackError {}

/// The kind of one format item.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ItemKind {
    /// An integer of `size` bytes (`b h i l j` signed; `B H I L J T` unsigned).
    Int {
        /// Sign-extended on unpack and range-checked as signed on pack.
        signed: bool,
    },
    /// `f`: a C float (4 bytes).
    Float,
    /// `n`: a `lua_Number` (8 bytes).
    Number,
    /// `d`: a C double (8 bytes).
    Double,
    /// `cN`: a fixed-size string of `size` bytes.
    Char,
    /// `sN`: a string preceded by its length as a `size`-byte unsigned integer.
    Str,
    /// `z`: a zero-terminated string.
    Zstr,
    /// `x`: one byte of padding.
    Padding,
    /// `Xop`: padding to the alignment of `op` (which is consumed and otherwise ignored).
    PadAlign,
    /// Spaces and the configuration options `< > = !`.
    Nop,
}

/// One parsed format item, positioned: `pad` alignment bytes precede its `size` bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Item {
    /// What the item is.
    pub kind: ItemKind,
    /// Size in bytes (for `Str`, the size of the length prefix; 0 for `Zstr`, `PadAlign`, `Nop`).
    pub size: usize,
    /// Alignment padding before the item.
    pub pad: usize,
    /// Byte order in effect for the item.
    pub little: bool,
}

/// Reads the items of a format string one at a time, tracking endianness and maximum
/// alignment. Alignment depends on the position reached so far, which the driver passes in.
#[derive(Debug, Clone)]
pub struct FormatReader<'a> {
    fmt: &'a [u8],
    pos: usize,
    little: bool,
    max_align: usize,
}

impl<'a> FormatReader<'a> {
    /// A reader over `fmt` (up to its first NUL), starting native-endian with maximum
    /// alignment 1.
    pub fn new(fmt: &'a [u8]) -> FormatReader<'a> {
        let end = fmt.iter().position(|&c| c == 0).unwrap_or(fmt.len());
        FormatReader {
            fmt: &fmt[..end],
            pos: 0,
            little: NATIVE_LITTLE,
            max_align: 1,
        }
    }

    /// Whether the whole format has been read.
    pub fn at_end(&self) -> bool {
        self.pos >= self.fmt.len()
    }

    /// Reads a decimal size, if present (stops before it would exceed PUC's limit; the
    /// remaining digits are then read as options and rejected).
    fn read_num(&mut self) -> Option<usize> {
        let first = *self.fmt.get(self.pos).filter(|c| c.is_ascii_digit())?;
        let mut n = usize::from(first - b'0');
        self.pos += 1;
        while let Some(&c) = self.fmt.get(self.pos) {
            if !c.is_ascii_digit() || n > (MAX_SIZE - 9) / 10 {
                break;
            }
            n = n * 10 + usize::from(c - b'0');
            self.pos += 1;
        }
        Some(n)
    }

    /// Reads an integer size in 1..=16, defaulting to `default`.
    fn read_int_size(&mut self, default: usize) -> Result<usize, PackError> {
        let n = self.read_num().unwrap_or(default);
        if n == 0 || n > MAX_INT_SIZE {
            return Err(PackError::Error(format!(
                "integral size ({n}) out of limits [1,{MAX_INT_SIZE}]"
            )));
        }
        Ok(n)
    }

    /// Reads one option: its kind and size.
    fn read_option(&mut self) -> Result<(ItemKind, usize), PackError> {
        use ItemKind::*;
        let opt = self.fmt[self.pos];
        self.pos += 1;
        let signed = Int { signed: true };
        let unsigned = Int { signed: false };
        Ok(match opt {
            b'b' => (signed, 1),
            b'B' => (unsigned, 1),
            b'h' => (signed, 2),
            b'H' => (unsigned, 2),
            b'l' | b'j' => (signed, 8),
            b'L' | b'J' | b'T' => (unsigned, 8),
            b'f' => (Float, 4),
            b'n' => (Number, 8),
            b'd' => (Double, 8),
            b'i' => (signed, self.read_int_size(4)?),
            b'I' => (unsigned, self.read_int_size(4)?),
            b's' => (Str, self.read_int_size(8)?),
            b'c' => match self.read_num() {
                Some(n) => (Char, n),
                None => {
                    return Err(PackError::Error(
                        "missing size for format option 'c'".to_string(),
                    ))
                }
            },
            b'z' => (Zstr, 0),
            b'x' => (Padding, 1),
            b'X' => (PadAlign, 0),
            b' ' => (Nop, 0),
            b'<' => {
                self.little = true;
                (Nop, 0)
            }
            b'>' => {
                self.little = false;
                (Nop, 0)
            }
            b'=' => {
                self.little = NATIVE_LITTLE;
                (Nop, 0)
            }
            b'!' => {
                self.max_align = self.read_int_size(NATIVE_MAX_ALIGN)?;
                (Nop, 0)
            }
            _ => {
                return Err(PackError::Error(format!(
                    "invalid format option '{}'",
                    char::from(opt)
                )))
            }
        })
    }

    /// The next item, aligned relative to `total` (bytes produced/consumed so far, or the data
    /// position for unpack); `None` at the end of the format.
    pub fn next_item(&mut self, total: usize) -> Option<Result<Item, PackError>> {
        if self.at_end() {
            return None;
        }
        Some(self.read_item(total))
    }

    fn read_item(&mut self, total: usize) -> Result<Item, PackError> {
        let (kind, size) = self.read_option()?;
        let mut align = size;
        if kind == ItemKind::PadAlign {
            let bad = || PackError::arg(1, "invalid next option for option 'X'");
            if self.at_end() {
                return Err(bad());
            }
            let (next_kind, next_size) = self.read_option()?;
            align = next_size;
            if next_kind == ItemKind::Char || align == 0 {
                return Err(bad());
            }
        }
        let pad = if align <= 1 || kind == ItemKind::Char {
            0
        } else {
            let align = align.min(self.max_align);
            if !align.is_power_of_two() {
                return Err(PackError::arg(
                    1,
                    "format asks for alignment not power of 2",
                ));
            }
            (align - (total & (align - 1))) & (align - 1)
        };
        Ok(Item {
            kind,
            size,
            pad,
            little: self.little,
        })
    }
}

/// Argument access for [`pack`]; errors are built by the implementor (argument numbers are
/// Lua's: the format is #1, the first value #2).
pub trait PackArgs {
    /// The caller's error type; [`PackError`]s convert into it.
    type Error: From<PackError>;
    /// `luaL_checkinteger(arg)`.
    fn integer(&mut self, arg: usize) -> Result<i64, Self::Error>;
    /// `luaL_checknumber(arg)`.
    fn number(&mut self, arg: usize) -> Result<f64, Self::Error>;
    /// `luaL_checklstring(arg)` (numbers are converted to strings).
    fn string(&mut self, arg: usize) -> Result<Cow<'_, [u8]>, Self::Error>;
}

/// Appends the `size`-byte encoding of `v`; bytes beyond the 8 of a Lua integer are sign
/// extension when `negative`.
fn push_int(out: &mut Vec<u8>, v: u64, little: bool, size: usize, negative: bool) {
    let start = out.len();
    for i in 0..size {
        let byte = if i < LUA_INT_SIZE {
            (v >> (8 * i)) as u8
        } else if negative {
            0xff
        } else {
            0
        };
        out.push(byte);
    }
    if !little {
        out[start..].reverse();
    }
}

/// Appends raw native-order bytes in the requested byte order.
fn push_bytes_endian(out: &mut Vec<u8>, le_bytes: &[u8], little: bool) {
    if little {
        out.extend_from_slice(le_bytes);
    } else {
        out.extend(le_bytes.iter().rev());
    }
}

/// `string.pack(fmt, ...)`: encodes the arguments fetched through `args`, checking format and
/// values in PUC's order. Errors: the format errors of [`FormatReader`], and argument errors
/// "integer overflow", "unsigned overflow", "string longer than given size",
/// "string length does not fit in given size", "string contains zeros".
pub fn pack<A: PackArgs>(fmt: &[u8], args: &mut A) -> Result<Vec<u8>, A::Error> {
    let mut reader = FormatReader::new(fmt);
    let mut out = Vec::new();
    let mut total: usize = 0;
    let mut arg = 1;
    while let Some(item) = reader.next_item(total) {
        let item = item?;
        total = total.wrapping_add(item.pad).wrapping_add(item.size);
        out.resize(out.len() + item.pad, 0);
        arg += 1;
        let size = item.size;
        match item.kind {
            ItemKind::Int { signed: true } => {
                let n = args.integer(arg)?;
                if size < LUA_INT_SIZE {
                    let lim = 1i64 << (size * 8 - 1);
                    if !(-lim..lim).contains(&n) {
                        return Err(PackError::arg(arg, "integer overflow").into());
                    }
                }
                push_int(&mut out, n as u64, item.little, size, n < 0);
            }
            ItemKind::Int { signed: false } => {
                let n = args.integer(arg)?;
                if size < LUA_INT_SIZE && (n as u64) >= 1u64 << (size * 8) {
                    return Err(PackError::arg(arg, "unsigned overflow").into());
                }
                push_int(&mut out, n as u64, item.little, size, false);
            }
            ItemKind::Float => {
                // C's (float) conversion: round to nearest, overflow to infinity.
                let f = args.number(arg)? as f32;
                push_bytes_endian(&mut out, &f.to_le_bytes(), item.little);
            }
            ItemKind::Number | ItemKind::Double => {
                let f = args.number(arg)?;
                push_bytes_endian(&mut out, &f.to_le_bytes(), item.little);
            }
            ItemKind::Char => {
                let s = args.string(arg)?;
                if s.len() > size {
                    return Err(PackError::arg(arg, "string longer than given size").into());
                }
                out.extend_from_slice(&s);
                out.resize(out.len() + (size - s.len()), 0);
            }
            ItemKind::Str => {
                let s = args.string(arg)?;
                let len = s.len();
                if size < LUA_INT_SIZE && (len as u64) >= 1u64 << (size * 8) {
                    return Err(
                        PackError::arg(arg, "string length does not fit in given size").into(),
                    );
                }
                push_int(&mut out, len as u64, item.little, size, false);
                out.extend_from_slice(&s);
                total = total.wrapping_add(len);
            }
            ItemKind::Zstr => {
                let s = args.string(arg)?;
                if s.contains(&0) {
                    return Err(PackError::arg(arg, "string contains zeros").into());
                }
                out.extend_from_slice(&s);
                out.push(0);
                total = total.wrapping_add(s.len() + 1);
            }
            ItemKind::Padding => {
                out.push(0);
                arg -= 1;
            }
            ItemKind::PadAlign | ItemKind::Nop => arg -= 1,
        }
    }
    Ok(out)
}

/// `string.packsize(fmt)`. Errors: format errors, and argument #1 errors
/// "variable-length format" (`s`, `z`) and "format result too large" (over `INT_MAX`).
pub fn packsize(fmt: &[u8]) -> Result<usize, PackError> {
    let mut reader = FormatReader::new(fmt);
    let mut total: usize = 0;
    while let Some(item) = reader.next_item(total) {
        let item = item?;
        if matches!(item.kind, ItemKind::Str | ItemKind::Zstr) {
            return Err(PackError::arg(1, "variable-length format"));
        }
        let size = item.size + item.pad;
        if total > MAX_SIZE.saturating_sub(size) {
            return Err(PackError::arg(1, "format result too large"));
        }
        total += size;
    }
    Ok(total)
}

/// A value produced by [`unpack`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Unpacked<'a> {
    /// From an integer option.
    Int(i64),
    /// From `f`, `d` or `n`.
    Float(f64),
    /// From `c`, `s` or `z` (a slice of the data).
    Str(&'a [u8]),
}

/// Decodes a `bytes.len()`-byte integer (1..=16 bytes). Larger-than-8-byte values must fit in
/// an `i64` (the extra bytes must be pure sign/zero extension).
fn read_int(bytes: &[u8], little: bool, signed: bool) -> Result<i64, PackError> {
    let size = bytes.len();
    let byte = |i: usize| {
        if little {
            bytes[i]
        } else {
            bytes[size - 1 - i]
        }
    };
    let limit = size.min(LUA_INT_SIZE);
    let mut res: u64 = 0;
    for i in (0..limit).rev() {
        res = (res << 8) | u64::from(byte(i));
    }
    if size < LUA_INT_SIZE {
        if signed {
            let mask = 1u64 << (size * 8 - 1);
            res = (res ^ mask).wrapping_sub(mask);
        }
    } else if size > LUA_INT_SIZE {
        let fill = if !signed || (res as i64) >= 0 {
            0
        } else {
            0xff
        };
        if (limit..size).any(|i| byte(i) != fill) {
            return Err(PackError::Error(format!(
                "{size}-byte integer does not fit into Lua Integer"
            )));
        }
    }
    Ok(res as i64)
}

/// `string.unpack(fmt, data, pos)` with `pos` the 0-based start offset (Lua's `init - 1` after
/// normalising negative values). Returns the values and the 0-based offset after the last
/// item (Lua returns it plus one). Errors: format errors, "initial position out of string"
/// (#3), "data string too short" and "unfinished string for format 'z'" (#2), and
/// "N-byte integer does not fit into Lua Integer". (PUC also fails with "too many results"
/// when the values would not fit its stack; that limit is the caller's.)
pub fn unpack<'a>(
    fmt: &[u8],
    data: &'a [u8],
    pos: usize,
) -> Result<(Vec<Unpacked<'a>>, usize), PackError> {
    let ld = data.len();
    if pos > ld {
        return Err(PackError::arg(3, "initial position out of string"));
    }
    let mut pos = pos;
    let mut reader = FormatReader::new(fmt);
    let mut values = Vec::new();
    let too_short = || PackError::arg(2, "data string too short");
    while let Some(item) = reader.next_item(pos) {
        let item = item?;
        let size = item.size;
        if item.pad.saturating_add(size) > ld - pos {
            return Err(too_short());
        }
        pos += item.pad;
        let field = &data[pos..pos + size];
        match item.kind {
            ItemKind::Int { signed } => {
                values.push(Unpacked::Int(read_int(field, item.little, signed)?));
            }
            ItemKind::Float => {
                let mut b = [0u8; 4];
                b.copy_from_slice(field);
                if !item.little {
                    b.reverse();
                }
                values.push(Unpacked::Float(f64::from(f32::from_le_bytes(b))));
            }
            ItemKind::Number | ItemKind::Double => {
                let mut b = [0u8; 8];
                b.copy_from_slice(field);
                if !item.little {
                    b.reverse();
                }
                values.push(Unpacked::Float(f64::from_le_bytes(b)));
            }
            ItemKind::Char => values.push(Unpacked::Str(field)),
            ItemKind::Str => {
                let len = read_int(field, item.little, false)? as u64;
                let avail = ld - pos - size;
                let len = usize::try_from(len)
                    .ok()
                    .filter(|&l| l <= avail)
                    .ok_or_else(too_short)?;
                let start = pos + size;
                values.push(Unpacked::Str(&data[start..start + len]));
                pos += len;
            }
            ItemKind::Zstr => {
                let rest = &data[pos..];
                let Some(len) = rest.iter().position(|&c| c == 0) else {
                    return Err(PackError::arg(2, "unfinished string for format 'z'"));
                };
                values.push(Unpacked::Str(&rest[..len]));
                pos += len + 1;
            }
            ItemKind::Padding | ItemKind::PadAlign | ItemKind::Nop => {}
        }
        pos += size;
    }
    Ok((values, pos))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Test arguments: Lua values as integers, floats or strings.
    #[derive(Clone, Debug)]
    enum V {
        I(i64),
        F(f64),
        S(Vec<u8>),
    }

    struct Args(Vec<V>);

    #[derive(Debug, PartialEq)]
    struct TestErr(String);

    impl From<PackError> for TestErr {
        fn from(e: PackError) -> TestErr {
            TestErr(e.to_string())
        }
    }

    impl PackArgs for Args {
        type Error = TestErr;
        fn integer(&mut self, arg: usize) -> Result<i64, TestErr> {
            match self.0.get(arg - 2) {
                Some(V::I(i)) => Ok(*i),
                Some(V::F(f)) if f.fract() == 0.0 => Ok(*f as i64),
                _ => Err(TestErr(format!("bad argument #{arg} (number expected)"))),
            }
        }
        fn number(&mut self, arg: usize) -> Result<f64, TestErr> {
            match self.0.get(arg - 2) {
                Some(V::I(i)) => Ok(*i as f64),
                Some(V::F(f)) => Ok(*f),
                _ => Err(TestErr(format!("bad argument #{arg} (number expected)"))),
            }
        }
        fn string(&mut self, arg: usize) -> Result<Cow<'_, [u8]>, TestErr> {
            match self.0.get(arg - 2) {
                Some(V::S(s)) => Ok(Cow::Borrowed(s)),
                Some(V::I(i)) => Ok(Cow::Owned(i.to_string().into_bytes())),
                _ => Err(TestErr(format!("bad argument #{arg} (string expected)"))),
            }
        }
    }

    fn p(fmt: &str, vals: &[V]) -> Vec<u8> {
        pack(fmt.as_bytes(), &mut Args(vals.to_vec())).unwrap()
    }

    fn perr(fmt: &str, vals: &[V]) -> String {
        pack(fmt.as_bytes(), &mut Args(vals.to_vec()))
            .unwrap_err()
            .0
    }

    fn u<'a>(fmt: &str, data: &'a [u8]) -> Vec<Unpacked<'a>> {
        unpack(fmt.as_bytes(), data, 0).unwrap().0
    }

    fn uerr(fmt: &str, data: &[u8]) -> String {
        unpack(fmt.as_bytes(), data, 0).unwrap_err().to_string()
    }

    fn int1(fmt: &str, data: &[u8]) -> i64 {
        match u(fmt, data)[0] {
            Unpacked::Int(i) => i,
            ref other => panic!("{other:?}"),
        }
    }

    use V::{F, I, S};

    #[test]
    fn sizes() {
        for (fmt, size) in [
            ("h", 2),
            ("i", 4),
            ("l", 8),
            ("T", 8),
            ("j", 8),
            ("f", 4),
            ("d", 8),
            ("n", 8),
            ("!xXi16", 8),
            ("<! c3", 3),
            ("c0", 0),
            (" b b Xd b Xb x", 4),
            ("!8 xXi8", 8),
            ("!8 xXi2", 2),
            ("!2 xXi2", 2),
            ("!2 xXi8", 2),
            ("!16 xXi16", 16),
            (">!8 b Xh i4 i8 c1 Xi8", 24),
            ("i\0zzz", 4),
        ] {
            assert_eq!(packsize(fmt.as_bytes()), Ok(size), "{fmt}");
        }
        let s = "c268435456".repeat(8);
        assert_eq!(
            packsize(s.as_bytes()).unwrap_err().to_string(),
            "bad argument #1 (format result too large)"
        );
        let s = "c268435456".repeat(7) + "c268435455";
        assert_eq!(packsize(s.as_bytes()), Ok(0x7fff_ffff));
    }

    #[test]
    fn integers() {
        for i in 1..=16usize {
            let ff = vec![0xffu8; i];
            assert_eq!(p(&format!("i{i}"), &[I(-1)]), ff);
            assert_eq!(int1(&format!("i{i}"), &ff), -1);
            let mut aa = vec![0u8; i];
            aa[0] = 0xaa;
            assert_eq!(p(&format!("<I{i}"), &[I(0xaa)]), aa);
            assert_eq!(int1(&format!("<I{i}"), &aa), 0xaa);
            let mut rev = aa.clone();
            rev.reverse();
            assert_eq!(p(&format!(">I{i}"), &[I(0xaa)]), rev);
            assert_eq!(int1(&format!(">I{i}"), &rev), 0xaa);
        }
        assert_eq!(int1("B", &p("B", &[I(0xff)])), 0xff);
        assert_eq!(int1("b", &p("b", &[I(-0x80)])), -0x80);
        assert_eq!(int1("h", &p("h", &[I(-0x8000)])), -0x8000);
        assert_eq!(int1("L", &p("L", &[I(0xffffffff)])), 0xffffffff);
        // Sign extension and wide integers.
        assert_eq!(int1("<i3", b"\xf0\xff\xff"), -16);
        assert_eq!(int1(">I3", b"\xf0\xff\xff"), 0xf0ffff);
        let lnum: i64 = 0x0807060504030201 ^ (-1i64 << 60);
        let s = p("<j", &[I(lnum)]);
        for i in 9..=16 {
            let mut ext = s.clone();
            ext.resize(i, if lnum < 0 { 0xff } else { 0 });
            assert_eq!(int1(&format!("<i{i}"), &ext), lnum);
            let mut zext = s.clone();
            zext.resize(i, 0);
            assert_eq!(int1(&format!("<I{i}"), &zext), lnum);
            let mut bad = vec![0u8; i];
            bad[i - 1] = 1;
            assert_eq!(
                uerr(&format!("<I{i}"), &bad),
                format!("{i}-byte integer does not fit into Lua Integer")
            );
            let mut bad = vec![0u8; i];
            bad[0] = 1;
            assert_eq!(
                uerr(&format!(">i{i}"), &bad),
                format!("{i}-byte integer does not fit into Lua Integer")
            );
        }
        assert_eq!(p("<i16", &[I(-2)])[8..], [0xff; 8]);
        assert_eq!(p("<I16", &[I(-2)])[8..], [0; 8]);
        assert_eq!(
            uerr("i16", &[3; 16]),
            "16-byte integer does not fit into Lua Integer"
        );
        // Mixed endianness.
        assert_eq!(p(">i2 <i2", &[I(10), I(20)]), b"\0\x0a\x14\0");
        assert_eq!(p("=i4", &[I(2001)]), p("i4", &[I(2001)]));
        assert_eq!(
            u("<i2 >i2", b"\x0a\0\0\x14"),
            [Unpacked::Int(10), Unpacked::Int(20)]
        );
        assert_eq!(int1("<J", &p("<j", &[I(-1)])), -1);
    }

    #[test]
    fn overflow_checks() {
        for i in 1..8u32 {
            let umax = (1i64 << (i * 8)) - 1;
            let max = umax >> 1;
            let min = !max;
            for (fmt, v, msg) in [
                ("<I", -1, "unsigned overflow"),
                ("<I", min, "unsigned overflow"),
                (">I", umax + 1, "unsigned overflow"),
                (">i", umax, "integer overflow"),
                (">i", max + 1, "integer overflow"),
                ("<i", min - 1, "integer overflow"),
            ] {
                assert_eq!(
                    perr(&format!("{fmt}{i}"), &[I(v)]),
                    format!("bad argument #2 ({msg})")
                );
            }
            assert_eq!(
                int1(&format!(">i{i}"), &p(&format!(">i{i}"), &[I(max)])),
                max
            );
            assert_eq!(
                int1(&format!("<i{i}"), &p(&format!("<i{i}"), &[I(min)])),
                min
            );
            assert_eq!(
                int1(&format!(">I{i}"), &p(&format!(">I{i}"), &[I(umax)])),
                umax
            );
        }
        assert_eq!(
            perr("i4 i1", &[I(1), I(200)]),
            "bad argument #3 (integer overflow)"
        );
    }

    #[test]
    fn floats() {
        for n in [
            0.0,
            -1.1,
            1.9,
            f64::INFINITY,
            f64::NEG_INFINITY,
            1e20,
            -1e20,
            0.1,
            2000.7,
        ] {
            for fmt in ["n", "<n", ">n", "<d", ">d"] {
                assert_eq!(u(fmt, &p(fmt, &[F(n)])), [Unpacked::Float(n)]);
            }
            let mut le = p("<f", &[F(n)]);
            le.reverse();
            assert_eq!(le, p(">f", &[F(n)]));
        }
        for n in [0.0, -1.5, 1e10, -1e9, 0.5, 2000.25] {
            assert_eq!(u("<f", &p("<f", &[F(n)])), [Unpacked::Float(n)]);
            assert_eq!(u(">f", &p(">f", &[F(n)])), [Unpacked::Float(n)]);
        }
        assert_eq!(p("<f", &[F(1e300)]), f32::INFINITY.to_le_bytes());
        assert_eq!(p(">d", &[I(1)]), 1f64.to_be_bytes());
    }

    #[test]
    fn strings() {
        let s = b"abc".repeat(1000);
        let mut want = s.clone();
        want.extend_from_slice(b"\0\xf7");
        assert_eq!(p("zB", &[S(s.clone()), I(247)]), want);
        let mut data = s.clone();
        data.extend_from_slice(b"\0\xf9");
        assert_eq!(u("zB", &data), [Unpacked::Str(&s), Unpacked::Int(249)]);
        let packed = p("s", &[S(s.clone())]);
        assert_eq!(u("s", &packed), [Unpacked::Str(&s)]);
        for i in 2..=16 {
            let packed = p(&format!("s{i}"), &[S(s.clone())]);
            assert_eq!(packed.len(), s.len() + i);
            assert_eq!(u(&format!("s{i}"), &packed), [Unpacked::Str(&s)]);
        }
        assert_eq!(
            perr("s1", &[S(s.clone())]),
            "bad argument #2 (string length does not fit in given size)"
        );
        assert_eq!(
            perr("z", &[S(b"alo\0".to_vec())]),
            "bad argument #2 (string contains zeros)"
        );
        assert_eq!(
            uerr("zc10000000", b"alo"),
            "bad argument #2 (unfinished string for format 'z')"
        );
        let x = p("s", &[S(b"alo".to_vec())]);
        assert_eq!(
            uerr("s", &x[..x.len() - 1]),
            "bad argument #2 (data string too short)"
        );
        assert_eq!(
            uerr("c5", b"abcd"),
            "bad argument #2 (data string too short)"
        );
        assert_eq!(
            perr("s100", &[S(b"alo".to_vec())]),
            "integral size (100) out of limits [1,16]"
        );
        assert_eq!(p("c0", &[S(vec![])]), b"");
        assert_eq!(u("c0", b""), [Unpacked::Str(b"")]);
        assert_eq!(p("<! c3", &[S(b"abc".to_vec())]), b"abc");
        assert_eq!(p(">!4 c6", &[S(b"abcdef".to_vec())]), b"abcdef");
        assert_eq!(p("c8", &[S(b"123456".to_vec())]), b"123456\0\0");
        assert_eq!(p("c188", &[S(b"ab".to_vec())]).len(), 188);
        assert_eq!(p("c3", &[I(123)]), b"123");
        let (vals, next) = unpack(b"!4 z c3", b"abcdefghi\0xyz", 0).unwrap();
        assert_eq!(vals, [Unpacked::Str(b"abcdefghi"), Unpacked::Str(b"xyz")]);
        assert_eq!(next + 1, 14);
        assert_eq!(
            perr("c3", &[S(b"1234".to_vec())]),
            "bad argument #2 (string longer than given size)"
        );
    }

    #[test]
    fn mixed_sequence() {
        let fmt = "<b h b f d f n i";
        let vals: Vec<V> = (1..=8).map(I).collect();
        let x = p(fmt, &vals);
        assert_eq!(x.len(), packsize(fmt.as_bytes()).unwrap());
        let got = u(fmt, &x);
        let want: Vec<Unpacked> = [
            Unpacked::Int(1),
            Unpacked::Int(2),
            Unpacked::Int(3),
            Unpacked::Float(4.0),
            Unpacked::Float(5.0),
            Unpacked::Float(6.0),
            Unpacked::Float(7.0),
            Unpacked::Int(8),
        ]
        .to_vec();
        assert_eq!(got, want);
    }

    #[test]
    fn alignment() {
        assert_eq!(p(" < i1 i2 ", &[I(2), I(3)]), b"\x02\x03\0");
        let x = p(
            ">!8 b Xh i4 i8 c1 Xi8",
            &[I(-12), I(100), I(200), S(b"\xec".to_vec())],
        );
        let want: &[u8] = b"\xf4\0\0\0\0\0\0\x64\0\0\0\0\0\0\0\xc8\xec\0\0\0\0\0\0\0";
        assert_eq!(x, want);
        let (vals, next) = unpack(b">!8 c1 Xh i4 i8 b Xi8 XI XH", &x, 0).unwrap();
        assert_eq!(
            vals,
            [
                Unpacked::Str(b"\xf4"),
                Unpacked::Int(100),
                Unpacked::Int(200),
                Unpacked::Int(-20)
            ]
        );
        assert_eq!(next, x.len());
        let x = p(
            ">!4 c3 c4 c2 z i4 c5 c2 Xi4",
            &[
                S(b"abc".to_vec()),
                S(b"abcd".to_vec()),
                S(b"xz".to_vec()),
                S(b"hello".to_vec()),
                I(5),
                S(b"world".to_vec()),
                S(b"xy".to_vec()),
            ],
        );
        assert_eq!(x, b"abcabcdxzhello\0\0\0\0\0\x05worldxy\0");
        let (_, next) = unpack(b">!4 c3 c4 c2 z i4 c5 c2 Xh Xi4", &x, 0).unwrap();
        assert_eq!(next % 4, 0);
        assert_eq!(p(" b b Xd b Xb x", &[I(1), I(2), I(3)]), b"\x01\x02\x03\0");
        let (vals, next) = unpack(b"bbXdb", b"\x01\x02\x03\0", 0).unwrap();
        assert_eq!(vals.len(), 3);
        assert_eq!(next + 1, 4);
        for (fmt, next) in [
            ("!8 xXi8", 8),
            ("!8 xXi2", 2),
            ("!2 xXi2", 2),
            ("!2 xXi8", 2),
            ("!16 xXi16", 16),
        ] {
            assert_eq!(
                unpack(fmt.as_bytes(), b"0123456701234567", 0).unwrap().1,
                next
            );
        }
    }

    #[test]
    fn positions() {
        let x = p("i4i4i4i4", &[I(1), I(2), I(3), I(4)]);
        for pos in (0..16).step_by(4) {
            let (vals, next) = unpack(b"i4", &x, pos).unwrap();
            assert_eq!(vals, [Unpacked::Int(pos as i64 / 4 + 1)]);
            assert_eq!(next, pos + 4);
        }
        for pos in 0..=12usize {
            let (vals, next) = unpack(b"!4 i4", &x, pos).unwrap();
            let i = pos.div_ceil(4) + 1;
            assert_eq!(vals, [Unpacked::Int(i as i64)]);
            assert_eq!(next, i * 4);
        }
        for pos in 0..=16 {
            assert_eq!(unpack(b"c0", &x, pos).unwrap().0, [Unpacked::Str(b"")]);
        }
        assert_eq!(
            unpack(b"c0", &x, 17).unwrap_err().to_string(),
            "bad argument #3 (initial position out of string)"
        );
    }

    #[test]
    fn format_errors() {
        // Messages from lua5.4.
        for (fmt, msg) in [
            ("i0", "integral size (0) out of limits [1,16]"),
            ("i17", "integral size (17) out of limits [1,16]"),
            ("!17", "integral size (17) out of limits [1,16]"),
            ("Xi17", "integral size (17) out of limits [1,16]"),
            ("i3r", "invalid format option 'r'"),
            (
                "!4i3",
                "bad argument #1 (format asks for alignment not power of 2)",
            ),
            ("c", "missing size for format option 'c'"),
            ("X", "bad argument #1 (invalid next option for option 'X')"),
            (
                "Xc1",
                "bad argument #1 (invalid next option for option 'X')",
            ),
            (
                "X i",
                "bad argument #1 (invalid next option for option 'X')",
            ),
            (
                "XXi",
                "bad argument #1 (invalid next option for option 'X')",
            ),
            (
                "i99999999999999",
                "integral size (999999999) out of limits [1,16]",
            ),
        ] {
            assert_eq!(perr(fmt, &[I(0)]), msg, "{fmt}");
        }
        assert_eq!(
            packsize(format!("c1{}", "0".repeat(40)).as_bytes()).unwrap_err(),
            PackError::Error("invalid format option '0'".into())
        );
        assert_eq!(
            packsize(b"s").unwrap_err().to_string(),
            "bad argument #1 (variable-length format)"
        );
        assert_eq!(
            packsize(b"z").unwrap_err().to_string(),
            "bad argument #1 (variable-length format)"
        );
        assert_eq!(
            uerr("XXi", b""),
            "bad argument #1 (invalid next option for option 'X')"
        );
        // The format is checked item by item, interleaved with the values.
        assert_eq!(
            perr("i1 y", &[I(1000)]),
            "bad argument #2 (integer overflow)"
        );
        assert_eq!(perr("i1 y", &[I(1)]), "invalid format option 'y'");
        assert_eq!(perr("i", &[]), "bad argument #2 (number expected)");
    }
}
