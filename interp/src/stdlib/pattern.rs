//! Lua 5.4 pattern matching (manual §6.4.1) over bytes: the matcher behind `string.find`,
//! `string.match`, `string.gmatch` and `string.gsub`, plus gsub's replacement-string expansion.
//!
//! The matcher interprets the pattern directly (no compilation step), so malformed patterns are
//! reported exactly when and as PUC Lua reports them: only once matching reaches the faulty item
//! (`string.find("a", "b[")` is simply no match), with PUC's messages.
//!
//! Backtracking uses bounded recursion that mirrors PUC's: at most [`MAX_DEPTH`] nested matcher
//! calls, beyond which matching fails with "pattern too complex" (exactly where PUC does), so the
//! Rust stack use is small and bounded for any pattern and subject. Long-running matches (PUC's
//! matcher is exponential on some patterns, quadratic on many) can be cut off by the caller with
//! a [`MatchLimits`] step budget, reported as the distinct [`PatternError::StepLimit`].
//!
//! Character classes use the C locale: bytes >= 0x80 belong to no class (a 256-entry table).
//!
//! Two shortcuts avoid hopeless work without changing any result or error: searches skip start
//! positions whose byte cannot begin a match (the pattern starts with a non-optional class), and
//! greedy/lazy repetitions skip backtracking positions whose byte cannot begin the rest of the
//! pattern. Skipped positions are still charged to the step budget.

use std::fmt;

/// Maximum number of captures in a pattern (`LUA_MAXCAPTURES`).
pub const MAX_CAPTURES: usize = 32;

/// Maximum nesting of matcher calls (PUC's `MAXCCALLS`); deeper means "pattern too complex".
pub const MAX_DEPTH: usize = 200;

/// Bytes that make a pattern non-plain (see [`has_specials`]).
const SPECIALS: &[u8] = b"^$*+?.([%-";

/// Why a match could not be completed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PatternError {
    /// A Lua error with PUC's message (malformed pattern, bad capture index, "pattern too
    /// complex", bad replacement string, ...). The caller raises it as a Lua error.
    Error(String),
    /// The [`MatchLimits`] step budget ran out before the match finished. Not a Lua error in
    /// itself: the caller decides (raise an error, or retry with a larger budget — matching is
    /// deterministic, so a retry from the same arguments gives the same result).
    StepLimit,
}

impl PatternError {
    fn msg(s: impl Into<String>) -> PatternError {
        PatternError::Error(s.into())
    }
}

impl fmt::Display for PatternError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PatternError::Error(m) => f.write_str(m),
            PatternError::StepLimit => f.write_str("pattern matching step limit exceeded"),
        }
    }
}

impl std::error::Error for PatternError {}

/// A step budget for matching. Every matcher step (entering a pattern item, examining one
/// subject byte while expanding a repetition or a `%b`, comparing a back-reference) consumes one
/// step; when none is left the operation fails with [`PatternError::StepLimit`]. One budget can
/// be shared by the successive searches of a `gmatch`/`gsub`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MatchLimits {
    /// Steps still allowed.
    pub steps_left: u64,
}

impl MatchLimits {
    /// A budget of `steps` steps.
    pub fn new(steps: u64) -> MatchLimits {
        MatchLimits { steps_left: steps }
    }

    /// A budget that never runs out in practice.
    pub fn unlimited() -> MatchLimits {
        MatchLimits {
            steps_left: u64::MAX,
        }
    }
}

/// One capture of a successful match.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Capture {
    /// A substring capture `(...)`: subject bytes `start..end` (0-based, end exclusive).
    Substring {
        /// First byte (0-based).
        start: usize,
        /// One past the last byte.
        end: usize,
    },
    /// A position capture `()`: the 1-based position, as Lua returns it.
    Position(usize),
    /// A capture still open when the pattern ended (`"(a"`). Matching succeeds, but retrieving
    /// it is an error ("unfinished capture"), exactly as in PUC; see [`Match::value`].
    Unfinished,
}

/// A successful match.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Match {
    /// Start of the whole match (0-based).
    pub start: usize,
    /// End of the whole match (0-based, exclusive).
    pub end: usize,
    /// The pattern's captures in order (empty if it has none).
    pub captures: Vec<Capture>,
}

impl Match {
    /// How many values `string.match`/`gmatch` (and a gsub replacement function) receive: the
    /// number of captures, or 1 (the whole match) when there are none. `string.find` returns only
    /// the explicit captures: `captures.len()` values.
    pub fn value_count(&self) -> usize {
        self.captures.len().max(1)
    }

    /// The `i`-th (0-based) capture value: when the pattern has no captures, index 0 is the whole
    /// match. Never returns [`Capture::Unfinished`]. Errors: "invalid capture index %n"
    /// (n = i + 1) and "unfinished capture".
    pub fn value(&self, i: usize) -> Result<Capture, PatternError> {
        match self.captures.get(i) {
            Some(Capture::Unfinished) => Err(PatternError::msg("unfinished capture")),
            Some(&c) => Ok(c),
            None if i == 0 => Ok(Capture::Substring {
                start: self.start,
                end: self.end,
            }),
            None => Err(PatternError::msg(format!(
                "invalid capture index %{}",
                i + 1
            ))),
        }
    }
}

/// `true` if the pattern contains any of Lua's special characters `^$*+?.([%-` (anywhere,
/// including after NUL bytes); when `false`, `string.find` may do a plain substring search.
pub fn has_specials(pat: &[u8]) -> bool {
    pat.iter().any(|c| SPECIALS.contains(c))
}

/// Plain substring search (`string.find` with `plain` or without specials): the 0-based offset
/// of the first occurrence of `needle` in `subject` at or after `init`. An empty needle is found
/// at `init` when `init <= subject.len()`.
pub fn find_plain(subject: &[u8], needle: &[u8], init: usize) -> Option<usize> {
    let hay = subject.get(init..)?;
    let (&first, rest) = match needle.split_first() {
        None => return Some(init),
        Some(x) => x,
    };
    if needle.len() > hay.len() {
        return None;
    }
    let last_start = hay.len() - needle.len();
    let mut i = 0;
    while i <= last_start {
        match hay[i..=last_start].iter().position(|&c| c == first) {
            None => return None,
            Some(off) => {
                let at = i + off;
                if &hay[at + 1..at + needle.len()] == rest {
                    return Some(init + at);
                }
                i = at + 1;
            }
        }
    }
    None
}

/// Splits a leading `^` anchor off a pattern (as `find`, `match` and `gsub` do; `gmatch` does
/// not, treating `^` literally).
pub fn split_anchor(pat: &[u8]) -> (bool, &[u8]) {
    match pat.split_first() {
        Some((b'^', rest)) => (true, rest),
        _ => (false, pat),
    }
}

/// Tries to match `pat` (used verbatim: a leading `^` is a literal here) against `subject`
/// starting exactly at byte `init` (0-based, `<= subject.len()`).
pub fn match_at(
    subject: &[u8],
    pat: &[u8],
    init: usize,
    limits: &mut MatchLimits,
) -> Result<Option<Match>, PatternError> {
    if init > subject.len() {
        return Ok(None);
    }
    Matcher::new(subject, pat, limits).try_at(init)
}

