//! The package library: `require`, `package.path/cpath/loaded/preload/searchers/searchpath/
//! config`. Lua modules are found on `package.path`; Rua does not load C modules, so the C
//! searchers only report the files they looked for (and refuse a file that exists).

use crate::string::StrExt;
use crate::value::Value;
use crate::vm::native::{Action, CallStatus, Catch, Cont, Ctx};
use crate::vm::{LuaResult, State};

const DEFAULT_PATH: &str = "/usr/local/share/lua/5.4/?.lua;/usr/local/share/lua/5.4/?/init.lua;\
/usr/local/lib/lua/5.4/?.lua;/usr/local/lib/lua/5.4/?/init.lua;./?.lua;./?/init.lua";
const DEFAULT_CPATH: &str = "/usr/local/lib/lua/5.4/?.so;/usr/local/lib/lua/5.4/loadall.so;./?.so";

/// Installs `package` and `require`.
pub fn open(st: &mut State) {
    let pkg = st.new_table(0, 8);
    let loaded = st.loaded;
    st.set_field(pkg, "loaded", Value::Table(loaded));
    let preload = st.new_table(0, 0);
    st.set_field(pkg, "preload", Value::Table(preload));
    let noenv = st.get_field(st.registry, "LUA_NOENV").truthy();
    let path = env_path(noenv, &["LUA_PATH_5_4", "LUA_PATH"], DEFAULT_PATH);
    let cpath = env_path(noenv, &["LUA_CPATH_5_4", "LUA_CPATH"], DEFAULT_CPATH);
    let v = st.str_value(&path);
    st.set_field(pkg, "path", v);
    let v = st.str_value(&cpath);
    st.set_field(pkg, "cpath", v);
    let v = st.str_value("/\n;\n?\n!\n-\n");
    st.set_field(pkg, "config", v);
    st.register(pkg, "searchpath", searchpath);
    st.register(pkg, "loadlib", loadlib);
    let searchers = st.new_table(4, 0);
    for (i, f) in [
        searcher_preload as crate::func::NativeFn,
        searcher_lua,
        searcher_c,
        searcher_croot,
    ]
    .into_iter()
    .enumerate()
    {
        let fv = st.new_native_with(f, "searcher", &[Value::Table(pkg)]);
        searchers.set_int(i as i64 + 1, fv);
    }
    st.set_field(pkg, "searchers", Value::Table(searchers));
    let g = st.globals;
    let req = st.new_native_with(require, "require", &[Value::Table(pkg)]);
    st.set_field(g, "require", req);
    st.set_field(g, "package", Value::Table(pkg));
    st.set_field(loaded, "package", Value::Table(pkg));
}

/// Path from the environment, or the default. The first `;;` in it stands for the default
/// path, joined with `;` only to a non-empty part before or after it (as PUC's `setpath`).
fn env_path(noenv: bool, vars: &[&str], default: &str) -> String {
    if !noenv {
        for v in vars {
            if let Ok(p) = std::env::var(v) {
                return expand_default(&p, default);
            }
        }
    }
    default.to_string()
}

fn expand_default(p: &str, default: &str) -> String {
    let Some(at) = p.find(";;") else {
        return p.to_string();
    };
    let (before, after) = (&p[..at], &p[at + 2..]);
    let mut out = String::new();
    if !before.is_empty() {
        out.push_str(before);
        out.push(';');
    }
    out.push_str(default);
    if !after.is_empty() {
        out.push(';');
        out.push_str(after);
    }
    out
}

fn pkg_table(ctx: &mut Ctx) -> rua_gc::Gc<crate::table::Table> {
    match ctx.st.current_native_upvalue(0) {
        Value::Table(t) => t,
        _ => unreachable!("package upvalue"),
    }
}

