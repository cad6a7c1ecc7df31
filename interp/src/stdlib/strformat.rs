//! The `string.format` engine: format-string scanning and validation, and C-`printf`-compatible
//! formatting primitives (`%d %i %u %c %o %x %X %a %A %e %E %f %g %G %s %p %q`).
//!
//! Everything here is state independent: the VM-side `string.format` either drives [`format`]
//! through the [`FormatArgs`] trait (which fetches and converts Lua arguments), or walks
//! [`pieces`] itself and calls the primitives. Output is byte-for-byte what PUC Lua 5.4 produces on
//! glibc/x86-64, including error messages and the order in which errors are detected.
//!
//! Floating-point conversions are exact: decimal digits come from Rust's correctly rounded
//! `{:.N}` / `{:.Ne}` formatting (round-half-even on the exact binary value, like glibc), and
//! `%a` is produced directly from the bits.

use std::fmt::Write as _;

/// Longest accepted conversion text after the `%` (flags, width, precision and the conversion
/// character); PUC rejects longer ones with "invalid format (too long)".
const MAX_CONVERSION_LEN: usize = 21;

/// Flags accepted by the `a A e E f g G` conversions.
const FLAGS_FLOAT: &[u8] = b"-+#0 ";
/// Flags accepted by the `o x X` conversions.
const FLAGS_RADIX: &[u8] = b"-#0";
/// Flags accepted by the `d i` conversions.
const FLAGS_INT: &[u8] = b"-+0 ";
/// Flags accepted by the `u` conversion.
const FLAGS_UINT: &[u8] = b"-0";
/// Flags accepted by the `c p s` conversions.
const FLAGS_CHAR: &[u8] = b"-";

/// Whether `c` may appear between `%` and the conversion character (flags, digits, `.`).
#[inline]
fn is_spec_char(c: u8) -> bool {
    matches!(c, b'-' | b'+' | b'#' | b'0' | b' ' | b'1'..=b'9' | b'.')
}

/// A validated conversion specification: flags, field width, precision and conversion character.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Spec {
    /// The conversion character (`b'd'`, `b'g'`, ...).
    pub conv: u8,
    /// `-`: left-justify within the field.
    pub left: bool,
    /// `+`: always print a sign for signed conversions.
    pub plus: bool,
    /// ` `: print a space where a `+` sign would go.
    pub space: bool,
    /// `#`: alternate form (`0x` prefix, leading octal `0`, keep the decimal point / zeros).
    pub alt: bool,
    /// `0`: pad with zeros after the sign/prefix instead of spaces before it.
    pub zero: bool,
    /// Minimum field width (0 = none).
    pub width: usize,
    /// Precision (`None` = not given; `%.d` gives `Some(0)`).
    pub precision: Option<usize>,
}

impl Spec {
    /// A spec with no flags, width or precision for conversion `conv`.
    pub fn new(conv: u8) -> Spec {
        Spec {
            conv,
            ..Spec::default()
        }
    }

    /// Parses the text between `%` and the conversion character (already validated, so every
    /// byte is a flag, digit or `.`).
    fn from_modifiers(modifiers: &[u8], conv: u8) -> Spec {
        let mut spec = Spec::new(conv);
        let mut i = 0;
        while let Some(&c) = modifiers.get(i) {
            match c {
                b'-' => spec.left = true,
                b'+' => spec.plus = true,
                b' ' => spec.space = true,
                b'#' => spec.alt = true,
                b'0' => spec.zero = true,
                _ => break,
            }
            i += 1;
        }
        let (width, rest) = parse_decimal(&modifiers[i..]);
        spec.width = width;
        if let Some((b'.', rest)) = rest.split_first() {
            spec.precision = Some(parse_decimal(rest).0);
        }
        spec
    }
}

/// Parses leading decimal digits (saturating), returning the value and the rest.
fn parse_decimal(s: &[u8]) -> (usize, &[u8]) {
    let n = s.iter().take_while(|c| c.is_ascii_digit()).count();
    let value = s[..n].iter().fold(0usize, |acc, &d| {
        acc.saturating_mul(10).saturating_add(usize::from(d - b'0'))
    });
    (value, &s[n..])
}

/// What a conversion character asks for; decides which argument conversion the caller performs
/// (`luaL_checkinteger`, `luaL_checknumber`, `luaL_tolstring`, ...).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConvKind {
    /// `%c`: an integer, output as one byte.
    Char,
    /// `%d` / `%i`: a signed integer.
    Int,
    /// `%u`: an integer printed as unsigned decimal.
    Uint,
    /// `%o` / `%x` / `%X`: an integer printed unsigned in base 8 or 16.
    Radix,
    /// `%a` / `%A`: a float in hexadecimal notation.
    HexFloat,
    /// `%e %E %f %g %G`: a float in decimal notation.
    Float,
    /// `%p`: the address of a value (or `(null)`).
    Pointer,
    /// `%q`: a Lua literal.
    Quote,
    /// `%s`: the `tostring` of a value.
    Str,
}

/// One piece of a format string, as produced by [`pieces`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Piece<'a> {
    /// Bytes copied verbatim (never contains `%`).
    Literal(&'a [u8]),
    /// `%%`: a single `%`.
    Percent,
    /// A conversion, not yet validated (it consumes one argument even if invalid).
    Conv(Conversion<'a>),
}

/// A raw conversion taken from a format string: the modifiers after `%` and the conversion
/// character. Validation is split in two steps so the caller can interleave argument checks in
/// PUC's order (see [`format`]): [`Conversion::kind`] (length and conversion character), then
/// [`Conversion::spec`] (flags/width/precision allowed for that conversion).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Conversion<'a> {
    /// Bytes between `%` and the conversion character (flags, digits, dots and spaces).
    modifiers: &'a [u8],
    /// The conversion character; `None` when the format string ended first.
    conv: Option<u8>,
}

impl<'a> Conversion<'a> {
    /// The conversion character (0 when the format string ended before it).
    pub fn conv(&self) -> u8 {
        self.conv.unwrap_or(0)
    }

    /// Whether anything (flags, width, precision) sits between `%` and the conversion character.
    pub fn has_modifiers(&self) -> bool {
        !self.modifiers.is_empty()
    }

    /// The conversion text as PUC quotes it in error messages: `%`, modifiers, conversion
    /// character, cut at the first NUL byte (C string semantics).
    fn form(&self) -> String {
        let mut s = Vec::with_capacity(self.modifiers.len() + 2);
        s.push(b'%');
        s.extend_from_slice(self.modifiers);
        s.extend(self.conv);
        if let Some(nul) = s.iter().position(|&c| c == 0) {
            s.truncate(nul);
        }
        String::from_utf8_lossy(&s).into_owned()
    }

