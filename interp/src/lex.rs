//! Lexical analysis of Lua 5.4 source text.
//!
//! This module owns the tokenizer: [`Lexer`] turns a chunk (arbitrary bytes, not necessarily
//! UTF-8) into [`Token`]s. It skips whitespace and comments, decodes string escapes and long
//! brackets, converts numerals to integers or floats with PUC Lua's rules, and counts lines the
//! way PUC Lua does (`\n`, `\r`, `\r\n` and `\n\r` are each one line break).
//!
//! Lexical errors are [`SyntaxError`]s whose text matches PUC Lua 5.4 byte for byte (apart from
//! invalid UTF-8 in the quoted token, which is replaced by U+FFFD), e.g.
//! `[string "x = 3x"]:1: malformed number near '3x'`.

use std::ops::Range;

use crate::ast::Line;
use crate::chunkid::chunk_id;
use crate::parse::SyntaxError;

/// A Lua 5.4 token.
#[derive(Debug, Clone, PartialEq)]
pub enum Token {
    // Reserved words.
    And,
    Break,
    Do,
    Else,
    ElseIf,
    End,
    False,
    For,
    Function,
    Goto,
    If,
    In,
    Local,
    Nil,
    Not,
    Or,
    Repeat,
    Return,
    Then,
    True,
    Until,
    While,
    // Symbols.
    /// `+`
    Plus,
    /// `-`
    Minus,
    /// `*`
    Star,
    /// `/`
    Slash,
    /// `//`
    DoubleSlash,
    /// `%`
    Percent,
    /// `^`
    Caret,
    /// `#`
    Hash,
    /// `&`
    Ampersand,
    /// `~`
    Tilde,
    /// `|`
    Pipe,
    /// `<<`
    ShiftLeft,
    /// `>>`
    ShiftRight,
    /// `==`
    Equal,
    /// `~=`
    NotEqual,
    /// `<=`
    LessEqual,
    /// `>=`
    GreaterEqual,
    /// `<`
    Less,
    /// `>`
    Greater,
    /// `=`
    Assign,
    /// `(`
    LParen,
    /// `)`
    RParen,
    /// `{`
    LBrace,
    /// `}`
    RBrace,
    /// `[`
    LBracket,
    /// `]`
    RBracket,
    /// `::`
    DoubleColon,
    /// `;`
    Semicolon,
    /// `:`
    Colon,
    /// `,`
    Comma,
    /// `.`
    Dot,
    /// `..`
    Concat,
    /// `...`
    Dots,
    // Tokens with a value.
    /// An identifier (ASCII letters, digits and `_`, not starting with a digit).
    Name(Box<str>),
    /// A string literal, short or long, with escapes decoded.
    Str(Box<[u8]>),
    /// An integer numeral (decimal that fits in `i64`, or hexadecimal wrapped modulo 2^64).
    Int(i64),
    /// A float numeral (or a decimal integer numeral too large for `i64`).
    Float(f64),
    /// Any other byte, e.g. `@`, `$` or a non-ASCII byte. It is not valid anywhere in the
    /// grammar; the parser reports it as an "unexpected symbol".
    Other(u8),
    /// End of input.
    Eof,
}

impl Token {
    /// The spelling of a reserved word or symbol (`"end"`, `"=="`); `None` for names, strings,
    /// numerals, [`Token::Other`] and [`Token::Eof`].
    pub fn fixed_text(&self) -> Option<&'static str> {
        use Token::*;
        Some(match self {
            And => "and",
            Break => "break",
            Do => "do",
            Else => "else",
            ElseIf => "elseif",
            End => "end",
            False => "false",
            For => "for",
            Function => "function",
            Goto => "goto",
            If => "if",
            In => "in",
            Local => "local",
            Nil => "nil",
            Not => "not",
            Or => "or",
            Repeat => "repeat",
            Return => "return",
            Then => "then",
            True => "true",
            Until => "until",
            While => "while",
            Plus => "+",
            Minus => "-",
            Star => "*",
            Slash => "/",
            DoubleSlash => "//",
            Percent => "%",
            Caret => "^",
            Hash => "#",
            Ampersand => "&",
            Tilde => "~",
            Pipe => "|",
            ShiftLeft => "<<",
            ShiftRight => ">>",
            Equal => "==",
            NotEqual => "~=",
            LessEqual => "<=",
            GreaterEqual => ">=",
            Less => "<",
            Greater => ">",
            Assign => "=",
            LParen => "(",
            RParen => ")",
            LBrace => "{",
            RBrace => "}",
            LBracket => "[",
            RBracket => "]",
            DoubleColon => "::",
            Semicolon => ";",
            Colon => ":",
            Comma => ",",
            Dot => ".",
            Concat => "..",
            Dots => "...",
            Name(_) | Str(_) | Int(_) | Float(_) | Other(_) | Eof => return None,
        })
    }

    /// How PUC Lua names this kind of token in an "`X` expected" message: `'end'`, `'='`,
    /// `<name>`, `<string>`, `<integer>`, `<number>` or `<eof>`.
    pub fn kind_name(&self) -> String {
        match self {
            Token::Name(_) => "<name>".into(),
            Token::Str(_) => "<string>".into(),
            Token::Int(_) => "<integer>".into(),
            Token::Float(_) => "<number>".into(),
            Token::Eof => "<eof>".into(),
            Token::Other(c) => byte_display(*c),
            _ => format!("'{}'", self.fixed_text().unwrap_or_default()),
        }
    }
}

/// Maps a word to its reserved-word token, if it is one.
fn keyword(word: &[u8]) -> Option<Token> {
    use Token::*;
    Some(match word {
        b"and" => And,
        b"break" => Break,
        b"do" => Do,
        b"else" => Else,
        b"elseif" => ElseIf,
        b"end" => End,
        b"false" => False,
        b"for" => For,
        b"function" => Function,
        b"goto" => Goto,
        b"if" => If,
        b"in" => In,
        b"local" => Local,
        b"nil" => Nil,
        b"not" => Not,
        b"or" => Or,
        b"repeat" => Repeat,
        b"return" => Return,
        b"then" => Then,
        b"true" => True,
        b"until" => Until,
        b"while" => While,
        _ => return None,
    })
}

/// PUC's display of a single-byte token: `'c'` if printable, else `'<\ddd>'`.
fn byte_display(c: u8) -> String {
    if (0x20..0x7f).contains(&c) {
        format!("'{}'", c as char)
    } else {
        format!("'<\\{c}>'")
    }
}

/// Wraps raw token text in single quotes for a "near" clause. Like PUC (which formats the
/// text as a C string), the text stops at the first NUL byte.
fn quoted(text: &[u8]) -> String {
    let end = text.iter().position(|&c| c == 0).unwrap_or(text.len());
    format!("'{}'", String::from_utf8_lossy(&text[..end]))
}

