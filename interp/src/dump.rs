//! Binary chunks: serialisation of prototype trees (`string.dump`), loading them back (`load`
//! of a chunk starting with `"\x1bLua"`), and the bytecode verifier that makes loading
//! untrusted chunks safe.
//!
//! # Why a verifier
//!
//! The VM ([`crate::vm::exec`]) reads registers and constants through raw pointers and trusts
//! the structure of compiled code (operands in range, comparisons followed by a jump, every
//! path ending in a return...). The compiler guarantees all of that; a binary chunk can claim
//! anything. [`undump`] therefore runs [`verify`] on every prototype it reads, and a chunk is
//! only handed to the VM when every invariant the dispatch loop relies on holds. Malformed or
//! truncated input of any kind gives an `Err`, never a panic.
//!
//! # Format (Rua's own body; PUC Lua's chunks are rejected, not parsed)
//!
//! The header is PUC Lua 5.4's, field for field (programs and the official tests inspect it);
//! Rua's own format is announced by the mark that follows it. A PUC chunk therefore passes the
//! header and is rejected at the mark; whatever follows a header, the body is parsed and
//! verified as Rua's, so no input reaches the VM unchecked.
//!
//! The header's check values use the machine's byte order (as PUC's); everything after the
//! mark is little-endian. `varint` is unsigned LEB128 (at most 64 bits); `string` is
//! `varint length` followed by the bytes.
//!
//! ```text
//! header (PUC's):
//!   "\x1bLua"                 signature
//!   0x54                      Lua version 5.4
//!   0                         format (PUC's official format)
//!   "\x19\x93\r\n\x1a\n"      catches newline / end-of-file conversions
//!   4 8 8                     sizes of an instruction, an integer, a float
//!   i64 0x5678, f64 370.5     endianness / representation check values (native order)
//! mark:
//!   "Rua" FORMAT_REVISION     Rua's body format and its revision
//! function:
//!   varint source             0: inherited (the parent's; "=?" for the main function),
//!                             n > 0: n - 1 bytes follow
//!   varint line_defined, varint last_line_defined
//!   u8 num_params, u8 is_vararg (0/1), u8 max_stack
//!   varint ncode, ncode * u32 instructions
//!   varint nconst, each: u8 tag (0 nil, 1 false, 2 true, 3 integer: i64, 4 float: f64 bits,
//!                                5 string)
//!   varint nupval, each: u8 in_stack (0/1), u8 index
//!   varint nproto, each: function
//!   debug information (all counts 0 when stripped):
//!   varint nline (0 or ncode), each: zigzag varint delta from the previous line (from 0)
//!   varint nlocvar, each: string name, varint start_pc, varint end_pc
//!   varint nupname (0 or nupval), each: string
//! ```
//!
//! Nothing may follow the main function.

use crate::opcode::{Instr, OpCode, MAX_C};
use crate::proto::{Constant, LocVar, Proto, UpvalDesc};
use std::rc::Rc;

/// The signature that starts every binary chunk (PUC's `LUA_SIGNATURE`).
pub const SIGNATURE: &[u8; 4] = b"\x1bLua";
/// Lua version byte (5.4).
const VERSION: u8 = 0x54;
/// Format byte of the header: PUC's official format (Rua's body is announced by [`MARK`]).
const FORMAT: u8 = 0;
/// Mark after the header announcing Rua's body format.
const MARK: &[u8; 3] = b"Rua";
/// Revision of Rua's format; bumped whenever the layout changes.
const FORMAT_REVISION: u8 = 1;
/// Bytes that detect text-mode conversions of the chunk (PUC's `LUAC_DATA`).
const DATA: &[u8; 6] = b"\x19\x93\r\n\x1a\n";
/// Integer written in the header to check the integer format.
const CHECK_INT: i64 = 0x5678;
/// Float written in the header to check the float format.
const CHECK_NUM: f64 = 370.5;
/// Source name of stripped chunks (as PUC).
const STRIPPED_SOURCE: &[u8] = b"=?";
/// Deepest nesting of functions accepted (the parser's own limit on nesting is lower).
const MAX_NESTING: usize = 250;
/// Most upvalues a function may have (PUC's `MAXUPVAL`, the compiler's limit).
const MAX_UPVALUES: usize = 255;

const TAG_NIL: u8 = 0;
const TAG_FALSE: u8 = 1;
const TAG_TRUE: u8 = 2;
const TAG_INT: u8 = 3;
const TAG_FLOAT: u8 = 4;
const TAG_STR: u8 = 5;

// ---------------------------------------------------------------------------------------------
// Dumping

/// Serialises a prototype tree. `strip` drops debug information (line numbers, local variable
/// names and ranges, upvalue names) and replaces the source name by `"=?"`, as PUC Lua does.
pub fn dump(p: &Proto, strip: bool) -> Vec<u8> {
    let mut out = Vec::with_capacity(64 + p.code.len() * 5);
    out.extend_from_slice(SIGNATURE);
    out.push(VERSION);
    out.push(FORMAT);
    out.extend_from_slice(DATA);
    out.push(std::mem::size_of::<Instr>() as u8);
    out.push(std::mem::size_of::<i64>() as u8);
    out.push(std::mem::size_of::<f64>() as u8);
    out.extend_from_slice(&CHECK_INT.to_ne_bytes());
    out.extend_from_slice(&CHECK_NUM.to_ne_bytes());
    out.extend_from_slice(MARK);
    out.push(FORMAT_REVISION);
    let source: &[u8] = if strip { STRIPPED_SOURCE } else { &p.source };
    dump_function(&mut out, p, Some(source), strip);
    out
}

/// Writes one function. `source` is `None` when the function inherits its parent's source.
fn dump_function(out: &mut Vec<u8>, p: &Proto, source: Option<&[u8]>, strip: bool) {
    match source {
        None => put_varint(out, 0),
        Some(s) => {
            put_varint(out, s.len() as u64 + 1);
            out.extend_from_slice(s);
        }
    }
    put_varint(out, p.line_defined.into());
    put_varint(out, p.last_line_defined.into());
    out.push(p.num_params);
    out.push(p.is_vararg as u8);
    out.push(p.max_stack);
    put_varint(out, p.code.len() as u64);
    for i in &p.code {
        out.extend_from_slice(&i.0.to_le_bytes());
    }
    put_varint(out, p.constants.len() as u64);
    for k in &p.constants {
        match k {
            Constant::Nil => out.push(TAG_NIL),
            Constant::Bool(false) => out.push(TAG_FALSE),
            Constant::Bool(true) => out.push(TAG_TRUE),
            Constant::Int(i) => {
                out.push(TAG_INT);
                out.extend_from_slice(&i.to_le_bytes());
            }
            Constant::Float(f) => {
                out.push(TAG_FLOAT);
                out.extend_from_slice(&f.to_bits().to_le_bytes());
            }
            Constant::Str(s) => {
                out.push(TAG_STR);
                put_bytes(out, s);
            }
        }
    }
    put_varint(out, p.upvalues.len() as u64);
    for u in &p.upvalues {
        out.push(u.in_stack as u8);
        out.push(u.index);
    }
    put_varint(out, p.protos.len() as u64);
    for child in &p.protos {
        // Stripped children always inherit "=?"; others inherit when the source is the same.
        let src = if strip || child.source == p.source {
            None
        } else {
            Some(&child.source[..])
        };
        dump_function(out, child, src, strip);
    }
    if strip {
        put_varint(out, 0);
        put_varint(out, 0);
        put_varint(out, 0);
        return;
    }
    put_varint(out, p.lines.len() as u64);
    let mut prev: i64 = 0;
    for &l in &p.lines {
        let delta = i64::from(l) - prev;
        put_varint(out, ((delta << 1) ^ (delta >> 63)) as u64);
        prev = i64::from(l);
    }
    put_varint(out, p.locvars.len() as u64);
    for lv in &p.locvars {
        put_bytes(out, lv.name.as_bytes());
        put_varint(out, lv.start_pc.into());
        put_varint(out, lv.end_pc.into());
    }
    // Names are all written, or none when every one is empty (nothing to keep).
    if p.upvalues.iter().all(|u| u.name.is_empty()) {
        put_varint(out, 0);
    } else {
        put_varint(out, p.upvalues.len() as u64);
        for u in &p.upvalues {
            put_bytes(out, u.name.as_bytes());
        }
    }
}

fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

fn put_bytes(out: &mut Vec<u8>, b: &[u8]) {
    put_varint(out, b.len() as u64);
    out.extend_from_slice(b);
}

// ---------------------------------------------------------------------------------------------
// Loading

/// Name of a chunk in load error messages, as PUC's `luaU_undump` derives it: without the
/// leading `@` or `=`, and "binary string" when the name is the chunk itself.
fn load_name(chunkname: &[u8]) -> String {
    let name = match chunkname.first() {
        Some(b'@' | b'=') => &chunkname[1..],
        Some(&c) if c == SIGNATURE[0] => b"binary string",
        _ => chunkname,
    };
    String::from_utf8_lossy(name).into_owned()
}

/// Parses and verifies a binary chunk. Errors are messages in PUC's style:
/// `"<name>: bad binary format (truncated chunk)"`, `"... (version mismatch)"`,
/// `"... (format mismatch: ...)"`, or a verifier complaint.
pub fn undump(data: &[u8], chunkname: &[u8]) -> Result<Rc<Proto>, String> {
    let bad = |why: String| format!("{}: bad binary format ({})", load_name(chunkname), why);
    let mut r = Reader { data, pos: 0 };
    check_header(&mut r).map_err(bad)?;
    let inherited: Rc<[u8]> = Rc::from(STRIPPED_SOURCE);
    let p = r.function(&inherited, 0).map_err(bad)?;
    if r.pos != data.len() {
        return Err(bad("extra bytes after the chunk".into()));
    }
    check_proto(&p, 0).map_err(bad)?;
    Ok(Rc::new(p))
}

/// Checks the header, reading each field completely before judging it so that a truncated
/// header reports truncation.
fn check_header(r: &mut Reader) -> Result<(), String> {
    if r.bytes(SIGNATURE.len())? != SIGNATURE {
        return Err("not a binary chunk".into());
    }
    if r.byte()? != VERSION {
        return Err("version mismatch".into());
    }
    if r.byte()? != FORMAT {
        return Err("format mismatch".into());
    }
    if r.bytes(DATA.len())? != DATA {
        return Err("corrupted chunk".into());
    }
    if usize::from(r.byte()?) != std::mem::size_of::<Instr>() {
        return Err("Instruction size mismatch".into());
    }
    if r.byte()? != 8 {
        return Err("lua_Integer size mismatch".into());
    }
    if r.byte()? != 8 {
        return Err("lua_Number size mismatch".into());
    }
    if i64::from_ne_bytes(r.array()?) != CHECK_INT {
        return Err("integer format mismatch".into());
    }
    if f64::from_ne_bytes(r.array()?) != CHECK_NUM {
        return Err("float format mismatch".into());
    }
    if r.bytes(MARK.len())? != MARK {
        return Err("format mismatch: not a Rua chunk (PUC Lua bytecode?)".into());
    }
    if r.byte()? != FORMAT_REVISION {
        return Err("format mismatch: another revision of Rua's format".into());
    }
    Ok(())
}

/// A cursor over the chunk. Every read is bounds-checked; running out of data is the
/// "truncated chunk" error.
struct Reader<'a> {
    data: &'a [u8],
    pos: usize,
}

fn truncated() -> String {
    "truncated chunk".into()
}

impl<'a> Reader<'a> {
    fn remaining(&self) -> usize {
        self.data.len() - self.pos
    }

    fn bytes(&mut self, n: usize) -> Result<&'a [u8], String> {
        if n > self.remaining() {
            return Err(truncated());
        }
        let s = &self.data[self.pos..self.pos + n];
        self.pos += n;
        Ok(s)
    }

    fn byte(&mut self) -> Result<u8, String> {
        Ok(self.bytes(1)?[0])
    }

    /// The next `N` bytes as an array.
    fn array<const N: usize>(&mut self) -> Result<[u8; N], String> {
        let mut a = [0u8; N];
        a.copy_from_slice(self.bytes(N)?);
        Ok(a)
    }

    fn u32(&mut self) -> Result<u32, String> {
        let b = self.bytes(4)?;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }

    fn u64(&mut self) -> Result<u64, String> {
        let b = self.bytes(8)?;
        let mut a = [0u8; 8];
        a.copy_from_slice(b);
        Ok(u64::from_le_bytes(a))
    }

    fn varint(&mut self) -> Result<u64, String> {
        let mut v: u64 = 0;
        let mut shift = 0u32;
        loop {
            let b = self.byte()?;
            let bits = u64::from(b & 0x7f);
            if shift == 63 && bits > 1 || shift > 63 {
                return Err("integer overflow".into());
            }
            v |= bits << shift;
            if b & 0x80 == 0 {
                return Ok(v);
            }
            shift += 7;
        }
    }

    fn u32_varint(&mut self) -> Result<u32, String> {
        u32::try_from(self.varint()?).map_err(|_| "integer overflow".to_string())
    }

    /// A flag byte (0 or 1).
    fn flag(&mut self) -> Result<bool, String> {
        match self.byte()? {
            0 => Ok(false),
            1 => Ok(true),
            _ => Err("invalid flag".into()),
        }
    }

    /// A count of elements taking at least `min_size` bytes each; a count the rest of the data
    /// cannot hold means the chunk was cut short.
    fn count(&mut self, min_size: usize) -> Result<usize, String> {
        let n = self.varint()?;
        let n = usize::try_from(n).map_err(|_| truncated())?;
        match n.checked_mul(min_size) {
            Some(size) if size <= self.remaining() => Ok(n),
            _ => Err(truncated()),
        }
    }

    fn string(&mut self) -> Result<&'a [u8], String> {
        let n = self.count(1)?;
        self.bytes(n)
    }

    fn name(&mut self) -> Result<Box<str>, String> {
        let b = self.string()?;
        std::str::from_utf8(b)
            .map(Box::from)
            .map_err(|_| "invalid name".to_string())
    }

    /// Reads a function; `parent_source` is what a function without its own source inherits.
    fn function(&mut self, parent_source: &Rc<[u8]>, depth: usize) -> Result<Proto, String> {
        if depth > MAX_NESTING {
            return Err("functions nested too deeply".into());
        }
        let source = match self.count(1)? {
            0 => parent_source.clone(),
            n => Rc::from(self.bytes(n - 1)?),
        };
        let line_defined = self.u32_varint()?;
        let last_line_defined = self.u32_varint()?;
        let num_params = self.byte()?;
        let is_vararg = self.flag()?;
        let max_stack = self.byte()?;
        let ncode = self.count(4)?;
        let mut code = Vec::with_capacity(ncode);
        for _ in 0..ncode {
            code.push(Instr(self.u32()?));
        }
        let nk = self.count(1)?;
        let mut constants = Vec::with_capacity(nk);
        for _ in 0..nk {
            constants.push(match self.byte()? {
                TAG_NIL => Constant::Nil,
                TAG_FALSE => Constant::Bool(false),
                TAG_TRUE => Constant::Bool(true),
                TAG_INT => Constant::Int(self.u64()? as i64),
                TAG_FLOAT => Constant::Float(f64::from_bits(self.u64()?)),
                TAG_STR => Constant::Str(self.string()?.into()),
                _ => return Err("invalid constant".into()),
            });
        }
        let nup = self.count(2)?;
        if nup > MAX_UPVALUES {
            return Err("too many upvalues".into());
        }
        let mut upvalues = Vec::with_capacity(nup);
        for _ in 0..nup {
            let in_stack = self.flag()?;
            let index = self.byte()?;
            upvalues.push(UpvalDesc {
                name: "".into(),
                in_stack,
                index,
            });
        }
        let nprotos = self.count(1)?;
        let mut protos = Vec::with_capacity(nprotos);
        for _ in 0..nprotos {
            protos.push(Rc::new(self.function(&source, depth + 1)?));
        }
        let nlines = self.count(1)?;
        let mut lines = Vec::with_capacity(nlines);
        let mut prev: i64 = 0;
        for _ in 0..nlines {
            let z = self.varint()?;
            let delta = (z >> 1) as i64 ^ -((z & 1) as i64);
            let line = prev
                .checked_add(delta)
                .and_then(|l| u32::try_from(l).ok())
                .ok_or_else(|| "invalid line information".to_string())?;
            lines.push(line);
            prev = i64::from(line);
        }
        let nlocvars = self.count(3)?;
        let mut locvars = Vec::with_capacity(nlocvars);
        for _ in 0..nlocvars {
            let name = self.name()?;
            let start_pc = self.u32_varint()?;
            let end_pc = self.u32_varint()?;
            locvars.push(LocVar {
                name,
                start_pc,
                end_pc,
            });
        }
        let nupnames = self.count(1)?;
        if nupnames != 0 && nupnames != nup {
            return Err("upvalue names do not match the upvalues".into());
        }
        for u in upvalues.iter_mut().take(nupnames) {
            u.name = self.name()?;
        }
        Ok(Proto {
            code,
            lines,
            constants,
            protos,
            upvalues,
            locvars,
            num_params,
            is_vararg,
            max_stack,
            line_defined,
            last_line_defined,
            source,
        })
    }
}

