//! The os library (manual §6.9): `clock date difftime execute exit getenv remove rename
//! setlocale time tmpname`.
//!
//! Calendar conversions use the C library (`localtime_r`, `gmtime_r`, `mktime`, `strftime`) so
//! that dates, time zones and `%c`-style formats match PUC Lua exactly; everything else uses
//! the Rust standard library. Failures are reported like `luaL_fileresult` /
//! `luaL_execresult`: `nil, message, code`.

use crate::stdlib::base::index_value;
use crate::stdlib::os_error_text;
use crate::stdlib::table::set_index;
use crate::value::Value;
use crate::vm::native::{Action, Ctx};
use crate::vm::{LuaResult, State};
use std::ffi::{CStr, CString, OsStr};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::process::ExitStatusExt;

/// Installs the `os` table.
pub fn open(st: &mut State) {
    let t = st.new_table(0, 12);
    st.register(t, "clock", clock);
    st.register(t, "date", date);
    st.register(t, "difftime", difftime);
    st.register(t, "execute", execute);
    st.register(t, "exit", exit);
    st.register(t, "getenv", getenv);
    st.register(t, "remove", remove);
    st.register(t, "rename", rename);
    st.register(t, "setlocale", setlocale);
    st.register(t, "time", time);
    st.register(t, "tmpname", tmpname);
    let g = st.globals;
    st.set_field(g, "os", Value::Table(t));
    let l = st.loaded;
    st.set_field(l, "os", Value::Table(t));
}

/// `luaL_fileresult` for a failure: returns `nil, "[fname: ]message", errno`.
pub(crate) fn file_error(
    ctx: &mut Ctx,
    e: &std::io::Error,
    fname: Option<&[u8]>,
) -> LuaResult<Action> {
    let mut msg = Vec::new();
    if let Some(f) = fname {
        msg.extend_from_slice(f);
        msg.extend_from_slice(b": ");
    }
    msg.extend_from_slice(os_error_text(e).as_bytes());
    let m = ctx.new_string(msg);
    let code = e.raw_os_error().unwrap_or(0);
    ctx.ret(&[Value::Nil, m, Value::Int(i64::from(code))])
}

/// `luaL_execresult` for a finished process: `true|nil, "exit"|"signal", code`.
pub(crate) fn exec_result(ctx: &mut Ctx, status: std::process::ExitStatus) -> LuaResult<Action> {
    let (what, code): (&[u8], i64) = match (status.code(), status.signal()) {
        (Some(c), _) => (b"exit", i64::from(c)),
        (None, Some(s)) => (b"signal", i64::from(s)),
        (None, None) => (b"exit", 0),
    };
    let ok = if what == b"exit" && code == 0 {
        Value::Bool(true)
    } else {
        Value::Nil
    };
    let w = ctx.new_str(what);
    ctx.ret(&[ok, w, Value::Int(code)])
}

/// Bytes of a Lua string as an OS path/argument.
fn os_str(b: &[u8]) -> &OsStr {
    OsStr::from_bytes(b)
}

fn clock(ctx: &mut Ctx) -> LuaResult<Action> {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec; CLOCK_PROCESS_CPUTIME_ID is what glibc's
    // `clock()` uses.
    let r = unsafe { libc::clock_gettime(libc::CLOCK_PROCESS_CPUTIME_ID, &mut ts) };
    let secs = if r == 0 {
        // Microsecond resolution, as `clock() / CLOCKS_PER_SEC`.
        let micros = ts.tv_sec * 1_000_000 + ts.tv_nsec / 1000;
        micros as f64 / 1_000_000.0
    } else {
        -1.0
    };
    ctx.ret1(Value::Float(secs))
}

fn getenv(ctx: &mut Ctx) -> LuaResult<Action> {
    let name = ctx.check_str(1)?;
    let b = name.as_bytes();
    let key = &b[..b.iter().position(|&c| c == 0).unwrap_or(b.len())];
    if key.is_empty() || key.contains(&b'=') {
        return ctx.ret1(Value::Nil);
    }
    match std::env::var_os(os_str(key)) {
        Some(v) => {
            let s = ctx.new_str(v.as_bytes());
            ctx.ret1(s)
        }
        None => ctx.ret1(Value::Nil),
    }
}