/// Whitespace as C's `isspace` in the "C" locale (used by `\z`).
fn is_space(c: u8) -> bool {
    matches!(c, b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c)
}

/// PUC Lua stops at `INT_MAX` lines.
const MAX_LINES: Line = i32::MAX as Line;

/// A tokenizer over one chunk.
///
/// Call [`Lexer::next_token`] repeatedly; after each call [`Lexer::line`] is the line the lexer
/// is on (the line where the token just read ends, as PUC's `linenumber`) and [`Lexer::span`]
/// the byte range of that token in the source.
pub struct Lexer<'a> {
    src: &'a [u8],
    pos: usize,
    line: Line,
    /// The chunk name as displayed in messages.
    chunk: String,
    /// Start offset of the last token read.
    start: usize,
    /// Scratch buffer for string contents.
    buf: Vec<u8>,
}

impl<'a> Lexer<'a> {
    /// Creates a lexer over `source`; `chunkname` is the raw chunk name (`@file`, `=name` or
    /// source text) used in error messages.
    pub fn new(source: &'a [u8], chunkname: &[u8]) -> Self {
        Lexer {
            src: source,
            pos: 0,
            line: 1,
            chunk: chunk_id(chunkname),
            start: 0,
            buf: Vec::new(),
        }
    }

    /// The current line number (1-based).
    pub fn line(&self) -> Line {
        self.line
    }

    /// Byte range in the source of the last token returned by [`Lexer::next_token`].
    pub fn span(&self) -> Range<usize> {
        self.start..self.pos
    }

    /// Builds an error located at the current line: `chunk:line: msg` followed by
    /// ` near <near>` when `near` is given (`near` is already quoted, or `<eof>`).
    pub fn error(&self, msg: &str, near: Option<&str>) -> SyntaxError {
        let message = match near {
            Some(near) => format!("{}:{}: {} near {}", self.chunk, self.line, msg, near),
            None => format!("{}:{}: {}", self.chunk, self.line, msg),
        };
        SyntaxError { message }
    }

    /// How a token appears in a "near" clause of an error message, as PUC's `txtToken`:
    /// names, strings and numerals as read (`'foo'`, `'"abc"'`, `'3.5'`), other tokens by
    /// their symbol (`'='`), and `<eof>` without quotes. `span` is the token's byte range as
    /// reported by [`Lexer::span`] when it was read.
    pub fn describe(&self, token: &Token, span: Range<usize>) -> String {
        let raw = self.src.get(span).unwrap_or_default();
        match token {
            Token::Name(name) => format!("'{name}'"),
            Token::Int(_) | Token::Float(_) => quoted(raw),
            Token::Str(content) => {
                // Shown with its delimiters around the decoded contents.
                let mut text = Vec::with_capacity(content.len() + 4);
                match raw.first() {
                    Some(b'[') => {
                        let level = raw[1..].iter().take_while(|&&c| c == b'=').count();
                        text.push(b'[');
                        text.resize(level + 1, b'=');
                        text.push(b'[');
                        text.extend_from_slice(content);
                        text.push(b']');
                        text.resize(text.len() + level, b'=');
                        text.push(b']');
                    }
                    delim => {
                        let delim = delim.copied().unwrap_or(b'"');
                        text.push(delim);
                        text.extend_from_slice(content);
                        text.push(delim);
                    }
                }
                quoted(&text)
            }
            Token::Other(c) => byte_display(*c),
            Token::Eof => "<eof>".into(),
            _ => format!("'{}'", token.fixed_text().unwrap_or_default()),
        }
    }

    fn cur(&self) -> Option<u8> {
        self.src.get(self.pos).copied()
    }

    fn peek(&self, k: usize) -> Option<u8> {
        self.src.get(self.pos + k).copied()
    }

    /// Consumes one line break (`\n`, `\r`, `\r\n` or `\n\r`) at the current position.
    fn skip_newline(&mut self) -> Result<(), SyntaxError> {
        let first = self.cur();
        self.pos += 1;
        if matches!(self.cur(), Some(c @ (b'\n' | b'\r')) if Some(c) != first) {
            self.pos += 1;
        }
        self.line += 1;
        if self.line >= MAX_LINES {
            return Err(self.error("chunk has too many lines", None));
        }
        Ok(())
    }

    /// Reads the next token.
    pub fn next_token(&mut self) -> Result<Token, SyntaxError> {
        use Token::*;
        loop {
            self.start = self.pos;
            let Some(c) = self.cur() else {
                return Ok(Eof);
            };
            // Single-byte tokens and tokens that may be followed by a second byte.
            let (token, len) = match c {
                b'\n' | b'\r' => {
                    self.skip_newline()?;
                    continue;
                }
                b' ' | b'\t' | 0x0b | 0x0c => {
                    self.pos += 1;
                    continue;
                }
                b'-' if self.peek(1) == Some(b'-') => {
                    self.skip_comment()?;
                    continue;
                }
                b'[' => {
                    let (level, closed) = self.bracket_level(b'[');
                    if closed {
                        let content = self.read_long_bracket(level, true)?;
                        return Ok(Str(content.into()));
                    }
                    if level > 0 {
                        self.pos += 1 + level;
                        let near = quoted(&self.src[self.start..self.pos]);
                        return Err(self.error("invalid long string delimiter", Some(&near)));
                    }
                    (LBracket, 1)
                }
                b'"' | b'\'' => return self.read_string(c),
                b'.' => match (self.peek(1), self.peek(2)) {
                    (Some(b'.'), Some(b'.')) => (Dots, 3),
                    (Some(b'.'), _) => (Concat, 2),
                    (Some(d), _) if d.is_ascii_digit() => return self.read_numeral(),
                    _ => (Dot, 1),
                },
                b'0'..=b'9' => return self.read_numeral(),
                b'a'..=b'z' | b'A'..=b'Z' | b'_' => return Ok(self.read_name()),
                _ => {
                    let next = self.peek(1);
                    match (c, next) {
                        (b'=', Some(b'=')) => (Equal, 2),
                        (b'~', Some(b'=')) => (NotEqual, 2),
                        (b'<', Some(b'=')) => (LessEqual, 2),
                        (b'>', Some(b'=')) => (GreaterEqual, 2),
                        (b'<', Some(b'<')) => (ShiftLeft, 2),
                        (b'>', Some(b'>')) => (ShiftRight, 2),
                        (b'/', Some(b'/')) => (DoubleSlash, 2),
                        (b':', Some(b':')) => (DoubleColon, 2),
                        (b'+', _) => (Plus, 1),
                        (b'-', _) => (Minus, 1),
                        (b'*', _) => (Star, 1),
                        (b'/', _) => (Slash, 1),
                        (b'%', _) => (Percent, 1),
                        (b'^', _) => (Caret, 1),
                        (b'#', _) => (Hash, 1),
                        (b'&', _) => (Ampersand, 1),
                        (b'~', _) => (Tilde, 1),
                        (b'|', _) => (Pipe, 1),
                        (b'=', _) => (Assign, 1),
                        (b'<', _) => (Less, 1),
                        (b'>', _) => (Greater, 1),
                        (b'(', _) => (LParen, 1),
                        (b')', _) => (RParen, 1),
                        (b'{', _) => (LBrace, 1),
                        (b'}', _) => (RBrace, 1),
                        (b']', _) => (RBracket, 1),
                        (b';', _) => (Semicolon, 1),
                        (b':', _) => (Colon, 1),
                        (b',', _) => (Comma, 1),
                        _ => (Other(c), 1),
                    }
                }
            };
            self.pos += len;
            return Ok(token);
        }
    }

