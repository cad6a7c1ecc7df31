//! The basic library (`_G`): print, type, tostring, tonumber, pairs/ipairs/next, select,
//! raw access, metatables, assert/error/pcall/xpcall, load/loadfile/dofile, collectgarbage.

use crate::string::StrExt;
use crate::table::{WEAK_KEYS, WEAK_VALUES};
use crate::value::Value;
use crate::vm::native::{Action, CallStatus, Catch, Cont, Ctx};
use crate::vm::{GcMode, LuaResult, State, Tm};
use std::io::Write;

/// Installs the basic library into the globals.
pub fn open(st: &mut State) {
    let g = st.globals;
    st.register(g, "print", print);
    st.register(g, "type", type_);
    st.register(g, "tostring", tostring);
    st.register(g, "tonumber", tonumber);
    // ipairs always returns the same iterator function (checked by the official suite).
    let aux = st.new_native(ipairs_aux, "ipairs_aux");
    let ip = st.new_native_with(ipairs, "ipairs", &[aux]);
    st.set_field(g, "ipairs", ip);
    st.register(g, "pairs", pairs);
    st.register(g, "next", next);
    // Generic `for` loops over these two run them inline (vm::fast).
    if let (Value::NativeFn(aux), Value::NativeFn(nx)) = (aux, st.get_field(g, "next")) {
        st.iterators.ipairs_aux = Some(aux);
        st.iterators.next = Some(nx);
    }
    st.register(g, "select", select);
    st.register(g, "rawget", rawget);
    st.register(g, "rawset", rawset);
    st.register(g, "rawequal", rawequal);
    st.register(g, "rawlen", rawlen);
    st.register(g, "setmetatable", setmetatable);
    st.register(g, "getmetatable", getmetatable);
    st.register(g, "assert", assert);
    st.register(g, "error", error);
    st.register(g, "pcall", pcall);
    st.register(g, "xpcall", xpcall);
    st.register(g, "load", load);
    st.register(g, "loadfile", loadfile);
    st.register(g, "dofile", dofile);
    st.register(g, "collectgarbage", collectgarbage);
    st.register(g, "warn", warn);
    let v = st.str_value("Lua 5.4");
    st.set_field(g, "_VERSION", v);
}

/// `luaL_tolstring`: `__tostring`, then `__name`, then the primitive form.
pub fn tostring_value(ctx: &mut Ctx, v: Value) -> LuaResult<Value> {
    let tm = ctx.st.get_tm(v, Tm::ToString);
    if !tm.is_nil() {
        let r = ctx.call(tm, &[v], 1)?;
        return match r.first() {
            Some(s @ Value::Str(_)) => Ok(*s),
            Some(n @ (Value::Int(_) | Value::Float(_))) => {
                let s = ctx.st.tostring_number(*n);
                Ok(Value::Str(s))
            }
            _ => Err(ctx.error("'__tostring' must return a string")),
        };
    }
    match v {
        Value::Str(_) => Ok(v),
        _ => {
            let b = ctx.st.tostring_basic(v);
            Ok(ctx.new_string(b))
        }
    }
}

fn print(ctx: &mut Ctx) -> LuaResult<Action> {
    let mut out: Vec<u8> = Vec::new();
    for i in 1..=ctx.nargs() {
        if i > 1 {
            out.push(b'\t');
        }
        let v = ctx.arg(i);
        match v {
            Value::Str(s) => out.extend_from_slice(s.as_bytes()),
            Value::Int(n) => crate::number::fmt_int(n, &mut out),
            Value::Float(f) => crate::number::fmt_float(f, &mut out),
            _ => {
                let s = tostring_value(ctx, v)?;
                if let Value::Str(s) = s {
                    out.extend_from_slice(s.as_bytes());
                }
            }
        }
    }
    out.push(b'\n');
    let mut so = std::io::stdout().lock();
    let _ = so.write_all(&out);
    Ok(Action::Return(0))
}

fn type_(ctx: &mut Ctx) -> LuaResult<Action> {
    let v = ctx.check_any(1)?;
    let s = ctx.new_str(v.type_name().as_bytes());
    ctx.ret1(s)
}