// ---------------------------------------------------------------------------------------------
// Verification

/// Checks that a prototype tree satisfies every invariant the VM relies on (see the module
/// documentation and [`check_proto`]'s rules). Errors read `"bad binary format (...)"`.
pub fn verify(p: &Proto) -> Result<(), String> {
    check_proto(p, 0).map_err(|why| format!("bad binary format ({})", why))
}

/// Is `op` a comparison or test, which is always followed by a `JMP`?
fn is_test(op: OpCode) -> bool {
    use OpCode::*;
    matches!(
        op,
        Eq | Lt | Le | EqK | EqI | LtI | LeI | GtI | GeI | Test | TestSet
    )
}

/// The rules, per function (and recursively for the children):
///
/// * header: `max_stack >= 2`, `num_params <= max_stack`, code not empty, at most 255
///   upvalues, line information absent or one line per instruction;
/// * every opcode is valid; every register operand, including the ranges an instruction
///   touches (`CALL` arguments and results, `CONCAT`, `LOADNIL`, `SETLIST`, the numeric and
///   generic `for` blocks, `SELF`'s `A+1`, fixed `VARARG` counts), is below `max_stack`;
/// * constant operands are in range (`LOADK`, `LOADKX`'s `EXTRAARG`, `RK` operands with the k
///   bit, `EQK`), string-keyed accesses (`GETTABUP GETFIELD SETTABUP SETFIELD`) use string
///   constants and the arithmetic `*K` forms numeric ones;
/// * upvalue operands are below the number of upvalues; `CLOSURE` names an existing child, and
///   each child's upvalue descriptions are valid here (a register below `max_stack`, or one of
///   this function's upvalues);
/// * every successor of every instruction (next instruction, jump targets, the skip of
///   comparisons, tests and `LFALSESKIP`, the instruction after an `EXTRAARG` operand) is
///   inside the code, and the last instruction is a return, so execution never leaves the
///   code; comparisons and tests are followed by a `JMP`; `LOADKX`, `NEWTABLE` and `SETLIST`
///   with k are followed by their `EXTRAARG`, and `EXTRAARG` appears nowhere else;
/// * an instruction consuming the values up to "top" (`B == 0` of `CALL TAILCALL RETURN
///   SETLIST`) is reached only by falling through from the instruction before it, which
///   produces them (`CALL`/`VARARG` with `C == 0`, or `TAILCALL`) starting at a register at
///   or above the consumer's first one (strictly above, except for `RETURN`);
/// * `VARARG`/`VARARGPREP` only in vararg functions;
/// * a function that captures registers in closures or has to-be-closed variables returns only
///   with `RETURN`/`TAILCALL` with the k bit (no `RETURN0`/`RETURN1`), so that its open
///   upvalues and pending `__close` calls never outlive it;
/// * `NEWTABLE` size hints are bounded by what the function's code can store (no huge
///   allocation from a tiny chunk).
fn check_proto(p: &Proto, depth: usize) -> Result<(), String> {
    if depth > MAX_NESTING {
        return Err("functions nested too deeply".into());
    }
    let where_fn = || {
        if p.line_defined == 0 {
            "main function".to_string()
        } else {
            format!("function at line {}", p.line_defined)
        }
    };
    let fail = |what: &str| Err(format!("{} in {}", what, where_fn()));
    let n = p.code.len();
    let ms = usize::from(p.max_stack);
    if ms < 2 {
        return fail("invalid stack size");
    }
    if usize::from(p.num_params) > ms {
        return fail("too many parameters");
    }
    if n == 0 {
        return fail("empty code");
    }
    if p.upvalues.len() > MAX_UPVALUES {
        return fail("too many upvalues");
    }
    if !p.lines.is_empty() && p.lines.len() != n {
        return fail("line information does not match the code");
    }
    let ops = decode_all(p).map_err(|(pc, what)| at(pc, what, &where_fn()))?;
    check_code(p, &ops).map_err(|(pc, what)| at(pc, what, &where_fn()))?;
    for child in &p.protos {
        for u in &child.upvalues {
            let ok = if u.in_stack {
                usize::from(u.index) < ms
            } else {
                usize::from(u.index) < p.upvalues.len()
            };
            if !ok {
                return fail("invalid upvalue description of a nested function");
            }
        }
        check_proto(child, depth + 1)?;
    }
    Ok(())
}

fn at(pc: usize, what: &str, func: &str) -> String {
    format!("{} at instruction {} of {}", what, pc + 1, func)
}

/// Decodes every opcode.
fn decode_all(p: &Proto) -> Result<Vec<OpCode>, (usize, &'static str)> {
    p.code
        .iter()
        .enumerate()
        .map(|(pc, i)| i.opcode().ok_or((pc, "invalid opcode")))
        .collect()
}