    /// Skips a comment starting at `--` (short, or long with a long bracket).
    fn skip_comment(&mut self) -> Result<(), SyntaxError> {
        self.pos += 2;
        if self.cur() == Some(b'[') {
            let (level, closed) = self.bracket_level(b'[');
            if closed {
                self.read_long_bracket(level, false)?;
                return Ok(());
            }
        }
        // A short comment runs to the end of the line (the line break is not consumed).
        let rest = &self.src[self.pos..];
        self.pos += rest
            .iter()
            .position(|&c| c == b'\n' || c == b'\r')
            .unwrap_or(rest.len());
        Ok(())
    }

    /// At a `[` or `]`: the number of `=` following it, and whether they are followed by
    /// `bracket` (making a complete long bracket). Consumes nothing.
    fn bracket_level(&self, bracket: u8) -> (usize, bool) {
        let level = self.src[self.pos + 1..]
            .iter()
            .take_while(|&&c| c == b'=')
            .count();
        (level, self.peek(1 + level) == Some(bracket))
    }

    /// Reads a long string or long comment whose opening bracket (of `level` `=` signs)
    /// starts at the current position. Returns the contents (empty for comments).
    fn read_long_bracket(&mut self, level: usize, is_string: bool) -> Result<&[u8], SyntaxError> {
        let start_line = self.line;
        self.pos += level + 2;
        self.buf.clear();
        // A line break right after the opening bracket is not part of the string.
        if matches!(self.cur(), Some(b'\n' | b'\r')) {
            self.skip_newline()?;
        }
        loop {
            match self.cur() {
                None => {
                    let what = if is_string { "string" } else { "comment" };
                    let msg = format!("unfinished long {what} (starting at line {start_line})");
                    return Err(self.error(&msg, Some("<eof>")));
                }
                Some(b']') => {
                    let (n, closed) = self.bracket_level(b']');
                    if closed && n == level {
                        self.pos += level + 2;
                        return Ok(&self.buf);
                    }
                    if is_string {
                        self.buf
                            .extend_from_slice(&self.src[self.pos..self.pos + 1 + n]);
                    }
                    self.pos += 1 + n;
                }
                Some(b'\n' | b'\r') => {
                    if is_string {
                        self.buf.push(b'\n');
                    }
                    self.skip_newline()?;
                }
                Some(_) => {
                    // Copy the run of ordinary bytes in one go.
                    let rest = &self.src[self.pos..];
                    let run = rest
                        .iter()
                        .position(|&c| matches!(c, b']' | b'\n' | b'\r'))
                        .unwrap_or(rest.len());
                    if is_string {
                        self.buf.extend_from_slice(&rest[..run]);
                    }
                    self.pos += run;
                }
            }
        }
    }

    /// Reads a short string delimited by `delim` (`"` or `'`), starting at the delimiter.
    fn read_string(&mut self, delim: u8) -> Result<Token, SyntaxError> {
        self.pos += 1;
        self.buf.clear();
        loop {
            let Some(c) = self.cur() else {
                return Err(self.error("unfinished string", Some("<eof>")));
            };
            match c {
                b'\n' | b'\r' => {
                    let near = self.partial_string(delim, 0..0);
                    return Err(self.error("unfinished string", Some(&near)));
                }
                b'\\' => self.read_escape(delim)?,
                _ if c == delim => {
                    self.pos += 1;
                    return Ok(Token::Str(self.buf.as_slice().into()));
                }
                _ => {
                    // Copy the run of ordinary bytes in one go.
                    let rest = &self.src[self.pos..];
                    let run = rest
                        .iter()
                        .position(|&b| matches!(b, b'\\' | b'\n' | b'\r') || b == delim)
                        .unwrap_or(rest.len());
                    self.buf.extend_from_slice(&rest[..run]);
                    self.pos += run;
                }
            }
        }
    }

    /// The text PUC shows for a string being read: the delimiter, the contents decoded so far
    /// and the raw source bytes in `raw` (an escape sequence being read), quoted.
    fn partial_string(&self, delim: u8, raw: Range<usize>) -> String {
        let mut text = vec![delim];
        text.extend_from_slice(&self.buf);
        text.extend_from_slice(self.src.get(raw).unwrap_or_default());
        quoted(&text)
    }

    /// Error in an escape sequence starting at `esc_start`; the near text includes the escape
    /// read so far and the offending current byte (as PUC's `esccheck`).
    fn escape_error(&self, msg: &str, delim: u8, esc_start: usize) -> SyntaxError {
        let end = (self.pos + 1).min(self.src.len());
        let near = self.partial_string(delim, esc_start..end);
        self.error(msg, Some(&near))
    }

    /// Reads an escape sequence at a `\` inside a short string, appending its value to `buf`.
    fn read_escape(&mut self, delim: u8) -> Result<(), SyntaxError> {
        let esc_start = self.pos;
        self.pos += 1;
        let Some(c) = self.cur() else {
            // "unfinished string" is reported by the caller.
            return Ok(());
        };
        let byte = match c {
            b'a' => 0x07,
            b'b' => 0x08,
            b'f' => 0x0c,
            b'n' => b'\n',
            b'r' => b'\r',
            b't' => b'\t',
            b'v' => 0x0b,
            b'\\' | b'"' | b'\'' => c,
            b'\n' | b'\r' => {
                self.skip_newline()?;
                self.buf.push(b'\n');
                return Ok(());
            }
            b'x' => {
                self.pos += 1;
                let high = self.hex_digit(delim, esc_start)?;
                self.pos += 1;
                let low = self.hex_digit(delim, esc_start)?;
                (high << 4) | low
            }
            b'z' => {
                self.pos += 1;
                while let Some(c) = self.cur().filter(|&c| is_space(c)) {
                    if c == b'\n' || c == b'\r' {
                        self.skip_newline()?;
                    } else {
                        self.pos += 1;
                    }
                }
                return Ok(());
            }
            b'u' => return self.read_utf8_escape(delim, esc_start),
            b'0'..=b'9' => {
                let mut value: u32 = 0;
                for _ in 0..3 {
                    match self.cur() {
                        Some(d @ b'0'..=b'9') => {
                            value = value * 10 + u32::from(d - b'0');
                            self.pos += 1;
                        }
                        _ => break,
                    }
                }
                let Ok(byte) = u8::try_from(value) else {
                    return Err(self.escape_error("decimal escape too large", delim, esc_start));
                };
                self.buf.push(byte);
                return Ok(());
            }
            _ => return Err(self.escape_error("invalid escape sequence", delim, esc_start)),
        };
        self.pos += 1;
        self.buf.push(byte);
        Ok(())
    }