/// `tostring`: a `__tostring` metamethod runs as a continuation call, so it may yield or
/// await.
fn tostring(ctx: &mut Ctx) -> LuaResult<Action> {
    let v = ctx.check_any(1)?;
    let tm = ctx.st.get_tm(v, Tm::ToString);
    if !tm.is_nil() {
        ctx.push(tm);
        ctx.push(v);
        return Ok(Action::Call {
            nargs: 1,
            nresults: 1,
            cont: Cont {
                f: tostring_k,
                data: 0,
                catch: Catch::No,
                yieldable: true,
            },
        });
    }
    let s = tostring_value(ctx, v)?;
    ctx.ret1(s)
}

fn tostring_k(ctx: &mut Ctx, status: CallStatus, _: usize) -> LuaResult<Action> {
    match status {
        CallStatus::Ok(_) => {
            let r = ctx.at(ctx.top() - 1);
            match r {
                Value::Str(_) => ctx.ret1(r),
                Value::Int(_) | Value::Float(_) => {
                    let s = ctx.st.tostring_number(r);
                    ctx.ret1(Value::Str(s))
                }
                _ => Err(ctx.error("'__tostring' must return a string")),
            }
        }
        CallStatus::Err(e) => Err(e),
    }
}

fn tonumber(ctx: &mut Ctx) -> LuaResult<Action> {
    if ctx.arg(2).is_nil() {
        let v = ctx.check_any(1)?;
        let r = match v {
            Value::Int(_) | Value::Float(_) => v,
            Value::Str(_) => ctx.st.to_number(v).unwrap_or(Value::Nil),
            _ => Value::Nil,
        };
        return ctx.ret1(r);
    }
    let base = ctx.check_int(2)?;
    let s = match ctx.arg(1) {
        Value::Str(s) => s,
        _ => return Err(ctx.type_error(1, "string")),
    };
    if !(2..=36).contains(&base) {
        return Err(ctx.arg_error(2, "base out of range"));
    }
    let r = match crate::number::str_to_int_base(s.as_bytes(), base as u32) {
        Some(i) => Value::Int(i),
        None => Value::Nil,
    };
    ctx.ret1(r)
}

/// Index with metamethods (nested call for function metamethods).
pub fn index_value(ctx: &mut Ctx, obj: Value, key: Value) -> LuaResult<Value> {
    if let Value::Table(t) = obj {
        let v = t.get(key);
        if !v.is_nil() || t.metatable().is_none() {
            return Ok(v);
        }
    }
    match ctx.st.index_slow(obj, key, &|_| String::new())? {
        crate::vm::meta::Outcome::Value(v) => Ok(v),
        crate::vm::meta::Outcome::Meta(tm, a, b) => {
            let r = ctx.call(tm, &[a, b], 1)?;
            Ok(r.first().copied().unwrap_or(Value::Nil))
        }
    }
}

fn ipairs_aux(ctx: &mut Ctx) -> LuaResult<Action> {
    let t = ctx.arg(1);
    let i = ctx.check_int(2)?.wrapping_add(1);
    let v = index_value(ctx, t, Value::Int(i))?;
    if v.is_nil() {
        ctx.ret1(Value::Nil)
    } else {
        ctx.ret(&[Value::Int(i), v])
    }
}

fn ipairs(ctx: &mut Ctx) -> LuaResult<Action> {
    let t = ctx.check_any(1)?;
    let f = ctx.st.current_native_upvalue(0);
    ctx.ret(&[f, t, Value::Int(0)])
}

fn pairs_k(ctx: &mut Ctx, status: CallStatus, _: usize) -> LuaResult<Action> {
    match status {
        CallStatus::Ok(n) => {
            // Exactly three results.
            let top = ctx.top();
            let start = top - n;
            ctx.truncate(start + n.min(3));
            for _ in n..3 {
                ctx.push(Value::Nil);
            }
            Ok(Action::Return(3))
        }
        CallStatus::Err(e) => Err(e),
    }
}