    /// Classifies the conversion. Errors: `invalid format (too long)` and
    /// `invalid conversion '%...' to 'format'` (unknown conversion character, including
    /// `%F`, length modifiers like `%ld`, or a format string ending after `%`).
    pub fn kind(&self) -> Result<ConvKind, String> {
        if self.modifiers.len() >= MAX_CONVERSION_LEN {
            return Err("invalid format (too long)".to_string());
        }
        Ok(match self.conv {
            Some(b'c') => ConvKind::Char,
            Some(b'd' | b'i') => ConvKind::Int,
            Some(b'u') => ConvKind::Uint,
            Some(b'o' | b'x' | b'X') => ConvKind::Radix,
            Some(b'a' | b'A') => ConvKind::HexFloat,
            Some(b'e' | b'E' | b'f' | b'g' | b'G') => ConvKind::Float,
            Some(b'p') => ConvKind::Pointer,
            Some(b'q') => ConvKind::Quote,
            Some(b's') => ConvKind::Str,
            _ => return Err(format!("invalid conversion '{}' to 'format'", self.form())),
        })
    }

    /// Validates the modifiers for this conversion and returns the parsed [`Spec`]. Errors (in
    /// addition to those of [`Conversion::kind`]):
    /// `invalid conversion specification: '%...'` (flag not allowed for the conversion, width or
    /// precision longer than two digits, width starting with `0`, precision where none is
    /// allowed) and `specifier '%q' cannot have modifiers`.
    pub fn spec(&self) -> Result<Spec, String> {
        let (flags, precision_ok) = match self.kind()? {
            ConvKind::Char | ConvKind::Pointer => (FLAGS_CHAR, false),
            ConvKind::Str => (FLAGS_CHAR, true),
            ConvKind::Int => (FLAGS_INT, true),
            ConvKind::Uint => (FLAGS_UINT, true),
            ConvKind::Radix => (FLAGS_RADIX, true),
            ConvKind::HexFloat | ConvKind::Float => (FLAGS_FLOAT, true),
            ConvKind::Quote => {
                if self.has_modifiers() {
                    return Err("specifier '%q' cannot have modifiers".to_string());
                }
                return Ok(Spec::new(b'q'));
            }
        };
        let m = self.modifiers;
        let mut i = m.iter().take_while(|c| flags.contains(c)).count();
        if m.get(i) != Some(&b'0') {
            i += m[i..]
                .iter()
                .take(2)
                .take_while(|c| c.is_ascii_digit())
                .count();
            if precision_ok && m.get(i) == Some(&b'.') {
                i += 1;
                i += m[i..]
                    .iter()
                    .take(2)
                    .take_while(|c| c.is_ascii_digit())
                    .count();
            }
        }
        if i != m.len() {
            return Err(format!(
                "invalid conversion specification: '{}'",
                self.form()
            ));
        }
        Ok(Spec::from_modifiers(m, self.conv()))
    }
}

/// Iterator over the [`Piece`]s of a format string; see [`pieces`].
#[derive(Debug, Clone)]
pub struct Pieces<'a> {
    fmt: &'a [u8],
    pos: usize,
}

/// Splits a format string into literal runs, `%%` and conversions. Never fails: validation
/// happens per conversion (PUC reports format errors only when it reaches them).
pub fn pieces(fmt: &[u8]) -> Pieces<'_> {
    Pieces { fmt, pos: 0 }
}

impl<'a> Iterator for Pieces<'a> {
    type Item = Piece<'a>;

    fn next(&mut self) -> Option<Piece<'a>> {
        let rest = self.fmt.get(self.pos..).filter(|r| !r.is_empty())?;
        if rest[0] != b'%' {
            let n = rest.iter().position(|&c| c == b'%').unwrap_or(rest.len());
            self.pos += n;
            return Some(Piece::Literal(&rest[..n]));
        }
        if rest.get(1) == Some(&b'%') {
            self.pos += 2;
            return Some(Piece::Percent);
        }
        let body = &rest[1..];
        let n = body.iter().take_while(|&&c| is_spec_char(c)).count();
        let conv = body.get(n).copied();
        self.pos += 1 + n + usize::from(conv.is_some());
        Some(Piece::Conv(Conversion {
            modifiers: &body[..n],
            conv,
        }))
    }
}

/// What `%q` should print for an argument (see [`FormatArgs::literal`]).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Literal<'a> {
    /// A string: quoted and escaped.
    Str(&'a [u8]),
    /// An integer: decimal (or hex for `math.mininteger`).
    Int(i64),
    /// A float: hexadecimal float, `1e9999`, `-1e9999` or `(0/0)`.
    Float(f64),
    /// `nil` or a boolean: printed through [`FormatArgs::tostring`].
    ToString,
    /// Anything else: "value has no literal form".
    NoLiteral,
}

/// Argument access for [`format`]. Argument numbers are Lua's (the format string is #1, the
/// first value #2); errors are produced by the implementor so they carry the caller's position
/// information (`bad argument #n to 'format' (...)`).
pub trait FormatArgs {
    /// The caller's error type.
    type Error;
    /// Number of Lua arguments including the format string (`lua_gettop`).
    fn top(&self) -> usize;
    /// `luaL_checkinteger(arg)`.
    fn integer(&mut self, arg: usize) -> Result<i64, Self::Error>;
    /// `luaL_checknumber(arg)`.
    fn number(&mut self, arg: usize) -> Result<f64, Self::Error>;
    /// `luaL_tolstring(arg)` (honours `__tostring`/`__name`), appended to `out`.
    fn tostring(&mut self, arg: usize, out: &mut Vec<u8>) -> Result<(), Self::Error>;
    /// Classification of `arg` for `%q`.
    fn literal(&mut self, arg: usize) -> Result<Literal<'_>, Self::Error>;
    /// `lua_topointer(arg)`: `None` for values without identity (numbers, booleans, nil).
    fn pointer(&mut self, arg: usize) -> Option<usize>;
    /// Builds `bad argument #arg to 'format' (msg)`.
    fn arg_error(&mut self, arg: usize, msg: &str) -> Self::Error;
    /// Builds a plain error with message `msg`.
    fn error(&mut self, msg: String) -> Self::Error;
}

/// Runs `string.format(fmt, ...)` appending the result to `out`, checking arguments and the
/// format in exactly PUC's order: for each conversion the argument count ("no value") first,
/// then the conversion kind, then the argument conversion or the flag validation in the order
/// `lstrlib.c` does them.
pub fn format<A: FormatArgs>(fmt: &[u8], args: &mut A, out: &mut Vec<u8>) -> Result<(), A::Error> {
    format_from(fmt, &mut Cursor::default(), args, out)
}

/// Where [`format_from`] is in the format string: the byte offset of the piece being processed
/// and the number of the last argument consumed before it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cursor {
    pub pos: usize,
    pub arg: usize,
}

impl Default for Cursor {
    fn default() -> Cursor {
        Cursor { pos: 0, arg: 1 }
    }
}