    /// The value of the hexadecimal digit at the current position (not consumed).
    fn hex_digit(&self, delim: u8, esc_start: usize) -> Result<u8, SyntaxError> {
        match self.cur().and_then(hex_value) {
            Some(v) => Ok(v),
            None => Err(self.escape_error("hexadecimal digit expected", delim, esc_start)),
        }
    }

    /// Reads `\u{XXX}` (the current byte is the `u`) and appends its UTF-8 encoding.
    fn read_utf8_escape(&mut self, delim: u8, esc_start: usize) -> Result<(), SyntaxError> {
        self.pos += 1;
        if self.cur() != Some(b'{') {
            return Err(self.escape_error("missing '{'", delim, esc_start));
        }
        self.pos += 1;
        let mut value = u32::from(self.hex_digit(delim, esc_start)?);
        self.pos += 1;
        while let Some(d) = self.cur().and_then(hex_value) {
            if value > 0x7FF_FFFF {
                return Err(self.escape_error("UTF-8 value too large", delim, esc_start));
            }
            value = (value << 4) | u32::from(d);
            self.pos += 1;
        }
        if self.cur() != Some(b'}') {
            return Err(self.escape_error("missing '}'", delim, esc_start));
        }
        self.pos += 1;
        push_utf8(&mut self.buf, value);
        Ok(())
    }

    /// Reads a name or reserved word.
    fn read_name(&mut self) -> Token {
        let rest = &self.src[self.pos..];
        let len = rest
            .iter()
            .position(|&c| !(c.is_ascii_alphanumeric() || c == b'_'))
            .unwrap_or(rest.len());
        let word = &rest[..len];
        self.pos += len;
        keyword(word).unwrap_or_else(|| Token::Name(String::from_utf8_lossy(word).into()))
    }

    /// Reads a numeral starting at a digit, or at a `.` followed by a digit.
    ///
    /// Like PUC Lua, this takes the longest run of hexadecimal digits, dots and exponent marks
    /// (with an optional sign after the mark), plus one trailing letter if the numeral touches
    /// one, and then converts the whole text; if that fails the numeral is malformed.
    fn read_numeral(&mut self) -> Result<Token, SyntaxError> {
        let start = self.pos;
        if self.cur() == Some(b'.') {
            self.pos += 1;
        }
        let first = self.cur();
        self.pos += 1;
        let mut exponent_marks = *b"Ee";
        if first == Some(b'0') && matches!(self.cur(), Some(b'x' | b'X')) {
            self.pos += 1;
            exponent_marks = *b"Pp";
        }
        loop {
            match self.cur() {
                Some(c) if exponent_marks.contains(&c) => {
                    self.pos += 1;
                    if matches!(self.cur(), Some(b'+' | b'-')) {
                        self.pos += 1;
                    }
                }
                Some(c) if c.is_ascii_hexdigit() || c == b'.' => self.pos += 1,
                _ => break,
            }
        }
        if matches!(self.cur(), Some(c) if c.is_ascii_alphabetic() || c == b'_') {
            self.pos += 1;
        }
        let text = &self.src[start..self.pos];
        convert_numeral(text).ok_or_else(|| self.error("malformed number", Some(&quoted(text))))
    }
}

/// The value of an ASCII hexadecimal digit.
fn hex_value(c: u8) -> Option<u8> {
    (c as char).to_digit(16).map(|d| d as u8)
}

/// Appends `value` (at most 2^31 - 1) in the extended UTF-8 encoding used by Lua (up to six
/// bytes, no surrogate checks).
fn push_utf8(out: &mut Vec<u8>, value: u32) {
    if value < 0x80 {
        out.push(value as u8);
        return;
    }
    let mut tail = [0u8; 6];
    let mut n = 0;
    let mut rest = value;
    // Largest value that still fits in the first byte once `n` continuation bytes are used.
    let mut first_max: u32 = 0x3f;
    loop {
        tail[n] = 0x80 | (rest & 0x3f) as u8;
        n += 1;
        rest >>= 6;
        first_max >>= 1;
        if rest <= first_max {
            break;
        }
    }
    // Leading byte: n + 1 high bits set, then the remaining value bits.
    let lead = (!first_max << 1) as u8 | rest as u8;
    out.push(lead);
    out.extend(tail[..n].iter().rev());
}

/// Converts numeral text to an integer or float token as PUC's `luaO_str2num` does: an
/// integer if the text is a decimal integer fitting in `i64` or a hexadecimal integer
/// (wrapping), otherwise a float as C's `strtod` would read it (decimal or hexadecimal).
fn convert_numeral(text: &[u8]) -> Option<Token> {
    if let Some(i) = parse_int(text) {
        return Some(Token::Int(i));
    }
    parse_float(text).map(Token::Float)
}

/// `0x` followed by hex digits (wrapping modulo 2^64), or decimal digits that fit in `i64`.
fn parse_int(text: &[u8]) -> Option<i64> {
    if let Some(hex) = strip_hex_prefix(text) {
        if hex.is_empty() {
            return None;
        }
        hex.iter()
            .try_fold(0u64, |acc, &c| {
                hex_value(c).map(|d| acc.wrapping_mul(16).wrapping_add(u64::from(d)))
            })
            .map(|v| v as i64)
    } else {
        if text.is_empty() {
            return None;
        }
        text.iter().try_fold(0i64, |acc, &c| {
            let d = (c as char).to_digit(10)?;
            acc.checked_mul(10)?.checked_add(i64::from(d))
        })
    }
}

fn strip_hex_prefix(text: &[u8]) -> Option<&[u8]> {
    text.strip_prefix(b"0x")
        .or_else(|| text.strip_prefix(b"0X"))
}

/// The parts of a float numeral: `int.frac` and the exponent text after the mark (with its
/// optional sign).
struct FloatParts<'t> {
    int: &'t [u8],
    frac: &'t [u8],
    exponent: Option<&'t [u8]>,
}