fn pairs(ctx: &mut Ctx) -> LuaResult<Action> {
    let t = ctx.check_any(1)?;
    let tm = ctx.st.get_tm(t, Tm::Pairs);
    if !tm.is_nil() {
        ctx.push(tm);
        ctx.push(t);
        return Ok(Action::Call {
            nargs: 1,
            nresults: 3,
            cont: Cont {
                f: pairs_k,
                data: 0,
                catch: Catch::No,
                yieldable: true,
            },
        });
    }
    if !matches!(t, Value::Table(_)) {
        return Err(ctx.type_error(1, "table"));
    }
    // The library's own `next`, whatever the global `next` is now (as PUC's pairs).
    let next = match ctx.st.iterators.next {
        Some(f) => Value::NativeFn(f),
        None => ctx.st.new_native(self::next, "next"),
    };
    ctx.ret(&[next, t, Value::Nil])
}

fn next(ctx: &mut Ctx) -> LuaResult<Action> {
    let t = ctx.check_table(1)?;
    let k = ctx.arg(2);
    match t.next(k) {
        Ok(Some((k, v))) => ctx.ret(&[k, v]),
        Ok(None) => ctx.ret1(Value::Nil),
        Err(_) => Err(ctx.error("invalid key to 'next'")),
    }
}

fn select(ctx: &mut Ctx) -> LuaResult<Action> {
    let n = ctx.nargs() as i64;
    if let Value::Str(s) = ctx.arg(1) {
        if s.as_bytes() == b"#" {
            return ctx.ret1(Value::Int(n - 1));
        }
    }
    let i = ctx.check_int(1)?;
    let start = if i < 0 {
        if -i > n - 1 {
            return Err(ctx.arg_error(1, "index out of range"));
        }
        n + i
    } else if i == 0 {
        return Err(ctx.arg_error(1, "index out of range"));
    } else {
        i.min(n)
    };
    // Return arguments start+1 .. n (1-based args 2..=n shifted).
    let count = (n - start).max(0) as usize;
    Ok(Action::Return(count))
}

fn rawget(ctx: &mut Ctx) -> LuaResult<Action> {
    let t = ctx.check_table(1)?;
    let k = ctx.check_any(2)?;
    ctx.ret1(t.get(k))
}

fn rawset(ctx: &mut Ctx) -> LuaResult<Action> {
    let t = ctx.check_table(1)?;
    let k = ctx.check_any(2)?;
    let v = ctx.check_any(3)?;
    match k {
        Value::Nil => return Err(ctx.error("table index is nil")),
        Value::Float(f) if f.is_nan() => return Err(ctx.error("table index is NaN")),
        _ => {}
    }
    t.set(k, v);
    ctx.ret1(Value::Table(t))
}

fn rawequal(ctx: &mut Ctx) -> LuaResult<Action> {
    let a = ctx.check_any(1)?;
    let b = ctx.check_any(2)?;
    ctx.ret1(Value::Bool(a.raw_eq(&b)))
}

fn rawlen(ctx: &mut Ctx) -> LuaResult<Action> {
    match ctx.arg(1) {
        Value::Table(t) => ctx.ret1(Value::Int(t.len() as i64)),
        Value::Str(s) => ctx.ret1(Value::Int(s.len() as i64)),
        _ => Err(ctx.arg_error(1, "table or string expected")),
    }
}

/// Weak mode bits of a metatable's `__mode`.
pub fn weak_mode_of(st: &State, mt: Option<rua_gc::Gc<crate::table::Table>>) -> u8 {
    let Some(mt) = mt else { return 0 };
    match mt.get_str(st.tm_names[Tm::Mode as usize]) {
        Value::Str(s) => {
            let mut m = 0;
            if s.as_bytes().contains(&b'k') {
                m |= WEAK_KEYS;
            }
            if s.as_bytes().contains(&b'v') {
                m |= WEAK_VALUES;
            }
            m
        }
        _ => 0,
    }
}

fn setmetatable(ctx: &mut Ctx) -> LuaResult<Action> {
    let t = ctx.check_table(1)?;
    let mt = match ctx.arg(2) {
        Value::Nil => None,
        Value::Table(m) => Some(m),
        _ => return Err(ctx.type_error(2, "nil or table")),
    };
    if let Some(old) = t.metatable() {
        if !old
            .get_str(ctx.st.tm_names[Tm::Metatable as usize])
            .is_nil()
        {
            return Err(ctx.error("cannot change a protected metatable"));
        }
    }
    let weak = weak_mode_of(ctx.st, mt);
    t.set_metatable(mt, weak);
    ctx.st.check_finalizer(Value::Table(t));
    ctx.ret1(Value::Table(t))
}