/// [`format`] starting at `cursor`. When an argument access fails, `cursor` is left at the
/// piece that failed, so a caller whose [`FormatArgs::tostring`] must first call a
/// `__tostring` metamethod can stop there (keeping `out`) and later run the same piece again
/// from the same cursor once the string is known. Re-running a piece is safe: everything it
/// does before the failing access is a check without side effects.
pub fn format_from<A: FormatArgs>(
    fmt: &[u8],
    cursor: &mut Cursor,
    args: &mut A,
    out: &mut Vec<u8>,
) -> Result<(), A::Error> {
    let mut arg = cursor.arg;
    let mut it = Pieces {
        fmt,
        pos: cursor.pos,
    };
    loop {
        *cursor = Cursor { pos: it.pos, arg };
        let Some(piece) = it.next() else { break };
        let conv = match piece {
            Piece::Literal(s) => {
                out.extend_from_slice(s);
                continue;
            }
            Piece::Percent => {
                out.push(b'%');
                continue;
            }
            Piece::Conv(conv) => conv,
        };
        arg += 1;
        if arg > args.top() {
            return Err(args.arg_error(arg, "no value"));
        }
        let kind = conv.kind().map_err(|e| args.error(e))?;
        match kind {
            ConvKind::Char => {
                let spec = conv.spec().map_err(|e| args.error(e))?;
                let v = args.integer(arg)?;
                // C's `%c` takes an int and prints it as unsigned char: truncation intended.
                format_char(&spec, v as u8, out);
            }
            ConvKind::Int | ConvKind::Uint | ConvKind::Radix => {
                let v = args.integer(arg)?;
                let spec = conv.spec().map_err(|e| args.error(e))?;
                match kind {
                    ConvKind::Int => format_int(&spec, v, out),
                    _ => format_uint_radix(&spec, v as u64, out),
                }
            }
            ConvKind::HexFloat | ConvKind::Float => {
                let v = args.number(arg)?;
                let spec = conv.spec().map_err(|e| args.error(e))?;
                format_float(&spec, v, out);
            }
            ConvKind::Pointer => {
                let p = args.pointer(arg);
                let spec = conv.spec().map_err(|e| args.error(e))?;
                format_pointer(&spec, p, out);
            }
            ConvKind::Quote => {
                conv.spec().map_err(|e| args.error(e))?;
                let mut use_tostring = false;
                let mut no_literal = false;
                match args.literal(arg)? {
                    Literal::Str(s) => format_q_string(s, out),
                    Literal::Int(i) => format_q_int(i, out),
                    Literal::Float(f) => format_q_float(f, out),
                    Literal::ToString => use_tostring = true,
                    Literal::NoLiteral => no_literal = true,
                }
                if no_literal {
                    return Err(args.arg_error(arg, "value has no literal form"));
                }
                if use_tostring {
                    args.tostring(arg, out)?;
                }
            }
            ConvKind::Str => {
                let start = out.len();
                args.tostring(arg, out)?;
                if conv.has_modifiers() {
                    if out[start..].contains(&0) {
                        return Err(args.arg_error(arg, "string contains zeros"));
                    }
                    let spec = conv.spec().map_err(|e| args.error(e))?;
                    if let Some(p) = spec.precision {
                        out.truncate(start + p.min(out.len() - start));
                    }
                    pad_tail(&spec, b"", start, false, out);
                }
            }
        }
    }
    Ok(())
}

/// Appends `body` with its `prefix` (sign, `0x`) padded to the spec's width: spaces after it
/// (`-`), zeros between prefix and body (`0`, when `zero_ok`), or spaces before it.
fn pad(spec: &Spec, prefix: &[u8], body: &[u8], zero_ok: bool, out: &mut Vec<u8>) {
    let len = prefix.len() + body.len();
    let fill = spec.width.saturating_sub(len);
    if spec.left {
        out.extend_from_slice(prefix);
        out.extend_from_slice(body);
        out.resize(out.len() + fill, b' ');
    } else if spec.zero && zero_ok {
        out.extend_from_slice(prefix);
        out.resize(out.len() + fill, b'0');
        out.extend_from_slice(body);
    } else {
        out.resize(out.len() + fill, b' ');
        out.extend_from_slice(prefix);
        out.extend_from_slice(body);
    }
}

/// Like [`pad`] for a body already appended to `out` at `start`: inserts the prefix and the
/// fill around it in place (no temporary buffer).
fn pad_tail(spec: &Spec, prefix: &[u8], start: usize, zero_ok: bool, out: &mut Vec<u8>) {
    let body_len = out.len() - start;
    let fill = spec.width.saturating_sub(prefix.len() + body_len);
    let (spaces_before, zeros, spaces_after) = if spec.left {
        (0, 0, fill)
    } else if spec.zero && zero_ok {
        (0, fill, 0)
    } else {
        (fill, 0, 0)
    };
    let ins = spaces_before + prefix.len() + zeros;
    if ins > 0 {
        out.resize(out.len() + ins, 0);
        out.copy_within(start..start + body_len, start + ins);
        let head = &mut out[start..start + ins];
        head[..spaces_before].fill(b' ');
        head[spaces_before..spaces_before + prefix.len()].copy_from_slice(prefix);
        head[spaces_before + prefix.len()..].fill(b'0');
    }
    out.resize(out.len() + spaces_after, b' ');
}

/// The sign prefix of a signed conversion.
fn sign_prefix(spec: &Spec, negative: bool) -> &'static [u8] {
    if negative {
        b"-"
    } else if spec.plus {
        b"+"
    } else if spec.space {
        b" "
    } else {
        b""
    }
}

/// Writes `v` in `radix` (8, 10 or 16) into the end of `buf`, returning the digits.
fn radix_digits(mut v: u64, radix: u64, upper: bool, buf: &mut [u8; 24]) -> &[u8] {
    let table: &[u8; 16] = if upper {
        b"0123456789ABCDEF"
    } else {
        b"0123456789abcdef"
    };
    let mut i = buf.len();
    loop {
        i -= 1;
        buf[i] = table[(v % radix) as usize];
        v /= radix;
        if v == 0 {
            break;
        }
    }
    &buf[i..]
}

/// Appends an integer conversion: `digits` zero-extended to the precision (or dropped for a zero
/// value with precision 0), with `prefix`, padded to the width. `octal_alt` forces a leading 0.
fn emit_integer(spec: &Spec, prefix: &[u8], digits: &[u8], octal_alt: bool, out: &mut Vec<u8>) {
    let digits: &[u8] = if spec.precision == Some(0) && digits == b"0" {
        b""
    } else {
        digits
    };
    let mut zeros = spec.precision.map_or(0, |p| p.saturating_sub(digits.len()));
    if octal_alt && zeros == 0 && digits.first() != Some(&b'0') {
        zeros = 1;
    }
    let start = out.len();
    out.resize(start + zeros, b'0');
    out.extend_from_slice(digits);
    pad_tail(spec, prefix, start, spec.precision.is_none(), out);
}

/// `%d` / `%i`: signed decimal, honouring `- + space 0`, width and precision (minimum digits).
pub fn format_int(spec: &Spec, v: i64, out: &mut Vec<u8>) {
    let mut buf = [0u8; 20];
    let digits = crate::number::decimal_digits(v.unsigned_abs(), &mut buf);
    emit_integer(spec, sign_prefix(spec, v < 0), digits, false, out);
}