/// Splits `digits [. digits] [mark [sign] decimal-digits]` where `digit` is checked by
/// `is_digit`; `None` if the text does not have exactly that shape with at least one mantissa
/// digit and, if there is a mark, at least one exponent digit.
fn split_float(text: &[u8], is_digit: fn(&u8) -> bool, marks: [u8; 2]) -> Option<FloatParts<'_>> {
    let int_len = text.iter().take_while(|c| is_digit(c)).count();
    let (int_part, rest) = text.split_at(int_len);
    let (frac_part, rest) = match rest.strip_prefix(b".") {
        Some(after) => {
            let n = after.iter().take_while(|c| is_digit(c)).count();
            after.split_at(n)
        }
        None => (&rest[..0], rest),
    };
    if int_part.is_empty() && frac_part.is_empty() {
        return None;
    }
    let exponent = match rest.split_first() {
        None => None,
        Some((mark, exp)) if marks.contains(mark) => {
            let digits = exp
                .strip_prefix(b"+")
                .or_else(|| exp.strip_prefix(b"-"))
                .unwrap_or(exp);
            if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
                return None;
            }
            Some(exp)
        }
        Some(_) => return None,
    };
    Some(FloatParts {
        int: int_part,
        frac: frac_part,
        exponent,
    })
}

/// Reads a float the way C's `strtod` reads a complete numeral (no sign, no spaces, no
/// `inf`/`nan`); `None` if the text is not entirely a valid numeral.
fn parse_float(text: &[u8]) -> Option<f64> {
    if let Some(hex) = strip_hex_prefix(text) {
        let parts = split_float(hex, u8::is_ascii_hexdigit, *b"pP")?;
        Some(hex_float(&parts))
    } else {
        split_float(text, u8::is_ascii_digit, *b"eE")?;
        // The shape is checked above; Rust's parser is correctly rounded like glibc's strtod.
        std::str::from_utf8(text).ok()?.parse().ok()
    }
}