fn getmetatable(ctx: &mut Ctx) -> LuaResult<Action> {
    let v = ctx.check_any(1)?;
    match ctx.st.metatable_of(v) {
        None => ctx.ret1(Value::Nil),
        Some(mt) => {
            let protected = mt.get_str(ctx.st.tm_names[Tm::Metatable as usize]);
            if !protected.is_nil() {
                ctx.ret1(protected)
            } else {
                ctx.ret1(Value::Table(mt))
            }
        }
    }
}

fn assert(ctx: &mut Ctx) -> LuaResult<Action> {
    let v = ctx.check_any(1)?;
    if v.truthy() {
        return Ok(Action::Return(ctx.nargs()));
    }
    if ctx.nargs() < 2 {
        return Err(ctx.error("assertion failed!"));
    }
    // As `error(msg)` at level 1: string messages get the caller's position.
    match ctx.arg(2) {
        Value::Str(s) => {
            let mut bytes = ctx.st.where_(1).into_bytes();
            bytes.extend_from_slice(s.as_bytes());
            let v = ctx.new_string(bytes);
            Err(crate::vm::LuaError::new(v))
        }
        v => Err(crate::vm::LuaError::new(v)),
    }
}

fn error(ctx: &mut Ctx) -> LuaResult<Action> {
    let v = ctx.arg(1);
    let level = ctx.opt_int(2, 1)?;
    if let Value::Str(s) = v {
        if level > 0 {
            let msg = format!("{}{}", ctx.st.where_(level as usize), s.to_str_lossy());
            // Keep non-UTF-8 bytes intact.
            let mut bytes = ctx.st.where_(level as usize).into_bytes();
            bytes.extend_from_slice(s.as_bytes());
            let _ = msg;
            let sv = ctx.new_string(bytes);
            return Err(crate::vm::LuaError::new(sv));
        }
    }
    Err(crate::vm::LuaError::new(v))
}

fn pcall_k(ctx: &mut Ctx, status: CallStatus, _: usize) -> LuaResult<Action> {
    match status {
        CallStatus::Ok(n) => {
            let top = ctx.top();
            ctx.insert(top - n, Value::Bool(true));
            Ok(Action::Return(n + 1))
        }
        CallStatus::Err(e) => {
            ctx.push(Value::Bool(false));
            ctx.push(e.value());
            Ok(Action::Return(2))
        }
    }
}

fn pcall(ctx: &mut Ctx) -> LuaResult<Action> {
    ctx.check_any(1)?;
    Ok(Action::Call {
        nargs: ctx.nargs() - 1,
        nresults: -1,
        cont: Cont {
            f: pcall_k,
            data: 0,
            catch: Catch::Yes,
            yieldable: true,
        },
    })
}

pub fn xpcall(ctx: &mut Ctx) -> LuaResult<Action> {
    let n = ctx.nargs();
    if n < 2 {
        return Err(ctx.arg_error(2, "value expected"));
    }
    let f = ctx.arg(1);
    ctx.push(f);
    for i in 3..=n {
        let a = ctx.arg(i);
        ctx.push(a);
    }
    Ok(Action::Call {
        nargs: n - 2,
        nresults: -1,
        cont: Cont {
            f: pcall_k,
            data: 0,
            catch: Catch::WithHandler,
            yieldable: true,
        },
    })
}

/// Loads a chunk with mode checking; `Ok(Err(msg))` for load errors reported as values.
fn load_chunk(
    ctx: &mut Ctx,
    src: &[u8],
    chunkname: &[u8],
    mode: &[u8],
    env: Option<Value>,
) -> LuaResult<Result<Value, Value>> {
    let is_binary = src.first() == Some(&0x1b);
    if is_binary && !mode.contains(&b'b') {
        let m = format!(
            "attempt to load a binary chunk (mode is '{}')",
            String::from_utf8_lossy(mode)
        );
        return Ok(Err(ctx.new_str(m.as_bytes())));
    }
    if !is_binary && !mode.contains(&b't') {
        let m = format!(
            "attempt to load a text chunk (mode is '{}')",
            String::from_utf8_lossy(mode)
        );
        return Ok(Err(ctx.new_str(m.as_bytes())));
    }
    match ctx.st.load(src, chunkname, env) {
        Ok(f) => Ok(Ok(f)),
        Err(e) => Ok(Err(e.value())),
    }
}