/// `%u`, `%o`, `%x`, `%X`: `v` (a Lua integer reinterpreted as unsigned) in decimal, octal or
/// hex, honouring `- # 0`, width and precision. The radix comes from `spec.conv`.
pub fn format_uint_radix(spec: &Spec, v: u64, out: &mut Vec<u8>) {
    let mut buf = [0u8; 24];
    let (radix, upper) = match spec.conv {
        b'o' => (8, false),
        b'x' => (16, false),
        b'X' => (16, true),
        _ => (10, false),
    };
    let digits = radix_digits(v, radix, upper, &mut buf);
    let prefix: &[u8] = match spec.conv {
        b'x' if spec.alt && v != 0 => b"0x",
        b'X' if spec.alt && v != 0 => b"0X",
        _ => b"",
    };
    emit_integer(spec, prefix, digits, spec.conv == b'o' && spec.alt, out);
}

/// `%c`: one byte, padded with spaces to the width.
pub fn format_char(spec: &Spec, byte: u8, out: &mut Vec<u8>) {
    pad(spec, b"", &[byte], false, out);
}

/// `%s` with modifiers: at most `precision` bytes of `s`, padded with spaces to the width.
/// (Without modifiers `string.format` copies the string unchanged, whatever its length.)
pub fn format_str(spec: &Spec, s: &[u8], out: &mut Vec<u8>) {
    let s = match spec.precision {
        Some(p) if p < s.len() => &s[..p],
        _ => s,
    };
    pad(spec, b"", s, false, out);
}

/// `%p`: `0x` plus lowercase hex address, or `(null)` for values without identity, padded with
/// spaces to the width.
pub fn format_pointer(spec: &Spec, p: Option<usize>, out: &mut Vec<u8>) {
    match p {
        None => pad(spec, b"", b"(null)", false, out),
        Some(p) => {
            let mut buf = [0u8; 24];
            let digits = radix_digits(p as u64, 16, false, &mut buf);
            pad(spec, b"0x", digits, false, out);
        }
    }
}

/// `%q` for strings: a double-quoted Lua literal; `"`, `\` and newline are backslash-escaped
/// (newline as backslash + newline), other control bytes become `\ddd` (`\d` when the next byte
/// is not a digit); bytes >= 0x80 are copied raw.
pub fn format_q_string(s: &[u8], out: &mut Vec<u8>) {
    out.reserve(s.len() + 2);
    out.push(b'"');
    for (i, &c) in s.iter().enumerate() {
        match c {
            b'"' | b'\\' | b'\n' => {
                out.push(b'\\');
                out.push(c);
            }
            0..=0x1f | 0x7f => {
                let next_is_digit = s.get(i + 1).is_some_and(u8::is_ascii_digit);
                if next_is_digit {
                    let _ = write!(VecWriter(out), "\\{c:03}");
                } else {
                    let _ = write!(VecWriter(out), "\\{c}");
                }
            }
            _ => out.push(c),
        }
    }
    out.push(b'"');
}

/// `%q` for integers: decimal, except `math.mininteger` which is written `0x8000000000000000`
/// (a decimal `-9223372036854775808` would read back as a float).
pub fn format_q_int(i: i64, out: &mut Vec<u8>) {
    if i == i64::MIN {
        out.extend_from_slice(b"0x8000000000000000");
    } else {
        let _ = write!(VecWriter(out), "{i}");
    }
}

/// `%q` for floats: `1e9999`, `-1e9999`, `(0/0)` for the non-finite values, otherwise the
/// hexadecimal form of `%a` (e.g. `0x1.8p+0`), which reads back exactly.
pub fn format_q_float(f: f64, out: &mut Vec<u8>) {
    if f.is_nan() {
        out.extend_from_slice(b"(0/0)");
    } else if f == f64::INFINITY {
        out.extend_from_slice(b"1e9999");
    } else if f == f64::NEG_INFINITY {
        out.extend_from_slice(b"-1e9999");
    } else {
        format_float(&Spec::new(b'a'), f, out);
    }
}

/// `%a %A %e %E %f %F %g %G`: the float conversions exactly as glibc's `printf` prints them,
/// honouring all flags, width and precision. Non-finite values print as `inf`, `-inf`, `nan`,
/// `-nan` (by sign bit; uppercase for uppercase conversions) padded with spaces only.
pub fn format_float(spec: &Spec, v: f64, out: &mut Vec<u8>) {
    let upper = spec.conv.is_ascii_uppercase();
    let sign = sign_prefix(spec, v.is_sign_negative());
    if !v.is_finite() {
        let body: &[u8] = match (v.is_nan(), upper) {
            (true, false) => b"nan",
            (true, true) => b"NAN",
            (false, false) => b"inf",
            (false, true) => b"INF",
        };
        pad(spec, sign, body, false, out);
        return;
    }
    let v = v.abs();
    let start = out.len();
    match spec.conv.to_ascii_lowercase() {
        b'a' => {
            hex_float_body(v, spec.precision, spec.alt, upper, out);
            let mut prefix = [0u8; 3];
            prefix[..sign.len()].copy_from_slice(sign);
            prefix[sign.len()] = b'0';
            prefix[sign.len() + 1] = if upper { b'X' } else { b'x' };
            pad_tail(spec, &prefix[..sign.len() + 2], start, true, out);
            return;
        }
        b'e' => exp_body(v, spec.precision.unwrap_or(6), spec.alt, upper, out),
        b'f' => fixed_body(v, spec.precision.unwrap_or(6), spec.alt, out),
        _ => general_body(v, spec.precision.unwrap_or(6), spec.alt, upper, out),
    }
    pad_tail(spec, sign, start, true, out);
}

/// Appends C's `%.{precision}g` of `v` (any value) with no flags or width; used by `tostring`.
pub fn format_g(v: f64, precision: usize, out: &mut Vec<u8>) {
    if !v.is_finite() {
        format_float(&Spec::new(b'g'), v, out);
        return;
    }
    if v.is_sign_negative() {
        out.push(b'-');
    }
    general_body(v.abs(), precision, false, false, out);
}

/// A `fmt::Write` adapter appending to a byte vector.
struct VecWriter<'a>(&'a mut Vec<u8>);

impl std::fmt::Write for VecWriter<'_> {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        self.0.extend_from_slice(s.as_bytes());
        Ok(())
    }
}

/// Parses the exponent Rust's `{:e}` formatting wrote after the `e` in `buf[start..]`, removes
/// it together with the decimal point, leaving only the significant digits, and returns it.
fn strip_rust_exponent(buf: &mut Vec<u8>, start: usize) -> i32 {
    let e_pos = buf[start..]
        .iter()
        .rposition(|&c| c == b'e')
        .map_or(buf.len(), |p| start + p);
    let exp = std::str::from_utf8(&buf[e_pos + 1..])
        .ok()
        .and_then(|s| s.parse::<i32>().ok())
        .unwrap_or(0);
    buf.truncate(e_pos);
    // "d.ddd" -> "dddd"
    if buf.get(start + 1) == Some(&b'.') {
        buf.remove(start + 1);
    }
    exp
}