/// The search loop of `string.find` / `string.match`: honours a leading `^` anchor and tries
/// each start position from `init` (0-based) through `subject.len()` inclusive. `Ok(None)` when
/// nothing matches (or `init > subject.len()`).
pub fn find(
    subject: &[u8],
    pat: &[u8],
    init: usize,
    limits: &mut MatchLimits,
) -> Result<Option<Match>, PatternError> {
    if init > subject.len() {
        return Ok(None);
    }
    let (anchor, pat) = split_anchor(pat);
    let mut m = Matcher::new(subject, pat, limits);
    let lead = if anchor { None } else { m.lead(0) };
    let mut s = init;
    loop {
        if let Some(sp) = lead {
            match m.next_candidate(sp, s) {
                Some(at) => s = at,
                None => return Ok(None),
            }
        }
        if let Some(found) = m.try_at(s)? {
            return Ok(Some(found));
        }
        if anchor || s >= subject.len() {
            return Ok(None);
        }
        s += 1;
    }
}

/// Iteration state of `string.gmatch` (keep it in the iterator closure's state).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Gmatch {
    /// Next start position to try.
    src: usize,
    /// End of the previous match: an empty match there is skipped.
    last_match: Option<usize>,
}

impl Gmatch {
    /// Starts iterating at 0-based `init` (values past the end simply produce no matches).
    pub fn new(init: usize) -> Gmatch {
        Gmatch {
            src: init,
            last_match: None,
        }
    }

    /// The next match of `pat` (used verbatim, `^` is literal) in `subject`, or `None` when the
    /// iteration is over. Pass the same subject and pattern every time.
    pub fn next(
        &mut self,
        subject: &[u8],
        pat: &[u8],
        limits: &mut MatchLimits,
    ) -> Result<Option<Match>, PatternError> {
        let mut m = Matcher::new(subject, pat, limits);
        let lead = m.lead(0);
        while self.src <= subject.len() {
            if let Some(sp) = lead {
                match m.next_candidate(sp, self.src) {
                    Some(at) => self.src = at,
                    None => break,
                }
            }
            if let Some(found) = m.try_at(self.src)? {
                if Some(found.end) != self.last_match {
                    self.src = found.end;
                    self.last_match = Some(found.end);
                    return Ok(Some(found));
                }
            }
            self.src += 1;
        }
        self.src = subject.len() + 1;
        Ok(None)
    }
}

/// Iteration state of `string.gsub`. Usage:
///
/// ```ignore
/// let (mut g, pat) = Gsub::new(pat, max_n);
/// let mut out = Vec::new();
/// while let Some(m) = g.next_match(subject, pat, &mut limits, &mut out)? {
///     // append the replacement for `m` to `out` (expand_replacement, or the function/table
///     // result, or subject[m.start..m.end] when that is nil/false)
/// }
/// g.finish(subject, &mut out);
/// // result: out, g.count()
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Gsub {
    src: usize,
    last_match: Option<usize>,
    anchor: bool,
    done: bool,
    count: i64,
    max: i64,
}

impl Gsub {
    /// Prepares a substitution of at most `max` matches (`max <= 0` means none); returns the
    /// state and the pattern with its `^` anchor removed.
    pub fn new(pat: &[u8], max: i64) -> (Gsub, &[u8]) {
        let (anchor, pat) = split_anchor(pat);
        let g = Gsub {
            src: 0,
            last_match: None,
            anchor,
            done: false,
            count: 0,
            max,
        };
        (g, pat)
    }

    /// Advances to the next match, appending the unmatched subject bytes skipped on the way to
    /// `out`; `None` when no more substitutions happen.
    pub fn next_match(
        &mut self,
        subject: &[u8],
        pat: &[u8],
        limits: &mut MatchLimits,
        out: &mut Vec<u8>,
    ) -> Result<Option<Match>, PatternError> {
        let mut m = Matcher::new(subject, pat, limits);
        let lead = if self.anchor { None } else { m.lead(0) };
        while !self.done && self.count < self.max {
            if let (Some(sp), Some(rest)) = (lead, subject.get(self.src..)) {
                // Copy the bytes that cannot start a match in one go.
                let at = m.next_candidate(sp, self.src).unwrap_or(subject.len());
                out.extend_from_slice(&rest[..at - self.src]);
                self.src = at;
            }
            let mut result = None;
            match m.try_at(self.src)? {
                Some(found) if Some(found.end) != self.last_match => {
                    self.count += 1;
                    self.src = found.end;
                    self.last_match = Some(found.end);
                    result = Some(found);
                }
                _ => match subject.get(self.src) {
                    Some(&c) => {
                        out.push(c);
                        self.src += 1;
                    }
                    None => self.done = true,
                },
            }
            if self.anchor {
                self.done = true;
            }
            if result.is_some() {
                return Ok(result);
            }
        }
        Ok(None)
    }

    /// Appends the rest of the subject after the last match or skipped byte.
    pub fn finish(&self, subject: &[u8], out: &mut Vec<u8>) {
        if let Some(rest) = subject.get(self.src..) {
            out.extend_from_slice(rest);
        }
    }

    /// Number of matches found so far (gsub's second result).
    pub fn count(&self) -> i64 {
        self.count
    }
}

/// Expands a gsub replacement string for match `m` of `subject`, appending to `out`: `%0` is the
/// whole match, `%1`..`%9` the captures (position captures as decimal integers; `%1` is the whole
/// match when there are no captures), `%%` a `%`. Errors: "invalid use of '%' in replacement
/// string" (any other byte after `%`, including none), "invalid capture index %n",
/// "unfinished capture".
pub fn expand_replacement(
    repl: &[u8],
    subject: &[u8],
    m: &Match,
    out: &mut Vec<u8>,
) -> Result<(), PatternError> {
    let mut rest = repl;
    while let Some(pos) = rest.iter().position(|&c| c == b'%') {
        out.extend_from_slice(&rest[..pos]);
        let code = rest.get(pos + 1).copied().unwrap_or(0);
        match code {
            b'%' => out.push(b'%'),
            b'0' => push_capture(
                Capture::Substring {
                    start: m.start,
                    end: m.end,
                },
                subject,
                out,
            ),
            b'1'..=b'9' => push_capture(m.value(usize::from(code - b'1'))?, subject, out),
            _ => {
                return Err(PatternError::msg(
                    "invalid use of '%' in replacement string",
                ))
            }
        }
        rest = rest.get(pos + 2..).unwrap_or(&[]);
    }
    out.extend_from_slice(rest);
    Ok(())
}

/// Appends a capture's text: the substring, or the position in decimal.
fn push_capture(c: Capture, subject: &[u8], out: &mut Vec<u8>) {
    match c {
        Capture::Substring { start, end } => {
            if let Some(s) = subject.get(start..end) {
                out.extend_from_slice(s);
            }
        }
        Capture::Position(p) => crate::number::fmt_int(p as i64, out),
        Capture::Unfinished => {}
    }
}

/// State of one capture during matching.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum CapState {
    /// Opened, not yet closed.
    Open,
    /// A position capture.
    Position,
    /// Closed, with this length.
    Closed(usize),
}