fn remove(ctx: &mut Ctx) -> LuaResult<Action> {
    let name = ctx.check_str(1)?;
    let path = os_str(name.as_bytes());
    // C's remove(): unlink, or rmdir for directories.
    let r = match std::fs::remove_file(path) {
        Err(e) if e.raw_os_error() == Some(libc::EISDIR) => std::fs::remove_dir(path),
        r => r,
    };
    match r {
        Ok(()) => ctx.ret1(Value::Bool(true)),
        Err(e) => file_error(ctx, &e, Some(name.as_bytes())),
    }
}

fn rename(ctx: &mut Ctx) -> LuaResult<Action> {
    let from = ctx.check_str(1)?;
    let to = ctx.check_str(2)?;
    match std::fs::rename(os_str(from.as_bytes()), os_str(to.as_bytes())) {
        Ok(()) => ctx.ret1(Value::Bool(true)),
        Err(e) => file_error(ctx, &e, None),
    }
}

/// A small time/pid-seeded generator for temporary names.
fn tmp_suffix(attempt: u64) -> String {
    const CHARS: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0);
    let mut x = nanos ^ (u64::from(std::process::id()) << 32) ^ attempt.wrapping_mul(0x9E37_79B9);
    (0..6)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            CHARS[(x % CHARS.len() as u64) as usize] as char
        })
        .collect()
}

fn tmpname(ctx: &mut Ctx) -> LuaResult<Action> {
    for attempt in 0..100 {
        let name = format!("/tmp/lua_{}", tmp_suffix(attempt));
        let r = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&name);
        match r {
            Ok(_) => {
                let s = ctx.new_str(name.as_bytes());
                return ctx.ret1(s);
            }
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(_) => break,
        }
    }
    Err(ctx.error("unable to generate a unique filename"))
}

fn execute(ctx: &mut Ctx) -> LuaResult<Action> {
    let cmd = ctx.opt_str(1)?;
    let Some(cmd) = cmd else {
        let has_shell = std::path::Path::new("/bin/sh").exists();
        return ctx.ret1(Value::Bool(has_shell));
    };
    use std::io::Write;
    let _ = std::io::stdout().flush();
    crate::stdlib::io::flush_all(ctx.st);
    let status = std::process::Command::new("/bin/sh")
        .arg("-c")
        .arg(os_str(cmd.as_bytes()))
        .status();
    match status {
        Ok(s) => exec_result(ctx, s),
        Err(e) => file_error(ctx, &e, None),
    }
}

fn exit(ctx: &mut Ctx) -> LuaResult<Action> {
    let status = match ctx.arg(1) {
        Value::Bool(b) => i32::from(!b),
        _ => ctx.opt_int(1, 0)? as i32,
    };
    if ctx.arg(2).truthy() {
        ctx.st.close_state();
    }
    crate::stdlib::io::flush_all(ctx.st);
    use std::io::Write;
    let _ = std::io::stdout().flush();
    let _ = std::io::stderr().flush();
    std::process::exit(status)
}

fn setlocale(ctx: &mut Ctx) -> LuaResult<Action> {
    const CATS: [libc::c_int; 6] = [
        libc::LC_ALL,
        libc::LC_COLLATE,
        libc::LC_CTYPE,
        libc::LC_MONETARY,
        libc::LC_NUMERIC,
        libc::LC_TIME,
    ];
    let locale = ctx.opt_str(1)?;
    let op = ctx.check_option(
        2,
        Some("all"),
        &["all", "collate", "ctype", "monetary", "numeric", "time"],
    )?;
    let cstr = locale.map(|l| {
        let b = l.as_bytes();
        let b = &b[..b.iter().position(|&c| c == 0).unwrap_or(b.len())];
        CString::new(b).unwrap_or_default()
    });
    let ptr = cstr.as_ref().map_or(std::ptr::null(), |c| c.as_ptr());
    // SAFETY: `ptr` is null or a valid NUL-terminated string that outlives the call; the
    // returned pointer (if not null) is a NUL-terminated string valid until the next call,
    // and it is copied before that.
    let r = unsafe { libc::setlocale(CATS[op], ptr) };
    if r.is_null() {
        return ctx.ret1(Value::Nil);
    }
    // SAFETY: `r` is a non-null NUL-terminated string returned by setlocale (see above).
    let name = unsafe { CStr::from_ptr(r) }.to_bytes().to_vec();
    let v = ctx.new_string(name);
    ctx.ret1(v)
}

// ---------------------------------------------------------------------------------------------
// Time and date