/// Appends the decimal digits of finite non-negative `v` rounded to `precision + 1`
/// significant digits (exactly, round-half-even, as glibc) to `out`; returns the decimal
/// exponent of the first digit (as in `d.ddd × 10^exp`).
fn sig_digits(v: f64, precision: usize, out: &mut Vec<u8>) -> i32 {
    let start = out.len();
    let wanted = precision + 1;
    // Fast path: if the shortest round-trip digits of a normal double are no more than the
    // requested (at most 15) digits, they are also the correctly rounded ones, because the
    // binary value lies within 2^-53 (relative) of them, far less than half a unit of the
    // 15th digit.
    if wanted <= 15 && (v == 0.0 || v >= f64::MIN_POSITIVE) {
        let _ = write!(VecWriter(out), "{v:e}");
        let exp = strip_rust_exponent(out, start);
        let n = out.len() - start;
        if n <= wanted {
            out.resize(start + wanted, b'0');
            return exp;
        }
        out.truncate(start);
    }
    let _ = write!(VecWriter(out), "{v:.precision$e}");
    strip_rust_exponent(out, start)
}

/// Appends `e+XX` style exponent (at least two digits).
fn push_exponent(exp: i32, upper: bool, out: &mut Vec<u8>) {
    out.push(if upper { b'E' } else { b'e' });
    out.push(if exp < 0 { b'-' } else { b'+' });
    let _ = write!(VecWriter(out), "{:02}", exp.unsigned_abs());
}

/// `%e` body for finite non-negative `v`.
fn exp_body(v: f64, precision: usize, alt: bool, upper: bool, out: &mut Vec<u8>) {
    let start = out.len();
    let exp = sig_digits(v, precision, out);
    if precision > 0 || alt {
        out.insert(start + 1, b'.');
    }
    push_exponent(exp, upper, out);
}

/// `%f` body for finite non-negative `v`.
fn fixed_body(v: f64, precision: usize, alt: bool, out: &mut Vec<u8>) {
    if !fixed_small(v, precision, out) {
        let _ = write!(VecWriter(out), "{v:.precision$}");
    }
    if precision == 0 && alt {
        out.push(b'.');
    }
}

/// Powers of ten that fit in a `u64`.
const POW10: [u64; 20] = {
    let mut t = [1u64; 20];
    let mut i = 1;
    while i < 20 {
        t[i] = t[i - 1] * 10;
        i += 1;
    }
    t
};

/// `%.{precision}f` of finite non-negative `v` below 2^64 with `precision <= 19`, in exact
/// integer arithmetic: `v = m * 2^e`, so `v * 10^precision = m * 10^precision * 2^e` fits in
/// a `u128` and is rounded to an integer half-to-even, as glibc rounds the exact binary value.
/// Returns `false` (appending nothing) outside that range.
fn fixed_small(v: f64, precision: usize, out: &mut Vec<u8>) -> bool {
    if precision >= POW10.len() || !v.is_finite() || v >= 18_446_744_073_709_551_616.0 {
        return false;
    }
    let bits = v.to_bits();
    let biased = ((bits >> 52) & 0x7ff) as i32;
    let frac = bits & ((1u64 << 52) - 1);
    let (m, e) = if biased == 0 {
        (frac, -1074)
    } else {
        (frac | (1u64 << 52), biased - 1075)
    };
    let n = u128::from(m) * u128::from(POW10[precision]);
    let q = if e >= 0 {
        n << e // v < 2^64, so this is below 2^128
    } else {
        let shift = e.unsigned_abs();
        if shift >= 128 {
            0 // below 2^53 * 10^19 * 2^-128 < 1/2
        } else {
            let q = n >> shift;
            let r = n & ((1u128 << shift) - 1);
            let half = 1u128 << (shift - 1);
            if r > half || (r == half && q & 1 == 1) {
                q + 1
            } else {
                q
            }
        }
    };
    // Decimal digits of q, at least precision + 1 of them, with the point before the last
    // `precision`.
    let mut buf = [0u8; 40];
    let mut i = buf.len();
    let mut q = q;
    while q > 0 || buf.len() - i < precision + 1 {
        i -= 1;
        buf[i] = b'0' + (q % 10) as u8;
        q /= 10;
    }
    let digits = &buf[i..];
    let int_len = digits.len() - precision;
    out.extend_from_slice(&digits[..int_len]);
    if precision > 0 {
        out.push(b'.');
        out.extend_from_slice(&digits[int_len..]);
    }
    true
}

/// `%g` body for finite non-negative `v`: `%e` or `%f` style depending on the exponent, trailing
/// zeros removed unless `alt`.
fn general_body(v: f64, precision: usize, alt: bool, upper: bool, out: &mut Vec<u8>) {
    let p = precision.max(1);
    let start = out.len();
    let exp = sig_digits(v, p - 1, out);
    if !alt {
        // Drop trailing zeros (keeping at least one digit).
        let n = out[start + 1..]
            .iter()
            .rposition(|&c| c != b'0')
            .map_or(1, |i| i + 2);
        out.truncate(start + n);
    }
    let n = out.len() - start;
    let x = i64::from(exp);
    if x < -4 || x >= i64::try_from(p).unwrap_or(i64::MAX) {
        if n > 1 || alt {
            out.insert(start + 1, b'.');
        }
        push_exponent(exp, upper, out);
    } else if x >= 0 {
        // 0 <= x < p: the first x + 1 digits are the integer part.
        let int_len = (x + 1) as usize;
        if n < int_len {
            out.resize(start + int_len, b'0');
        }
        if n > int_len || alt {
            out.insert(start + int_len, b'.');
        }
    } else {
        // -4 <= x < 0: "0.000ddd".
        let zeros = (-x - 1) as usize;
        out.splice(start..start, std::iter::repeat_n(b'0', zeros + 2));
        out[start + 1] = b'.';
    }
}

