//! The debug library: traceback, getinfo, per-thread hooks (sethook/gethook, see
//! [`crate::vm::debughook`]), upvalues, metatables, user values and the registry (local
//! variables are in [`super::debug_locals`]).

use super::debug_locals;
use crate::func::{LuaClosure, NativeClosure};
use crate::table::{Table, WEAK_KEYS};
use crate::thread::Thread;
use crate::value::Value;
use crate::vm::debughook::{HOOK_CALL, HOOK_LINE, HOOK_RET};
use crate::vm::frame::FrameKind;
use crate::vm::native::{Action, Ctx};
use crate::vm::{LuaResult, State};
use rua_gc::Gc;

/// Installs the `debug` table.
pub fn open(st: &mut State) {
    let t = st.new_table(0, 12);
    st.register(t, "traceback", traceback);
    st.register(t, "getinfo", getinfo);
    st.register(t, "getlocal", debug_locals::getlocal);
    st.register(t, "setlocal", debug_locals::setlocal);
    st.register(t, "getupvalue", getupvalue);
    st.register(t, "setupvalue", setupvalue);
    st.register(t, "upvalueid", upvalueid);
    st.register(t, "upvaluejoin", upvaluejoin);
    st.register(t, "getmetatable", getmetatable);
    st.register(t, "setmetatable", setmetatable);
    st.register(t, "getregistry", getregistry);
    st.register(t, "getuservalue", getuservalue);
    st.register(t, "sethook", sethook);
    st.register(t, "gethook", gethook);
    st.register(t, "setuservalue", setuservalue);
    st.register(t, "debug", super::debug_console::debug);
    let g = st.globals;
    st.set_field(g, "debug", Value::Table(t));
    let l = st.loaded;
    st.set_field(l, "debug", Value::Table(t));
}

fn traceback(ctx: &mut Ctx) -> LuaResult<Action> {
    let (th, msg_i) = thread_arg(ctx);
    // Level 1 skips traceback itself, which is only on the running thread's stack.
    let level_default = if th == ctx.st.current { 1 } else { 0 };
    let msg = ctx.arg(msg_i);
    if !msg.is_nil() && !matches!(msg, Value::Str(_) | Value::Int(_) | Value::Float(_)) {
        return ctx.ret1(msg);
    }
    let level = ctx.opt_int(msg_i + 1, level_default)?.max(0) as usize;
    let text = match msg {
        Value::Nil => None,
        v => Some(String::from_utf8_lossy(&ctx.st.tostring_basic(v)).into_owned()),
    };
    let tb = if th == ctx.st.current {
        ctx.st.traceback(text.as_deref(), level)
    } else {
        // The stack inspection functions look at the running thread: view `th` meanwhile
        // (nothing runs until it is restored).
        let running = ctx.st.current;
        ctx.st.current = th;
        let tb = ctx.st.traceback(text.as_deref(), level);
        ctx.st.current = running;
        tb
    };
    let v = ctx.new_str(tb.as_bytes());
    ctx.ret1(v)
}

fn getinfo(ctx: &mut Ctx) -> LuaResult<Action> {
    let (th, a) = thread_arg(ctx);
    getinfo_args(ctx, a, th)
}