/// Searches `path` for `name`: returns the first readable file, or the list of tried names.
fn search_path(name: &[u8], path: &[u8], sep: &[u8], rep: &[u8]) -> Result<Vec<u8>, String> {
    let name = if sep.is_empty() {
        name.to_vec()
    } else {
        replace_all(name, sep, rep)
    };
    let mut tried = String::new();
    for template in path.split(|&c| c == b';') {
        let file = replace_all(template, b"?", &name);
        let fname = String::from_utf8_lossy(&file).into_owned();
        if std::fs::File::open(&fname).is_ok() {
            return Ok(file);
        }
        tried.push_str(&format!("\n\tno file '{}'", fname));
    }
    Err(tried)
}

fn replace_all(s: &[u8], pat: &[u8], rep: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(s.len());
    let mut i = 0;
    while i < s.len() {
        if !pat.is_empty() && s[i..].starts_with(pat) {
            out.extend_from_slice(rep);
            i += pat.len();
        } else {
            out.push(s[i]);
            i += 1;
        }
    }
    out
}

/// `package.loadlib(path, funcname)`: Rua has no C API, so it answers as a PUC Lua built
/// without dynamic-library support: `nil`, a message, and `"absent"`.
fn loadlib(ctx: &mut Ctx) -> LuaResult<Action> {
    ctx.check_str(1)?;
    ctx.check_str(2)?;
    let msg = ctx.new_str(b"dynamic libraries not enabled; Rua cannot load C libraries");
    let when = ctx.new_str(b"absent");
    ctx.ret(&[Value::Nil, msg, when])
}

fn searchpath(ctx: &mut Ctx) -> LuaResult<Action> {
    let name = ctx.check_str(1)?.as_bytes().to_vec();
    let path = ctx.check_str(2)?.as_bytes().to_vec();
    let sep = match ctx.opt_str(3)? {
        Some(s) => s.as_bytes().to_vec(),
        None => b".".to_vec(),
    };
    let rep = match ctx.opt_str(4)? {
        Some(s) => s.as_bytes().to_vec(),
        None => b"/".to_vec(),
    };
    match search_path(&name, &path, &sep, &rep) {
        Ok(f) => {
            let v = ctx.new_string(f);
            ctx.ret1(v)
        }
        Err(tried) => {
            let v = ctx.new_str(tried.trim_start_matches("\n\t").as_bytes());
            ctx.ret(&[Value::Nil, v])
        }
    }
}

fn searcher_preload(ctx: &mut Ctx) -> LuaResult<Action> {
    let name = ctx.check_str(1)?;
    let pkg = pkg_table(ctx);
    let preload = match ctx.st.get_field(pkg, "preload") {
        Value::Table(t) => t,
        _ => return Err(ctx.error("'package.preload' must be a table")),
    };
    let v = preload.get(Value::Str(name));
    if v.is_nil() {
        let m = format!("\n\tno field package.preload['{}']", name.to_str_lossy());
        let m = ctx.new_str(m.as_bytes());
        return ctx.ret1(m);
    }
    let extra = ctx.new_str(b":preload:");
    ctx.ret(&[v, extra])
}

fn searcher_lua(ctx: &mut Ctx) -> LuaResult<Action> {
    let name = ctx.check_str(1)?;
    let pkg = pkg_table(ctx);
    let path = match ctx.st.get_field(pkg, "path") {
        Value::Str(s) => s,
        _ => return Err(ctx.error("'package.path' must be a string")),
    };
    match search_path(name.as_bytes(), path.as_bytes(), b".", b"/") {
        Err(tried) => {
            let v = ctx.new_str(tried.as_bytes());
            ctx.ret1(v)
        }
        Ok(file) => {
            let fname = String::from_utf8_lossy(&file).into_owned();
            let mut src = match std::fs::read(&fname) {
                Ok(s) => s,
                Err(e) => {
                    return Err(ctx.error(format!(
                        "error loading module '{}' from file '{}':\n\t{}",
                        name.to_str_lossy(),
                        fname,
                        crate::stdlib::os_error_text(&e)
                    )))
                }
            };
            if src.first() == Some(&b'#') {
                let end = src.iter().position(|&c| c == b'\n').unwrap_or(src.len());
                src.drain(..end);
            }
            let mut chunkname = b"@".to_vec();
            chunkname.extend_from_slice(&file);
            match ctx.st.load(&src, &chunkname, None) {
                Ok(f) => {
                    let fv = ctx.new_string(file);
                    ctx.ret(&[f, fv])
                }
                Err(e) => Err(ctx.error(format!(
                    "error loading module '{}' from file '{}':\n\t{}",
                    name.to_str_lossy(),
                    fname,
                    e.message()
                ))),
            }
        }
    }
}