/// `%a` body (without sign and `0x`) for finite non-negative `v`: `h.hhhp±d` as glibc prints it
/// (leading digit 0 for zero and subnormals with exponent -1022; precision rounds half-to-even
/// and a carry may turn the leading digit into 2).
fn hex_float_body(v: f64, precision: Option<usize>, alt: bool, upper: bool, out: &mut Vec<u8>) {
    const FRAC_DIGITS: usize = 13;
    let bits = v.to_bits();
    let biased = ((bits >> 52) & 0x7ff) as i32;
    let mut frac = bits & ((1u64 << 52) - 1);
    let (mut lead, exp) = match (biased, frac) {
        (0, 0) => (0u64, 0),
        (0, _) => (0, -1022),
        _ => (1, biased - 1023),
    };
    let ndigits = match precision {
        None => {
            let trailing = if frac == 0 {
                FRAC_DIGITS
            } else {
                (frac.trailing_zeros() / 4) as usize
            };
            FRAC_DIGITS - trailing
        }
        Some(p) if p >= FRAC_DIGITS => p,
        Some(p) => {
            let drop = 4 * (FRAC_DIGITS - p) as u32;
            let combined = (lead << 52) | frac;
            let kept = combined >> drop;
            let rem = combined & ((1u64 << drop) - 1);
            let half = 1u64 << (drop - 1);
            let rounded = if rem > half || (rem == half && kept & 1 == 1) {
                kept + 1
            } else {
                kept
            };
            let shift = 4 * p as u32;
            lead = rounded >> shift;
            frac = (rounded & ((1u64 << shift) - 1)) << drop;
            p
        }
    };
    let table: &[u8; 16] = if upper {
        b"0123456789ABCDEF"
    } else {
        b"0123456789abcdef"
    };
    out.push(table[lead as usize & 0xf]);
    if ndigits > 0 || alt {
        out.push(b'.');
    }
    for i in 0..ndigits.min(FRAC_DIGITS) {
        let nibble = (frac >> (48 - 4 * i)) & 0xf;
        out.push(table[nibble as usize]);
    }
    out.resize(out.len() + ndigits.saturating_sub(FRAC_DIGITS), b'0');
    out.push(if upper { b'P' } else { b'p' });
    let _ = write!(VecWriter(out), "{exp:+}");
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Formats one value with a format string made of a single conversion.
    fn f(fmt: &str, v: f64) -> String {
        let conv = match pieces(fmt.as_bytes()).next() {
            Some(Piece::Conv(c)) => c,
            other => panic!("not a conversion: {other:?}"),
        };
        let spec = conv.spec().unwrap();
        let mut out = Vec::new();
        match conv.kind().unwrap() {
            ConvKind::Int => format_int(&spec, v as i64, &mut out),
            ConvKind::Uint | ConvKind::Radix => format_uint_radix(&spec, v as i64 as u64, &mut out),
            ConvKind::Char => format_char(&spec, v as u8, &mut out),
            _ => format_float(&spec, v, &mut out),
        }
        String::from_utf8(out).unwrap()
    }

    fn i(fmt: &str, v: i64) -> String {
        let conv = match pieces(fmt.as_bytes()).next() {
            Some(Piece::Conv(c)) => c,
            other => panic!("not a conversion: {other:?}"),
        };
        let spec = conv.spec().unwrap();
        let mut out = Vec::new();
        match conv.kind().unwrap() {
            ConvKind::Int => format_int(&spec, v, &mut out),
            _ => format_uint_radix(&spec, v as u64, &mut out),
        }
        String::from_utf8(out).unwrap()
    }

    fn spec_err(fmt: &str) -> String {
        match pieces(fmt.as_bytes()).next() {
            Some(Piece::Conv(c)) => c.spec().unwrap_err(),
            other => panic!("not a conversion: {other:?}"),
        }
    }

    #[test]
    fn integers() {
        // Expected values from lua5.4 (glibc).
        assert_eq!(i("%d", 0), "0");
        assert_eq!(i("%d", i64::MIN), "-9223372036854775808");
        assert_eq!(i("%x", i64::MIN), "8000000000000000");
        assert_eq!(i("%u", -1), "18446744073709551615");
        assert_eq!(i("%o", 0xABCD), "125715");
        assert_eq!(i("%5.3d", 7), "  007");
        assert_eq!(i("%-5.3d", 7), "007  ");
        assert_eq!(i("% 05d", 3), " 0003");
        assert_eq!(i("%+05d", -3), "-0003");
        assert_eq!(i("%+08d", 31501), "+0031501");
        assert_eq!(i("%013i", -100), "-000000000100");
        assert_eq!(i("%2.5d", -100), "-00100");
        assert_eq!(i("%.0d", 0), "");
        assert_eq!(i("%5.0d", 0), "     ");
        assert_eq!(i("%.u", 0), "");
        assert_eq!(i("%#.0x", 0), "");
        assert_eq!(i("%#.0o", 0), "0");
        assert_eq!(i("%#.3o", 8), "010");
        assert_eq!(i("%#o", 0), "0");
        assert_eq!(i("%#12o", 10), "         012");
        assert_eq!(i("%#10x", 100), "      0x64");
        assert_eq!(i("%#-17X", 100), "0X64             ");
        assert_eq!(i("%#x", 0), "0");
        assert_eq!(i("%#X", 255), "0XFF");
        assert_eq!(i("%08X", 0xFFFFFFFF), "FFFFFFFF");
        assert_eq!(i("%#08x", 255), "0x0000ff");
        assert_eq!(i("%#.3x", 10), "0x00a");
        assert_eq!(i("%-05u", 10), "10   ");
        assert_eq!(i("%08.3d", 5), "     005");
    }

    #[test]
    fn floats_decimal() {
        assert_eq!(f("%f", 10.3), "10.300000");
        assert_eq!(f("%.0f", 0.5), "0");
        assert_eq!(f("%.0f", 1.5), "2");
        assert_eq!(f("%.0f", 2.5), "2");
        assert_eq!(f("%.2f", 0.125), "0.12");
        assert_eq!(f("%.2f", 0.375), "0.38");
        assert_eq!(f("%.0f", 1e23), "99999999999999991611392");
        assert_eq!(f("%.3e", 5e-324), "4.941e-324");
        assert_eq!(f("%.0e", 5e-324), "5e-324");
        assert_eq!(f("%.0e", 0.5), "5e-01");
        assert_eq!(f("%e", 0.0), "0.000000e+00");
        assert_eq!(f("%e", -0.0), "-0.000000e+00");
        assert_eq!(f("%E", 1e100), "1.000000E+100");
        assert_eq!(f("%.2e", 0.045), "4.50e-02");
        assert_eq!(f("%05.1f", -2.25), "-02.2");
        assert_eq!(f("%-08.2f", 2.25), "2.25    ");
        assert_eq!(f("%08.2e", -1234.5), "-1.23e+03");
        assert_eq!(f("%#.0e", 3.0), "3.e+00");
        assert_eq!(f("%#.0f", 3.0), "3.");
        assert_eq!(f("%+#014.0f", 100.0), "+000000000100.");
        assert_eq!(f("% 1.0E", 100.0), " 1E+02");
        assert_eq!(f("%.99f", 1.0).len(), 101);
        assert_eq!(f("%.99f", -1e308).len(), 309 + 101);
    }

    #[test]
    fn floats_general() {
        assert_eq!(f("%g", 100.0), "100");
        assert_eq!(f("%g", 1e-5), "1e-05");
        assert_eq!(f("%g", 1e-4), "0.0001");
        assert_eq!(f("%g", 123456.0), "123456");
        assert_eq!(f("%g", 1234567.0), "1.23457e+06");
        assert_eq!(f("%.0g", 0.5), "0.5");
        assert_eq!(f("%#.0g", 0.5), "0.5");
        assert_eq!(f("%#g", 1.0), "1.00000");
        assert_eq!(f("%#.3g", 100.0), "100.");
        assert_eq!(f("%+.3G", 1.5), "+1.5");
        assert_eq!(f("% .1g", 1024.0), " 1e+03");
        assert_eq!(f("%.3g", 9.9996), "10");
        assert_eq!(f("%#.3g", 9.9996), "10.0");
        assert_eq!(f("%g", 0.0), "0");
        assert_eq!(f("%g", -0.0), "-0");
        assert_eq!(f("%G", 1e-10), "1E-10");
        assert_eq!(f("%.14g", 0.1), "0.1");
        assert_eq!(f("%.14g", 2f64.powi(63)), "9.2233720368548e+18");
        assert_eq!(f("%.14g", 1e15), "1e+15");
        assert_eq!(f("%.14g", 123456789012.0), "123456789012");
        assert_eq!(f("%.20g", 0.1), "0.10000000000000000555");
        assert_eq!(f("%10.3g", 0.0001234), "  0.000123");
    }

    #[test]
    fn floats_nonfinite() {
        assert_eq!(f("%f", f64::INFINITY), "inf");
        assert_eq!(f("%5.1f", f64::NEG_INFINITY), " -inf");
        assert_eq!(f("%05f", f64::INFINITY), "  inf");
        assert_eq!(f("%-6e", f64::INFINITY), "inf   ");
        assert_eq!(f("%+g", f64::INFINITY), "+inf");
        assert_eq!(f("%G", f64::NAN), "NAN");
        assert_eq!(f("%g", -f64::NAN), "-nan");
        assert_eq!(f("%A", f64::NEG_INFINITY), "-INF");
        assert_eq!(f("% a", f64::NAN), " nan");
    }

    #[test]
    fn floats_hex() {
        let cases: &[(&str, f64, &str)] = &[
            ("%a", 1.0, "0x1p+0"),
            ("%a", 0.1, "0x1.999999999999ap-4"),
            ("%A", 0.1, "0X1.999999999999AP-4"),
            ("%.0a", 0.1, "0x2p-4"),
            ("%.1a", 0.1, "0x1.ap-4"),
            ("%#.0a", 0.1, "0x2.p-4"),
            ("%.0a", 1.5, "0x2p+0"),
            ("%.0a", 2.5, "0x1p+1"),
            ("%.1a", 1.03125, "0x1.0p+0"),
            ("%.1a", 1.09375, "0x1.2p+0"),
            ("%.1a", 1.96875, "0x2.0p+0"),
            ("%a", 5e-324, "0x0.0000000000001p-1022"),
            ("%.0a", 5e-324, "0x0p-1022"),
            ("%.3a", 5e-324, "0x0.000p-1022"),
            ("%.0a", 2.225073858507201e-308, "0x1p-1022"),
            ("%a", 2.225073858507201e-308, "0x0.fffffffffffffp-1022"),
            ("%.0a", f64::MAX, "0x2p+1023"),
            ("%a", f64::MAX, "0x1.fffffffffffffp+1023"),
            ("%a", -0.0, "-0x0p+0"),
            ("%.2a", 0.0, "0x0.00p+0"),
            ("%#a", 0.0, "0x0.p+0"),
            ("%#a", 1.0, "0x1.p+0"),
            ("%020a", 1.5, "0x0000000000001.8p+0"),
            ("%020a", -1.0, "-0x00000000000001p+0"),
            ("%-20a|", 1.0, "0x1p+0              "),
            ("%.20a", 1.5, "0x1.80000000000000000000p+0"),
            ("%+.2A", 12.0, "+0X1.80P+3"),
            ("%.4A", -12.0, "-0X1.8000P+3"),
            ("%08.3a", 1e308, "0x1.1cdp+1023"),
        ];
        for &(fmt, v, want) in cases {
            let got = f(fmt.trim_end_matches('|'), v);
            assert_eq!(got, want, "{fmt} {v:e}");
        }
    }

    #[test]
    fn strings_chars_pointers() {
        let spec = |fmt: &str| match pieces(fmt.as_bytes()).next() {
            Some(Piece::Conv(c)) => c.spec().unwrap(),
            _ => unreachable!(),
        };
        let mut out = Vec::new();
        format_str(&spec("%-50s"), b"a", &mut out);
        assert_eq!(out.len(), 50);
        out.clear();
        format_str(&spec("%.3s"), b"false", &mut out);
        assert_eq!(out, b"fal");
        out.clear();
        format_str(&spec("%5.1s"), b"xyz", &mut out);
        assert_eq!(out, b"    x");
        out.clear();
        format_char(&spec("%-16c"), b'a', &mut out);
        assert_eq!(out, b"a               ");
        out.clear();
        format_pointer(&spec("%10p"), None, &mut out);
        assert_eq!(out, b"    (null)");
        out.clear();
        format_pointer(&spec("%-12p"), None, &mut out);
        assert_eq!(out, b"(null)      ");
        out.clear();
        format_pointer(&spec("%p"), Some(0x55aa), &mut out);
        assert_eq!(out, b"0x55aa");
        out.clear();
        format_pointer(&spec("%90p"), Some(0x55aa), &mut out);
        assert_eq!(out.len(), 90);
    }

    #[test]
    fn quoting() {
        let mut out = Vec::new();
        format_q_string(b"a\r\n\x001\0a\x7f2\x7f\x80\xff\"\\", &mut out);
        assert_eq!(out, b"\"a\\13\\\n\\0001\\0a\\1272\\127\x80\xff\\\"\\\\\"");
        out.clear();
        format_q_string(b"\0", &mut out);
        assert_eq!(out, b"\"\\0\"");
        out.clear();
        format_q_int(i64::MIN, &mut out);
        out.push(b' ');
        format_q_int(-5, &mut out);
        out.push(b' ');
        format_q_float(1.0, &mut out);
        out.push(b' ');
        format_q_float(1.5, &mut out);
        out.push(b' ');
        format_q_float(f64::INFINITY, &mut out);
        out.push(b' ');
        format_q_float(f64::NEG_INFINITY, &mut out);
        out.push(b' ');
        format_q_float(f64::NAN, &mut out);
        out.push(b' ');
        format_q_float(-0.0, &mut out);
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "0x8000000000000000 -5 0x1p+0 0x1.8p+0 1e9999 -1e9999 (0/0) -0x0p+0"
        );
    }

    #[test]
    fn validation_errors() {
        // Messages from lua5.4.
        let kind_err = |fmt: &str| match pieces(fmt.as_bytes()).next() {
            Some(Piece::Conv(c)) => c.kind().unwrap_err(),
            _ => unreachable!(),
        };
        assert_eq!(kind_err("%"), "invalid conversion '%' to 'format'");
        assert_eq!(kind_err("%10"), "invalid conversion '%10' to 'format'");
        assert_eq!(kind_err("%t"), "invalid conversion '%t' to 'format'");
        assert_eq!(kind_err("%F"), "invalid conversion '%F' to 'format'");
        assert_eq!(kind_err("%lld"), "invalid conversion '%l' to 'format'");
        assert_eq!(kind_err("%\0d"), "invalid conversion '%' to 'format'");
        assert_eq!(kind_err("%5\0d"), "invalid conversion '%5' to 'format'");
        assert_eq!(
            kind_err("%1234567890123456789012d"),
            "invalid format (too long)"
        );
        assert_eq!(
            kind_err("%123456789012345678901d"),
            "invalid format (too long)"
        );
        assert_eq!(
            kind_err(&format!("%1{}.3d", "0".repeat(600))),
            "invalid format (too long)"
        );
        for bad in [
            "%10.123d", "%100.3d", "%1.100d", "%010c", "%.10c", "%0.34s", "%#i", "%3.1p", "%0.s",
            "%-+ #0d", "%5.5.5d", "%+u", "%#c", "% 5s", "%+x", "%.3c",
        ] {
            assert_eq!(
                spec_err(bad),
                format!("invalid conversion specification: '{bad}'")
            );
        }
        assert_eq!(spec_err("%10q"), "specifier '%q' cannot have modifiers");
        // Accepted oddities.
        assert_eq!(i("%00d", 10), "10");
        assert_eq!(i("%0-5d", 10), "10   ");
        assert_eq!(i("%--5d", 10), "10   ");
        assert_eq!(f("%#5.3a", 10.0), "0x1.400p+3");
    }

    #[test]
    fn piece_splitting() {
        let p: Vec<_> = pieces(b"a%%b%5.2fc%").collect();
        assert_eq!(p.len(), 6);
        assert_eq!(p[0], Piece::Literal(b"a"));
        assert_eq!(p[1], Piece::Percent);
        assert_eq!(p[2], Piece::Literal(b"b"));
        match p[3] {
            Piece::Conv(c) => {
                assert_eq!(c.conv(), b'f');
                let s = c.spec().unwrap();
                assert_eq!((s.width, s.precision), (5, Some(2)));
            }
            _ => panic!(),
        }
        assert_eq!(p[4], Piece::Literal(b"c"));
        match p[5] {
            Piece::Conv(c) => assert_eq!(c.conv(), 0),
            _ => panic!(),
        }
    }

    /// A minimal argument source for driving [`format`] in tests.
    enum Arg {
        I(i64),
        F(f64),
        S(&'static [u8]),
        Nil,
        Table,
    }

    struct Args(Vec<Arg>);

    impl FormatArgs for Args {
        type Error = String;
        fn top(&self) -> usize {
            self.0.len() + 1
        }
        fn integer(&mut self, arg: usize) -> Result<i64, String> {
            match self.0[arg - 2] {
                Arg::I(i) => Ok(i),
                Arg::F(f) if f == f.floor() => Ok(f as i64),
                Arg::F(_) => Err(format!(
                    "bad argument #{arg} (number has no integer representation)"
                )),
                _ => Err(format!("bad argument #{arg} (number expected)")),
            }
        }
        fn number(&mut self, arg: usize) -> Result<f64, String> {
            match self.0[arg - 2] {
                Arg::I(i) => Ok(i as f64),
                Arg::F(f) => Ok(f),
                _ => Err(format!("bad argument #{arg} (number expected)")),
            }
        }
        fn tostring(&mut self, arg: usize, out: &mut Vec<u8>) -> Result<(), String> {
            match self.0[arg - 2] {
                Arg::I(i) => out.extend_from_slice(i.to_string().as_bytes()),
                Arg::F(f) => crate::number::fmt_float(f, out),
                Arg::S(s) => out.extend_from_slice(s),
                Arg::Nil => out.extend_from_slice(b"nil"),
                Arg::Table => out.extend_from_slice(b"table: 0x1"),
            }
            Ok(())
        }
        fn literal(&mut self, arg: usize) -> Result<Literal<'_>, String> {
            Ok(match self.0[arg - 2] {
                Arg::I(i) => Literal::Int(i),
                Arg::F(f) => Literal::Float(f),
                Arg::S(s) => Literal::Str(s),
                Arg::Nil => Literal::ToString,
                Arg::Table => Literal::NoLiteral,
            })
        }
        fn pointer(&mut self, arg: usize) -> Option<usize> {
            match self.0[arg - 2] {
                Arg::S(_) | Arg::Table => Some(0x1234),
                _ => None,
            }
        }
        fn arg_error(&mut self, arg: usize, msg: &str) -> String {
            format!("bad argument #{arg} ({msg})")
        }
        fn error(&mut self, msg: String) -> String {
            msg
        }
    }

    fn run(fmt: &[u8], args: Vec<Arg>) -> Result<Vec<u8>, String> {
        let mut out = Vec::new();
        format(fmt, &mut Args(args), &mut out).map(|()| out)
    }

    #[test]
    fn driver() {
        use Arg::*;
        assert_eq!(
            run(b"%%%d %010d", vec![I(10), I(23)]).unwrap(),
            b"%10 0000000023"
        );
        assert_eq!(
            run(b"\0%c\0%c%x\0", vec![I(0xe4), I(98), I(140)]).unwrap(),
            b"\0\xe4\0b8c\0"
        );
        assert_eq!(
            run(b"%s\0 is not \0%s", vec![S(b"not be"), S(b"be")]).unwrap(),
            b"not be\0 is not \0be"
        );
        assert_eq!(run(b"%s %.3s", vec![Nil, S(b"true")]).unwrap(), b"nil tru");
        assert_eq!(
            run(b"\0%s\0", vec![S(b"\0\0\x01")]).unwrap(),
            b"\0\0\0\x01\0"
        );
        assert_eq!(
            run(b"-%.20s.20s", vec![S(&[b'%'; 2000])]).unwrap().len(),
            1 + 20 + 4
        );
        assert_eq!(run(b"%5s", vec![S(&[b'x'; 200])]).unwrap().len(), 200);
        assert_eq!(run(b"%q", vec![Nil]).unwrap(), b"nil");
        assert_eq!(run(b"%x", vec![F(0.0)]).unwrap(), b"0");
        assert_eq!(run(b"%10p", vec![F(1.0)]).unwrap(), b"    (null)");
        assert_eq!(run(b"%p", vec![Table]).unwrap(), b"0x1234");
        assert_eq!(run(b"", vec![]).unwrap(), b"");
        // Errors, in PUC's order.
        assert_eq!(
            run(b"%d %d", vec![I(1)]).unwrap_err(),
            "bad argument #3 (no value)"
        );
        assert_eq!(
            run(b"%t", vec![]).unwrap_err(),
            "bad argument #2 (no value)"
        );
        assert_eq!(
            run(b"%10s", vec![S(b"\0")]).unwrap_err(),
            "bad argument #2 (string contains zeros)"
        );
        assert_eq!(run(b"%s", vec![S(b"a\0b")]).unwrap(), b"a\0b");
        assert_eq!(
            run(b"%q", vec![Table]).unwrap_err(),
            "bad argument #2 (value has no literal form)"
        );
        assert_eq!(
            run(b"%10q", vec![Table]).unwrap_err(),
            "specifier '%q' cannot have modifiers"
        );
        assert_eq!(
            run(b"%d", vec![F(1.5)]).unwrap_err(),
            "bad argument #2 (number has no integer representation)"
        );
        // The argument is checked before the flags for %d, after them for %c.
        assert_eq!(
            run(b"%100d", vec![S(b"x")]).unwrap_err(),
            "bad argument #2 (number expected)"
        );
        assert_eq!(
            run(b"%010c", vec![S(b"x")]).unwrap_err(),
            "invalid conversion specification: '%010c'"
        );
    }
}