/// Per-instruction checks; see [`check_proto`].
fn check_code(p: &Proto, ops: &[OpCode]) -> Result<(), (usize, &'static str)> {
    use OpCode::*;
    let n = p.code.len();
    let ms = usize::from(p.max_stack);
    let nk = p.constants.len();
    let nup = p.upvalues.len();
    // Instructions reached other than by falling through from the previous one.
    let mut target = vec![false; n];
    // Is instruction pc the operand slot of the previous LOADKX/NEWTABLE/SETLIST?
    let mut operand_slot = vec![false; n];
    let setlists = ops.iter().filter(|&&o| o == SetList).count();
    let needs_close = ops.iter().any(|&o| o == Tbc || o == TForPrep)
        || p.protos
            .iter()
            .any(|c| c.upvalues.iter().any(|u| u.in_stack));

    for (pc, (&i, &op)) in p.code.iter().zip(ops).enumerate() {
        let (a, b, c, k) = (i.a(), i.b(), i.c(), i.k());
        // Checks that registers x..=x+extra are valid (`x + extra < max_stack`).
        let reg = |x: usize, extra: usize| -> Result<(), (usize, &'static str)> {
            if x + extra < ms {
                Ok(())
            } else {
                Err((pc, "register out of range"))
            }
        };
        let kst = |x: usize| {
            if x < nk {
                Ok(())
            } else {
                Err((pc, "constant out of range"))
            }
        };
        let kstr = |x: usize| match p.constants.get(x) {
            Some(Constant::Str(_)) => Ok(()),
            Some(_) => Err((pc, "constant key is not a string")),
            None => Err((pc, "constant out of range")),
        };
        let knum = |x: usize| match p.constants.get(x) {
            Some(Constant::Int(_) | Constant::Float(_)) => Ok(()),
            Some(_) => Err((pc, "arithmetic constant is not a number")),
            None => Err((pc, "constant out of range")),
        };
        let rk = |x: usize| if k { kst(x) } else { reg(x, 0) };
        let upv = |x: usize| {
            if x < nup {
                Ok(())
            } else {
                Err((pc, "upvalue out of range"))
            }
        };
        // Marks a successor other than the next instruction; it must be inside the code.
        let mut jump_to = |dest: i64| -> Result<(), (usize, &'static str)> {
            match usize::try_from(dest) {
                Ok(d) if d < n => {
                    target[d] = true;
                    Ok(())
                }
                _ => Err((pc, "jump out of the code")),
            }
        };
        let pci = pc as i64;
        // Does execution continue with pc + 1?
        let mut falls_through = true;
        match op {
            Move => {
                reg(a, 0)?;
                reg(b, 0)?;
            }
            LoadI | LoadF | LoadFalse | LoadTrue => reg(a, 0)?,
            LFalseSkip => {
                reg(a, 0)?;
                jump_to(pci + 2)?;
                falls_through = false;
            }
            LoadK => {
                reg(a, 0)?;
                kst(i.bx())?;
            }
            LoadNil => reg(a, b)?,
            GetUpval | SetUpval => {
                reg(a, 0)?;
                upv(b)?;
            }
            GetTabUp => {
                reg(a, 0)?;
                upv(b)?;
                kstr(c)?;
            }
            GetTable => {
                reg(a, 0)?;
                reg(b, 0)?;
                reg(c, 0)?;
            }
            GetI => {
                reg(a, 0)?;
                reg(b, 0)?;
            }
            GetField => {
                reg(a, 0)?;
                reg(b, 0)?;
                kstr(c)?;
            }
            SetTabUp => {
                upv(a)?;
                kstr(b)?;
                rk(c)?;
            }
            SetTable => {
                reg(a, 0)?;
                reg(b, 0)?;
                rk(c)?;
            }
            SetI => {
                reg(a, 0)?;
                rk(c)?;
            }
            SetField => {
                reg(a, 0)?;
                kstr(b)?;
                rk(c)?;
            }
            SelfOp => {
                reg(a, 1)?;
                reg(b, 0)?;
                rk(c)?;
            }
            AddI | ShrI | ShlI | Unm | BNot | Not | Len => {
                reg(a, 0)?;
                reg(b, 0)?;
            }
            AddK | SubK | MulK | ModK | PowK | DivK | IDivK | BAndK | BOrK | BXorK => {
                reg(a, 0)?;
                reg(b, 0)?;
                knum(c)?;
            }
            Add | Sub | Mul | Mod | Pow | Div | IDiv | BAnd | BOr | BXor | Shl | Shr => {
                reg(a, 0)?;
                reg(b, 0)?;
                reg(c, 0)?;
            }
            Concat => {
                if b < 2 {
                    return Err((pc, "invalid CONCAT count"));
                }
                reg(a, b - 1)?;
            }
            Close | Tbc | Test | Return1 | TForPrep | Closure | Vararg => {
                // Operands beyond A are checked below.
                reg(a, 0)?;
            }
            Jmp => {
                jump_to(pci + 1 + i.sj_field())?;
                falls_through = false;
            }
            Eq | Lt | Le | TestSet => {
                reg(a, 0)?;
                reg(b, 0)?;
            }
            EqK => {
                reg(a, 0)?;
                kst(b)?;
            }
            EqI | LtI | LeI | GtI | GeI => reg(a, 0)?,
            Call => {
                reg(a, 0)?;
                if b > 0 {
                    reg(a, b - 1)?;
                }
                if c > 1 {
                    reg(a, c - 2)?;
                }
            }
            TailCall => {
                reg(a, 0)?;
                if b > 0 {
                    reg(a, b - 1)?;
                }
            }
            Return => {
                // With no values A may be the first register above the frame.
                if a > ms {
                    return Err((pc, "register out of range"));
                }
                if b > 1 {
                    reg(a, b - 2)?;
                }
                falls_through = false;
            }
            Return0 => {
                // The VM returns from A (no values): A may be the first register above.
                if a > ms {
                    return Err((pc, "register out of range"));
                }
                falls_through = false;
            }
            ForLoop | TForLoop => {
                reg(a, if op == ForLoop { 3 } else { 4 })?;
                jump_to(pci + 1 - i.bx() as i64)?;
            }
            ForPrep => {
                reg(a, 3)?;
                jump_to(pci + 2 + i.bx() as i64)?;
            }
            TForCall => {
                // The call copies R[A..A+2] to R[A+4..A+6]; results go to R[A+4..A+3+C].
                reg(a, 3 + c.max(3))?;
            }
            SetList => {
                reg(a, b)?;
            }
            NewTable => reg(a, 0)?,
            LoadKX | VarargPrep | ExtraArg => {}
        }
        if needs_close {
            match op {
                Return0 | Return1 => return Err((pc, "return without closing upvalues")),
                Return | TailCall if !k => {
                    return Err((pc, "return without closing upvalues"));
                }
                _ => {}
            }
        }
        // Operands and successors that need more than the simple checks above.
        match op {
            Return1 => falls_through = false,
            TForPrep => {
                reg(a, 3)?;
                jump_to(pci + 1 + i.bx() as i64)?;
                falls_through = false;
            }
            Closure if i.bx() >= p.protos.len() => {
                return Err((pc, "nested function out of range"));
            }
            Vararg => {
                if !p.is_vararg {
                    return Err((pc, "VARARG in a function that is not vararg"));
                }
                if c > 1 {
                    reg(a, c - 2)?;
                }
            }
            VarargPrep if !p.is_vararg => {
                return Err((pc, "VARARGPREP in a function that is not vararg"));
            }
            LoadKX | NewTable | SetList if op != SetList || k => {
                // The operand is the next instruction, which is then skipped.
                let Some(&next) = p.code.get(pc + 1) else {
                    return Err((pc, "missing EXTRAARG"));
                };
                if ops[pc + 1] != ExtraArg {
                    return Err((pc, "missing EXTRAARG"));
                }
                operand_slot[pc + 1] = true;
                let ax = next.ax_field();
                match op {
                    LoadKX => {
                        reg(a, 0)?;
                        kst(ax)?;
                    }
                    NewTable => {
                        check_table_size(p, b, c, k, ax, setlists).map_err(|what| (pc, what))?
                    }
                    _ => {}
                }
                jump_to(pci + 2)?;
                falls_through = false;
            }
            _ if is_test(op) => {
                if ops.get(pc + 1) != Some(&Jmp) {
                    return Err((pc, "comparison not followed by a jump"));
                }
                jump_to(pci + 2)?;
            }
            _ => {}
        }
        if falls_through && pc + 1 >= n {
            return Err((pc, "execution falls off the end of the code"));
        }
    }
    if !matches!(ops[n - 1], Return | Return0 | Return1) {
        return Err((n - 1, "last instruction is not a return"));
    }
    for pc in 0..n {
        if ops[pc] == ExtraArg && !operand_slot[pc] {
            return Err((pc, "misplaced EXTRAARG"));
        }
        check_multret_consumer(p, ops, pc, &target)?;
    }
    Ok(())
}