/// A zeroed `struct tm`.
fn empty_tm() -> libc::tm {
    libc::tm {
        tm_sec: 0,
        tm_min: 0,
        tm_hour: 0,
        tm_mday: 0,
        tm_mon: 0,
        tm_year: 0,
        tm_wday: 0,
        tm_yday: 0,
        tm_isdst: 0,
        tm_gmtoff: 0,
        tm_zone: std::ptr::null(),
    }
}

/// Current time in seconds since the epoch.
fn now() -> i64 {
    match std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH) {
        Ok(d) => d.as_secs() as i64,
        Err(e) => -(e.duration().as_secs() as i64),
    }
}

/// Broken-down time of `t` in UTC or local time; `None` when it cannot be represented.
fn broken_down(t: i64, utc: bool) -> Option<libc::tm> {
    let tt = t as libc::time_t;
    let mut tm = empty_tm();
    // SAFETY: both pointers refer to valid, properly aligned local values; the functions are
    // the reentrant variants and write only into `tm`.
    let r = unsafe {
        if utc {
            libc::gmtime_r(&tt, &mut tm)
        } else {
            libc::localtime_r(&tt, &mut tm)
        }
    };
    if r.is_null() {
        None
    } else {
        Some(tm)
    }
}

/// `t[key] = value` with metamethods.
fn set_int_field(ctx: &mut Ctx, t: Value, key: &str, value: i64) -> LuaResult<()> {
    let k = ctx.st.str_value(key);
    set_index(ctx, t, k, Value::Int(value))
}

/// Sets the date fields of table `t` from `tm` (`setallfields`).
fn set_all_fields(ctx: &mut Ctx, t: Value, tm: &libc::tm) -> LuaResult<()> {
    set_int_field(ctx, t, "year", i64::from(tm.tm_year) + 1900)?;
    set_int_field(ctx, t, "month", i64::from(tm.tm_mon) + 1)?;
    set_int_field(ctx, t, "day", i64::from(tm.tm_mday))?;
    set_int_field(ctx, t, "hour", i64::from(tm.tm_hour))?;
    set_int_field(ctx, t, "min", i64::from(tm.tm_min))?;
    set_int_field(ctx, t, "sec", i64::from(tm.tm_sec))?;
    set_int_field(ctx, t, "yday", i64::from(tm.tm_yday) + 1)?;
    set_int_field(ctx, t, "wday", i64::from(tm.tm_wday) + 1)?;
    if tm.tm_isdst >= 0 {
        let k = ctx.st.str_value("isdst");
        set_index(ctx, t, k, Value::Bool(tm.tm_isdst != 0))?;
    }
    Ok(())
}

/// Reads an integer date field (`getfield`): `default < 0` means required; `delta` is
/// subtracted from the value.
fn get_field(ctx: &mut Ctx, t: Value, key: &str, default: i32, delta: i32) -> LuaResult<i32> {
    let k = ctx.st.str_value(key);
    let v = index_value(ctx, t, k)?;
    match ctx.st.to_integer(v) {
        None => {
            if !v.is_nil() {
                Err(ctx.error(format!("field '{}' is not an integer", key)))
            } else if default < 0 {
                Err(ctx.error(format!("field '{}' missing in date table", key)))
            } else {
                Ok(default)
            }
        }
        Some(res) => {
            let delta = i64::from(delta);
            let ok = if res >= 0 {
                res - delta <= i64::from(i32::MAX)
            } else {
                i64::from(i32::MIN) + delta <= res
            };
            if !ok {
                return Err(ctx.error(format!("field '{}' is out-of-bound", key)));
            }
            Ok((res - delta) as i32)
        }
    }
}

fn time(ctx: &mut Ctx) -> LuaResult<Action> {
    if ctx.arg(1).is_nil() {
        return ctx.ret1(Value::Int(now()));
    }
    let t = ctx.arg(1);
    if !matches!(t, Value::Table(_)) {
        return Err(ctx.type_error(1, "table"));
    }
    let mut tm = empty_tm();
    tm.tm_year = get_field(ctx, t, "year", -1, 1900)?;
    tm.tm_mon = get_field(ctx, t, "month", -1, 1)?;
    tm.tm_mday = get_field(ctx, t, "day", -1, 0)?;
    tm.tm_hour = get_field(ctx, t, "hour", 12, 0)?;
    tm.tm_min = get_field(ctx, t, "min", 0, 0)?;
    tm.tm_sec = get_field(ctx, t, "sec", 0, 0)?;
    let k = ctx.st.str_value("isdst");
    let isdst = index_value(ctx, t, k)?;
    tm.tm_isdst = if isdst.is_nil() {
        -1
    } else {
        i32::from(isdst.truthy())
    };
    // SAFETY: `tm` is a valid, initialized struct tm that mktime may normalize in place.
    let r = unsafe { libc::mktime(&mut tm) };
    set_all_fields(ctx, t, &tm)?;
    if r == -1 {
        return Err(ctx.error("time result cannot be represented in this installation"));
    }
    ctx.ret1(Value::Int(r as i64))
}

