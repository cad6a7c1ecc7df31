//! The string library (manual §6.4): `byte char dump find format gmatch gsub len lower match
//! rep reverse sub upper pack packsize unpack`, and the metatable shared by all strings
//! (`__index = string` plus the arithmetic metamethods that PUC Lua installs, which coerce
//! numeric strings and produce its "attempt to add a 'string' with a 'table'" messages).
//!
//! Pattern matching, `format` conversions and `pack` encodings are done by the state-independent
//! engines in [`super::pattern`], [`super::strformat`] and [`super::pack`]; this module fetches
//! and checks arguments in PUC's order and turns engine errors into Lua errors.

use crate::stdlib::base::tostring_value;
use crate::stdlib::pack::{self, PackArgs, PackError, Unpacked};
use crate::stdlib::pattern::{self, Capture, Gmatch, Gsub, Match, PatternError};
use crate::stdlib::strformat::{self, FormatArgs, Literal};
use crate::string::LuaStr;
use crate::userdata::UserData;
use crate::value::{LuaType, Value};
use crate::vm::meta::{arith_numbers, ArOp};
use crate::vm::native::{Action, CallStatus, Catch, Cont, Ctx};
use crate::vm::Tm;
use crate::vm::{LuaError, LuaResult, State, MAX_STACK};
use rua_gc::Gc;
use std::borrow::Cow;
use std::cell::{Cell, RefCell};

/// PUC's `MAXSIZE` for strings built by the library (`INT_MAX` on 64-bit platforms).
const MAX_SIZE: usize = i32::MAX as usize;

/// Installs the `string` table and the string metatable.
pub fn open(st: &mut State) {
    let t = st.new_table(0, 20);
    st.register(t, "byte", byte);
    st.register(t, "char", char);
    st.register(t, "dump", dump);
    st.register(t, "find", find);
    st.register(t, "format", format);
    st.register(t, "gmatch", gmatch);
    st.register(t, "gsub", gsub);
    st.register(t, "len", len);
    st.register(t, "lower", lower);
    st.register(t, "match", match_);
    st.register(t, "rep", rep);
    st.register(t, "reverse", reverse);
    st.register(t, "sub", sub);
    st.register(t, "upper", upper);
    st.register(t, "pack", pack_);
    st.register(t, "packsize", packsize);
    st.register(t, "unpack", unpack);
    let g = st.globals;
    st.set_field(g, "string", Value::Table(t));
    let l = st.loaded;
    st.set_field(l, "string", Value::Table(t));

    let mt = st.new_table(0, 10);
    st.register(mt, "__add", arith_add);
    st.register(mt, "__sub", arith_sub);
    st.register(mt, "__mul", arith_mul);
    st.register(mt, "__mod", arith_mod);
    st.register(mt, "__pow", arith_pow);
    st.register(mt, "__div", arith_div);
    st.register(mt, "__idiv", arith_idiv);
    st.register(mt, "__unm", arith_unm);
    st.set_field(mt, "__index", Value::Table(t));
    st.type_metas[LuaType::String as usize] = Some(mt);
}

// ---------------------------------------------------------------------------------------------
// Positions

/// Translates a relative initial position (negative means back from the end) to `[1, inf)`,
/// as PUC's `posrelatI`.
pub(crate) fn posrelat_start(pos: i64, len: usize) -> usize {
    if pos > 0 {
        pos as usize
    } else if pos == 0 || pos < -(len as i64) {
        1
    } else {
        (len as i64 + pos + 1) as usize
    }
}

/// Translates a relative end position to `[0, len]`, as PUC's `getendpos`.
fn posrelat_end(pos: i64, len: usize) -> usize {
    if pos > len as i64 {
        len
    } else if pos >= 0 {
        pos as usize
    } else if pos < -(len as i64) {
        0
    } else {
        (len as i64 + pos + 1) as usize
    }
}