fn load(ctx: &mut Ctx) -> LuaResult<Action> {
    let chunk = ctx.arg(1);
    let mode = match ctx.opt_str(3)? {
        Some(m) => m.as_bytes().to_vec(),
        None => b"bt".to_vec(),
    };
    let env = if ctx.nargs() >= 4 {
        Some(ctx.arg(4))
    } else {
        None
    };
    let (src, default_name): (Vec<u8>, Vec<u8>) = match chunk {
        Value::Str(s) => (s.as_bytes().to_vec(), s.as_bytes().to_vec()),
        Value::LuaFn(_) | Value::NativeFn(_) => {
            let mut buf = Vec::new();
            loop {
                // Errors raised by the reader are returned by load, not propagated.
                let r = match ctx.st.call_value_protected(chunk, &[], 1) {
                    Ok(r) => r,
                    Err(e) if e.is_uncatchable() => return Err(e),
                    Err(e) => return ctx.ret(&[Value::Nil, e.value()]),
                };
                match r.first() {
                    None | Some(Value::Nil) => break,
                    Some(Value::Str(s)) => {
                        if s.is_empty() {
                            break;
                        }
                        buf.extend_from_slice(s.as_bytes());
                    }
                    Some(_) => {
                        let m = ctx.new_str(b"reader function must return a string");
                        return ctx.ret(&[Value::Nil, m]);
                    }
                }
            }
            (buf, b"=(load)".to_vec())
        }
        _ => return Err(ctx.type_error(1, "string")),
    };
    let name = match ctx.opt_str(2)? {
        Some(n) => n.as_bytes().to_vec(),
        None => default_name,
    };
    match load_chunk(ctx, &src, &name, &mode, env)? {
        Ok(f) => ctx.ret1(f),
        Err(m) => ctx.ret(&[Value::Nil, m]),
    }
}

/// Drops what a Lua file may start with before its code: a UTF-8 byte-order mark, then a
/// first line starting with `#` (the newline is kept so line numbers stay right, except
/// before a binary chunk, which must start the data as in PUC's `luaL_loadfilex`).
pub fn skip_prefix(data: &mut Vec<u8>) {
    if data.starts_with(b"\xEF\xBB\xBF") {
        data.drain(..3);
    }
    if data.first() == Some(&b'#') {
        let end = data.iter().position(|&c| c == b'\n').unwrap_or(data.len());
        let binary = data.get(end + 1) == Some(&crate::dump::SIGNATURE[0]);
        data.drain(..if binary { end + 1 } else { end });
    }
}

/// Reads a file for `loadfile`/`dofile`, skipping a first line starting with `#`.
fn read_source(path: Option<&[u8]>) -> Result<(Vec<u8>, Vec<u8>), String> {
    let (mut data, name) = match path {
        Some(p) => {
            let ps = String::from_utf8_lossy(p).into_owned();
            let data = std::fs::read(&ps)
                .map_err(|e| format!("cannot open {}: {}", ps, crate::stdlib::os_error_text(&e)))?;
            let mut name = b"@".to_vec();
            name.extend_from_slice(p);
            (data, name)
        }
        None => {
            let mut data = Vec::new();
            std::io::Read::read_to_end(&mut std::io::stdin(), &mut data)
                .map_err(|e| format!("cannot read stdin: {}", e))?;
            (data, b"=stdin".to_vec())
        }
    };
    skip_prefix(&mut data);
    Ok((data, name))
}

fn loadfile(ctx: &mut Ctx) -> LuaResult<Action> {
    let path = ctx.opt_str(1)?.map(|s| s.as_bytes().to_vec());
    let mode = match ctx.opt_str(2)? {
        Some(m) => m.as_bytes().to_vec(),
        None => b"bt".to_vec(),
    };
    let env = if ctx.nargs() >= 3 {
        Some(ctx.arg(3))
    } else {
        None
    };
    match read_source(path.as_deref()) {
        Err(m) => {
            let m = ctx.new_str(m.as_bytes());
            ctx.ret(&[Value::Nil, m])
        }
        Ok((src, name)) => match load_chunk(ctx, &src, &name, &mode, env)? {
            Ok(f) => ctx.ret1(f),
            Err(m) => ctx.ret(&[Value::Nil, m]),
        },
    }
}