/// `getinfo` for its arguments from `a` on (after the optional thread), about `th`'s stack.
fn getinfo_args(ctx: &mut Ctx, a: usize, th: Gc<Thread>) -> LuaResult<Action> {
    let what = match ctx.opt_str(a + 1)? {
        Some(s) => s.as_bytes().to_vec(),
        None => b"flnSrtu".to_vec(),
    };
    // '>' (function taken from the stack) is meaningful only in the C API.
    if what.first() == Some(&b'>') {
        return Err(ctx.arg_error(a + 1, "invalid option '>'"));
    }
    if what.iter().any(|c| !b"SlnrutfL".contains(c)) {
        return Err(ctx.arg_error(a + 1, "invalid option"));
    }
    let frames_len = th.data().frames.len();
    let (func, frame_idx) = match ctx.arg(a) {
        f @ (Value::LuaFn(_) | Value::NativeFn(_)) => (f, None),
        Value::Int(_) | Value::Float(_) => {
            let level = ctx.check_int(a)?;
            if level < 0 || level as usize >= frames_len {
                return ctx.ret1(Value::Nil);
            }
            let idx = frames_len - 1 - level as usize;
            let fr = th.data().frames[idx];
            let f = match fr.kind {
                FrameKind::Lua { cl, .. } => Value::LuaFn(cl),
                FrameKind::Native { cl, .. } => Value::NativeFn(cl),
            };
            (f, Some(idx))
        }
        _ => return Err(ctx.arg_error(a, "function or level expected")),
    };
    let t = ctx.new_table();
    let set = |ctx: &mut Ctx, k: &str, v: Value| {
        let key = ctx.new_str(k.as_bytes());
        t.set(key, v);
    };
    // The frame inspection functions look at the running thread: view `th` as running while
    // the fields are filled (no arguments are read and nothing runs meanwhile).
    let running = ctx.st.current;
    ctx.st.current = th;
    for &c in &what {
        match c {
            b'S' => match func {
                Value::LuaFn(cl) => {
                    let p = &cl.proto.proto;
                    set(ctx, "source", Value::Str(cl.proto.source));
                    let short = crate::chunkid::chunk_id(&p.source);
                    let v = ctx.new_str(short.as_bytes());
                    set(ctx, "short_src", v);
                    set(ctx, "linedefined", Value::Int(p.line_defined as i64));
                    set(
                        ctx,
                        "lastlinedefined",
                        Value::Int(p.last_line_defined as i64),
                    );
                    let w = if p.line_defined == 0 { "main" } else { "Lua" };
                    let v = ctx.new_str(w.as_bytes());
                    set(ctx, "what", v);
                }
                _ => {
                    let v = ctx.new_str(b"=[C]");
                    set(ctx, "source", v);
                    let v = ctx.new_str(b"[C]");
                    set(ctx, "short_src", v);
                    set(ctx, "linedefined", Value::Int(-1));
                    set(ctx, "lastlinedefined", Value::Int(-1));
                    let v = ctx.new_str(b"C");
                    set(ctx, "what", v);
                }
            },
            b'l' => {
                let line = frame_idx
                    .and_then(|i| {
                        crate::vm::debuginfo::frame_line(&ctx.st.current.data().frames[i])
                    })
                    .map(|l| l as i64)
                    .unwrap_or(-1);
                set(ctx, "currentline", Value::Int(line));
            }
            b'u' => {
                let (nups, np, va) = match func {
                    Value::LuaFn(cl) => (
                        cl.upvals.len(),
                        cl.proto.num_params as i64,
                        cl.proto.is_vararg,
                    ),
                    Value::NativeFn(n) => (n.upvals.len(), 0, true),
                    _ => (0, 0, true),
                };
                set(ctx, "nups", Value::Int(nups as i64));
                set(ctx, "nparams", Value::Int(np));
                set(ctx, "isvararg", Value::Bool(va));
            }
            b'n' => {
                if let Some((kind, name)) = frame_idx.and_then(|i| ctx.st.frame_func_name(i)) {
                    let v = ctx.new_str(name.as_bytes());
                    set(ctx, "name", v);
                    let v = ctx.new_str(kind.as_bytes());
                    set(ctx, "namewhat", v);
                } else {
                    let v = ctx.new_str(b"");
                    set(ctx, "namewhat", v);
                }
            }
            b't' => {
                let tail = frame_idx
                    .map(|i| ctx.st.current.data().frames[i].tail)
                    .unwrap_or(false);
                set(ctx, "istailcall", Value::Bool(tail));
            }
            b'f' => set(ctx, "func", func),
            b'L' => {
                if let Value::LuaFn(cl) = func {
                    let lines = ctx.new_table();
                    // A vararg function's `VARARGPREP` is not an active line (as in PUC).
                    let skip = usize::from(cl.proto.is_vararg);
                    for &l in cl.proto.proto.lines.iter().skip(skip) {
                        lines.set(Value::Int(l as i64), Value::Bool(true));
                    }
                    set(ctx, "activelines", Value::Table(lines));
                }
            }
            b'r' => {
                // Transfer information exists only for the frame a call or return hook is
                // running for (the frame right below the hook function's).
                let hook = ctx.st.current.data().hook;
                let (first, n) = match frame_idx {
                    Some(i) if hook.frame == i + 1 => hook.transfer,
                    _ => (0, 0),
                };
                set(ctx, "ftransfer", Value::Int(first.into()));
                set(ctx, "ntransfer", Value::Int(n.into()));
            }
            _ => {}
        }
    }
    ctx.st.current = running;
    ctx.ret1(Value::Table(t))
}

/// Upvalue `n` (1-based) of a function, as the upvalue functions of this library see it.
enum UpvalueSlot {
    Lua(Gc<LuaClosure>, usize),
    Native(Gc<NativeClosure>, usize),
}

impl UpvalueSlot {
    /// `Ok(None)` for a function without upvalue `n`; an error for a non-function.
    fn find(ctx: &mut Ctx, fi: usize, n: i64) -> LuaResult<Option<UpvalueSlot>> {
        let valid = |len: usize| n >= 1 && (n as usize) <= len;
        match ctx.arg(fi) {
            Value::LuaFn(cl) if valid(cl.upvals.len()) => {
                Ok(Some(UpvalueSlot::Lua(cl, n as usize - 1)))
            }
            Value::NativeFn(nc) if valid(nc.upvals.len()) => {
                Ok(Some(UpvalueSlot::Native(nc, n as usize - 1)))
            }
            Value::LuaFn(_) | Value::NativeFn(_) => Ok(None),
            _ => Err(ctx.type_error(fi, "function")),
        }
    }

