//! The coroutine library: create, resume, yield, status, wrap, isyieldable, running, close.
//!
//! Resuming and yielding are actions carried out by the dispatch loop (see `vm::exec`), so a
//! coroutine switch never nests Rust calls.

use crate::thread::{Thread, ThreadStatus};
use crate::value::Value;
use crate::vm::frame::ResumeKind;
use crate::vm::native::{Action, Ctx};
use crate::vm::{LuaResult, State, Tm};
use rua_gc::Gc;

/// Installs the `coroutine` table.
pub fn open(st: &mut State) {
    let t = st.new_table(0, 8);
    st.register(t, "create", create);
    st.register(t, "resume", resume);
    st.register(t, "yield", yield_);
    st.register(t, "status", status);
    st.register(t, "wrap", wrap);
    st.register(t, "isyieldable", isyieldable);
    st.register(t, "running", running);
    st.register(t, "close", close);
    let g = st.globals;
    st.set_field(g, "coroutine", Value::Table(t));
    let l = st.loaded;
    st.set_field(l, "coroutine", Value::Table(t));
}

fn check_co(ctx: &mut Ctx, i: usize) -> LuaResult<Gc<Thread>> {
    match ctx.arg(i) {
        Value::Thread(t) => Ok(t),
        _ => Err(ctx.type_error(i, "coroutine")),
    }
}

/// Creates a coroutine object running `f`.
pub fn new_coroutine(st: &mut State, f: Value) -> Gc<Thread> {
    let th = st.heap.alloc(Thread::new());
    let d = th.data();
    d.stack.push(f);
    d.hook = st.current.data().hook.inherited();
    th
}

fn create(ctx: &mut Ctx) -> LuaResult<Action> {
    let f = ctx.arg(1);
    if !f.is_function() {
        return Err(ctx.type_error(1, "function"));
    }
    let th = new_coroutine(ctx.st, f);
    ctx.ret1(Value::Thread(th))
}

fn resume(ctx: &mut Ctx) -> LuaResult<Action> {
    let co = check_co(ctx, 1)?;
    Ok(Action::Resume {
        co,
        nargs: ctx.nargs() - 1,
        kind: ResumeKind::Resume,
    })
}

fn yield_(ctx: &mut Ctx) -> LuaResult<Action> {
    Ok(Action::Yield(ctx.nargs()))
}

fn status_name(st: &State, co: Gc<Thread>) -> &'static str {
    if Gc::ptr_eq(co, st.current) {
        return "running";
    }
    match co.status() {
        ThreadStatus::Suspended => "suspended",
        // A thread marked running that is not the current one is being closed.
        ThreadStatus::Running => "running",
        ThreadStatus::Normal => "normal",
        ThreadStatus::Dead => "dead",
    }
}

fn status(ctx: &mut Ctx) -> LuaResult<Action> {
    let co = check_co(ctx, 1)?;
    let s = status_name(ctx.st, co);
    let v = ctx.new_str(s.as_bytes());
    ctx.ret1(v)
}

fn wrap_aux(ctx: &mut Ctx) -> LuaResult<Action> {
    let co = match ctx.st.current_native_upvalue(0) {
        Value::Thread(t) => t,
        _ => unreachable!("wrap upvalue is a thread"),
    };
    Ok(Action::Resume {
        co,
        nargs: ctx.nargs(),
        kind: ResumeKind::Wrap,
    })
}

fn wrap(ctx: &mut Ctx) -> LuaResult<Action> {
    let f = ctx.arg(1);
    if !f.is_function() {
        return Err(ctx.type_error(1, "function"));
    }
    let th = new_coroutine(ctx.st, f);
    let w = ctx
        .st
        .new_native_with(wrap_aux, "wrap", &[Value::Thread(th)]);
    ctx.ret1(w)
}

fn isyieldable(ctx: &mut Ctx) -> LuaResult<Action> {
    let co = match ctx.arg(1) {
        Value::Thread(t) => t,
        _ => ctx.st.current,
    };
    let d = co.data();
    let y = d.resumer.is_some() && !d.yield_blocked() || (co.status() == ThreadStatus::Suspended);
    let y = y && !Gc::ptr_eq(co, ctx.st.main_thread);
    ctx.ret1(Value::Bool(y))
}

fn running(ctx: &mut Ctx) -> LuaResult<Action> {
    let cur = ctx.st.current;
    let is_main = Gc::ptr_eq(cur, ctx.st.main_thread);
    ctx.ret(&[Value::Thread(cur), Value::Bool(is_main)])
}

fn close(ctx: &mut Ctx) -> LuaResult<Action> {
    let co = check_co(ctx, 1)?;
    let s = status_name(ctx.st, co);
    match s {
        "suspended" | "dead" => {}
        _ => return Err(ctx.error(format!("cannot close a {} coroutine", s))),
    }
    // Run pending __close handlers, innermost first. The current error stays in the
    // coroutine's `error` slot (a root) while they run; the coroutine counts as running.
    co.data().status = ThreadStatus::Running;
    while let Some(slot) = co.data().tbc.pop() {
        let v = co.data().stack.get(slot).copied().unwrap_or(Value::Nil);
        let tm = ctx.st.get_tm(v, Tm::Close);
        if !tm.is_nil() {
            let e = co.data().error.unwrap_or(Value::Nil);
            if let Err(e2) = ctx.st.call_value_protected(tm, &[v, e], 0) {
                if e2.is_uncatchable() {
                    return Err(e2);
                }
                co.data().error = Some(e2.value());
            }
        }
    }
    // Clear the stack, including the frames a coroutine that died with an error keeps for
    // inspection.
    let d = co.data();
    let err = d.error.take();
    d.close_upvals(0);
    d.stack.clear();
    d.clear_frames();
    d.close_errors.clear();
    d.nny = 0;
    d.status = ThreadStatus::Dead;
    match err {
        None => ctx.ret1(Value::Bool(true)),
        Some(e) => ctx.ret(&[Value::Bool(false), e]),
    }
}