fn dofile(ctx: &mut Ctx) -> LuaResult<Action> {
    let path = ctx.opt_str(1)?.map(|s| s.as_bytes().to_vec());
    let (src, name) = match read_source(path.as_deref()) {
        Ok(x) => x,
        Err(m) => return Err(ctx.st.error_str(&m)),
    };
    let f = ctx.st.load(&src, &name, None)?;
    ctx.push(f);
    Ok(Action::TailCall { nargs: 0 })
}

fn collectgarbage(ctx: &mut Ctx) -> LuaResult<Action> {
    const OPTS: [&str; 11] = [
        "collect",
        "stop",
        "restart",
        "count",
        "step",
        "setpause",
        "setstepmul",
        "isrunning",
        "generational",
        "incremental",
        "",
    ];
    let opt = ctx.check_option(1, Some("collect"), &OPTS[..10])?;
    if ctx.st.gc.in_finalizer || ctx.st.gc.closing {
        // The collector is not reentrant: inside a finalizer (or while the state closes)
        // every option fails, returning fail (nil) as PUC's `lua_gc` does.
        return ctx.ret1(Value::Nil);
    }
    match OPTS[opt] {
        "collect" => {
            ctx.st.full_gc();
            ctx.ret1(Value::Int(0))
        }
        "stop" => {
            ctx.st.gc.running = false;
            ctx.ret1(Value::Int(0))
        }
        "restart" => {
            ctx.st.gc.running = true;
            ctx.ret1(Value::Int(0))
        }
        "count" => {
            let b = ctx.st.memory_in_use();
            ctx.ret1(Value::Float(b as f64 / 1024.0))
        }
        "step" => {
            // Incremental mode: a step is a whole (full) cycle, so it always ends one. In
            // generational mode a step is a minor (or, when due, major) collection, and no
            // cycle "ends", as in PUC Lua.
            ctx.st.gc_step();
            let ended = ctx.st.gc.mode == GcMode::Incremental;
            ctx.ret1(Value::Bool(ended))
        }
        "setpause" => {
            let old = ctx.st.gc.pause;
            ctx.st.gc.pause = ctx.opt_int(2, 200)?.max(0) as usize;
            ctx.ret1(Value::Int(old as i64))
        }
        "setstepmul" => {
            let old = ctx.st.gc.stepmul;
            ctx.st.gc.stepmul = ctx.opt_int(2, 100)?.max(0) as usize;
            ctx.ret1(Value::Int(old as i64))
        }
        "isrunning" => {
            let r = ctx.st.gc.running;
            ctx.ret1(Value::Bool(r))
        }
        "generational" | "incremental" => {
            let old = ctx.st.gc.mode;
            ctx.st.set_gc_mode(if OPTS[opt] == "generational" {
                GcMode::Generational
            } else {
                GcMode::Incremental
            });
            let name = match old {
                GcMode::Generational => "generational",
                GcMode::Incremental => "incremental",
            };
            let s = ctx.new_str(name.as_bytes());
            ctx.ret1(s)
        }
        _ => unreachable!(),
    }
}

fn warn(ctx: &mut Ctx) -> LuaResult<Action> {
    let n = ctx.nargs();
    ctx.check_str(1)?;
    for i in 2..=n {
        ctx.check_str(i)?;
    }
    let mut msg = Vec::new();
    for i in 1..=n {
        if let Value::Str(s) = ctx.arg(i) {
            msg.extend_from_slice(s.as_bytes());
        }
    }
    // Control messages: "@on" / "@off"; other '@' messages are ignored.
    if n == 1 && msg.first() == Some(&b'@') {
        match &msg[..] {
            b"@on" => ctx.st.warnings_on = true,
            b"@off" => ctx.st.warnings_on = false,
            _ => {}
        }
        return ctx.ret0();
    }
    if ctx.st.warnings_on {
        let mut e = std::io::stderr().lock();
        let _ = e.write_all(b"Lua warning: ");
        let _ = e.write_all(&msg);
        let _ = e.write_all(b"\n");
    }
    ctx.ret0()
}