    /// The name `getupvalue`/`setupvalue` report: "" for natives, "(no name)" when stripped.
    fn name(&self) -> String {
        match self {
            UpvalueSlot::Lua(cl, i) => match &*cl.proto.proto.upvalues[*i].name {
                "" => "(no name)".to_string(),
                n => n.to_string(),
            },
            UpvalueSlot::Native(..) => String::new(),
        }
    }

    fn get(&self) -> Value {
        match self {
            UpvalueSlot::Lua(cl, i) => cl.upval(*i).get(),
            UpvalueSlot::Native(nc, i) => nc.upvals[*i].get(),
        }
    }

    fn set(&self, v: Value) {
        match self {
            UpvalueSlot::Lua(cl, i) => cl.upval(*i).set(v),
            UpvalueSlot::Native(nc, i) => NativeClosure::set_upval(*nc, *i, v),
        }
    }

    /// Identity of the variable (shared by closures that share it).
    fn id(&self) -> usize {
        match self {
            UpvalueSlot::Lua(cl, i) => cl.upval(*i).as_ptr() as usize,
            UpvalueSlot::Native(nc, i) => &nc.upvals[*i] as *const _ as usize,
        }
    }
}

fn getupvalue(ctx: &mut Ctx) -> LuaResult<Action> {
    let n = ctx.check_int(2)?;
    match UpvalueSlot::find(ctx, 1, n)? {
        Some(slot) => {
            let nv = ctx.new_str(slot.name().as_bytes());
            ctx.ret(&[nv, slot.get()])
        }
        None => ctx.ret0(),
    }
}

fn setupvalue(ctx: &mut Ctx) -> LuaResult<Action> {
    let n = ctx.check_int(2)?;
    let v = ctx.check_any(3)?;
    match UpvalueSlot::find(ctx, 1, n)? {
        Some(slot) => {
            slot.set(v);
            let nv = ctx.new_str(slot.name().as_bytes());
            ctx.ret1(nv)
        }
        None => ctx.ret0(),
    }
}

fn upvalueid(ctx: &mut Ctx) -> LuaResult<Action> {
    let n = ctx.check_int(2)?;
    match UpvalueSlot::find(ctx, 1, n)? {
        Some(slot) => ctx.ret1(Value::LightUserData(slot.id())),
        None => ctx.ret1(Value::Nil),
    }
}

fn getmetatable(ctx: &mut Ctx) -> LuaResult<Action> {
    let v = ctx.check_any(1)?;
    let mt = ctx.st.metatable_of(v);
    ctx.ret1(mt.map(Value::Table).unwrap_or(Value::Nil))
}

fn setmetatable(ctx: &mut Ctx) -> LuaResult<Action> {
    let v = ctx.arg(1);
    let mt = match ctx.arg(2) {
        Value::Nil => None,
        Value::Table(t) => Some(t),
        _ => return Err(ctx.type_error(2, "nil or table")),
    };
    match v {
        Value::Table(t) => {
            let weak = crate::stdlib::base::weak_mode_of(ctx.st, mt);
            t.set_metatable(mt, weak);
        }
        Value::UserData(u) => {
            if let Some(m) = mt {
                crate::value::barrier(u, Value::Table(m));
            }
            u.meta.set(mt)
        }
        other => ctx.st.type_metas[other.lua_type() as usize] = mt,
    }
    ctx.st.check_finalizer(v);
    ctx.ret1(v)
}

fn getregistry(ctx: &mut Ctx) -> LuaResult<Action> {
    let r = ctx.st.registry;
    ctx.ret1(Value::Table(r))
}

fn getuservalue(ctx: &mut Ctx) -> LuaResult<Action> {
    let n = ctx.opt_int(2, 1)?;
    match ctx.arg(1) {
        Value::UserData(u) => {
            let vals = u.user_values.borrow();
            if n >= 1 && (n as usize) <= vals.len() {
                let v = vals[n as usize - 1];
                drop(vals);
                ctx.ret(&[v, Value::Bool(true)])
            } else {
                drop(vals);
                ctx.ret(&[Value::Nil, Value::Bool(false)])
            }
        }
        _ => ctx.ret(&[Value::Nil, Value::Bool(false)]),
    }
}