fn c_search(ctx: &mut Ctx, root_only: bool) -> LuaResult<Action> {
    let name = ctx.check_str(1)?;
    let pkg = pkg_table(ctx);
    let cpath = match ctx.st.get_field(pkg, "cpath") {
        Value::Str(s) => s,
        _ => return Err(ctx.error("'package.cpath' must be a string")),
    };
    let n = name.as_bytes().to_vec();
    let target = if root_only {
        match n.iter().position(|&c| c == b'.') {
            Some(p) => n[..p].to_vec(),
            None => return ctx.ret0(),
        }
    } else {
        n
    };
    match search_path(&target, cpath.as_bytes(), b".", b"/") {
        Err(tried) => {
            let v = ctx.new_str(tried.as_bytes());
            ctx.ret1(v)
        }
        Ok(file) => Err(ctx.error(format!(
            "error loading module '{}' from file '{}':\n\tRua cannot load C modules",
            name.to_str_lossy(),
            String::from_utf8_lossy(&file)
        ))),
    }
}

fn searcher_c(ctx: &mut Ctx) -> LuaResult<Action> {
    c_search(ctx, false)
}

fn searcher_croot(ctx: &mut Ctx) -> LuaResult<Action> {
    c_search(ctx, true)
}

fn require_k(ctx: &mut Ctx, status: CallStatus, _: usize) -> LuaResult<Action> {
    let CallStatus::Ok(n) = status else {
        unreachable!("require does not catch errors")
    };
    let name = ctx.arg(1);
    let extra = ctx.arg(2);
    let result = if n > 0 {
        ctx.at(ctx.top() - n)
    } else {
        Value::Nil
    };
    let loaded = ctx.st.loaded;
    if !result.is_nil() {
        loaded.set(name, result);
    }
    let mut v = loaded.get(name);
    if v.is_nil() {
        v = Value::Bool(true);
        loaded.set(name, v);
    }
    ctx.truncate(2);
    ctx.ret(&[v, extra])
}

fn require(ctx: &mut Ctx) -> LuaResult<Action> {
    let name = ctx.check_str(1)?;
    let loaded = ctx.st.loaded;
    let v = loaded.get(Value::Str(name));
    if v.truthy() {
        return ctx.ret1(v);
    }
    let pkg = pkg_table(ctx);
    let searchers = match ctx.st.get_field(pkg, "searchers") {
        Value::Table(t) => t,
        _ => return Err(ctx.error("'package.searchers' must be a table")),
    };
    let mut msg = String::new();
    let mut i = 1;
    loop {
        let s = searchers.get_int(i);
        if s.is_nil() {
            return Err(ctx.error(format!(
                "module '{}' not found:{}",
                name.to_str_lossy(),
                msg
            )));
        }
        let r = ctx.call(s, &[Value::Str(name)], 2)?;
        match (r.first().copied(), r.get(1).copied()) {
            (Some(f), extra) if f.is_function() => {
                ctx.truncate(1);
                let extra = extra.unwrap_or(Value::Nil);
                ctx.push(extra);
                ctx.push(f);
                ctx.push(Value::Str(name));
                ctx.push(extra);
                return Ok(Action::Call {
                    nargs: 2,
                    nresults: 1,
                    cont: Cont {
                        f: require_k,
                        data: 0,
                        catch: Catch::No,
                        yieldable: true,
                    },
                });
            }
            (Some(Value::Str(m)), _) => msg.push_str(&m.to_str_lossy()),
            _ => {}
        }
        i += 1;
    }
}
