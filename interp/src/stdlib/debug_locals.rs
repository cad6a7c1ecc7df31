//! `debug.getlocal` and `debug.setlocal`: local variables of active functions (of the running
//! thread or of another coroutine), varargs (negative indexes, "(vararg)"), unnamed stack
//! slots ("(temporary)", "(C temporary)"), and parameter names of a function value.

use crate::thread::Thread;
use crate::value::Value;
use crate::vm::frame::FrameKind;
use crate::vm::native::{Action, Ctx};
use crate::vm::LuaResult;
use rua_gc::Gc;

/// The optional thread argument: the thread and the offset of the other arguments.
fn thread_arg(ctx: &Ctx) -> (Gc<Thread>, usize) {
    match ctx.arg(1) {
        Value::Thread(th) => (th, 1),
        _ => (ctx.st.current, 0),
    }
}

/// Finds local `n` of the frame at `idx` in `th`'s frames: its name and stack index.
/// `limit_top` bounds the unnamed slots of the thread's top frame.
fn find_local(th: Gc<Thread>, idx: usize, n: i64, limit_top: usize) -> Option<(String, usize)> {
    let d = th.data();
    let fr = d.frames[idx];
    if n < 0 {
        // Extra arguments of a vararg function, stored just below its (moved) function slot,
        // `base - 1`.
        return match fr.kind {
            FrameKind::Lua { cl, nextra, .. } if cl.proto.is_vararg => {
                let (k, nextra) = (n.unsigned_abs() as usize, nextra as usize);
                (k <= nextra).then(|| ("(vararg)".to_string(), fr.base - 1 - nextra + k - 1))
            }
            _ => None,
        };
    }
    if n == 0 {
        return None;
    }
    let n = n as usize;
    if let FrameKind::Lua { cl, .. } = fr.kind {
        let pc = fr.pc as usize;
        if let Some(name) = cl.proto.proto.local_name(n, pc.saturating_sub(1)) {
            return Some((name.to_string(), fr.base + n - 1));
        }
    }
    // An unnamed slot in use: below the next frame's function, or below the top.
    let limit = match d.frames.get(idx + 1) {
        Some(next) => next.func,
        None => limit_top,
    };
    if limit.saturating_sub(fr.base) >= n {
        let name = if fr.is_lua() {
            "(temporary)"
        } else {
            "(C temporary)"
        };
        Some((name.to_string(), fr.base + n - 1))
    } else {
        None
    }
}

/// The frame index of `level` in `th` (argument `arg`), or a "level out of range" error.
fn level_frame(ctx: &mut Ctx, th: Gc<Thread>, arg: usize) -> LuaResult<usize> {
    let level = ctx.check_int(arg)?;
    let len = th.data().frames.len();
    if level < 0 || level as usize >= len {
        return Err(ctx.arg_error(arg, "level out of range"));
    }
    Ok(len - 1 - level as usize)
}

/// Top of the stack part used by `th`'s top frame.
fn thread_top(ctx: &Ctx, th: Gc<Thread>) -> usize {
    if th == ctx.st.current {
        // The top frame is this native call: its arguments.
        ctx.base + ctx.nargs()
    } else {
        let d = th.data();
        match d.frames.last() {
            Some(fr) if fr.is_lua() => fr.top.min(d.stack.len()),
            _ => d.top.min(d.stack.len()),
        }
    }
}

/// `debug.getlocal([thread,] f|level, n)`
pub fn getlocal(ctx: &mut Ctx) -> LuaResult<Action> {
    let (th, a) = thread_arg(ctx);
    let n = ctx.check_int(a + 2)?;
    if let f @ (Value::LuaFn(_) | Value::NativeFn(_)) = ctx.arg(a + 1) {
        // Parameter names of a function (no values: it is not active).
        if let Value::LuaFn(cl) = f {
            if n >= 1 {
                if let Some(name) = cl.proto.proto.local_name(n as usize, 0) {
                    let v = ctx.new_str(name.as_bytes());
                    return ctx.ret1(v);
                }
            }
        }
        return ctx.ret1(Value::Nil);
    }
    let idx = level_frame(ctx, th, a + 1)?;
    let top = thread_top(ctx, th);
    match find_local(th, idx, n, top) {
        Some((name, pos)) => {
            let v = th.data().stack.get(pos).copied().unwrap_or(Value::Nil);
            let nv = ctx.new_str(name.as_bytes());
            ctx.ret(&[nv, v])
        }
        None => ctx.ret1(Value::Nil),
    }
}

/// `debug.setlocal([thread,] level, n, value)`
pub fn setlocal(ctx: &mut Ctx) -> LuaResult<Action> {
    let (th, a) = thread_arg(ctx);
    let idx = level_frame(ctx, th, a + 1)?;
    let n = ctx.check_int(a + 2)?;
    let v = ctx.check_any(a + 3)?;
    let top = thread_top(ctx, th);
    match find_local(th, idx, n, top) {
        Some((name, pos)) => {
            if let Some(slot) = th.data().stack.get_mut(pos) {
                *slot = v;
            }
            let nv = ctx.new_str(name.as_bytes());
            ctx.ret1(nv)
        }
        None => ctx.ret1(Value::Nil),
    }
}