fn setuservalue(ctx: &mut Ctx) -> LuaResult<Action> {
    let u = match ctx.arg(1) {
        Value::UserData(u) => u,
        _ => return Err(ctx.type_error(1, "userdata")),
    };
    let v = ctx.check_any(2)?;
    let n = ctx.opt_int(3, 1)?;
    let mut vals = u.user_values.borrow_mut();
    if n >= 1 && (n as usize) <= vals.len() {
        crate::value::barrier(u, v);
        vals[n as usize - 1] = v;
        drop(vals);
        ctx.ret1(Value::UserData(u))
    } else {
        drop(vals);
        ctx.ret1(Value::Nil)
    }
}

fn upvaluejoin(ctx: &mut Ctx) -> LuaResult<Action> {
    let check = |ctx: &mut Ctx, fi: usize, ni: usize| -> LuaResult<(Gc<LuaClosure>, usize)> {
        let n = ctx.check_int(ni)?;
        match ctx.arg(fi) {
            Value::LuaFn(cl) if n >= 1 && (n as usize) <= cl.upvals.len() => {
                Ok((cl, n as usize - 1))
            }
            Value::LuaFn(_) => Err(ctx.arg_error(ni, "invalid upvalue index")),
            Value::NativeFn(_) => Err(ctx.arg_error(fi, "Lua function expected")),
            _ => Err(ctx.type_error(fi, "function")),
        }
    };
    let (f1, n1) = check(ctx, 1, 2)?;
    let (f2, n2) = check(ctx, 3, 4)?;
    LuaClosure::set_upval(f1, n1, f2.upval(n2));
    ctx.ret0()
}

/// The optional thread argument of `sethook`/`gethook` (PUC's `getthread`): the thread and
/// the index of the first argument after it.
fn thread_arg(ctx: &Ctx) -> (Gc<Thread>, usize) {
    match ctx.arg(1) {
        Value::Thread(t) => (t, 2),
        _ => (ctx.st.current, 1),
    }
}

/// The registry table `_HOOKKEY` mapping threads to the hook functions this library installed
/// (weak keys, as PUC's): created on first use when `create`.
fn hook_table(ctx: &mut Ctx, create: bool) -> Option<Gc<Table>> {
    let registry = ctx.st.registry;
    let key = ctx.new_str(b"_HOOKKEY");
    if let Value::Table(t) = registry.get(key) {
        return Some(t);
    }
    if !create {
        return None;
    }
    let t = ctx.new_table();
    let mt = ctx.new_table();
    let mode = ctx.new_str(b"__mode");
    let k = ctx.new_str(b"k");
    mt.set(mode, k);
    t.set_metatable(Some(mt), WEAK_KEYS);
    registry.set(key, Value::Table(t));
    Some(t)
}

fn sethook(ctx: &mut Ctx) -> LuaResult<Action> {
    let (th, first) = thread_arg(ctx);
    let f = ctx.arg(first);
    if f.is_nil() || ctx.nargs() < first {
        if let Some(t) = hook_table(ctx, false) {
            t.set(Value::Thread(th), Value::Nil);
        }
        ctx.st.set_debug_hook(th, Value::Nil, 0, 0);
        return ctx.ret0();
    }
    if !f.is_function() {
        return Err(ctx.type_error(first, "function"));
    }
    let mask_str = ctx.check_str(first + 1)?.as_bytes().to_vec();
    let count = ctx.opt_int(first + 2, 0)?.clamp(0, u32::MAX as i64) as u32;
    let mut mask = 0;
    for c in mask_str {
        mask |= match c {
            b'c' => HOOK_CALL,
            b'r' => HOOK_RET,
            b'l' => HOOK_LINE,
            _ => 0,
        };
    }
    if let Some(t) = hook_table(ctx, true) {
        t.set(Value::Thread(th), f);
    }
    ctx.st.set_debug_hook(th, f, mask, count);
    ctx.ret0()
}

fn gethook(ctx: &mut Ctx) -> LuaResult<Action> {
    let (th, _) = thread_arg(ctx);
    let h = th.data().hook;
    if h.mask == 0 {
        return ctx.ret1(Value::Nil);
    }
    // The function this library installed for the thread; a hook inherited from the
    // creating thread has a mask but no function: nil comes first.
    let f = match hook_table(ctx, false) {
        Some(t) if !h.func.is_nil() => t.get(Value::Thread(th)),
        _ => Value::Nil,
    };
    let (mask, count) = (h.mask, h.count);
    let mut m = String::new();
    if mask & HOOK_CALL != 0 {
        m.push('c');
    }
    if mask & HOOK_RET != 0 {
        m.push('r');
    }
    if mask & HOOK_LINE != 0 {
        m.push('l');
    }
    let ms = ctx.new_str(m.as_bytes());
    ctx.ret(&[f, ms, Value::Int(count as i64)])
}
