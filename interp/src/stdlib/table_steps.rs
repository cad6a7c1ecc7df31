//! `table.insert`, `table.remove`, `table.concat` and `table.unpack` as resumable step
//! machines, so that the `__len`, `__index` and `__newindex` functions of a proxy table run as
//! continuation calls (and may await host futures) instead of nested runs of the VM.
//!
//! Each function keeps its loop state in registers, stack slots of its window right above its
//! arguments (window positions `k ..`, `k` = the number of arguments), and a phase saying at
//! which access it waits. An access that completes without calling Lua (a plain table, a chain
//! of `__index` tables) feeds its result straight into the next step; one that needs a
//! metamethod saves the registers, pushes the call and returns [`Action::Call`] with the
//! function's continuation, which loads the registers back and goes on from the phase with the
//! call's result. The order of accesses, the checks and the messages are those of PUC's
//! `ltablib.c`.
//!
//! A table without a metatable (the common case) takes a direct path with raw accesses and no
//! registers, which costs what the functions cost before they became resumable.

use super::table::{checktab, TAB_L, TAB_R, TAB_RW};
use crate::table::Table;
use crate::value::Value;
use crate::vm::meta::Outcome;
use crate::vm::native::{Action, CallStatus, Catch, Cont, ContFn, Ctx};
use crate::vm::LuaResult;
use rua_gc::Gc;

/// A table access or comparison: finished now, or a metamethod call `f(args)` to make.
pub(crate) enum Access<T> {
    Now(T),
    Call(Value, [Value; 3], usize),
}

/// `t[i]` (`lua_geti`).
pub(crate) fn get(ctx: &mut Ctx, t: Value, i: i64) -> LuaResult<Access<Value>> {
    if let Value::Table(tab) = t {
        let v = tab.get_int(i);
        if !v.is_nil() || tab.metatable().is_none() {
            return Ok(Access::Now(v));
        }
    }
    Ok(
        match ctx.st.index_slow(t, Value::Int(i), &|_| String::new())? {
            Outcome::Value(v) => Access::Now(v),
            Outcome::Meta(tm, a, b) => Access::Call(tm, [a, b, Value::Nil], 2),
        },
    )
}

/// `t[i] = v` (`lua_seti`).
pub(crate) fn set(ctx: &mut Ctx, t: Value, i: i64, v: Value) -> LuaResult<Access<()>> {
    if let Value::Table(tab) = t {
        if tab.metatable().is_none() {
            tab.set_int(i, v);
            return Ok(Access::Now(()));
        }
    }
    let key = Value::Int(i);
    Ok(match ctx.st.newindex_slow(t, key, v, &|_| String::new())? {
        None => Access::Now(()),
        Some((tm, tt)) => Access::Call(tm, [tt, key, v], 3),
    })
}

/// `#t` with `__len` (`luaL_len`; the raw result, checked by [`len_int`]).
pub(crate) fn len(ctx: &mut Ctx, t: Value) -> LuaResult<Access<Value>> {
    if let Value::Table(tab) = t {
        if tab.metatable().is_none() {
            return Ok(Access::Now(Value::Int(tab.len() as i64)));
        }
    }
    Ok(match ctx.st.len_slow(t, None)? {
        Outcome::Value(v) => Access::Now(v),
        Outcome::Meta(tm, a, b) => Access::Call(tm, [a, b, Value::Nil], 2),
    })
}

/// The result of `__len` as `luaL_len` requires it: an integer.
pub(crate) fn len_int(ctx: &mut Ctx, v: Value) -> LuaResult<i64> {
    match ctx.st.to_integer(v) {
        Some(n) => Ok(n),
        None => Err(ctx.error("object length is not an integer")),
    }
}

/// `a < b` with `__lt` (the metamethod's result is taken by truthiness).
pub(crate) fn less(ctx: &mut Ctx, a: Value, b: Value) -> LuaResult<Access<bool>> {
    match (a, b) {
        (Value::Int(x), Value::Int(y)) => return Ok(Access::Now(x < y)),
        (Value::Float(x), Value::Float(y)) => return Ok(Access::Now(x < y)),
        (Value::Str(x), Value::Str(y)) => return Ok(Access::Now(x.as_bytes() < y.as_bytes())),
        _ => {}
    }
    Ok(match ctx.st.compare_slow(a, b, false)? {
        Outcome::Value(v) => Access::Now(v.truthy()),
        Outcome::Meta(tm, x, y) => Access::Call(tm, [x, y, Value::Nil], 2),
    })
}