/// `luaL_checkstack`: fails with "stack overflow (msg)" when `n` more values would not fit.
pub(crate) fn check_stack(ctx: &mut Ctx, n: usize, msg: &str) -> LuaResult<()> {
    let used = ctx.st.current.data().stack.len();
    if n > MAX_STACK.saturating_sub(used) {
        return Err(ctx.error(format!("stack overflow ({})", msg)));
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Basic functions

fn len(ctx: &mut Ctx) -> LuaResult<Action> {
    let s = ctx.check_str(1)?;
    ctx.ret1(Value::Int(s.len() as i64))
}

fn sub(ctx: &mut Ctx) -> LuaResult<Action> {
    let s = ctx.check_str(1)?;
    let l = s.len();
    let start = posrelat_start(ctx.check_int(2)?, l);
    let end = posrelat_end(ctx.opt_int(3, -1)?, l);
    if start <= end {
        let v = ctx.new_str(&s.as_bytes()[start - 1..end]);
        ctx.ret1(v)
    } else {
        let v = ctx.new_str(b"");
        ctx.ret1(v)
    }
}

fn reverse(ctx: &mut Ctx) -> LuaResult<Action> {
    let s = ctx.check_str(1)?;
    let mut b = s.as_bytes().to_vec();
    b.reverse();
    let v = ctx.new_string(b);
    ctx.ret1(v)
}

fn lower(ctx: &mut Ctx) -> LuaResult<Action> {
    let s = ctx.check_str(1)?;
    let b = s.as_bytes().to_ascii_lowercase();
    let v = ctx.new_string(b);
    ctx.ret1(v)
}

fn upper(ctx: &mut Ctx) -> LuaResult<Action> {
    let s = ctx.check_str(1)?;
    let b = s.as_bytes().to_ascii_uppercase();
    let v = ctx.new_string(b);
    ctx.ret1(v)
}

fn rep(ctx: &mut Ctx) -> LuaResult<Action> {
    let s = ctx.check_str(1)?;
    let n = ctx.check_int(2)?;
    let sep = ctx.opt_str(3)?;
    let sep: &[u8] = match &sep {
        Some(g) => g.as_bytes(),
        None => b"",
    };
    let s = s.as_bytes();
    if n <= 0 || s.len() + sep.len() == 0 {
        let v = ctx.new_str(b"");
        return ctx.ret1(v);
    }
    let n = n as u64;
    let unit = s.len() + sep.len();
    if unit as u64 > MAX_SIZE as u64 / n {
        return Err(ctx.error("resulting string too large"));
    }
    let n = n as usize;
    let total = n * s.len() + (n - 1) * sep.len();
    ctx.st.account_buffer(total, total)?;
    // Written in place: no buffer of `total` bytes next to the string.
    let out = ctx.st.try_build_string(total, |out| {
        let mut at = 0;
        for i in 0..n {
            if i > 0 {
                out[at..at + sep.len()].copy_from_slice(sep);
                at += sep.len();
            }
            out[at..at + s.len()].copy_from_slice(s);
            at += s.len();
        }
    })?;
    ctx.ret1(Value::Str(out))
}

fn byte(ctx: &mut Ctx) -> LuaResult<Action> {
    let s = ctx.check_str(1)?;
    let l = s.len();
    let pi = ctx.opt_int(2, 1)?;
    let posi = posrelat_start(pi, l);
    let pose = posrelat_end(ctx.opt_int(3, pi)?, l);
    if posi > pose {
        return Ok(Action::Return(0));
    }
    if pose - posi >= i32::MAX as usize {
        return Err(ctx.error("string slice too long"));
    }
    let n = pose - posi + 1;
    check_stack(ctx, n, "string slice too long")?;
    for &c in &s.as_bytes()[posi - 1..pose] {
        ctx.push(Value::Int(i64::from(c)));
    }
    Ok(Action::Return(n))
}

fn char(ctx: &mut Ctx) -> LuaResult<Action> {
    let n = ctx.nargs();
    let mut out = Vec::with_capacity(n);
    for i in 1..=n {
        let c = ctx.check_int(i)? as u64;
        if c > u64::from(u8::MAX) {
            return Err(ctx.arg_error(i, "value out of range"));
        }
        out.push(c as u8);
    }
    let v = ctx.new_string(out);
    ctx.ret1(v)
}

/// `string.dump(f [, strip])`: the binary chunk of a Lua function in Rua's format (see
/// [`crate::dump`]); natives cannot be dumped.
fn dump(ctx: &mut Ctx) -> LuaResult<Action> {
    match ctx.arg(1) {
        Value::LuaFn(cl) => {
            let strip = ctx.arg(2).truthy();
            let bytes = crate::dump::dump(&cl.proto.proto, strip);
            let v = ctx.new_string(bytes);
            ctx.ret1(v)
        }
        Value::NativeFn(_) => Err(ctx.error("unable to dump given function")),
        _ => Err(ctx.type_error(1, "function")),
    }
}

// ---------------------------------------------------------------------------------------------
// Pattern matching

/// Raises a pattern engine error as a Lua error (with the caller's position, as `luaL_error`).
fn pattern_error(ctx: &mut Ctx, e: PatternError) -> LuaError {
    match e {
        PatternError::Error(m) => ctx.error(m),
        // The budget is the state's instruction budget (see `vm::limits`).
        PatternError::StepLimit => ctx.st.instruction_limit_error(),
    }
}

/// The Lua value of one capture.
fn capture_value(ctx: &mut Ctx, subject: &[u8], c: Capture) -> Value {
    match c {
        Capture::Substring { start, end } => ctx.new_str(&subject[start..end]),
        Capture::Position(p) => Value::Int(p as i64),
        Capture::Unfinished => Value::Nil,
    }
}

/// The values a match produces (`push_captures`): all captures, or the whole match when the
/// pattern has none and `whole` is set (`string.find` passes `false`).
/// The values are written to `out` (room for [`pattern::MAX_CAPTURES`]); returns how many.
fn capture_values(
    ctx: &mut Ctx,
    subject: &[u8],
    m: &Match,
    whole: bool,
    out: &mut [Value],
) -> LuaResult<usize> {
    let n = if whole {
        m.value_count()
    } else {
        m.captures.len()
    };
    for (i, slot) in out.iter_mut().enumerate().take(n) {
        let c = m.value(i).map_err(|e| pattern_error(ctx, e))?;
        *slot = capture_value(ctx, subject, c);
    }
    Ok(n)
}

/// `string.find` (`find == true`) and `string.match`.
fn find_aux(ctx: &mut Ctx, find: bool) -> LuaResult<Action> {
    let s = ctx.check_str(1)?;
    let p = ctx.check_str(2)?;
    let ls = s.len();
    let init = posrelat_start(ctx.opt_int(3, 1)?, ls) - 1;
    if init > ls {
        return ctx.ret1(Value::Nil);
    }
    let (sb, pb) = (s.as_bytes(), p.as_bytes());
    if find && (ctx.arg(4).truthy() || !pattern::has_specials(pb)) {
        if let Some(pos) = pattern::find_plain(sb, pb, init) {
            return ctx.ret(&[
                Value::Int(pos as i64 + 1),
                Value::Int((pos + pb.len()) as i64),
            ]);
        }
        return ctx.ret1(Value::Nil);
    }
    let mut limits = ctx.st.match_budget();
    let m = pattern::find(sb, pb, init, &mut limits);
    ctx.st.settle_match_budget(&limits);
    let m = match m {
        Ok(Some(m)) => m,
        Ok(None) => return ctx.ret1(Value::Nil),
        Err(e) => return Err(pattern_error(ctx, e)),
    };
    let mut vals = [Value::Nil; pattern::MAX_CAPTURES + 2];
    let n = if find {
        vals[0] = Value::Int(m.start as i64 + 1);
        vals[1] = Value::Int(m.end as i64);
        2 + capture_values(ctx, sb, &m, false, &mut vals[2..])?
    } else {
        capture_values(ctx, sb, &m, true, &mut vals)?
    };
    ctx.ret(&vals[..n])
}

fn find(ctx: &mut Ctx) -> LuaResult<Action> {
    find_aux(ctx, true)
}

fn match_(ctx: &mut Ctx) -> LuaResult<Action> {
    find_aux(ctx, false)
}

/// Allocates a metatable-less userdata holding `data` (private state of library closures).
pub(crate) fn new_state_userdata<T: 'static>(st: &mut State, data: T) -> Value {
    Value::UserData(st.heap.alloc(UserData {
        meta: Cell::new(None),
        user_values: RefCell::new(Vec::new()),
        data: RefCell::new(Box::new(data)),
        finalizer_registered: Cell::new(false),
    }))
}

fn gmatch(ctx: &mut Ctx) -> LuaResult<Action> {
    let s = ctx.check_str(1)?;
    let p = ctx.check_str(2)?;
    let ls = s.len();
    let mut init = posrelat_start(ctx.opt_int(3, 1)?, ls) - 1;
    if init > ls {
        init = ls + 1;
    }
    let state = new_state_userdata(ctx.st, Gmatch::new(init));
    let f = ctx.st.new_native_with(
        gmatch_aux,
        "gmatch_aux",
        &[Value::Str(s), Value::Str(p), state],
    );
    ctx.ret1(f)
}

fn gmatch_aux(ctx: &mut Ctx) -> LuaResult<Action> {
    let (s, p, ud) = match (
        ctx.st.current_native_upvalue(0),
        ctx.st.current_native_upvalue(1),
        ctx.st.current_native_upvalue(2),
    ) {
        (Value::Str(s), Value::Str(p), Value::UserData(u)) => (s, p, u),
        _ => return Err(ctx.error("invalid gmatch state")),
    };
    let mut gm = match ud.data.borrow().downcast_ref::<Gmatch>() {
        Some(g) => *g,
        None => return Err(ctx.error("invalid gmatch state")),
    };
    let mut limits = ctx.st.match_budget();
    let r = gm.next(s.as_bytes(), p.as_bytes(), &mut limits);
    ctx.st.settle_match_budget(&limits);
    if let Some(g) = ud.data.borrow_mut().downcast_mut::<Gmatch>() {
        *g = gm;
    }
    match r {
        Ok(Some(m)) => {
            let mut vals = [Value::Nil; pattern::MAX_CAPTURES];
            let n = capture_values(ctx, s.as_bytes(), &m, true, &mut vals)?;
            ctx.ret(&vals[..n])
        }
        Ok(None) => Ok(Action::Return(0)),
        Err(e) => Err(pattern_error(ctx, e)),
    }
}

fn gsub(ctx: &mut Ctx) -> LuaResult<Action> {
    let s = ctx.check_str(1)?;
    let p = ctx.check_str(2)?;
    let repl = ctx.arg(3);
    let max = ctx.opt_int(4, s.len() as i64 + 1)?;
    let repl_str = match repl {
        Value::Int(_) | Value::Float(_) | Value::Str(_) => Some(ctx.check_str(3)?),
        Value::Table(_) | Value::LuaFn(_) | Value::NativeFn(_) => None,
        _ => return Err(ctx.type_error(3, "string/function/table")),
    };
    let Some(r) = repl_str else {
        let nargs = ctx.nargs();
        let (g, _) = Gsub::new(p.as_bytes(), max);
        let state = GsubState {
            g,
            out: Vec::with_capacity(s.len()),
            last_len: 0,
            changed: false,
            m_start: 0,
            m_end: 0,
        };
        return gsub_run(ctx, nargs, state, None);
    };
    let subject = s.as_bytes();
    let (mut g, pat) = Gsub::new(p.as_bytes(), max);
    let mut out = Vec::with_capacity(subject.len());
    let mut last_len = 0;
    let mut changed = false;
    loop {
        let mut limits = ctx.st.match_budget();
        let m = g.next_match(subject, pat, &mut limits, &mut out);
        ctx.st.settle_match_budget(&limits);
        let m = match m {
            Ok(Some(m)) => m,
            Ok(None) => break,
            Err(e) => return Err(pattern_error(ctx, e)),
        };
        if out.len() > last_len {
            // (Only the arguments are held here, and they are rooted.)
            ctx.st.account_buffer(out.len() - last_len, out.len())?;
            last_len = out.len();
        }
        pattern::expand_replacement(r.as_bytes(), subject, &m, &mut out)
            .map_err(|e| pattern_error(ctx, e))?;
        changed = true;
    }
    let count = g.count();
    if !changed {
        // Nothing replaced: return the subject itself (PUC keeps the original object).
        return ctx.ret(&[Value::Str(s), Value::Int(count)]);
    }
    g.finish(subject, &mut out);
    let v = ctx.new_string(out);
    ctx.ret(&[v, Value::Int(count)])
}

/// A `gsub` with a function (or a table whose `__index` is a function) as replacement, between
/// matches. While a replacement call runs, it lives in a userdata in the slot above the
/// arguments, so it is dropped with the stack if the call raises or the coroutine is
/// abandoned.
struct GsubState {
    g: Gsub,
    out: Vec<u8>,
    /// Bytes of `out` already counted toward the memory limit.
    last_len: usize,
    changed: bool,
    /// The match whose replacement is being computed.
    m_start: usize,
    m_end: usize,
}

/// Runs `gsub` with a function/table replacement from `st` on; `nargs` is the number of
/// arguments of the call and `ud` the userdata holding the state while suspended (created on
/// the first call out).
fn gsub_run(
    ctx: &mut Ctx,
    nargs: usize,
    mut st: GsubState,
    mut ud: Option<Gc<UserData>>,
) -> LuaResult<Action> {
    let (s, p) = match (ctx.arg(1), ctx.arg(2)) {
        (Value::Str(s), Value::Str(p)) => (s, p),
        _ => unreachable!("gsub's string arguments are checked on entry"),
    };
    let repl = ctx.arg(3);
    let subject = s.as_bytes();
    let (_, pat) = Gsub::new(p.as_bytes(), 0);
    loop {
        // A fresh budget each time: replacement functions and metamethods run Lua code that
        // charges the same instruction budget.
        let mut limits = ctx.st.match_budget();
        let m = st.g.next_match(subject, pat, &mut limits, &mut st.out);
        ctx.st.settle_match_budget(&limits);
        let m = match m {
            Ok(Some(m)) => m,
            Ok(None) => break,
            Err(e) => return Err(pattern_error(ctx, e)),
        };
        if st.out.len() > st.last_len {
            ctx.st
                .account_buffer(st.out.len() - st.last_len, st.out.len())?;
            st.last_len = st.out.len();
        }
        st.m_start = m.start;
        st.m_end = m.end;
        // The callee and its arguments, pushed once the state is parked.
        let mut call = [Value::Nil; pattern::MAX_CAPTURES + 1];
        let ncall;
        if let Value::Table(t) = repl {
            let c = m.value(0).map_err(|e| pattern_error(ctx, e))?;
            let key = capture_value(ctx, subject, c);
            let direct = t.get(key);
            let v = if !direct.is_nil() || t.metatable().is_none() {
                direct
            } else {
                match ctx.st.index_slow(repl, key, &|_| String::new())? {
                    crate::vm::meta::Outcome::Value(v) => v,
                    crate::vm::meta::Outcome::Meta(tm, a, b) => {
                        call[0] = tm;
                        call[1] = a;
                        call[2] = b;
                        ncall = 3;
                        return gsub_call(ctx, nargs, st, ud, &call[..ncall]);
                    }
                }
            };
            gsub_apply(ctx, &mut st, v, subject)?;
        } else {
            call[0] = repl;
            let n = capture_values(ctx, subject, &m, true, &mut call[1..])?;
            ncall = n + 1;
            return gsub_call(ctx, nargs, st, ud.take(), &call[..ncall]);
        }
    }
    let count = st.g.count();
    if !st.changed {
        // Nothing replaced: return the subject itself (PUC keeps the original object).
        return ctx.ret(&[Value::Str(s), Value::Int(count)]);
    }
    st.g.finish(subject, &mut st.out);
    let out = std::mem::take(&mut st.out);
    let v = ctx.new_string(out);
    ctx.ret(&[v, Value::Int(count)])
}

/// Parks the gsub state in its userdata slot and calls `call[0]` with the rest as arguments.
fn gsub_call(
    ctx: &mut Ctx,
    nargs: usize,
    st: GsubState,
    ud: Option<Gc<UserData>>,
    call: &[Value],
) -> LuaResult<Action> {
    match ud {
        Some(u) => {
            if let Some(slot) = u.data.borrow_mut().downcast_mut::<Option<GsubState>>() {
                *slot = Some(st);
            }
        }
        None => {
            ctx.truncate(nargs);
            let u = new_state_userdata(ctx.st, Some(st));
            ctx.push(u);
        }
    }
    for v in call {
        ctx.push(*v);
    }
    Ok(Action::Call {
        nargs: call.len() - 1,
        nresults: 1,
        cont: Cont {
            f: gsub_k,
            data: nargs,
            catch: Catch::No,
            yieldable: false,
        },
    })
}

/// Continuation of `gsub` after a replacement call.
fn gsub_k(ctx: &mut Ctx, status: CallStatus, nargs: usize) -> LuaResult<Action> {
    let CallStatus::Ok(_) = status else {
        unreachable!("gsub's continuation does not catch")
    };
    let v = ctx.at(ctx.top() - 1);
    ctx.nargs = nargs;
    ctx.truncate(nargs + 1);
    let ud = match ctx.at(nargs) {
        Value::UserData(u) => u,
        _ => unreachable!("gsub's state is above its arguments"),
    };
    let st = ud
        .data
        .borrow_mut()
        .downcast_mut::<Option<GsubState>>()
        .and_then(Option::take);
    let Some(mut st) = st else {
        unreachable!("gsub's state is parked while its replacement runs")
    };
    let s = match ctx.arg(1) {
        Value::Str(s) => s,
        _ => unreachable!("gsub's subject is checked on entry"),
    };
    gsub_apply(ctx, &mut st, v, s.as_bytes())?;
    gsub_run(ctx, nargs, st, Some(ud))
}

/// Appends the replacement value `v` for the current match (nil/false: keep the match).
fn gsub_apply(ctx: &mut Ctx, st: &mut GsubState, v: Value, subject: &[u8]) -> LuaResult<()> {
    match v {
        Value::Nil | Value::Bool(false) => {
            st.out.extend_from_slice(&subject[st.m_start..st.m_end]);
            return Ok(());
        }
        Value::Str(r) => st.out.extend_from_slice(r.as_bytes()),
        Value::Int(i) => crate::number::fmt_int(i, &mut st.out),
        Value::Float(f) => crate::number::fmt_float(f, &mut st.out),
        other => {
            return Err(ctx.error(format!(
                "invalid replacement value (a {})",
                other.type_name()
            )))
        }
    }
    st.changed = true;
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// format

/// Why the `string.format` engine stopped.
enum FmtFail {
    Lua(LuaError),
    /// Argument `arg` has a `__tostring` metamethod `tm`, which must be called first.
    NeedTostring {
        tm: Value,
        arg: usize,
    },
}

impl From<LuaError> for FmtFail {
    fn from(e: LuaError) -> FmtFail {
        FmtFail::Lua(e)
    }
}

/// Argument access for the `string.format` engine.
struct FmtArgs<'a, 'b> {
    ctx: &'a mut Ctx<'b>,
    /// The string argument currently lent to the engine by [`FormatArgs::literal`].
    held: Option<Gc<LuaStr>>,
    /// The result of the `__tostring` call made for an argument (number, string).
    converted: Option<(usize, Gc<LuaStr>)>,
}

impl FormatArgs for FmtArgs<'_, '_> {
    type Error = FmtFail;

    fn top(&self) -> usize {
        self.ctx.nargs()
    }

    fn integer(&mut self, arg: usize) -> Result<i64, FmtFail> {
        Ok(self.ctx.check_int(arg)?)
    }

    fn number(&mut self, arg: usize) -> Result<f64, FmtFail> {
        Ok(self.ctx.check_float(arg)?)
    }

    fn tostring(&mut self, arg: usize, out: &mut Vec<u8>) -> Result<(), FmtFail> {
        let v = self.ctx.arg(arg);
        match v {
            Value::Str(s) => out.extend_from_slice(s.as_bytes()),
            Value::Int(i) => crate::number::fmt_int(i, out),
            Value::Float(f) => crate::number::fmt_float(f, out),
            _ => {
                if let Some((a, s)) = self.converted {
                    if a == arg {
                        out.extend_from_slice(s.as_bytes());
                        return Ok(());
                    }
                }
                let tm = self.ctx.st.get_tm(v, Tm::ToString);
                if !tm.is_nil() {
                    return Err(FmtFail::NeedTostring { tm, arg });
                }
                if let Value::Str(s) = tostring_value(self.ctx, v)? {
                    out.extend_from_slice(s.as_bytes());
                }
            }
        }
        Ok(())
    }

    fn literal(&mut self, arg: usize) -> Result<Literal<'_>, FmtFail> {
        Ok(match self.ctx.arg(arg) {
            Value::Str(s) => {
                self.held = Some(s);
                match &self.held {
                    Some(h) => Literal::Str(h.as_bytes()),
                    None => Literal::NoLiteral,
                }
            }
            Value::Int(i) => Literal::Int(i),
            Value::Float(f) => Literal::Float(f),
            Value::Nil | Value::Bool(_) => Literal::ToString,
            _ => Literal::NoLiteral,
        })
    }

    fn pointer(&mut self, arg: usize) -> Option<usize> {
        match self.ctx.arg(arg).gc_addr() {
            0 => None,
            p => Some(p),
        }
    }

    fn arg_error(&mut self, arg: usize, msg: &str) -> FmtFail {
        FmtFail::Lua(self.ctx.arg_error(arg, msg))
    }

    fn error(&mut self, msg: String) -> FmtFail {
        FmtFail::Lua(self.ctx.error(msg))
    }
}

/// `string.format`. A `__tostring` metamethod reached by `%s` runs as a continuation call
/// (so a host future may be awaited inside it): the engine stops at that conversion, the
/// output so far is kept as a string in the slot above the arguments together with the
/// cursor, and [`format_k`] runs the conversion again with the metamethod's result.
fn format(ctx: &mut Ctx) -> LuaResult<Action> {
    let fmt = ctx.check_str(1)?;
    let out = Vec::with_capacity(fmt.len() + 16);
    format_run(ctx, fmt, strformat::Cursor::default(), out, None)
}

/// Window slots of a suspended `string.format`, counted from the first value above the
/// arguments: output so far, cursor position, cursor argument.
const FMT_SLOTS: usize = 3;

fn format_run(
    ctx: &mut Ctx,
    fmt: Gc<LuaStr>,
    mut cursor: strformat::Cursor,
    mut out: Vec<u8>,
    converted: Option<(usize, Gc<LuaStr>)>,
) -> LuaResult<Action> {
    let mut args = FmtArgs {
        ctx: &mut *ctx,
        held: None,
        converted,
    };
    match strformat::format_from(fmt.as_bytes(), &mut cursor, &mut args, &mut out) {
        Ok(()) => {}
        Err(FmtFail::Lua(e)) => return Err(e),
        Err(FmtFail::NeedTostring { tm, arg }) => {
            let nargs = ctx.nargs();
            ctx.truncate(nargs);
            let partial = ctx.new_string(out);
            ctx.push(partial);
            ctx.push(Value::Int(cursor.pos as i64));
            ctx.push(Value::Int(cursor.arg as i64));
            let v = ctx.arg(arg);
            ctx.push(tm);
            ctx.push(v);
            return Ok(Action::Call {
                nargs: 1,
                nresults: 1,
                cont: Cont {
                    f: format_k,
                    data: nargs,
                    catch: Catch::No,
                    yieldable: false,
                },
            });
        }
    }
    ctx.st.account_buffer(out.len(), out.len())?;
    let v = ctx.new_string(out);
    ctx.ret1(v)
}

/// Continuation of `string.format` after a `__tostring` call; `nargs` is the number of
/// arguments of the original call.
fn format_k(ctx: &mut Ctx, status: CallStatus, nargs: usize) -> LuaResult<Action> {
    let CallStatus::Ok(_) = status else {
        unreachable!("format's continuation does not catch")
    };
    let r = ctx.at(ctx.top() - 1);
    let s = match r {
        Value::Str(s) => s,
        Value::Int(_) | Value::Float(_) => ctx.st.tostring_number(r),
        _ => return Err(ctx.error("'__tostring' must return a string")),
    };
    ctx.nargs = nargs;
    let (partial, pos, arg) = match (ctx.at(nargs), ctx.at(nargs + 1), ctx.at(nargs + 2)) {
        (Value::Str(p), Value::Int(pos), Value::Int(arg)) => (p, pos as usize, arg as usize),
        _ => unreachable!("format's suspended state is above its arguments"),
    };
    // Keep the converted string rooted in the window while the engine runs.
    ctx.truncate(nargs + FMT_SLOTS);
    ctx.push(Value::Str(s));
    let fmt = match ctx.arg(1) {
        Value::Str(f) => f,
        _ => unreachable!("format string checked on entry"),
    };
    let mut out = Vec::with_capacity(partial.len() + s.len() + 16);
    out.extend_from_slice(partial.as_bytes());
    let cursor = strformat::Cursor { pos, arg };
    format_run(ctx, fmt, cursor, out, Some((arg + 1, s)))
}

// ---------------------------------------------------------------------------------------------
// pack / unpack / packsize

/// Errors while packing: a Lua error raised by argument access, or an engine error.
enum PackFail {
    Lua(LuaError),
    Pack(PackError),
}

impl From<PackError> for PackFail {
    fn from(e: PackError) -> PackFail {
        PackFail::Pack(e)
    }
}

/// Converts an engine error into a Lua error.
fn pack_error(ctx: &mut Ctx, e: PackError) -> LuaError {
    match e {
        PackError::Error(m) => ctx.error(m),
        PackError::Arg { arg, msg } => ctx.arg_error(arg, msg),
    }
}

/// Argument access for the `string.pack` engine.
struct PackArgsImpl<'a, 'b> {
    ctx: &'a mut Ctx<'b>,
    held: Option<Gc<LuaStr>>,
}

impl PackArgs for PackArgsImpl<'_, '_> {
    type Error = PackFail;

    fn integer(&mut self, arg: usize) -> Result<i64, PackFail> {
        self.ctx.check_int(arg).map_err(PackFail::Lua)
    }

    fn number(&mut self, arg: usize) -> Result<f64, PackFail> {
        self.ctx.check_float(arg).map_err(PackFail::Lua)
    }

    fn string(&mut self, arg: usize) -> Result<Cow<'_, [u8]>, PackFail> {
        let s = self.ctx.check_str(arg).map_err(PackFail::Lua)?;
        self.held = Some(s);
        Ok(match &self.held {
            Some(h) => Cow::Borrowed(h.as_bytes()),
            None => Cow::Borrowed(&[]),
        })
    }
}