/// Value of a hexadecimal float `int.frac p exponent`, correctly rounded (round-half-even),
/// with overflow to infinity and gradual underflow.
fn hex_float(parts: &FloatParts<'_>) -> f64 {
    let FloatParts {
        int: int_part,
        frac: frac_part,
        exponent,
    } = *parts;
    // Collect up to 60 significant bits; remember whether any dropped digit was non-zero.
    let mut mantissa: u64 = 0;
    let mut exp: i64 = 0;
    let mut sticky = false;
    for (i, &c) in int_part.iter().chain(frac_part).enumerate() {
        let d = u64::from(hex_value(c).unwrap_or(0));
        let in_fraction = i >= int_part.len();
        if mantissa < 1 << 56 {
            mantissa = mantissa << 4 | d;
            if in_fraction {
                exp -= 4;
            }
        } else {
            sticky |= d != 0;
            if !in_fraction {
                exp += 4;
            }
        }
    }
    if let Some(e) = exponent {
        // Saturate: anything this large overflows or underflows anyway.
        let (negative, digits) = match e.split_first() {
            Some((b'-', d)) => (true, d),
            Some((b'+', d)) => (false, d),
            _ => (false, e),
        };
        let value = digits.iter().fold(0i64, |acc, &c| {
            (acc * 10 + i64::from(c - b'0')).min(1 << 40)
        });
        exp += if negative { -value } else { value };
    }
    if mantissa == 0 {
        return 0.0;
    }
    // Normalise so that the top bit is bit 63: value = m * 2^(e2), top bit weight 2^(e2+63).
    let shift = mantissa.leading_zeros();
    let m = mantissa << shift;
    let top = exp - i64::from(shift) + 63;
    if top > 1023 {
        return f64::INFINITY;
    }
    // Number of low bits of `m` to drop: 11 for normal numbers, more for subnormals.
    let drop: u32 = if top >= -1022 {
        11
    } else {
        match u32::try_from(11 + (-1022 - top)) {
            Ok(d) if d <= 64 => d,
            _ => return 0.0,
        }
    };
    let (kept, rem, half) = if drop == 64 {
        (0, m, 1u64 << 63)
    } else {
        (m >> drop, m & ((1u64 << drop) - 1), 1u64 << (drop - 1))
    };
    let round_up = rem > half || (rem == half && (sticky || kept & 1 == 1));
    let kept = kept + u64::from(round_up);
    let bits = if top >= -1022 {
        // `kept` is in [2^52, 2^53]; rounding may carry into the next binade.
        let (kept, top) = if kept == 1 << 53 {
            (kept >> 1, top + 1)
        } else {
            (kept, top)
        };
        if top > 1023 {
            return f64::INFINITY;
        }
        ((top + 1023) as u64) << 52 | (kept & ((1 << 52) - 1))
    } else {
        // Subnormal: the biased exponent is 0; a carry into bit 52 yields the smallest normal.
        kept
    };
    f64::from_bits(bits)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lex_all(src: &str) -> Result<Vec<Token>, String> {
        lex_bytes(src.as_bytes())
    }

    fn lex_bytes(src: &[u8]) -> Result<Vec<Token>, String> {
        let mut lx = Lexer::new(src, src);
        let mut out = Vec::new();
        loop {
            match lx.next_token() {
                Ok(Token::Eof) => return Ok(out),
                Ok(t) => out.push(t),
                Err(e) => return Err(e.message),
            }
        }
    }

    fn one(src: &str) -> Token {
        let toks = lex_all(src).unwrap();
        assert_eq!(toks.len(), 1, "{src}: {toks:?}");
        toks.into_iter().next().unwrap()
    }

    fn string(src: &str) -> Vec<u8> {
        match one(src) {
            Token::Str(s) => s.into_vec(),
            t => panic!("{src}: not a string: {t:?}"),
        }
    }

    fn err(src: &str) -> String {
        lex_all(src).unwrap_err()
    }

    #[test]
    fn symbols() {
        use Token::*;
        let toks =
            lex_all("+ - * / // % ^ # & ~ | << >> == ~= <= >= < > = ( ) { } [ ] :: ; : , . .. ...")
                .unwrap();
        assert_eq!(
            toks,
            vec![
                Plus,
                Minus,
                Star,
                Slash,
                DoubleSlash,
                Percent,
                Caret,
                Hash,
                Ampersand,
                Tilde,
                Pipe,
                ShiftLeft,
                ShiftRight,
                Equal,
                NotEqual,
                LessEqual,
                GreaterEqual,
                Less,
                Greater,
                Assign,
                LParen,
                RParen,
                LBrace,
                RBrace,
                LBracket,
                RBracket,
                DoubleColon,
                Semicolon,
                Colon,
                Comma,
                Dot,
                Concat,
                Dots
            ]
        );
        // Maximal munch without spaces.
        assert_eq!(
            lex_all("a...b..c.d<<=>>==~==//=").unwrap(),
            vec![
                Name("a".into()),
                Dots,
                Name("b".into()),
                Concat,
                Name("c".into()),
                Dot,
                Name("d".into()),
                ShiftLeft,
                Assign,
                ShiftRight,
                Equal,
                NotEqual,
                Assign,
                DoubleSlash,
                Assign
            ]
        );
        assert_eq!(lex_all("....").unwrap(), vec![Dots, Dot]);
    }

    #[test]
    fn keywords_and_names() {
        use Token::*;
        let toks = lex_all(
            "and break do else elseif end false for function goto if in local nil not or \
             repeat return then true until while",
        )
        .unwrap();
        assert_eq!(
            toks,
            vec![
                And, Break, Do, Else, ElseIf, End, False, For, Function, Goto, If, In, Local, Nil,
                Not, Or, Repeat, Return, Then, True, Until, While
            ]
        );
        assert_eq!(
            lex_all("_ _a a1 And END self _ENV x_y_9").unwrap(),
            ["_", "_a", "a1", "And", "END", "self", "_ENV", "x_y_9"]
                .iter()
                .map(|s| Name((*s).into()))
                .collect::<Vec<_>>()
        );
        for t in toks {
            let text = t.fixed_text().unwrap();
            assert_eq!(keyword(text.as_bytes()), Some(t));
        }
    }

    #[test]
    fn other_bytes() {
        assert_eq!(
            lex_bytes(b"@ $ ! ? ` \\ \x80 \x01").unwrap(),
            b"@$!?`\\\x80\x01"
                .iter()
                .map(|&c| Token::Other(c))
                .collect::<Vec<_>>()
        );
        let lx = Lexer::new(b"", b"=x");
        assert_eq!(lx.describe(&Token::Other(b'@'), 0..0), "'@'");
        assert_eq!(lx.describe(&Token::Other(0x80), 0..0), "'<\\128>'");
        assert_eq!(lx.describe(&Token::Other(1), 0..0), "'<\\1>'");
    }

    #[test]
    fn integers() {
        assert_eq!(one("0"), Token::Int(0));
        assert_eq!(one("123"), Token::Int(123));
        assert_eq!(one("9223372036854775807"), Token::Int(i64::MAX));
        assert_eq!(
            one("9223372036854775808"),
            Token::Float(9223372036854775808.0)
        );
        assert_eq!(
            one("18446744073709551616"),
            Token::Float(18446744073709551616.0)
        );
        assert_eq!(one("0x7fffffffffffffff"), Token::Int(i64::MAX));
        assert_eq!(one("0xffffffffffffffff"), Token::Int(-1));
        assert_eq!(one("0x8000000000000000"), Token::Int(i64::MIN));
        assert_eq!(one("0xffffffffffffffffff"), Token::Int(-1));
        assert_eq!(one("0x10000000000000000"), Token::Int(0));
        assert_eq!(one("0XaBc"), Token::Int(0xabc));
        assert_eq!(one("007"), Token::Int(7));
        assert_eq!(one("0x1e"), Token::Int(0x1e));
        // `0x1e+5` is `0x1e + 5`: `e` is a digit, not an exponent, in hexadecimal.
        assert_eq!(
            lex_all("0x1e+5").unwrap(),
            vec![Token::Int(0x1e), Token::Plus, Token::Int(5)]
        );
    }

    #[test]
    fn floats() {
        assert_eq!(one("1.5"), Token::Float(1.5));
        assert_eq!(one(".5"), Token::Float(0.5));
        assert_eq!(one("5."), Token::Float(5.0));
        assert_eq!(one("3.e2"), Token::Float(300.0));
        assert_eq!(one("1e10"), Token::Float(1e10));
        assert_eq!(one("1E+5"), Token::Float(1e5));
        assert_eq!(one("1e-5"), Token::Float(1e-5));
        assert_eq!(one("1e308"), Token::Float(1e308));
        assert_eq!(one("1e309"), Token::Float(f64::INFINITY));
        assert_eq!(one("1e-400"), Token::Float(0.0));
        assert_eq!(one("0.1"), Token::Float(0.1));
        assert_eq!(
            one("2.2250738585072014e-308"),
            Token::Float(f64::MIN_POSITIVE)
        );
        assert_eq!(one("1.0"), Token::Float(1.0));
        assert_eq!(one("0.0"), Token::Float(0.0));
        assert_eq!(
            one("123456789012345678901234567890"),
            Token::Float(1.2345678901234568e29)
        );
    }

    #[test]
    fn hex_floats() {
        assert_eq!(one("0x1p4"), Token::Float(16.0));
        assert_eq!(one("0x.8"), Token::Float(0.5));
        assert_eq!(one("0xA.8p-1"), Token::Float(5.25));
        assert_eq!(one("0x1P+4"), Token::Float(16.0));
        assert_eq!(one("0x1."), Token::Float(1.0));
        assert_eq!(one("0x.1"), Token::Float(0.0625));
        assert_eq!(one("0x0p0"), Token::Float(0.0));
        assert_eq!(one("0x1p-1074"), Token::Float(5e-324));
        assert_eq!(one("0x1p-1075"), Token::Float(0.0)); // tie, rounds to even (zero)
        assert_eq!(one("0x1.8p-1075"), Token::Float(5e-324));
        assert_eq!(one("0x1p-1022"), Token::Float(f64::MIN_POSITIVE));
        assert_eq!(
            one("0x.fffffffffffff8p-1022"),
            Token::Float(f64::MIN_POSITIVE)
        );
        assert_eq!(one("0x1.fffffffffffffp1023"), Token::Float(f64::MAX));
        assert_eq!(one("0x1.fffffffffffff8p1023"), Token::Float(f64::INFINITY));
        assert_eq!(one("0x1p1024"), Token::Float(f64::INFINITY));
        assert_eq!(one("0x1p99999999999999999999"), Token::Float(f64::INFINITY));
        assert_eq!(one("0x1p-99999999999999999999"), Token::Float(0.0));
        // Round-half-even on the 53rd bit, and sticky bits far beyond it.
        assert_eq!(one("0x1.00000000000008p0"), Token::Float(1.0));
        assert_eq!(
            one("0x1.00000000000018p0"),
            Token::Float(1.0000000000000004)
        );
        assert_eq!(
            one("0x1.000000000000080000000000001p0"),
            Token::Float(1.0000000000000002)
        );
        assert_eq!(
            one("0x123456789abcdef0123456789.8p0"),
            Token::Float(0x123456789abcdef0123456789u128 as f64)
        );
        assert_eq!(one("0x0.0000000000000000000000001p100"), Token::Float(1.0));
    }

    #[test]
    fn malformed_numbers() {
        let e = |s: &str| err(&format!("x = {s}"));
        assert_eq!(e("3x"), "[string \"x = 3x\"]:1: malformed number near '3x'");
        assert_eq!(
            e("3xyz"),
            "[string \"x = 3xyz\"]:1: malformed number near '3x'"
        );
        assert_eq!(e("3e"), "[string \"x = 3e\"]:1: malformed number near '3e'");
        assert_eq!(e("0x"), "[string \"x = 0x\"]:1: malformed number near '0x'");
        assert_eq!(
            e("1..2"),
            "[string \"x = 1..2\"]:1: malformed number near '1..2'"
        );
        assert_eq!(
            e("1.5.3"),
            "[string \"x = 1.5.3\"]:1: malformed number near '1.5.3'"
        );
        assert_eq!(
            e("1e+ x"),
            "[string \"x = 1e+ x\"]:1: malformed number near '1e+'"
        );
        assert_eq!(
            e(".0x5"),
            "[string \"x = .0x5\"]:1: malformed number near '.0x5'"
        );
        assert_eq!(
            e("0x1p"),
            "[string \"x = 0x1p\"]:1: malformed number near '0x1p'"
        );
        assert_eq!(
            e("0x.p1"),
            "[string \"x = 0x.p1\"]:1: malformed number near '0x.p1'"
        );
        assert_eq!(e("3_"), "[string \"x = 3_\"]:1: malformed number near '3_'");
        assert_eq!(e("3f"), "[string \"x = 3f\"]:1: malformed number near '3f'");
        assert_eq!(
            e("0x.."),
            "[string \"x = 0x..\"]:1: malformed number near '0x..'"
        );
        assert_eq!(
            e("1e5.5"),
            "[string \"x = 1e5.5\"]:1: malformed number near '1e5.5'"
        );
    }

    #[test]
    fn short_strings() {
        assert_eq!(string("'abc'"), b"abc");
        assert_eq!(string("\"it's\""), b"it's");
        assert_eq!(string("''"), b"");
        assert_eq!(
            string(r#""\a\b\f\n\r\t\v\\\"\'""#),
            b"\x07\x08\x0c\n\r\t\x0b\\\"'"
        );
        assert_eq!(string(r#""\x41\x7a\xFF\x00""#), b"Az\xff\x00");
        assert_eq!(string(r#""\65\066\0067\255\0""#), b"AB\x067\xff\x00");
        assert_eq!(string(r#""\1234""#), b"{4");
        assert_eq!(
            string(r#""\u{41}\u{7FF}\u{FFFF}\u{10FFFF}""#),
            "A\u{7ff}\u{ffff}\u{10ffff}".as_bytes()
        );
        assert_eq!(string(r#""\u{0000041}""#), b"A");
        assert_eq!(string(r#""\u{7FFFFFFF}""#), b"\xfd\xbf\xbf\xbf\xbf\xbf");
        assert_eq!(string(r#""\u{3FFFFFF}""#), b"\xfb\xbf\xbf\xbf\xbf");
        assert_eq!(string(r#""\u{4000000}""#), b"\xfc\x84\x80\x80\x80\x80");
        assert_eq!(string(r#""\u{D800}""#), b"\xed\xa0\x80");
        assert_eq!(string(r#""\u{80}""#), b"\xc2\x80");
        assert_eq!(string("\"a\\z  \n\t  b\""), b"ab");
        assert_eq!(string("\"a\\z\""), b"a");
        assert_eq!(string("\"a\\\nb\""), b"a\nb");
        assert_eq!(string("\"a\\\r\nb\""), b"a\nb");
        assert_eq!(string("\"a\\\n\rb\""), b"a\nb");
        assert_eq!(string("\"a\\\rb\""), b"a\nb");
        // Raw bytes (not UTF-8) are kept as they are.
        let toks = lex_bytes(b"'\xff\xfe\x00'").unwrap();
        assert_eq!(toks, vec![Token::Str(b"\xff\xfe\x00".to_vec().into())]);
    }

    #[test]
    fn string_errors() {
        let e = |s: &str| err(&format!("x = {s}"));
        assert_eq!(
            e("\"abc"),
            "[string \"x = \"abc\"]:1: unfinished string near <eof>"
        );
        assert_eq!(
            err("x = \"abc\ny"),
            "[string \"x = \"abc...\"]:1: unfinished string near '\"abc'"
        );
        assert_eq!(
            err("x = 'abc\r"),
            "[string \"x = 'abc\r\"]:1: unfinished string near ''abc'"
        );
        assert_eq!(
            e(r#""abc\q""#),
            r#"[string "x = "abc\q""]:1: invalid escape sequence near '"abc\q'"#
        );
        assert_eq!(
            e(r#""abc\256""#),
            r#"[string "x = "abc\256""]:1: decimal escape too large near '"abc\256"'"#
        );
        assert_eq!(
            e(r#""abc\300""#),
            r#"[string "x = "abc\300""]:1: decimal escape too large near '"abc\300"'"#
        );
        assert_eq!(
            e(r#""abc\xg""#),
            r#"[string "x = "abc\xg""]:1: hexadecimal digit expected near '"abc\xg'"#
        );
        assert_eq!(
            e(r#""abc\x5g""#),
            r#"[string "x = "abc\x5g""]:1: hexadecimal digit expected near '"abc\x5g'"#
        );
        assert_eq!(
            e(r#""abc\x"#),
            r#"[string "x = "abc\x"]:1: hexadecimal digit expected near '"abc\x'"#
        );
        assert_eq!(
            e(r#""abc\x5"#),
            r#"[string "x = "abc\x5"]:1: hexadecimal digit expected near '"abc\x5'"#
        );
        assert_eq!(
            e(r#""abc\u123""#),
            r#"[string "x = "abc\u123""]:1: missing '{' near '"abc\u1'"#
        );
        assert_eq!(
            e(r#""abc\u{80000000}""#),
            r#"[string "x = "abc\u{80000000}""]:1: UTF-8 value too large near '"abc\u{80000000'"#
        );
        assert_eq!(
            e(r#""abc\u{12""#),
            r#"[string "x = "abc\u{12""]:1: missing '}' near '"abc\u{12"'"#
        );
        assert_eq!(
            e(r#""abc\u{110000""#),
            r#"[string "x = "abc\u{110000""]:1: missing '}' near '"abc\u{110000"'"#
        );
        assert_eq!(
            e(r#""abc\u{}""#),
            r#"[string "x = "abc\u{}""]:1: hexadecimal digit expected near '"abc\u{}'"#
        );
        assert_eq!(
            e("\"abc\\"),
            "[string \"x = \"abc\\\"]:1: unfinished string near <eof>"
        );
        assert_eq!(
            err("x = \"abc\\z   \n\n  y"),
            "[string \"x = \"abc\\z   ...\"]:3: unfinished string near <eof>"
        );
        // Decoded contents so far appear in the message.
        assert_eq!(
            e(r#""\65\n\q""#),
            "[string \"x = \"\\65\\n\\q\"\"]:1: invalid escape sequence near '\"A\n\\q'"
        );
    }

    #[test]
    fn long_strings() {
        assert_eq!(string("[[abc]]"), b"abc");
        assert_eq!(string("[[\nabc]]"), b"abc");
        assert_eq!(string("[[\r\nabc]]"), b"abc");
        assert_eq!(string("[[\n\nabc]]"), b"\nabc");
        assert_eq!(string("[[a\r\nb\n\rc\rd\ne]]"), b"a\nb\nc\nd\ne");
        assert_eq!(string("[==[a]]b]=]c]===]d]==]"), b"a]]b]=]c]===]d");
        assert_eq!(string("[=[]]=]"), b"]");
        assert_eq!(string("[[]=]]"), b"]=");
        assert_eq!(string("[[\\n\"']]"), b"\\n\"'");
        assert_eq!(string("[[]]"), b"");
        assert_eq!(
            err("x = [[abc"),
            "[string \"x = [[abc\"]:1: unfinished long string (starting at line 1) near <eof>"
        );
        assert_eq!(
            err("x = [==[abc\n\n"),
            "[string \"x = [==[abc...\"]:3: unfinished long string (starting at line 1) near <eof>"
        );
        assert_eq!(
            err("\n\nx = [==[abc]=]"),
            "[string \"...\"]:3: unfinished long string (starting at line 3) near <eof>"
        );
        assert_eq!(
            err("x = [=abc"),
            "[string \"x = [=abc\"]:1: invalid long string delimiter near '[='"
        );
        assert_eq!(
            err("x = [==="),
            "[string \"x = [===\"]:1: invalid long string delimiter near '[==='"
        );
        assert_eq!(
            lex_all("[ [").unwrap(),
            vec![Token::LBracket, Token::LBracket]
        );
    }

    #[test]
    fn comments() {
        assert_eq!(
            lex_all("-- hello\nx").unwrap(),
            vec![Token::Name("x".into())]
        );
        assert_eq!(
            lex_all("--[[ a\nb ]] x").unwrap(),
            vec![Token::Name("x".into())]
        );
        assert_eq!(
            lex_all("--[==[ ]] ]==] x").unwrap(),
            vec![Token::Name("x".into())]
        );
        // Not a long bracket: a short comment.
        assert_eq!(lex_all("--[=x\ny").unwrap(), vec![Token::Name("y".into())]);
        assert_eq!(lex_all("--[ x\ny").unwrap(), vec![Token::Name("y".into())]);
        assert_eq!(lex_all("--").unwrap(), vec![]);
        assert_eq!(
            lex_all("- -1").unwrap(),
            vec![Token::Minus, Token::Minus, Token::Int(1)]
        );
        assert_eq!(
            err("--[==[abc\n\n"),
            "[string \"--[==[abc...\"]:3: unfinished long comment (starting at line 1) near <eof>"
        );
        // Invalid bytes in comments are fine.
        assert_eq!(lex_bytes(b"-- \xff\xfe\n--[[\x80]]").unwrap(), vec![]);
    }

    #[test]
    fn line_counting() {
        let lines = |src: &[u8]| {
            let mut lx = Lexer::new(src, b"=t");
            let mut out = Vec::new();
            while lx.next_token().unwrap() != Token::Eof {
                out.push(lx.line());
            }
            (out, lx.line())
        };
        assert_eq!(
            lines(b"a\nb\r\nc\n\rd\re\n\nf"),
            (vec![1, 2, 3, 4, 5, 7], 7)
        );
        assert_eq!(lines(b"a\r\r\rb"), (vec![1, 4], 4));
        assert_eq!(lines(b"a\n\r\n\rb"), (vec![1, 3], 3));
        assert_eq!(lines(b"[[\n\n]] x --[[\r\n]] y -- c\n"), (vec![3, 3, 4], 5));
        assert_eq!(lines(b"'\\\n\\z\n\n' x"), (vec![4, 4], 4));
        assert_eq!(lines(b""), (vec![], 1));
        assert_eq!(lines(b"\n"), (vec![], 2));
    }

    #[test]
    fn spans_and_descriptions() {
        let src = b"foo 3.50 \"a\\65\" [==[\nx]==] 'q' == end 0x10";
        let mut lx = Lexer::new(src, b"=t");
        let mut seen = Vec::new();
        loop {
            let t = lx.next_token().unwrap();
            seen.push(lx.describe(&t, lx.span()));
            if t == Token::Eof {
                break;
            }
        }
        assert_eq!(
            seen,
            vec![
                "'foo'",
                "'3.50'",
                "'\"aA\"'",
                "'[==[x]==]'",
                "''q''",
                "'=='",
                "'end'",
                "'0x10'",
                "<eof>"
            ]
        );
        assert_eq!(Token::End.kind_name(), "'end'");
        assert_eq!(Token::Name("x".into()).kind_name(), "<name>");
        assert_eq!(Token::Eof.kind_name(), "<eof>");
        assert_eq!(Token::Str(Box::new([])).kind_name(), "<string>");
    }

    #[test]
    fn utf8_encoding_matches_std() {
        for cp in [0u32, 0x7f, 0x80, 0x7ff, 0x800, 0xffff, 0x10000, 0x10ffff] {
            let mut out = Vec::new();
            push_utf8(&mut out, cp);
            if let Some(ch) = char::from_u32(cp) {
                assert_eq!(out, ch.to_string().as_bytes(), "{cp:x}");
            }
        }
        let mut out = Vec::new();
        push_utf8(&mut out, 0x200000);
        assert_eq!(out, b"\xf8\x88\x80\x80\x80");
    }

    #[test]
    fn no_panics_on_random_input() {
        // A small deterministic xorshift generator: no external crates needed.
        let mut state: u64 = 0x9e3779b97f4a7c15;
        let mut next = || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        let alphabet = b"[]=-\\\"'\n\rxuz0123456789abcdefpPeE.+{}\x80 ";
        for _ in 0..20_000 {
            let len = (next() % 16) as usize;
            let src: Vec<u8> = (0..len)
                .map(|_| {
                    let r = next();
                    if r % 8 == 0 {
                        (r >> 8) as u8
                    } else {
                        alphabet[(r >> 8) as usize % alphabet.len()]
                    }
                })
                .collect();
            let _ = lex_bytes(&src);
        }
    }
}