/// Class bits of [`CTYPE`], one per class letter of [`match_class`].
const C_ALPHA: u16 = 1 << 0;
const C_CNTRL: u16 = 1 << 1;
const C_DIGIT: u16 = 1 << 2;
const C_GRAPH: u16 = 1 << 3;
const C_LOWER: u16 = 1 << 4;
const C_PUNCT: u16 = 1 << 5;
const C_SPACE: u16 = 1 << 6;
const C_UPPER: u16 = 1 << 7;
const C_ALNUM: u16 = 1 << 8;
const C_XDIGIT: u16 = 1 << 9;
const C_NUL: u16 = 1 << 10;

/// The classes (C locale) each byte belongs to, as `C_*` bits.
static CTYPE: [u16; 256] = {
    let mut t = [0u16; 256];
    let mut i = 0;
    while i < 256 {
        let c = i as u8;
        let mut m = 0;
        if c.is_ascii_alphabetic() {
            m |= C_ALPHA;
        }
        if c.is_ascii_control() {
            m |= C_CNTRL;
        }
        if c.is_ascii_digit() {
            m |= C_DIGIT;
        }
        if c.is_ascii_graphic() {
            m |= C_GRAPH;
        }
        if c.is_ascii_lowercase() {
            m |= C_LOWER;
        }
        if c.is_ascii_punctuation() {
            m |= C_PUNCT;
        }
        if matches!(c, b' ' | b'\t'..=b'\r') {
            m |= C_SPACE;
        }
        if c.is_ascii_uppercase() {
            m |= C_UPPER;
        }
        if c.is_ascii_alphanumeric() {
            m |= C_ALNUM;
        }
        if c.is_ascii_hexdigit() {
            m |= C_XDIGIT;
        }
        if c == 0 {
            m |= C_NUL;
        }
        t[i] = m;
        i += 1;
    }
    t
};

/// The `C_*` bit named by each byte as a class letter after `%` (either case), or 0 for bytes
/// that stand for themselves.
static CLASS_BIT: [u16; 256] = {
    let mut t = [0u16; 256];
    let letters: [(u8, u16); 11] = [
        (b'a', C_ALPHA),
        (b'c', C_CNTRL),
        (b'd', C_DIGIT),
        (b'g', C_GRAPH),
        (b'l', C_LOWER),
        (b'p', C_PUNCT),
        (b's', C_SPACE),
        (b'u', C_UPPER),
        (b'w', C_ALNUM),
        (b'x', C_XDIGIT),
        (b'z', C_NUL),
    ];
    let mut i = 0;
    while i < letters.len() {
        let (c, bit) = letters[i];
        t[c as usize] = bit;
        t[c.to_ascii_uppercase() as usize] = bit;
        i += 1;
    }
    t
};

/// The `C_*` bit named by a class letter after `%` (either case), or 0 for bytes that stand
/// for themselves.
#[inline(always)]
fn class_bit(class: u8) -> u16 {
    CLASS_BIT[usize::from(class)]
}

/// A single-character class of the pattern, decoded once so that repetitions test each subject
/// byte cheaply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Single {
    /// `.`
    Any,
    /// A plain byte, or `%` followed by a non-class byte.
    Byte(u8),
    /// `%a`, `%d`, ...: the `C_*` bit, and whether the class is complemented (`%A`, `%D`, ...).
    Class(u16, bool),
    /// `[...]`: pattern indices of the `[` and of the closing `]`.
    Set(usize, usize),
}

/// Why the matcher stopped early; the details are in [`Matcher::error`]. Kept zero-sized so that
/// the matcher's results fit in two registers.
struct Abort;

type Step = Result<Option<usize>, Abort>;

/// Matcher state for one subject/pattern pair (reused across start positions).
struct Matcher<'a> {
    src: &'a [u8],
    pat: &'a [u8],
    /// The caller's budget, updated from `steps_left` when the matcher is dropped.
    limits: &'a mut MatchLimits,
    /// Steps still allowed (a local copy of the budget, cheap to count down).
    steps_left: u64,
    /// The error behind the last [`Abort`].
    error: Option<PatternError>,
    /// Nested matcher calls still allowed.
    depth_left: usize,
    /// The static part of the last [`Matcher::next_class`] lookup: pattern index, number of
    /// `)` after it, and the class that follows them.
    next_memo: Option<(usize, usize, Option<Single>)>,
    /// Number of captures opened so far (finished or not).
    level: usize,
    /// Start and state of each capture.
    caps: [(usize, CapState); MAX_CAPTURES],
}

impl Drop for Matcher<'_> {
    fn drop(&mut self) {
        self.limits.steps_left = self.steps_left;
    }
}