fn pack_(ctx: &mut Ctx) -> LuaResult<Action> {
    let fmt = ctx.check_str(1)?;
    // PUC pushes a nil marker above the arguments: a missing value is reported as "got nil".
    ctx.truncate(ctx.nargs);
    ctx.push(Value::Nil);
    ctx.nargs += 1;
    let mut args = PackArgsImpl {
        ctx: &mut *ctx,
        held: None,
    };
    let r = pack::pack(fmt.as_bytes(), &mut args);
    match r {
        Ok(out) => {
            let v = ctx.new_string(out);
            ctx.ret1(v)
        }
        Err(PackFail::Lua(e)) => Err(e),
        Err(PackFail::Pack(e)) => Err(pack_error(ctx, e)),
    }
}

fn packsize(ctx: &mut Ctx) -> LuaResult<Action> {
    let fmt = ctx.check_str(1)?;
    match pack::packsize(fmt.as_bytes()) {
        Ok(n) => ctx.ret1(Value::Int(n as i64)),
        Err(e) => Err(pack_error(ctx, e)),
    }
}

fn unpack(ctx: &mut Ctx) -> LuaResult<Action> {
    let fmt = ctx.check_str(1)?;
    let data = ctx.check_str(2)?;
    let ld = data.len();
    let pos = posrelat_start(ctx.opt_int(3, 1)?, ld) - 1;
    let (vals, next) = match pack::unpack(fmt.as_bytes(), data.as_bytes(), pos) {
        Ok(r) => r,
        Err(e) => return Err(pack_error(ctx, e)),
    };
    check_stack(ctx, vals.len() + 1, "too many results")?;
    let n = vals.len();
    for v in vals {
        let v = match v {
            Unpacked::Int(i) => Value::Int(i),
            Unpacked::Float(f) => Value::Float(f),
            Unpacked::Str(s) => ctx.new_str(s),
        };
        ctx.push(v);
    }
    ctx.push(Value::Int(next as i64 + 1));
    Ok(Action::Return(n + 1))
}