fn difftime(ctx: &mut Ctx) -> LuaResult<Action> {
    let t1 = ctx.check_int(1)?;
    let t2 = ctx.check_int(2)?;
    ctx.ret1(Value::Float(t1 as f64 - t2 as f64))
}

/// Conversion specifiers accepted by `os.date` (C99): one-character ones, then, after each
/// `|`, those one character longer.
const STRFTIME_OPTIONS: &[u8] =
    b"aAbBcCdDeFgGhHIjmMnprRStTuUVwWxXyYzZ%||EcECExEXEyEYOdOeOHOIOmOMOSOuOUOVOwOWOy";

/// Length of the valid conversion specifier at the start of `conv`, if any (PUC's
/// `checkoption`: each `|` makes the following options one character longer).
fn check_option(conv: &[u8]) -> Option<usize> {
    let mut oplen = 1;
    let mut i = 0;
    while i < STRFTIME_OPTIONS.len() && oplen <= conv.len() {
        if STRFTIME_OPTIONS[i] == b'|' {
            oplen += 1;
        } else if STRFTIME_OPTIONS.get(i..i + oplen) == Some(&conv[..oplen]) {
            return Some(oplen);
        }
        i += oplen;
    }
    None
}

/// `strftime` of one conversion (`%` plus `spec`) for `tm`, appended to `out`.
fn strftime_one(spec: &[u8], tm: &libc::tm, out: &mut Vec<u8>) {
    let mut fmt = Vec::with_capacity(spec.len() + 2);
    fmt.push(b'%');
    fmt.extend_from_slice(spec);
    fmt.push(0);
    let mut buf = [0u8; 250];
    // SAFETY: `buf` is writable for its full length, `fmt` is NUL-terminated and `tm` is a
    // valid struct tm produced by localtime_r/gmtime_r (its tm_zone points at static data).
    let n = unsafe { libc::strftime(buf.as_mut_ptr().cast(), buf.len(), fmt.as_ptr().cast(), tm) };
    out.extend_from_slice(&buf[..n.min(buf.len())]);
}

fn date(ctx: &mut Ctx) -> LuaResult<Action> {
    let fmt = match ctx.opt_str(1)? {
        Some(s) => s.as_bytes().to_vec(),
        None => b"%c".to_vec(),
    };
    let t = if ctx.arg(2).is_nil() {
        now()
    } else {
        ctx.check_int(2)?
    };
    let (utc, mut s) = match fmt.split_first() {
        Some((b'!', rest)) => (true, rest),
        _ => (false, &fmt[..]),
    };
    let Some(tm) = broken_down(t, utc) else {
        return Err(ctx.error("date result cannot be represented in this installation"));
    };
    let cstr_end = s.iter().position(|&c| c == 0).unwrap_or(s.len());
    if &s[..cstr_end] == b"*t" {
        let tab = ctx.st.new_table(0, 9);
        set_all_fields(ctx, Value::Table(tab), &tm)?;
        return ctx.ret1(Value::Table(tab));
    }
    let mut out = Vec::new();
    while let Some((&c, rest)) = s.split_first() {
        if c != b'%' {
            out.push(c);
            s = rest;
            continue;
        }
        match check_option(rest) {
            Some(n) => {
                strftime_one(&rest[..n], &tm, &mut out);
                s = &rest[n..];
            }
            None => {
                let end = rest.iter().position(|&c| c == 0).unwrap_or(rest.len());
                let msg = format!(
                    "invalid conversion specifier '%{}'",
                    String::from_utf8_lossy(&rest[..end])
                );
                return Err(ctx.arg_error(1, msg));
            }
        }
    }
    let v = ctx.new_string(out);
    ctx.ret1(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strftime_options() {
        assert_eq!(check_option(b"Y-%m"), Some(1));
        assert_eq!(check_option(b"Ec"), Some(2));
        assert_eq!(check_option(b"OH"), Some(2));
        assert_eq!(check_option(b"Ez"), None);
        assert_eq!(check_option(b"Q"), None);
        assert_eq!(check_option(b"E"), None);
        assert_eq!(check_option(b""), None);
    }
}