/// Pushes the metamethod call of an [`Access::Call`] and makes the action that waits for it
/// with continuation `f` (one result wanted; `__newindex` results are dropped by the caller).
pub(crate) fn call(ctx: &mut Ctx, f: Value, args: &[Value], k: usize, cont: ContFn) -> Action {
    ctx.push(f);
    for a in args {
        ctx.push(*a);
    }
    Action::Call {
        nargs: args.len(),
        nresults: 1,
        cont: Cont {
            f: cont,
            data: k,
            catch: Catch::No,
            // PUC runs these metamethods through `lua_call`: no `coroutine.yield` inside.
            yieldable: false,
        },
    }
}

/// In a continuation: restores the argument count and pops the call's (single) result.
fn resumed(ctx: &mut Ctx, status: CallStatus, k: usize) -> Value {
    let CallStatus::Ok(n) = status else {
        unreachable!("table library continuations do not catch")
    };
    ctx.nargs = k;
    let top = ctx.top();
    let v = if n > 0 { ctx.at(top - n) } else { Value::Nil };
    ctx.truncate(top - n);
    v
}

#[inline]
fn reg(ctx: &mut Ctx, k: usize, j: usize) -> i64 {
    match ctx.window()[k + j] {
        Value::Int(n) => n,
        _ => unreachable!("table library registers hold integers"),
    }
}

#[inline]
fn set_reg(ctx: &mut Ctx, k: usize, j: usize, v: i64) {
    ctx.window()[k + j] = Value::Int(v);
}

/// Argument 1 when it is a table without a metatable.
#[inline]
fn plain_table(ctx: &Ctx) -> Option<Gc<Table>> {
    match ctx.arg(1) {
        Value::Table(t) if t.metatable().is_none() => Some(t),
        _ => None,
    }
}

/// Pushes `n` zeroed registers above the arguments and returns their position `k`.
fn alloc_regs(ctx: &mut Ctx, n: usize) -> usize {
    let k = ctx.nargs();
    ctx.truncate(k);
    for _ in 0..n {
        ctx.push(Value::Int(0));
    }
    k
}

/// Waits for an access: its value when done now, else saves the registers (by running
/// `$save`), records phase `$ph` in register 0 and returns the call action.
macro_rules! step {
    ($ctx:ident, $k:ident, $access:expr, $ph:expr, $cont:ident, $save:expr) => {
        match $access? {
            Access::Now(v) => v,
            Access::Call(f, args, n) => {
                $save;
                set_reg($ctx, $k, 0, $ph);
                return Ok(call($ctx, f, &args[..n], $k, $cont));
            }
        }
    };
}

// ---------------------------------------------------------------------------------------------
// table.insert: registers phase, e (new border), pos, i (shift cursor)

const START: i64 = 0;
const INS_LEN: i64 = 1;
const INS_SHIFT: i64 = 2;
const INS_GOT: i64 = 3;
const INS_MOVED: i64 = 4;
const INS_PUT: i64 = 5;
const INS_DONE: i64 = 6;

pub(crate) fn insert(ctx: &mut Ctx) -> LuaResult<Action> {
    if let Some(t) = plain_table(ctx) {
        return insert_plain(ctx, t);
    }
    checktab(ctx, 1, TAB_RW | TAB_L)?;
    let k = alloc_regs(ctx, 4);
    insert_run(ctx, k, START, Value::Nil)
}

fn insert_plain(ctx: &mut Ctx, t: Gc<Table>) -> LuaResult<Action> {
    let e = (t.len() as i64).wrapping_add(1);
    let pos = match ctx.nargs() {
        2 => e,
        3 => {
            let pos = ctx.check_int(2)?;
            if (pos as u64).wrapping_sub(1) >= e as u64 {
                return Err(ctx.arg_error(2, "position out of bounds"));
            }
            let mut i = e;
            while i > pos {
                t.set_int(i, t.get_int(i - 1));
                i -= 1;
            }
            pos
        }
        _ => return Err(ctx.error("wrong number of arguments to 'insert'")),
    };
    t.set_int(pos, ctx.arg(ctx.nargs()));
    Ok(Action::Return(0))
}