impl<'a> Matcher<'a> {
    fn new(src: &'a [u8], pat: &'a [u8], limits: &'a mut MatchLimits) -> Matcher<'a> {
        Matcher {
            src,
            pat,
            steps_left: limits.steps_left,
            limits,
            error: None,
            depth_left: MAX_DEPTH,
            next_memo: None,
            level: 0,
            caps: [(0, CapState::Open); MAX_CAPTURES],
        }
    }

    /// Attempts a match starting at `s`.
    fn try_at(&mut self, s: usize) -> Result<Option<Match>, PatternError> {
        self.level = 0;
        self.depth_left = MAX_DEPTH;
        let end = match self.do_match(s, 0) {
            Ok(Some(end)) => end,
            Ok(None) => return Ok(None),
            Err(Abort) => {
                return Err(self
                    .error
                    .take()
                    .unwrap_or_else(|| PatternError::msg("pattern matching failed")))
            }
        };
        let captures = self.caps[..self.level]
            .iter()
            .map(|&(start, state)| match state {
                CapState::Open => Capture::Unfinished,
                CapState::Position => Capture::Position(start + 1),
                CapState::Closed(len) => Capture::Substring {
                    start,
                    end: start + len,
                },
            })
            .collect();
        Ok(Some(Match {
            start: s,
            end,
            captures,
        }))
    }

    /// Records `e` as the reason for stopping.
    #[cold]
    #[inline(never)]
    fn fail(&mut self, e: PatternError) -> Abort {
        self.error = Some(e);
        Abort
    }

    /// Fails with a Lua error message.
    #[cold]
    #[inline(never)]
    fn fail_msg(&mut self, m: &str) -> Abort {
        self.fail(PatternError::msg(m))
    }

    /// Pattern byte at `i`, or 0 past the end (PUC reads the string's terminating NUL there).
    #[inline]
    fn pb(&self, i: usize) -> u8 {
        self.pat.get(i).copied().unwrap_or(0)
    }

    /// Consumes one step of the budget.
    #[inline(always)]
    fn step(&mut self) -> Result<(), Abort> {
        self.charge(1)
    }

    /// Consumes `n` steps of the budget (all that is left, and fails, if fewer remain).
    #[inline(always)]
    fn charge(&mut self, n: u64) -> Result<(), Abort> {
        if self.steps_left < n {
            self.steps_left = 0;
            return Err(self.fail(PatternError::StepLimit));
        }
        self.steps_left -= n;
        Ok(())
    }

    /// Index just past the single-character class starting at `p`.
    fn class_end(&mut self, p: usize) -> Result<usize, Abort> {
        let plen = self.pat.len();
        match self.pb(p) {
            b'%' => {
                if p + 1 >= plen {
                    return Err(self.fail_msg("malformed pattern (ends with '%')"));
                }
                Ok(p + 2)
            }
            b'[' => {
                let mut q = p + 1;
                if self.pb(q) == b'^' {
                    q += 1;
                }
                // The first byte of the set is never its terminator ("[]]" is a set of ']').
                loop {
                    if q >= plen {
                        return Err(self.fail_msg("malformed pattern (missing ']')"));
                    }
                    let c = self.pat[q];
                    q += 1;
                    if c == b'%' && q < plen {
                        q += 1; // skip the escaped byte (e.g. "%]")
                    }
                    if self.pb(q) == b']' {
                        return Ok(q + 1);
                    }
                }
            }
            _ => Ok(p + 1),
        }
    }

    /// Decodes the single-character class at `p` (`p < pat.len()`, not a special item):
    /// the class and the index just past it.
    #[inline]
    fn single_at(&mut self, p: usize) -> Result<(Single, usize), Abort> {
        match self.pat[p] {
            b'.' => Ok((Single::Any, p + 1)),
            b'%' => {
                let Some(&cl) = self.pat.get(p + 1) else {
                    return Err(self.fail_msg("malformed pattern (ends with '%')"));
                };
                let bit = class_bit(cl);
                let sp = if bit == 0 {
                    Single::Byte(cl)
                } else {
                    Single::Class(bit, cl.is_ascii_uppercase())
                };
                Ok((sp, p + 2))
            }
            b'[' => {
                let ep = self.class_end(p)?;
                Ok((Single::Set(p, ep - 1), ep))
            }
            c => Ok((Single::Byte(c), p + 1)),
        }
    }

    /// If every match of the pattern from `p` must begin with a subject byte of one class (the
    /// first item is a plain, non-optional single-character class), that class. Matching from a
    /// position whose byte is not in it fails at the first item, so searches may skip it.
    fn lead(&self, p: usize) -> Option<Single> {
        let c = *self.pat.get(p)?;
        let (sp, ep) = match c {
            b'(' | b')' | b'[' => return None,
            b'$' if p + 1 == self.pat.len() => return None,
            b'.' => (Single::Any, p + 1),
            b'%' => {
                let cl = *self.pat.get(p + 1)?;
                if cl == b'b' || cl == b'f' || cl.is_ascii_digit() {
                    return None;
                }
                let bit = class_bit(cl);
                let sp = if bit == 0 {
                    Single::Byte(cl)
                } else {
                    Single::Class(bit, cl.is_ascii_uppercase())
                };
                (sp, p + 2)
            }
            c => (Single::Byte(c), p + 1),
        };
        if matches!(self.pb(ep), b'*' | b'?' | b'-') || sp == Single::Any {
            return None;
        }
        Some(sp)
    }

    /// Whether byte `c` belongs to the set `[...]` at `p` (with `]` at `close`).
    fn match_bracket(&self, c: u8, mut p: usize, close: usize) -> bool {
        let mut found = true;
        if self.pb(p + 1) == b'^' {
            found = false;
            p += 1;
        }
        loop {
            p += 1;
            if p >= close {
                return !found;
            }
            let pc = self.pat[p];
            if pc == b'%' {
                p += 1;
                if match_class(c, self.pb(p)) {
                    return found;
                }
            } else if self.pb(p + 1) == b'-' && p + 2 < close {
                p += 2;
                if pc <= c && c <= self.pat[p] {
                    return found;
                }
            } else if pc == c {
                return found;
            }
        }
    }

    /// Whether byte `c` is in class `sp`.
    #[inline(always)]
    fn in_class(&self, sp: Single, c: u8) -> bool {
        match sp {
            Single::Any => true,
            Single::Byte(b) => b == c,
            Single::Class(bit, neg) => (CTYPE[usize::from(c)] & bit != 0) != neg,
            Single::Set(open, close) => self.match_bracket(c, open, close),
        }
    }

    /// Whether subject byte `s` exists and is in class `sp`.
    #[inline(always)]
    fn single_ok(&self, sp: Single, s: usize) -> bool {
        match self.src.get(s) {
            Some(&c) => self.in_class(sp, c),
            None => false,
        }
    }

    /// How many consecutive subject bytes from `s` are in class `sp`.
    fn run_length(&self, s: usize, sp: Single) -> usize {
        let rest = self.src.get(s..).unwrap_or(&[]);
        let count = |f: &dyn Fn(u8) -> bool| rest.iter().take_while(|&&c| f(c)).count();
        match sp {
            Single::Any => rest.len(),
            Single::Byte(b) => rest.iter().take_while(|&&c| c == b).count(),
            Single::Class(bit, neg) => rest
                .iter()
                .take_while(|&&c| (CTYPE[usize::from(c)] & bit != 0) != neg)
                .count(),
            Single::Set(open, close) => count(&|c| self.match_bracket(c, open, close)),
        }
    }

    /// The first position at or after `from` whose byte is in class `sp`.
    fn next_candidate(&self, sp: Single, from: usize) -> Option<usize> {
        let rest = self.src.get(from..)?;
        let off = match sp {
            Single::Byte(b) => rest.iter().position(|&c| c == b),
            Single::Class(bit, neg) => rest
                .iter()
                .position(|&c| (CTYPE[usize::from(c)] & bit != 0) != neg),
            _ => rest.iter().position(|&c| self.in_class(sp, c)),
        };
        off.map(|o| from + o)
    }

    /// A class that the subject byte at the start of the rest of the match (pattern from `p`)
    /// must be in, looking through capture ends, for skipping hopeless backtracking positions.
    /// Only given when trying a position outside it would certainly fail without error: every
    /// skipped `)` closes an open capture and the nesting limit is not reached on the way.
    fn next_class(&mut self, p: usize) -> Option<Single> {
        let (closes, lead) = match self.next_memo {
            Some((at, closes, lead)) if at == p => (closes, lead),
            _ => {
                let closes = self.pat[p.min(self.pat.len())..]
                    .iter()
                    .take_while(|&&c| c == b')')
                    .count();
                let lead = self.lead(p + closes);
                self.next_memo = Some((p, closes, lead));
                (closes, lead)
            }
        };
        lead?;
        if closes > 0 {
            let open = self.caps[..self.level]
                .iter()
                .filter(|c| c.1 == CapState::Open)
                .count();
            if open < closes {
                return None;
            }
        }
        if self.depth_left <= closes + 1 {
            return None;
        }
        lead
    }

    /// The recursive matcher: matches pattern from `p` against subject from `s`, returning the
    /// end of the match.
    #[inline]
    fn do_match(&mut self, s: usize, p: usize) -> Step {
        if self.depth_left == 0 {
            return Err(self.fail_msg("pattern too complex"));
        }
        self.depth_left -= 1;
        let result = self.match_body(s, p);
        self.depth_left += 1;
        result
    }

    fn match_body(&mut self, mut s: usize, mut p: usize) -> Step {
        let plen = self.pat.len();
        loop {
            self.step()?;
            if p >= plen {
                return Ok(Some(s));
            }
            match self.pat[p] {
                b'(' => {
                    return if self.pb(p + 1) == b')' {
                        self.start_capture(s, p + 2, CapState::Position)
                    } else {
                        self.start_capture(s, p + 1, CapState::Open)
                    };
                }
                b')' => return self.end_capture(s, p + 1),
                b'$' if p + 1 == plen => {
                    return Ok((s == self.src.len()).then_some(s));
                }
                b'%' if self.pb(p + 1) == b'b' => match self.match_balance(s, p + 2)? {
                    Some(e) => {
                        s = e;
                        p += 4;
                        continue;
                    }
                    None => return Ok(None),
                },
                b'%' if self.pb(p + 1) == b'f' => {
                    p += 2;
                    if self.pb(p) != b'[' {
                        return Err(self.fail_msg("missing '[' after '%f' in pattern"));
                    }
                    let ep = self.class_end(p)?;
                    let prev = if s == 0 { 0 } else { self.src[s - 1] };
                    let cur = self.src.get(s).copied().unwrap_or(0);
                    if !self.match_bracket(prev, p, ep - 1) && self.match_bracket(cur, p, ep - 1) {
                        p = ep;
                        continue;
                    }
                    return Ok(None);
                }
                b'%' if self.pb(p + 1).is_ascii_digit() => {
                    match self.match_back_reference(s, self.pb(p + 1))? {
                        Some(e) => {
                            s = e;
                            p += 2;
                            continue;
                        }
                        None => return Ok(None),
                    }
                }
                _ => {}
            }
            // A single-character class with an optional repetition suffix.
            let (sp, ep) = self.single_at(p)?;
            let suffix = self.pb(ep);
            if !self.single_ok(sp, s) {
                if matches!(suffix, b'*' | b'?' | b'-') {
                    p = ep + 1; // zero repetitions are fine
                    continue;
                }
                return Ok(None);
            }
            match suffix {
                b'?' => {
                    if let Some(e) = self.do_match(s + 1, ep + 1)? {
                        return Ok(Some(e));
                    }
                    p = ep + 1;
                }
                b'+' => return self.max_expand(s + 1, sp, ep),
                b'*' => return self.max_expand(s, sp, ep),
                b'-' => return self.min_expand(s, sp, ep),
                _ => {
                    s += 1;
                    p = ep;
                }
            }
        }
    }

    /// Greedy repetition: as many bytes of class `sp` as possible from `s`, backing off one at a
    /// time until the rest of the pattern (after the suffix at `ep`) matches.
    fn max_expand(&mut self, s: usize, sp: Single, ep: usize) -> Step {
        let mut n = self.run_length(s, sp);
        self.charge(n as u64)?;
        let next = self.next_class(ep + 1);
        loop {
            if next.is_none_or(|nx| self.single_ok(nx, s + n)) {
                if let Some(e) = self.do_match(s + n, ep + 1)? {
                    return Ok(Some(e));
                }
            } else {
                self.step()?; // a skipped position still costs what trying it would
            }
            if n == 0 {
                return Ok(None);
            }
            n -= 1;
        }
    }

    /// Lazy repetition: the fewest bytes of class `sp` after which the rest matches.
    fn min_expand(&mut self, mut s: usize, sp: Single, ep: usize) -> Step {
        let next = self.next_class(ep + 1);
        loop {
            if next.is_none_or(|nx| self.single_ok(nx, s)) {
                if let Some(e) = self.do_match(s, ep + 1)? {
                    return Ok(Some(e));
                }
            } else {
                self.step()?; // a skipped position still costs what trying it would
            }
            if !self.single_ok(sp, s) {
                return Ok(None);
            }
            s += 1;
        }
    }

    /// Opens capture number `level` at `s` and matches the rest from `p`.
    fn start_capture(&mut self, s: usize, p: usize, state: CapState) -> Step {
        if self.level >= MAX_CAPTURES {
            return Err(self.fail_msg("too many captures"));
        }
        self.caps[self.level] = (s, state);
        self.level += 1;
        let result = self.do_match(s, p)?;
        if result.is_none() {
            self.level -= 1;
        }
        Ok(result)
    }

    /// Closes the innermost open capture at `s` and matches the rest from `p`.
    fn end_capture(&mut self, s: usize, p: usize) -> Step {
        let Some(l) = (0..self.level)
            .rev()
            .find(|&l| self.caps[l].1 == CapState::Open)
        else {
            return Err(self.fail_msg("invalid pattern capture"));
        };
        self.caps[l].1 = CapState::Closed(s - self.caps[l].0);
        let result = self.do_match(s, p)?;
        if result.is_none() {
            self.caps[l].1 = CapState::Open;
        }
        Ok(result)
    }

    /// `%bxy` with `x` at pattern index `p`: a balanced run starting at `s`.
    fn match_balance(&mut self, s: usize, p: usize) -> Step {
        if p + 1 >= self.pat.len() {
            return Err(self.fail_msg("malformed pattern (missing arguments to '%b')"));
        }
        let (open, close) = (self.pat[p], self.pat[p + 1]);
        if self.src.get(s) != Some(&open) {
            return Ok(None);
        }
        let mut depth = 1usize;
        for i in s + 1..self.src.len() {
            self.step()?;
            let c = self.src[i];
            if c == close {
                depth -= 1;
                if depth == 0 {
                    return Ok(Some(i + 1));
                }
            } else if c == open {
                depth += 1;
            }
        }
        Ok(None)
    }

    /// `%1`..`%9` (and the invalid `%0`): the text of an earlier closed capture, again at `s`.
    fn match_back_reference(&mut self, s: usize, digit: u8) -> Step {
        let index = usize::from(digit - b'0');
        let closed_len = index
            .checked_sub(1)
            .filter(|&l| l < self.level)
            .and_then(|l| match self.caps[l].1 {
                CapState::Open => None,
                CapState::Position => Some((l, None)),
                CapState::Closed(len) => Some((l, Some(len))),
            });
        let Some((l, len)) = closed_len else {
            return Err(self.fail(PatternError::msg(format!("invalid capture index %{index}"))));
        };
        // A position capture never matches as a back-reference (as in PUC).
        let Some(len) = len else {
            return Ok(None);
        };
        self.step()?;
        let start = self.caps[l].0;
        let text = &self.src[start..start + len];
        Ok((self.src.get(s..s + len) == Some(text)).then_some(s + len))
    }
}

/// Whether byte `c` belongs to the class named by `class` (the byte after `%`): `a c d g l p s u
/// w x` (C locale) and the deprecated `z` (NUL); uppercase letters complement; any other byte
/// stands for itself.
fn match_class(c: u8, class: u8) -> bool {
    let bit = class_bit(class);
    if bit == 0 {
        return class == c;
    }
    (CTYPE[usize::from(c)] & bit != 0) != class.is_ascii_uppercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lim() -> MatchLimits {
        MatchLimits::unlimited()
    }

    /// `string.find(s, p)` → (1-based start, end) or None.
    fn sfind(s: &str, p: &str) -> Option<(usize, usize)> {
        find(s.as_bytes(), p.as_bytes(), 0, &mut lim())
            .unwrap()
            .map(|m| (m.start + 1, m.end))
    }

    fn value_str(s: &[u8], c: Capture) -> String {
        match c {
            Capture::Substring { start, end } => String::from_utf8_lossy(&s[start..end]).into(),
            Capture::Position(p) => p.to_string(),
            Capture::Unfinished => unreachable!(),
        }
    }

    /// `string.match(s, p)` → all values joined by ",".
    fn smatch(s: &str, p: &str) -> Option<String> {
        let m = find(s.as_bytes(), p.as_bytes(), 0, &mut lim()).unwrap()?;
        let vals: Vec<String> = (0..m.value_count())
            .map(|i| value_str(s.as_bytes(), m.value(i).unwrap()))
            .collect();
        Some(vals.join(","))
    }

    fn err(s: &str, p: &str) -> String {
        match find(s.as_bytes(), p.as_bytes(), 0, &mut lim()) {
            Err(PatternError::Error(m)) => m,
            other => panic!("expected error for {p:?}, got {other:?}"),
        }
    }

    /// `string.gsub(s, p, repl)` with a string replacement.
    fn gsub(s: &str, p: &str, repl: &str, max: i64) -> Result<(String, i64), PatternError> {
        let subject = s.as_bytes();
        let (mut g, pat) = Gsub::new(p.as_bytes(), max);
        let mut out = Vec::new();
        let mut limits = lim();
        while let Some(m) = g.next_match(subject, pat, &mut limits, &mut out)? {
            expand_replacement(repl.as_bytes(), subject, &m, &mut out)?;
        }
        g.finish(subject, &mut out);
        Ok((String::from_utf8(out).unwrap(), g.count()))
    }

    fn gmatch(s: &str, p: &str) -> Vec<String> {
        let mut g = Gmatch::new(0);
        let mut limits = lim();
        let mut all = Vec::new();
        while let Some(m) = g.next(s.as_bytes(), p.as_bytes(), &mut limits).unwrap() {
            let vals: Vec<String> = (0..m.value_count())
                .map(|i| value_str(s.as_bytes(), m.value(i).unwrap()))
                .collect();
            all.push(vals.join(","));
        }
        all
    }

    #[test]
    fn basic_find() {
        // From pm.lua.
        assert_eq!(sfind("", ""), Some((1, 0)));
        assert_eq!(sfind("alo", ""), Some((1, 0)));
        assert_eq!(sfind("a\0o a\0o a\0o", "a"), Some((1, 1)));
        assert_eq!(sfind("a\0o a\0o a\0o", "a\0o"), Some((1, 3)));
        assert_eq!(sfind("a\0a\0a\0a\0\0ab", "\0ab"), Some((9, 11)));
        assert_eq!(sfind("a\0a\0a\0a\0\0ab", "b"), Some((11, 11)));
        assert_eq!(sfind("a\0a\0a\0a\0\0ab", "b\0"), None);
        assert_eq!(sfind("", "\0"), None);
        assert_eq!(sfind("alo123alo", "12"), Some((4, 5)));
        assert_eq!(sfind("alo123alo", "^12"), None);
        assert_eq!(sfind("aaab", "a*"), Some((1, 3)));
        assert_eq!(sfind("aaa", "^.*$"), Some((1, 3)));
        assert_eq!(sfind("aaa", "b*"), Some((1, 0)));
        assert_eq!(sfind("aaa", "ab*a"), Some((1, 2)));
        assert_eq!(sfind("aba", "ab*a"), Some((1, 3)));
        assert_eq!(sfind("aaab", "a+"), Some((1, 3)));
        assert_eq!(sfind("aaa", "^.+$"), Some((1, 3)));
        assert_eq!(sfind("aaa", "b+"), None);
        assert_eq!(sfind("aaa", "ab+a"), None);
        assert_eq!(sfind("aba", "ab+a"), Some((1, 3)));
        assert_eq!(sfind("a$a", ".$"), Some((3, 3)));
        assert_eq!(sfind("a$a", ".%$"), Some((1, 2)));
        assert_eq!(sfind("a$a", ".$."), Some((1, 3)));
        assert_eq!(sfind("a$a", "$$"), None);
        assert_eq!(sfind("a$b", "a$"), None);
        assert_eq!(sfind("a$a", "$"), Some((4, 3)));
        assert_eq!(sfind("", "b*"), Some((1, 0)));
        assert_eq!(sfind("aaa", "bb*"), None);
        assert_eq!(sfind("aaab", "a-"), Some((1, 0)));
        assert_eq!(sfind("aaa", "^.-$"), Some((1, 3)));
        assert_eq!(sfind("aabaaabaaabaaaba", "b.*b"), Some((3, 15)));
        assert_eq!(sfind("aabaaabaaabaaaba", "b.-b"), Some((3, 7)));
        assert_eq!(sfind("alo xo", ".o$"), Some((5, 6)));
        assert_eq!(sfind(" \n isto é assim", "%S%S*"), Some((4, 7)));
        // (UTF-8 source: "é" is two bytes here, one in pm.lua.)
        assert_eq!(sfind(" \n isto é assim", "%S*$"), Some((12, 16)));
        assert_eq!(sfind(" \n isto é assim", "[a-z]*$"), Some((12, 16)));
        assert_eq!(sfind("um caracter ? extra", "[^%sa-z]"), Some((13, 13)));
        assert_eq!(sfind("", "a?"), Some((1, 0)));
        assert_eq!(sfind("á", "á?"), Some((1, 2)));
        assert_eq!(sfind("ábl", "á?b?l?"), Some((1, 4)));
        assert_eq!(sfind("  ábl", "á?b?l?"), Some((3, 6))); // UTF-8 "á" is 2 bytes
        assert_eq!(sfind("aa", "^aa?a?a"), Some((1, 2)));
        assert_eq!(sfind("]]]áb", "[^]]+"), Some((4, 6)));
        assert_eq!(sfind("0alo alo", "%x*"), Some((1, 2)));
        assert_eq!(sfind("alo alo", "%C+"), Some((1, 7)));
        assert_eq!(sfind("(álo)", "%(á"), Some((1, 3)));
        assert_eq!(sfind("b$a", "$\0?"), Some((2, 2)));
        assert_eq!(sfind("abc\0efg", "%\0"), Some((4, 4)));
        assert_eq!(sfind("abc\0\0", "\0."), Some((4, 5)));
        assert_eq!(sfind("abcx\0\0abc\0abc", "x\0\0abc\0a."), Some((4, 12)));
        // Search from an offset, and past the end.
        let m = find(b"abcabc", b"b", 2, &mut lim()).unwrap().unwrap();
        assert_eq!((m.start, m.end), (4, 5));
        assert_eq!(
            find(b"abc", b"", 3, &mut lim()).unwrap().map(|m| m.start),
            Some(3)
        );
        assert_eq!(find(b"abc", b"", 4, &mut lim()).unwrap(), None);
    }

    #[test]
    fn matching_and_captures() {
        assert_eq!(smatch("aaab", ".-b").as_deref(), Some("aaab"));
        assert_eq!(smatch("alo xyzK", "(%w+)K").as_deref(), Some("xyz"));
        assert_eq!(smatch("254 K", "(%d*)K").as_deref(), Some(""));
        assert_eq!(smatch("alo ", "(%w*)$").as_deref(), Some(""));
        assert_eq!(smatch("alo ", "(%w+)$"), None);
        assert_eq!(smatch("único", "^(u)(n)(i)(c)(o)").as_deref(), None);
        assert_eq!(
            smatch("0123456789", "(.+(.?)())").as_deref(),
            Some("0123456789,,11")
        );
        assert_eq!(
            smatch("clo alo", "^(((.).).* (%w*))$").as_deref(),
            Some("clo alo,cl,c,alo")
        );
        assert_eq!(
            smatch("0123456789", "(.+(.?)())").as_deref(),
            Some("0123456789,,11")
        );
        assert_eq!(
            smatch("  \n\r*&\n\r   xuxu  \n\n", "%g%g%g+").as_deref(),
            Some("xuxu")
        );
        assert_eq!(
            smatch("   Alo  alo  ", "^%s*(.-)%s*$").as_deref(),
            Some("Alo  alo")
        );
        assert_eq!(smatch("==========", "^([=]*)=%1$").as_deref(), None);
        assert_eq!(smatch("=========", "^([=]*)=%1$").as_deref(), Some("===="));
        assert_eq!(
            smatch("abc\0efg\0\x01e\x01g", "%b\0\x01").as_deref(),
            Some("\0efg\0\x01e\x01")
        );
        assert_eq!(smatch("abc\0\0\0", "%\0+").as_deref(), Some("\0\0\0"));
        assert_eq!(smatch("abc\0\0\0", "%\0%\0?").as_deref(), Some("\0\0"));
        assert_eq!(
            smatch("ab\0\x01\x02c", "[\0-\x02]+").as_deref(),
            Some("\0\x01\x02")
        );
        assert_eq!(smatch("ab\0\x01\x02c", "[\0-\0]+").as_deref(), Some("\0"));
        assert_eq!(smatch("alo", "()").as_deref(), Some("1"));
        assert_eq!(smatch("x(a(b)c)y", "%b()").as_deref(), Some("(a(b)c)"));
        assert_eq!(smatch("x(a(b c)y", "%b()").as_deref(), Some("(b c)"));
        assert_eq!(smatch("x(a(b c y", "%b()"), None);
        assert_eq!(smatch("a-b", "[a-]+").as_deref(), Some("a-"));
        assert_eq!(smatch("b]a", "[]a]+").as_deref(), Some("]a"));
        assert_eq!(smatch("x]-a", "[%]-a]+").as_deref(), Some("]-a"));
        assert_eq!(
            smatch("THE (quick) fox", "%f[%a]%a+").as_deref(),
            Some("THE")
        );
        assert_eq!(
            smatch("THE (quick) fox", "%f[%l]%a+").as_deref(),
            Some("quick")
        );
        assert_eq!(smatch("fox", "%a+%f[%z]").as_deref(), Some("fox"));
        assert_eq!(smatch("^a", "^^a").as_deref(), Some("^a"));
        // Back-reference to a position capture never matches.
        assert_eq!(smatch("aa", "()a%1"), None);
        // `find` returns only explicit captures.
        let m = find(b"hello", b"l+", 0, &mut lim()).unwrap().unwrap();
        assert!(m.captures.is_empty());
        assert_eq!(m.value_count(), 1);
        assert_eq!(
            m.value(1),
            Err(PatternError::msg("invalid capture index %2"))
        );
    }

    #[test]
    fn frontier() {
        let k: Vec<String> = gmatch("alo alo th02 is 1hat", "()%f[%w%d]");
        assert_eq!(k, ["1", "5", "9", "14", "17"]);
        assert_eq!(
            gsub("function", "%f[\x01-\u{ff}]%w", ".", i64::MAX)
                .unwrap()
                .0,
            ".unction"
        );
        assert_eq!(
            gsub("function", "%f[^\x01-\u{ff}]", ".", i64::MAX)
                .unwrap()
                .0,
            "function."
        );
        assert_eq!(sfind("a", "%f[a]"), Some((1, 0)));
        assert_eq!(sfind("a", "%f[^%z]"), Some((1, 0)));
        assert_eq!(sfind("a", "%f[^%l]"), Some((2, 1)));
        assert_eq!(sfind("aba", "%f[a%z]"), Some((3, 2)));
        assert_eq!(sfind("aba", "%f[%z]"), Some((4, 3)));
        assert_eq!(sfind("aba", "%f[%l%z]"), None);
        assert_eq!(sfind("aba", "%f[^%l%z]"), None);
        assert_eq!(
            gsub("[[]] [][] [[[[", "%f[[].", "x", i64::MAX).unwrap(),
            ("x[]] x]x] x[[[".to_string(), 4)
        );
    }

    #[test]
    fn gsub_behaviour() {
        let g = |s, p, r| gsub(s, p, r, i64::MAX).unwrap();
        assert_eq!(g("ülo ülo", "ü", "x"), ("xlo xlo".into(), 2));
        assert_eq!(g("alo úlo  ", " +$", ""), ("alo úlo".into(), 1));
        assert_eq!(
            g("  alo alo  ", "^%s*(.-)%s*$", "%1"),
            ("alo alo".into(), 1)
        );
        assert_eq!(
            g("alo  alo  \n 123\n ", "%s+", " "),
            ("alo alo 123 ".into(), 3)
        );
        assert_eq!(g("abc", "%w", "%1%0"), ("aabbcc".into(), 3));
        assert_eq!(g("abc", "%w+", "%0%1"), ("abcabc".into(), 1));
        assert_eq!(g("áéí", "$", "\0óú"), ("áéí\0óú".into(), 1));
        assert_eq!(g("", "^", "r"), ("r".into(), 1));
        assert_eq!(g("", "$", "r"), ("r".into(), 1));
        assert_eq!(g("abc d", "(.)", "%1@"), ("a@b@c@ @d@".into(), 5));
        assert_eq!(
            g("hello world", "%w+", "%0 %0"),
            ("hello hello world world".into(), 2)
        );
        assert_eq!(g("alo", "(.)()", "%2-%1-%0"), ("2-a-a3-l-l4-o-o".into(), 3));
        assert_eq!(g("abc", "", "-"), ("-a-b-c-".into(), 4));
        assert_eq!(g("abc", "b*", "-"), ("-a-c-".into(), 3));
        assert_eq!(g("a%b", "%%", "%%%%"), ("a%%b".into(), 1));
        assert_eq!(g("alo", "(.)(", "x"), ("xxx".into(), 3));
        assert_eq!(g("alo", "(.)(", "%1"), ("alo".into(), 3));
        assert_eq!(gsub("abc", "%w", "x", 2).unwrap(), ("xxc".into(), 2));
        assert_eq!(gsub("abc", "%w", "x", 0).unwrap(), ("abc".into(), 0));
        assert_eq!(gsub("abc", "%w", "x", -3).unwrap(), ("abc".into(), 0));
        assert_eq!(g("aaa", "^a", "b"), ("baa".into(), 1));
        assert_eq!(g("xaa", "^a", "b"), ("xaa".into(), 0));
        // Errors (messages from lua5.4).
        let e = |s, p, r| match gsub(s, p, r, i64::MAX) {
            Err(PatternError::Error(m)) => m,
            other => panic!("{other:?}"),
        };
        assert_eq!(e("alo", ".", "%2"), "invalid capture index %2");
        assert_eq!(e("alo", "(%0)", "a"), "invalid capture index %0");
        assert_eq!(e("alo", "(%1)", "a"), "invalid capture index %1");
        assert_eq!(
            e("alo", ".", "%x"),
            "invalid use of '%' in replacement string"
        );
        assert_eq!(
            e("alo", ".", "%"),
            "invalid use of '%' in replacement string"
        );
        assert_eq!(e("alo", "(.)", "%2"), "invalid capture index %2");
        assert_eq!(e("alo", "(.)(", "%2"), "unfinished capture");
    }

    #[test]
    fn gmatch_behaviour() {
        assert_eq!(gmatch("abcde", "()"), ["1", "2", "3", "4", "5", "6"]);
        assert_eq!(
            gmatch("first second word", "%w+"),
            ["first", "second", "word"]
        );
        assert_eq!(
            gmatch("13 14 10 = 11, 15= 16, 22=23", "(%d+)%s*=%s*(%d+)"),
            ["10,11", "15,16", "22,23"]
        );
        assert_eq!(gmatch("abc", "b*"), ["", "b", ""]);
        assert_eq!(gmatch("a^b", "^b"), ["^b"]);
        let mut g = Gmatch::new(2);
        let m = g.next(b"abcabc", b"a", &mut lim()).unwrap().unwrap();
        assert_eq!(m.start, 3);
        assert!(Gmatch::new(10)
            .next(b"abc", b"", &mut lim())
            .unwrap()
            .is_none());
    }

    #[test]
    fn malformed_patterns() {
        // Messages from lua5.4.
        assert_eq!(err("a", ".)"), "invalid pattern capture");
        assert_eq!(err("a", "[a"), "malformed pattern (missing ']')");
        assert_eq!(err("a", "[]"), "malformed pattern (missing ']')");
        assert_eq!(err("a", "[^]"), "malformed pattern (missing ']')");
        assert_eq!(err("a", "[a%]"), "malformed pattern (missing ']')");
        assert_eq!(err("a", "[a%"), "malformed pattern (missing ']')");
        assert_eq!(
            err("a", "%b"),
            "malformed pattern (missing arguments to '%b')"
        );
        assert_eq!(
            err("a", "%ba"),
            "malformed pattern (missing arguments to '%b')"
        );
        assert_eq!(err("a", "%"), "malformed pattern (ends with '%')");
        assert_eq!(err("a", "%f"), "missing '[' after '%f' in pattern");
        assert_eq!(err("a", "%fa"), "missing '[' after '%f' in pattern");
        assert_eq!(err("a", "%1"), "invalid capture index %1");
        assert_eq!(err("a", "(a%1)"), "invalid capture index %1");
        assert_eq!(err("a", "%0"), "invalid capture index %0");
        assert_eq!(err("a", &"()".repeat(33)), "too many captures");
        assert_eq!(err("b", "b["), "malformed pattern (missing ']')");
        // Errors are lazy, as in PUC: never reached here.
        assert_eq!(sfind("a", "b["), None);
        assert_eq!(sfind("a", &"()".repeat(32)), Some((1, 0)));
    }

    #[test]
    fn unfinished_capture_is_lazy() {
        // `string.match("alo", "(.)(")` errors when the captures are fetched.
        let m = find(b"alo", b"(.)(", 0, &mut lim()).unwrap().unwrap();
        assert_eq!(m.value(0), Ok(Capture::Substring { start: 0, end: 1 }));
        assert_eq!(m.value(1), Err(PatternError::msg("unfinished capture")));
        assert_eq!(m.captures[1], Capture::Unfinished);
    }

    #[test]
    fn depth_limit() {
        let a300 = "a".repeat(300);
        assert_eq!(sfind("a", &"a?".repeat(300)), Some((1, 1)));
        assert_eq!(err(&a300, &"a?".repeat(300)), "pattern too complex");
        // 199 nested optional items still fit.
        assert_eq!(sfind(&a300, &"a?".repeat(199)), Some((1, 199)));
        // Greedy and lazy repetitions over long subjects do not recurse per byte.
        let big = "a".repeat(300_000);
        assert_eq!(sfind(&big, "^a*.?$"), Some((1, 300_000)));
        assert_eq!(sfind(&big, "^a*.?b$"), None);
        assert_eq!(sfind(&big, "^a-.?$"), Some((1, 300_000)));
    }

    #[test]
    fn step_limit() {
        let big = "a".repeat(100_000);
        let mut limits = MatchLimits::new(1_000_000);
        assert_eq!(
            find(big.as_bytes(), b".-b", 0, &mut limits),
            Err(PatternError::StepLimit)
        );
        assert_eq!(limits.steps_left, 0);
        // Backtracking positions skipped without a call are still charged.
        for pat in [&b"a*b"[..], b"(a+)%-", b"a-b"] {
            let mut limits = MatchLimits::new(1_000_000);
            assert_eq!(
                find(big.as_bytes(), pat, 0, &mut limits),
                Err(PatternError::StepLimit)
            );
        }
        let mut limits = MatchLimits::new(1_000);
        assert!(find(b"xyz", b"y", 0, &mut limits).unwrap().is_some());
        assert!(limits.steps_left < 1_000);
    }

    #[test]
    fn plain_search() {
        assert!(!has_specials(b"abc\0def"));
        assert!(has_specials(b"abc\0d.f"));
        assert!(has_specials(b"a-b"));
        assert_eq!(find_plain(b"hello", b"ll", 0), Some(2));
        assert_eq!(find_plain(b"hello", b"ll", 3), None);
        assert_eq!(find_plain(b"hello", b"", 5), Some(5));
        assert_eq!(find_plain(b"hello", b"", 6), None);
        assert_eq!(find_plain(b"aab", b"ab", 0), Some(1));
        assert_eq!(find_plain(b"ab", b"abc", 0), None);
        assert_eq!(find_plain(b"a.b", b".", 0), Some(1));
    }

    #[test]
    fn classes() {
        for c in 0..=255u8 {
            let is = |cl| match_class(c, cl);
            assert_eq!(is(b'a'), c.is_ascii_alphabetic());
            assert_eq!(is(b'A'), !c.is_ascii_alphabetic());
            assert_eq!(is(b's'), matches!(c, 9..=13 | 32));
            assert_eq!(
                is(b'p'),
                (33..=126).contains(&c) && !c.is_ascii_alphanumeric()
            );
            assert_eq!(is(b'c'), c < 32 || c == 127);
            assert_eq!(is(b'g'), (33..=126).contains(&c));
            assert_eq!(is(b'.'), c == b'.');
        }
    }
}