// ---------------------------------------------------------------------------------------------
// Arithmetic metamethods of strings

/// A string operand converted to a number (`tonum` in `lstrlib.c`).
fn tonum(st: &State, v: Value) -> Option<Value> {
    match v {
        Value::Int(_) | Value::Float(_) => Some(v),
        Value::Str(_) => st.to_number(v),
        _ => None,
    }
}

/// Arithmetic on string operands: converts numeric strings, otherwise defers to the second
/// operand's metamethod or raises PUC's "attempt to <op> a 'T1' with a 'T2'".
fn arith(ctx: &mut Ctx, op: ArOp, event: &str) -> LuaResult<Action> {
    let a = ctx.arg(1);
    let b = ctx.arg(2);
    if let (Some(x), Some(y)) = (tonum(ctx.st, a), tonum(ctx.st, b)) {
        return match arith_numbers(op, x, y) {
            Ok(Some(v)) => ctx.ret1(v),
            Ok(None) => Err(ctx.error("attempt to perform arithmetic on a string value")),
            Err(msg) => Err(ctx.st.error_str(msg)),
        };
    }
    let tm = match b {
        Value::Str(_) => Value::Nil,
        _ => match ctx.st.metatable_of(b) {
            Some(mt) => {
                let k = ctx.st.intern(event.as_bytes());
                mt.get_str(k)
            }
            None => Value::Nil,
        },
    };
    if tm.is_nil() {
        return Err(ctx.error(format!(
            "attempt to {} a '{}' with a '{}'",
            &event[2..],
            a.type_name(),
            b.type_name()
        )));
    }
    ctx.truncate(0);
    ctx.push(tm);
    ctx.push(a);
    ctx.push(b);
    Ok(Action::TailCall { nargs: 2 })
}

fn arith_add(ctx: &mut Ctx) -> LuaResult<Action> {
    arith(ctx, ArOp::Add, "__add")
}

fn arith_sub(ctx: &mut Ctx) -> LuaResult<Action> {
    arith(ctx, ArOp::Sub, "__sub")
}

fn arith_mul(ctx: &mut Ctx) -> LuaResult<Action> {
    arith(ctx, ArOp::Mul, "__mul")
}

fn arith_mod(ctx: &mut Ctx) -> LuaResult<Action> {
    arith(ctx, ArOp::Mod, "__mod")
}

fn arith_pow(ctx: &mut Ctx) -> LuaResult<Action> {
    arith(ctx, ArOp::Pow, "__pow")
}

fn arith_div(ctx: &mut Ctx) -> LuaResult<Action> {
    arith(ctx, ArOp::Div, "__div")
}

fn arith_idiv(ctx: &mut Ctx) -> LuaResult<Action> {
    arith(ctx, ArOp::IDiv, "__idiv")
}

fn arith_unm(ctx: &mut Ctx) -> LuaResult<Action> {
    arith(ctx, ArOp::Unm, "__unm")
}