fn insert_k(ctx: &mut Ctx, status: CallStatus, k: usize) -> LuaResult<Action> {
    let input = resumed(ctx, status, k);
    let phase = reg(ctx, k, 0);
    insert_run(ctx, k, phase, input)
}

fn insert_run(ctx: &mut Ctx, k: usize, mut phase: i64, mut input: Value) -> LuaResult<Action> {
    let t = ctx.arg(1);
    let (mut e, mut pos, mut i) = (reg(ctx, k, 1), reg(ctx, k, 2), reg(ctx, k, 3));
    macro_rules! wait {
        ($access:expr, $ph:expr) => {
            step!(ctx, k, $access, $ph, insert_k, {
                set_reg(ctx, k, 1, e);
                set_reg(ctx, k, 2, pos);
                set_reg(ctx, k, 3, i);
            })
        };
    }
    loop {
        match phase {
            START => {
                input = wait!(len(ctx, t), INS_LEN);
                phase = INS_LEN;
            }
            INS_LEN => {
                e = len_int(ctx, input)?.wrapping_add(1);
                match ctx.nargs() {
                    2 => {
                        pos = e;
                        phase = INS_PUT;
                    }
                    3 => {
                        pos = ctx.check_int(2)?;
                        if (pos as u64).wrapping_sub(1) >= e as u64 {
                            return Err(ctx.arg_error(2, "position out of bounds"));
                        }
                        i = e;
                        phase = INS_SHIFT;
                    }
                    _ => return Err(ctx.error("wrong number of arguments to 'insert'")),
                }
            }
            INS_SHIFT => {
                if i > pos {
                    input = wait!(get(ctx, t, i - 1), INS_GOT);
                    phase = INS_GOT;
                } else {
                    phase = INS_PUT;
                }
            }
            INS_GOT => {
                wait!(set(ctx, t, i, input), INS_MOVED);
                phase = INS_MOVED;
            }
            INS_MOVED => {
                i -= 1;
                phase = INS_SHIFT;
            }
            INS_PUT => {
                let v = ctx.arg(ctx.nargs());
                wait!(set(ctx, t, pos, v), INS_DONE);
                phase = INS_DONE;
            }
            _ => {
                ctx.truncate(k);
                return Ok(Action::Return(0));
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// table.remove: registers phase, size, pos, and the removed value

const REM_LEN: i64 = 1;
const REM_FIRST: i64 = 2;
const REM_LOOP: i64 = 3;
const REM_GOT: i64 = 4;
const REM_MOVED: i64 = 5;
const REM_DONE: i64 = 6;

pub(crate) fn remove(ctx: &mut Ctx) -> LuaResult<Action> {
    if let Some(t) = plain_table(ctx) {
        return remove_plain(ctx, t);
    }
    checktab(ctx, 1, TAB_RW | TAB_L)?;
    let k = alloc_regs(ctx, 4);
    remove_run(ctx, k, START, Value::Nil)
}

fn remove_plain(ctx: &mut Ctx, t: Gc<Table>) -> LuaResult<Action> {
    let size = t.len() as i64;
    let mut pos = ctx.opt_int(2, size)?;
    if pos != size && (pos as u64).wrapping_sub(1) > size as u64 {
        return Err(ctx.arg_error(2, "position out of bounds"));
    }
    let result = t.get_int(pos);
    while pos < size {
        t.set_int(pos, t.get_int(pos + 1));
        pos += 1;
    }
    t.set_int(pos, Value::Nil);
    ctx.ret1(result)
}

fn remove_k(ctx: &mut Ctx, status: CallStatus, k: usize) -> LuaResult<Action> {
    let input = resumed(ctx, status, k);
    let phase = reg(ctx, k, 0);
    remove_run(ctx, k, phase, input)
}

fn remove_run(ctx: &mut Ctx, k: usize, mut phase: i64, mut input: Value) -> LuaResult<Action> {
    let t = ctx.arg(1);
    let (mut size, mut pos) = (reg(ctx, k, 1), reg(ctx, k, 2));
    macro_rules! wait {
        ($access:expr, $ph:expr) => {
            step!(ctx, k, $access, $ph, remove_k, {
                set_reg(ctx, k, 1, size);
                set_reg(ctx, k, 2, pos);
            })
        };
    }
    loop {
        match phase {
            START => {
                input = wait!(len(ctx, t), REM_LEN);
                phase = REM_LEN;
            }
            REM_LEN => {
                size = len_int(ctx, input)?;
                pos = ctx.opt_int(2, size)?;
                if pos != size && (pos as u64).wrapping_sub(1) > size as u64 {
                    return Err(ctx.arg_error(2, "position out of bounds"));
                }
                input = wait!(get(ctx, t, pos), REM_FIRST);
                phase = REM_FIRST;
            }
            REM_FIRST => {
                ctx.window()[k + 3] = input;
                phase = REM_LOOP;
            }
            REM_LOOP => {
                if pos < size {
                    input = wait!(get(ctx, t, pos + 1), REM_GOT);
                    phase = REM_GOT;
                } else {
                    wait!(set(ctx, t, pos, Value::Nil), REM_DONE);
                    phase = REM_DONE;
                }
            }
            REM_GOT => {
                wait!(set(ctx, t, pos, input), REM_MOVED);
                phase = REM_MOVED;
            }
            REM_MOVED => {
                pos += 1;
                phase = REM_LOOP;
            }
            _ => {
                let result = ctx.window()[k + 3];
                ctx.truncate(k);
                return ctx.ret1(result);
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// table.concat: registers phase, i, last, bytes already in pieces; then the pieces

const CAT_LEN: i64 = 1;
const CAT_LOOP: i64 = 2;
const CAT_GOT: i64 = 3;
const CAT_NREGS: usize = 4;

pub(crate) fn concat(ctx: &mut Ctx) -> LuaResult<Action> {
    if let Some(t) = plain_table(ctx) {
        return concat_plain(ctx, t);
    }
    checktab(ctx, 1, TAB_R | TAB_L)?;
    let k = alloc_regs(ctx, CAT_NREGS);
    concat_run(ctx, k, START, Value::Nil)
}

fn concat_plain(ctx: &mut Ctx, t: Gc<Table>) -> LuaResult<Action> {
    let last = t.len() as i64;
    let sep = ctx.opt_str(2)?;
    let sep: &[u8] = match &sep {
        Some(s) => s.as_bytes(),
        None => b"",
    };
    let mut i = ctx.opt_int(3, 1)?;
    let last = ctx.opt_int(4, last)?;
    if let Some((count, total)) = strings_len(t, i, last, sep.len()) {
        // Only strings (the usual case): the result is written in place, so a big one is not
        // built in a buffer and then copied (twice its size at the peak).
        ctx.st.charge_instructions(count)?;
        ctx.st.account_buffer(total, total)?;
        let s = ctx.st.try_build_string(total, |out| {
            let mut at = 0;
            let mut put = |b: &[u8]| {
                out[at..at + b.len()].copy_from_slice(b);
                at += b.len();
            };
            for k in i..=last {
                if let Value::Str(s) = t.get_int(k) {
                    put(s.as_bytes());
                }
                if k < last {
                    put(sep);
                }
            }
        })?;
        return ctx.ret1(Value::Str(s));
    }
    let mut out = Vec::new();
    while i <= last {
        let before = out.len();
        let v = t.get_int(i);
        if !append_value(&mut out, v) {
            return Err(invalid_value(ctx, v, i));
        }
        if i < last {
            out.extend_from_slice(sep);
        }
        // Sandboxing limits: only the table argument (rooted) is held here.
        ctx.st.account_buffer(out.len() - before, out.len())?;
        if i == last {
            break;
        }
        i += 1;
    }
    let v = ctx.new_string(out);
    ctx.ret1(v)
}

/// Number of elements and length of the concatenation of `t[i..=last]` with `sep_len`-byte
/// separators, if every element is a string (and the length fits in memory).
fn strings_len(t: Gc<Table>, i: i64, last: i64, sep_len: usize) -> Option<(u64, usize)> {
    if i > last {
        return Some((0, 0));
    }
    let mut total = 0usize;
    for k in i..=last {
        let Value::Str(s) = t.get_int(k) else {
            return None;
        };
        total = total.checked_add(s.len())?;
    }
    let count = last.abs_diff(i) + 1;
    let seps = usize::try_from(count - 1).ok()?.checked_mul(sep_len)?;
    Some((count, total.checked_add(seps)?))
}

/// Appends a string or number to a concatenation; `false` for other values.
#[inline(always)]
fn append_value(out: &mut Vec<u8>, v: Value) -> bool {
    match v {
        Value::Str(s) => out.extend_from_slice(s.as_bytes()),
        Value::Int(n) => crate::number::fmt_int(n, out),
        Value::Float(x) => crate::number::fmt_float(x, out),
        _ => return false,
    }
    true
}

#[cold]
fn invalid_value(ctx: &mut Ctx, v: Value, i: i64) -> crate::vm::LuaError {
    ctx.error(format!(
        "invalid value ({}) at index {} in table for 'concat'",
        v.type_name(),
        i
    ))
}

/// Appends element `v` (at index `i`) of a concatenation to `out`, then `sep` if `more`
/// elements follow, and accounts the growth against the sandbox limits with `saved` bytes of
/// output already kept in pieces.
fn append_piece(
    ctx: &mut Ctx,
    out: &mut Vec<u8>,
    (v, i): (Value, i64),
    sep: Option<Gc<crate::string::LuaStr>>,
    more: bool,
    saved: usize,
) -> LuaResult<()> {
    let before = out.len();
    if !append_value(out, v) {
        return Err(invalid_value(ctx, v, i));
    }
    if more {
        if let Some(sep) = sep {
            out.extend_from_slice(sep.as_bytes());
        }
    }
    // Sandboxing limits: only rooted values (arguments, pieces) are held here.
    ctx.st.account_buffer(out.len() - before, saved + out.len())
}

fn concat_k(ctx: &mut Ctx, status: CallStatus, k: usize) -> LuaResult<Action> {
    let input = resumed(ctx, status, k);
    let phase = reg(ctx, k, 0);
    concat_run(ctx, k, phase, input)
}

/// The bytes of the pieces (the output so far, saved as strings above the registers each time
/// the function waited for an `__index` call) followed by `out`.
fn concat_finish(ctx: &mut Ctx, k: usize, out: Vec<u8>) -> Vec<u8> {
    let first = k + CAT_NREGS;
    if ctx.top() == first {
        return out;
    }
    let mut all = Vec::new();
    for i in first..ctx.top() {
        if let Value::Str(s) = ctx.at(i) {
            all.extend_from_slice(s.as_bytes());
        }
    }
    all.extend_from_slice(&out);
    all
}

/// Returns the concatenation (pieces and `out`).
fn concat_done(ctx: &mut Ctx, k: usize, out: Vec<u8>) -> LuaResult<Action> {
    let all = concat_finish(ctx, k, out);
    let v = ctx.new_string(all);
    ctx.truncate(k);
    ctx.ret1(v)
}

fn concat_run(ctx: &mut Ctx, k: usize, mut phase: i64, mut input: Value) -> LuaResult<Action> {
    let t = ctx.arg(1);
    let (mut i, mut last, mut saved) = (reg(ctx, k, 1), reg(ctx, k, 2), reg(ctx, k, 3));
    let mut out: Vec<u8> = Vec::new();
    // The separator, once checked (after `__len`, as PUC checks it).
    let mut sep = if phase > CAT_LEN {
        ctx.opt_str(2)?
    } else {
        None
    };
    macro_rules! wait {
        ($access:expr, $ph:expr) => {
            step!(ctx, k, $access, $ph, concat_k, {
                set_reg(ctx, k, 1, i);
                set_reg(ctx, k, 2, last);
                // The call is pushed after this piece.
                // (The access pushed nothing yet: the piece goes below the call.)
                if !out.is_empty() {
                    saved += out.len() as i64;
                    let piece = ctx.new_string(std::mem::take(&mut out));
                    ctx.push(piece);
                }
                set_reg(ctx, k, 3, saved);
            })
        };
    }
    loop {
        match phase {
            START => {
                input = wait!(len(ctx, t), CAT_LEN);
                phase = CAT_LEN;
            }
            CAT_LEN => {
                last = len_int(ctx, input)?;
                sep = ctx.opt_str(2)?;
                i = ctx.opt_int(3, 1)?;
                last = ctx.opt_int(4, last)?;
                phase = CAT_LOOP;
            }
            CAT_LOOP => {
                if i > last {
                    return concat_done(ctx, k, out);
                }
                input = wait!(get(ctx, t, i), CAT_GOT);
                phase = CAT_GOT;
            }
            _ => {
                append_piece(ctx, &mut out, (input, i), sep, i < last, saved as usize)?;
                if i == last {
                    // (Not `i + 1 > last`: `i + 1` overflows when `last` is `maxinteger`.)
                    return concat_done(ctx, k, out);
                }
                i += 1;
                phase = CAT_LOOP;
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// table.unpack: registers phase, i (next index), e (last index); then the results

const UNP_LEN: i64 = 1;
const UNP_RANGE: i64 = 2;
const UNP_LOOP: i64 = 3;
const UNP_GOT: i64 = 4;
const UNP_NREGS: usize = 3;

pub(crate) fn unpack(ctx: &mut Ctx) -> LuaResult<Action> {
    let t = ctx.arg(1);
    let i = ctx.opt_int(2, 1)?;
    // Plain tables (the common case) need no registers.
    if let Value::Table(tab) = t {
        if tab.metatable().is_none() {
            let e = if ctx.arg(3).is_nil() {
                tab.len() as i64
            } else {
                ctx.check_int(3)?
            };
            let n = unpack_count(ctx, i, e, 0)?;
            let Some(n) = n else {
                return Ok(Action::Return(0));
            };
            let mut k = i;
            loop {
                ctx.push(tab.get_int(k));
                if k == e {
                    break;
                }
                k += 1;
            }
            return Ok(Action::Return(n));
        }
    }
    let k = alloc_regs(ctx, UNP_NREGS);
    set_reg(ctx, k, 1, i);
    unpack_run(ctx, k, START, Value::Nil)
}

/// The number of results of unpacking `i..=e` (`None`: none), or the "too many results"
/// error; `extra` values are already on the stack above the arguments.
fn unpack_count(ctx: &mut Ctx, i: i64, e: i64, extra: usize) -> LuaResult<Option<usize>> {
    if i > e {
        return Ok(None);
    }
    let n = (e as u64).wrapping_sub(i as u64);
    let used = (ctx.st.current.data().stack.len() - extra) as u64;
    if n >= i32::MAX as u64 || n + 1 > (crate::vm::MAX_STACK as u64).saturating_sub(used) {
        return Err(ctx.error("too many results to unpack"));
    }
    Ok(Some(n as usize + 1))
}

fn unpack_k(ctx: &mut Ctx, status: CallStatus, k: usize) -> LuaResult<Action> {
    let input = resumed(ctx, status, k);
    let phase = reg(ctx, k, 0);
    unpack_run(ctx, k, phase, input)
}

fn unpack_run(ctx: &mut Ctx, k: usize, mut phase: i64, mut input: Value) -> LuaResult<Action> {
    let t = ctx.arg(1);
    let (mut i, mut e) = (reg(ctx, k, 1), reg(ctx, k, 2));
    macro_rules! wait {
        ($access:expr, $ph:expr) => {
            step!(ctx, k, $access, $ph, unpack_k, {
                set_reg(ctx, k, 1, i);
                set_reg(ctx, k, 2, e);
            })
        };
    }
    loop {
        match phase {
            START => {
                if ctx.arg(3).is_nil() {
                    input = wait!(len(ctx, t), UNP_LEN);
                    phase = UNP_LEN;
                } else {
                    e = ctx.check_int(3)?;
                    phase = UNP_RANGE;
                }
            }
            UNP_LEN => {
                e = len_int(ctx, input)?;
                phase = UNP_RANGE;
            }
            UNP_RANGE => {
                if unpack_count(ctx, i, e, UNP_NREGS)?.is_none() {
                    ctx.truncate(k);
                    return Ok(Action::Return(0));
                }
                phase = UNP_LOOP;
            }
            UNP_LOOP => {
                input = wait!(get(ctx, t, i), UNP_GOT);
                phase = UNP_GOT;
            }
            _ => {
                ctx.push(input);
                if i == e {
                    let n = ctx.top() - k - UNP_NREGS;
                    return Ok(Action::Return(n));
                }
                i += 1;
                phase = UNP_LOOP;
            }
        }
    }
}