/// `NEWTABLE`'s size hints: the array part cannot exceed what the function's `SETLIST`s can
/// store (each at most `max_stack - 1` registers), the hash part twice the code size (every
/// record field is stored by one instruction; the hint is rounded up to a power of two).
fn check_table_size(
    p: &Proto,
    b: usize,
    c: usize,
    k: bool,
    ax: usize,
    setlists: usize,
) -> Result<(), &'static str> {
    let array = if k {
        ax.checked_mul(MAX_C as usize + 1)
            .and_then(|x| x.checked_add(c))
    } else {
        Some(c)
    };
    let array_limit = setlists.saturating_mul(usize::from(p.max_stack) - 1);
    if !matches!(array, Some(x) if x <= array_limit) {
        return Err("table size hint too large");
    }
    if b > 0 {
        let hash_limit = p.code.len().saturating_mul(2);
        if b > usize::BITS as usize || (1usize << (b - 1)) > hash_limit {
            return Err("table size hint too large");
        }
    }
    Ok(())
}

/// The rule for instructions that consume the values up to "top" (see [`check_proto`]).
fn check_multret_consumer(
    p: &Proto,
    ops: &[OpCode],
    pc: usize,
    target: &[bool],
) -> Result<(), (usize, &'static str)> {
    use OpCode::*;
    let i = p.code[pc];
    let consumes = matches!(ops[pc], Call | TailCall | Return | SetList) && i.b() == 0;
    if !consumes {
        return Ok(());
    }
    let err = Err((pc, "variable number of values without a producer"));
    if pc == 0 || target[pc] {
        return err;
    }
    let prev = p.code[pc - 1];
    let produces = match ops[pc - 1] {
        Call | Vararg => prev.c() == 0,
        TailCall => true,
        _ => false,
    };
    // The values start at the producer's A; the consumer needs them to start above its own
    // A (the function or table), or at it for RETURN.
    let start_ok = if ops[pc] == Return {
        prev.a() >= i.a()
    } else {
        prev.a() > i.a()
    };
    if produces && start_ok {
        Ok(())
    } else {
        err
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::compile::compile;
    use crate::parse::parse;

    fn compile_src(src: &str) -> Rc<Proto> {
        let chunk = parse(src.as_bytes(), b"=test").unwrap_or_else(|e| panic!("{}", e.message));
        compile(&chunk, b"=test").unwrap_or_else(|e| panic!("{}", e.message))
    }

    const SAMPLE: &str = r#"
        local a, b = 1, 2.5
        local s = "a string constant"
        local t = {1, 2, 3, x = 1, [true] = false, n = nil}
        local function f(x, ...)
            local y = x + a
            return function(z) return y + z + b end, ...
        end
        for i = 1, 3 do t[i] = i * 2 end
        for k, v in pairs(t) do a = a + 1 end
        while a < 100 do a = a * 2 end
        local c <close> = nil
        print(f(1, 2, 3)(4), s .. "x", #t, -a, ~1, a // 2, a % 3)
        return t, select('#', ...)
    "#;

    /// Every prototype in the tree, depth first.
    fn all_protos(p: &Rc<Proto>, out: &mut Vec<Rc<Proto>>) {
        out.push(p.clone());
        for c in &p.protos {
            all_protos(c, out);
        }
    }

    #[test]
    fn round_trip() {
        let p = compile_src(SAMPLE);
        verify(&p).unwrap();
        let bytes = dump(&p, false);
        assert!(bytes.starts_with(SIGNATURE));
        let q = undump(&bytes, b"=x").unwrap();
        assert_eq!(*p, *q);
        // The children share the parent's source.
        assert!(Rc::ptr_eq(&q.source, &q.protos[0].source));
        // Dumping again gives the same bytes.
        assert_eq!(dump(&q, false), bytes);
    }

    #[test]
    fn strip_drops_debug_info() {
        let p = compile_src(SAMPLE);
        let bytes = dump(&p, true);
        assert!(bytes.len() < dump(&p, false).len());
        let q = undump(&bytes, b"=x").unwrap();
        let (mut ps, mut qs) = (Vec::new(), Vec::new());
        all_protos(&p, &mut ps);
        all_protos(&q, &mut qs);
        assert_eq!(ps.len(), qs.len());
        for (p, q) in ps.iter().zip(&qs) {
            assert_eq!(p.code, q.code);
            assert_eq!(p.constants, q.constants);
            assert_eq!(p.line_defined, q.line_defined);
            assert!(q.lines.is_empty() && q.locvars.is_empty());
            assert!(q.upvalues.iter().all(|u| u.name.is_empty()));
            assert_eq!(&q.source[..], b"=?");
            let ups = |p: &Proto| -> Vec<(bool, u8)> {
                p.upvalues.iter().map(|u| (u.in_stack, u.index)).collect()
            };
            assert_eq!(ups(p), ups(q));
        }
    }

    #[test]
    fn header_errors() {
        let bytes = dump(&compile_src("return 1"), false);
        let msg = |data: &[u8]| undump(data, b"=chunk").unwrap_err();
        assert_eq!(
            msg(b"\x1bLuq"),
            "chunk: bad binary format (not a binary chunk)"
        );
        let mut v = bytes.clone();
        v[4] = 0x53;
        assert_eq!(msg(&v), "chunk: bad binary format (version mismatch)");
        v = bytes.clone();
        v[5] = b'R';
        assert_eq!(msg(&v), "chunk: bad binary format (format mismatch)");
        // The header is PUC's, byte for byte.
        let mut puc = b"\x1bLua\x54\x00\x19\x93\r\n\x1a\n\x04\x08\x08".to_vec();
        puc.extend_from_slice(&0x5678i64.to_ne_bytes());
        puc.extend_from_slice(&370.5f64.to_ne_bytes());
        assert_eq!(&bytes[..puc.len()], &puc[..]);
        v = bytes.clone();
        v[puc.len() + 3] += 1;
        assert!(msg(&v).contains("another revision"));
        v = bytes.clone();
        v.push(0);
        assert!(msg(&v).contains("extra bytes"));
        // Chunk names as PUC shows them.
        assert!(undump(b"\x1b", b"@f.lua")
            .unwrap_err()
            .starts_with("f.lua: "));
        assert!(undump(b"\x1b", b"\x1bLua")
            .unwrap_err()
            .starts_with("binary string: "));
        assert!(undump(b"\x1b", b"text").unwrap_err().starts_with("text: "));
    }

    #[test]
    fn puc_chunks_are_rejected() {
        // The start of what `luac5.4` writes: signature, version, format 0, LUAC_DATA...
        let mut puc = b"\x1bLua\x54\x00\x19\x93\r\n\x1a\n\x04\x08\x08".to_vec();
        puc.extend_from_slice(&0x5678i64.to_ne_bytes());
        puc.extend_from_slice(&370.5f64.to_ne_bytes());
        puc.extend_from_slice(&[1, 0x80, 0x80, 0x80]);
        let e = undump(&puc, b"=luac.out").unwrap_err();
        assert!(
            e.starts_with("luac.out: bad binary format (format mismatch"),
            "{e}"
        );
    }

    #[test]
    fn real_puc_chunks_are_rejected_even_with_a_forged_mark() {
        // `luac5.4 -s` output for a small loop over a table (x86-64).
        let puc: &[u8] = &[
            0x1b, 0x4c, 0x75, 0x61, 0x54, 0x00, 0x19, 0x93, 0x0d, 0x0a, 0x1a, 0x0a, 0x04, 0x08,
            0x08, 0x78, 0x56, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
            0x28, 0x77, 0x40, 0x01, 0x80, 0x80, 0x80, 0x00, 0x01, 0x06, 0x91, 0x51, 0x00, 0x00,
            0x00, 0x13, 0x00, 0x00, 0x02, 0x52, 0x00, 0x00, 0x00, 0x81, 0x00, 0x00, 0x80, 0x01,
            0x81, 0x00, 0x80, 0x4e, 0x00, 0x02, 0x00, 0x81, 0x00, 0x00, 0x80, 0x34, 0x01, 0x00,
            0x00, 0x81, 0x01, 0x00, 0x80, 0xca, 0x00, 0x02, 0x00, 0x8c, 0x02, 0x00, 0x04, 0x98,
            0x02, 0x05, 0x00, 0xb0, 0x02, 0x00, 0x08, 0x10, 0x00, 0x04, 0x05, 0xc9, 0x80, 0x02,
            0x00, 0x46, 0x00, 0x02, 0x01, 0xc6, 0x00, 0x01, 0x01, 0x81, 0x03, 0x02, 0x00, 0x00,
            0x00, 0x00, 0x00, 0x00, 0x00, 0x81, 0x01, 0x00, 0x00, 0x80, 0x80, 0x80, 0x80, 0x80,
        ];
        let hdr = 4 + 1 + 1 + 6 + 3 + 16;
        let e = undump(puc, b"=luac.out").unwrap_err();
        assert!(e.contains("not a Rua chunk"), "{e}");
        // With Rua's mark written over or into PUC's body, the body is parsed as Rua's and
        // rejected (never accepted unverified, never a panic).
        let mut over = puc.to_vec();
        over[hdr..hdr + 4].copy_from_slice(b"Rua\x01");
        let mut into = puc[..hdr].to_vec();
        into.extend_from_slice(b"Rua\x01");
        into.extend_from_slice(&puc[hdr..]);
        for forged in [over, into] {
            assert!(undump(&forged, b"=forged").is_err());
            for i in hdr + 4..forged.len() {
                for delta in [1u8, 0x7f, 0x80] {
                    let mut m = forged.clone();
                    m[i] = m[i].wrapping_add(delta);
                    if let Ok(p) = undump(&m, b"=m") {
                        assert!(check_proto(&p, 0).is_ok());
                    }
                }
            }
        }
    }

    #[test]
    fn every_truncation_is_reported() {
        for strip in [false, true] {
            let bytes = dump(&compile_src(SAMPLE), strip);
            for len in 0..bytes.len() {
                let e = undump(&bytes[..len], b"=t").unwrap_err();
                assert!(e.contains("truncated chunk"), "prefix {len}: {e}");
            }
        }
    }

    /// A tiny deterministic generator (xorshift) for the mutation tests.
    struct Rng(u64);
    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }
        fn below(&mut self, n: usize) -> usize {
            (self.next() % n as u64) as usize
        }
    }

    /// Random mutations of valid chunks never panic; the ones that load pass verification
    /// (and so are safe to run; the Lua-level test runs some).
    #[test]
    fn mutations_never_panic() {
        let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
        let srcs = [SAMPLE, "local x = ... return x and x + 1 or {x, ...}"];
        let mut loaded = 0;
        for src in srcs {
            for strip in [false, true] {
                let bytes = dump(&compile_src(src), strip);
                for _ in 0..3000 {
                    let mut m = bytes.clone();
                    for _ in 0..1 + rng.below(4) {
                        let pos = rng.below(m.len());
                        match rng.below(4) {
                            0 => m[pos] ^= 1 << rng.below(8),
                            1 => m[pos] = rng.next() as u8,
                            2 => m[pos] = m[pos].wrapping_add(1),
                            _ => {
                                m.remove(pos);
                            }
                        }
                    }
                    if let Ok(p) = undump(&m, b"=m") {
                        verify(&p).unwrap();
                        loaded += 1;
                    }
                }
            }
        }
        // Some mutations (of constants, lines, names) still give valid chunks.
        assert!(loaded > 0);
    }

    /// Code for the VM-level mutation test: loops, closures, varargs, a constructor,
    /// to-be-closed variables, comparisons and tests.
    const FUZZ_SAMPLE: &str = r#"
        local a, b = ...
        local t = {1, 2, 3, x = 1, y = "s"}
        for i = 1, 10 do t[i] = (t[i] or 0) + i * 2 end
        for k, v in pairs(t) do a = (a or 0) + 1 end
        local function f(x, ...) local y = x; return function(z) return y + z end, select('#', ...) end
        local g = f(1, 2, 3)
        local s = 0
        for i = 10, 1, -1 do s = s + g(i) end
        local c <close> = nil
        local u = {n = select('#', ...), ...}
        while s > 100 do s = s // 2 end
        if s == 3 or s < 2 then s = -s elseif s ~= 7 then s = s % 5 end
        return s, t, u, #t, tostring(s) .. "x", not a, a and b
    "#;

    /// Loads mutants in a sandbox (a few harmless globals) and runs the ones that load with an
    /// instruction budget (a count hook raises an error).
    const FUZZ_DRIVER: &str = r#"
        local data = ...
        local env = {pairs = pairs, ipairs = ipairs, select = select, type = type,
                     tostring = tostring, tonumber = tonumber, setmetatable = setmetatable}
        local f = load(data, "=mutant", "b", env)
        if not f then return false end
        debug.sethook(function() error("budget exhausted") end, "", 20000)
        pcall(f, 1, 2, 3)
        debug.sethook()
        return true
    "#;

    /// Random mutations of a valid chunk that pass verification run in the VM without
    /// panicking (they may raise Lua errors).
    #[test]
    fn verified_mutants_run_safely() {
        use crate::value::Value;
        let mut st = crate::vm::State::new_bare();
        crate::stdlib::open_all(&mut st);
        let driver = st.load(FUZZ_DRIVER.as_bytes(), b"=driver", None).unwrap();
        st.pin(driver);
        let mut rng = Rng(0x2545_f491_4f6c_dd1d);
        let mut ran = 0;
        // RUA_FUZZ_ITERS scales the run for a longer local fuzzing session.
        let iters: usize = std::env::var("RUA_FUZZ_ITERS")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(1500);
        for strip in [false, true] {
            let bytes = dump(&compile_src(FUZZ_SAMPLE), strip);
            for _ in 0..iters {
                let mut m = bytes.clone();
                // Mutate the code mostly: it starts after the header and the first fields.
                for _ in 0..1 + rng.below(3) {
                    let pos = 32 + rng.below(m.len() - 32);
                    match rng.below(3) {
                        0 => m[pos] ^= 1 << rng.below(8),
                        1 => m[pos] = rng.next() as u8,
                        _ => m[pos] = m[pos].wrapping_sub(1),
                    }
                }
                if undump(&m, b"=m").is_err() {
                    continue;
                }
                let s = st.intern(&m);
                let r = st.call_value(driver, &[Value::Str(s)], 1);
                assert!(matches!(r.as_deref(), Ok([Value::Bool(true)])));
                ran += 1;
            }
        }
        eprintln!("{ran} mutants ran");
        assert!(ran > 50, "only {ran} mutants ran");
    }

    /// Like [`verified_mutants_run_safely`] at the level of instructions: random fields or
    /// random instructions in the compiled code (and its nested functions); whatever passes
    /// the verifier runs without panicking.
    #[test]
    fn instruction_mutants_run_safely() {
        use crate::value::Value;
        let mut st = crate::vm::State::new_bare();
        crate::stdlib::open_all(&mut st);
        let driver = st.load(FUZZ_DRIVER.as_bytes(), b"=driver", None).unwrap();
        st.pin(driver);
        let mut rng = Rng(0x0123_4567_89ab_cdef);
        let iters: usize = std::env::var("RUA_FUZZ_ITERS")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(3000);
        let bases = [compile_src(FUZZ_SAMPLE), compile_src(SAMPLE)];
        let mut ran = 0;
        for it in 0..iters {
            let mut p = (*bases[it % bases.len()]).clone();
            for _ in 0..1 + rng.below(3) {
                // Mutate the main function or a nested one.
                let mut target: &mut Proto = &mut p;
                while !target.protos.is_empty() && rng.below(3) > 0 {
                    let i = rng.below(target.protos.len());
                    target = Rc::make_mut(&mut target.protos[i]);
                }
                let pc = rng.below(target.code.len());
                let old = target.code[pc];
                let field = rng.below(6);
                let v = rng.next() as u32;
                target.code[pc] = match field {
                    0 => Instr((old.0 & !0x7f) | (v % OpCode::COUNT as u32)),
                    1 => old.with_a(v & 0xff),
                    2 => old.with_b(v & 0xff),
                    3 => old.with_c(v & 0xff),
                    4 => old.with_k(!old.k()),
                    _ => Instr(v),
                };
            }
            if verify(&p).is_err() {
                continue;
            }
            let s = st.intern(&dump(&p, rng.below(2) == 0));
            let r = st.call_value(driver, &[Value::Str(s)], 1);
            assert!(matches!(r.as_deref(), Ok([Value::Bool(true)])));
            ran += 1;
        }
        eprintln!("{ran} instruction mutants ran");
        assert!(ran > 50, "only {ran} mutants ran");
    }

    /// A hand-made function for the tests of hostile code.
    fn crafted(code: Vec<Instr>, constants: Vec<Constant>, protos: Vec<Proto>) -> Proto {
        Proto {
            code,
            lines: Vec::new(),
            constants,
            protos: protos.into_iter().map(Rc::new).collect(),
            upvalues: vec![UpvalDesc {
                name: "_ENV".into(),
                in_stack: true,
                index: 0,
            }],
            locvars: Vec::new(),
            num_params: 0,
            is_vararg: true,
            max_stack: 10,
            line_defined: 0,
            last_line_defined: 0,
            source: Rc::from(&b"=crafted"[..]),
        }
    }

    /// Loads `p` through a binary chunk into a fresh state and runs it; the error message if
    /// loading or running fails.
    fn run_crafted(p: &Proto) -> Result<(), String> {
        let mut st = crate::vm::State::new_bare();
        crate::stdlib::open_all(&mut st);
        let pre = b"closer = setmetatable({}, {__close = function() end}) closer.a = closer";
        let pre = st.load(pre, b"=pre", None).unwrap();
        st.call_value(pre, &[], 0).unwrap();
        let f = st
            .load(&dump(p, false), b"=crafted", None)
            .map_err(|e| e.message())?;
        st.call_value(f, &[], -1)
            .map(|_| ())
            .map_err(|e| e.message())
    }

    fn s(x: &str) -> Constant {
        Constant::Str(x.as_bytes().into())
    }

    /// Verified code that breaks what compiled code never does gets Lua errors, not panics:
    /// loops entered without FORPREP, SETLIST on a non-table, open upvalues and to-be-closed
    /// slots above the stack end while a native runs, more locals than the stack holds.
    #[test]
    fn hostile_verified_code_raises_errors() {
        use OpCode::*;
        let abc = |op, a, b, c| Instr::abc(op, a, b, c, false);
        let for_loop = crafted(
            vec![
                Instr::asbx(LoadI, 0, 1),
                abc(LoadNil, 1, 0, 0),
                Instr::asbx(LoadI, 2, 1),
                Instr::abx(ForLoop, 0, 1),
                abc(Return0, 0, 0, 0),
            ],
            vec![],
            vec![],
        );
        let e = run_crafted(&for_loop).unwrap_err();
        assert!(e.contains("'for' loop state is not a number"), "{e}");
        let mut float_loop = for_loop.clone();
        float_loop.code[2] = Instr::asbx(LoadF, 2, 1);
        let e = run_crafted(&float_loop).unwrap_err();
        assert!(e.contains("'for' loop state is not a number"), "{e}");
        float_loop.code[2] = abc(LoadTrue, 2, 0, 0);
        let e = run_crafted(&float_loop).unwrap_err();
        assert!(e.contains("'for' loop state is not a number"), "{e}");

        let setlist = crafted(
            vec![
                Instr::asbx(LoadI, 0, 1),
                Instr::asbx(LoadI, 1, 2),
                abc(SetList, 0, 1, 0),
                abc(Return0, 0, 0, 0),
            ],
            vec![],
            vec![],
        );
        let e = run_crafted(&setlist).unwrap_err();
        assert!(e.contains("table constructor target is not a table"), "{e}");

        // A closure over R9, read by debug.getupvalue while the call has cut the stack at R3;
        // then debug.getlocal of locals the stack does not hold.
        let mut child = crafted(
            vec![abc(GetUpval, 0, 0, 0), abc(Return1, 0, 0, 0)],
            vec![],
            vec![],
        );
        child.is_vararg = false;
        child.line_defined = 1;
        child.upvalues[0].index = 9;
        let mut upv = crafted(
            vec![
                abc(VarargPrep, 0, 0, 0),
                Instr::asbx(LoadI, 9, 42),
                Instr::abx(Closure, 8, 0),
                abc(GetTabUp, 0, 0, 0),
                abc(GetField, 0, 0, 1),
                abc(Move, 1, 8, 0),
                Instr::asbx(LoadI, 2, 1),
                abc(Call, 0, 3, 1),
                abc(GetTabUp, 0, 0, 0),
                abc(GetField, 0, 0, 2),
                Instr::asbx(LoadI, 1, 1),
                Instr::asbx(LoadI, 2, 10),
                abc(Call, 0, 3, 1),
                // A call drops the registers above its arguments: a new closure, called
                // from Lua (its upvalue is R9 again, nil since the stack grew back).
                Instr::abx(Closure, 0, 0),
                abc(Call, 0, 1, 2),
                Instr::abc(Return, 0, 2, 0, true),
            ],
            vec![s("debug"), s("getupvalue"), s("getlocal")],
            vec![child],
        );
        upv.locvars = (0..10)
            .map(|i| LocVar {
                name: format!("v{i}").into(),
                start_pc: 0,
                end_pc: 100,
            })
            .collect();
        run_crafted(&upv).unwrap();

        // A to-be-closed variable in R9 while an error is raised with the stack cut at R2.
        let tbc = crafted(
            vec![
                abc(VarargPrep, 0, 0, 0),
                abc(GetTabUp, 9, 0, 0),
                abc(Tbc, 9, 0, 0),
                abc(GetTabUp, 0, 0, 1),
                Instr::abx(LoadK, 1, 2),
                abc(Call, 0, 2, 1),
                Instr::abc(Return, 0, 1, 0, true),
            ],
            vec![s("closer"), s("error"), s("boom")],
            vec![],
        );
        let e = run_crafted(&tbc).unwrap_err();
        assert!(e.contains("boom") || e.contains("attempt to call"), "{e}");
    }

    /// Error messages name variables by symbolic execution of the code: a hostile chain of
    /// 100k field accesses (the compiler stops at 1000 nested expressions) must not make it
    /// recurse that deep.
    #[test]
    fn long_field_chains_in_error_messages() {
        use OpCode::*;
        let mut code = vec![abc_(VarargPrep, 0, 0, 0), abc_(GetTabUp, 0, 0, 0)];
        code.extend(std::iter::repeat_n(abc_(GetField, 0, 0, 1), 100_000));
        code.push(abc_(GetField, 0, 0, 2));
        code.push(abc_(GetField, 0, 0, 2));
        code.push(abc_(Return0, 0, 0, 0));
        let p = crafted(code, vec![s("closer"), s("a"), s("b")], vec![]);
        let e = run_crafted(&p).unwrap_err();
        assert!(e.contains("attempt to index a nil value"), "{e}");
    }

    fn abc_(op: OpCode, a: u32, b: u32, c: u32) -> Instr {
        Instr::abc(op, a, b, c, false)
    }

    fn with_code(p: &Proto, f: impl FnOnce(&mut Vec<Instr>)) -> Proto {
        let mut q = p.clone();
        f(&mut q.code);
        q.lines.clear();
        q
    }

    #[test]
    fn verifier_rejects_bad_code() {
        let p = compile_src("local a, b = ... ; return a + b, f(a, ...)");
        verify(&p).unwrap();
        let pos = |op: OpCode| p.code.iter().position(|i| i.opcode() == Some(op)).unwrap();
        let rejects = |q: Proto, what: &str| {
            let e = verify(&q).expect_err(what);
            assert!(e.starts_with("bad binary format ("), "{e}");
            assert!(e.contains(what), "{e} (expected {what})");
        };
        let add = pos(OpCode::Add);
        rejects(
            with_code(&p, |c| c[add] = c[add].with_b(200)),
            "register out of range",
        );
        rejects(
            with_code(&p, |c| c[add] = Instr(c[add].0 | 0x7f)),
            "invalid opcode",
        );
        rejects(
            with_code(&p, |c| *c.last_mut().unwrap() = Instr::sj(OpCode::Jmp, -1)),
            "last instruction is not a return",
        );
        let call = pos(OpCode::Call);
        rejects(
            with_code(&p, |c| {
                c[call - 1] = Instr::abc(OpCode::LoadNil, 0, 0, 0, false)
            }),
            "without a producer",
        );
        rejects(
            with_code(&p, |c| c.insert(0, Instr::sj(OpCode::Jmp, 1000))),
            "jump out of the code",
        );
        rejects(
            with_code(&p, |c| c.insert(0, Instr::abc(OpCode::Eq, 0, 0, 0, false))),
            "not followed by a jump",
        );
        let mut q = (*p).clone();
        q.max_stack = 1;
        rejects(q, "invalid stack size");
        // The fast call path nil-fills parameters up to `num_params` without checking them
        // against the frame's `max_stack`.
        let mut q = (*p).clone();
        q.num_params = q.max_stack + 1;
        rejects(q, "too many parameters");
        let mut q = (*p).clone();
        q.lines.pop();
        rejects(q, "line information");
        let getk = pos(OpCode::GetTabUp);
        rejects(
            with_code(&p, |c| c[getk] = c[getk].with_c(99)),
            "constant out of range",
        );
        rejects(
            with_code(&p, |c| c[getk] = c[getk].with_b(5)),
            "upvalue out of range",
        );
    }

    #[test]
    fn verifier_checks_children() {
        let p = compile_src("local x; return function() return x end");
        verify(&p).unwrap();
        let mut q = (*p).clone();
        let mut child = (*q.protos[0]).clone();
        child.upvalues[0].index = q.max_stack;
        q.protos[0] = Rc::new(child);
        assert!(verify(&q).unwrap_err().contains("upvalue description"));
        let mut q = (*p).clone();
        let ret = q.code.len() - 1;
        q.code[ret] = Instr::abc(OpCode::Return0, 0, 0, 0, false);
        assert!(verify(&q).unwrap_err().contains("without closing"));
    }

    /// Compiles and verifies every prototype of the repository's Lua test scripts and, when
    /// `LUA_TESTSUITE_DIR` names the official suite's `testes` folder, of those too; each also
    /// round-trips through dump/undump, stripped and not.
    #[test]
    fn compiler_output_passes_verification() {
        let mut dirs =
            vec![std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../lua-testsuite")];
        if let Ok(d) = std::env::var("LUA_TESTSUITE_DIR") {
            dirs.push(d.into());
        }
        let mut checked = 0;
        for dir in dirs {
            let Ok(entries) = std::fs::read_dir(&dir) else {
                continue;
            };
            for e in entries.flatten() {
                let path = e.path();
                if path.extension().and_then(|x| x.to_str()) != Some("lua") {
                    continue;
                }
                let mut src = std::fs::read(&path).unwrap();
                crate::stdlib::base::skip_prefix(&mut src);
                let Ok(chunk) = parse(&src, b"@t") else {
                    eprintln!("{}: does not parse", path.display());
                    continue;
                };
                let Ok(p) = compile(&chunk, b"@t") else {
                    eprintln!("{}: does not compile", path.display());
                    continue;
                };
                if let Err(e) = verify(&p) {
                    panic!("{}: {}", path.display(), e);
                }
                for strip in [false, true] {
                    let q = undump(&dump(&p, strip), b"=t")
                        .unwrap_or_else(|e| panic!("{}: {}", path.display(), e));
                    if !strip {
                        assert_eq!(*p, *q);
                    }
                }
                checked += 1;
            }
        }
        eprintln!("verified {checked} files");
        assert!(checked > 0);
    }
}
