//! Lua errors as Rust values, and the construction of runtime error messages with positions
//! (`chunk:line:`) and variable names ("attempt to index a nil value (local 'x')").

use crate::string::StrExt;
use crate::value::Value;
use crate::vm::frame::FrameKind;
use crate::vm::State;
use std::fmt;

/// A raised Lua error: any Lua value, plus a traceback when one was captured.
pub struct LuaError(Box<ErrorInner>);

struct ErrorInner {
    value: Value,
    traceback: Option<String>,
    /// The message handler of the catching `xpcall` has already transformed `value`.
    handled: bool,
    kind: ErrorKind,
}

/// What kind of failure an error reports (for hosts; Lua code sees only the value).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorKind {
    /// Raised by Lua code or a library function (`error`, runtime errors).
    Runtime,
    /// "not enough memory": an allocation beyond the state's memory limit (catchable, as
    /// PUC's `LUA_ERRMEM`; message handlers do not run for it).
    Memory,
    /// The state's instruction limit was exceeded. Uncatchable: `pcall`, `xpcall`,
    /// `coroutine.resume` and the like let it pass (pending `__close` handlers still run), so
    /// it always reaches the host.
    InstructionLimit,
}

impl LuaError {
    pub fn new(value: Value) -> LuaError {
        Self::with_kind(value, ErrorKind::Runtime)
    }

    /// An error of a given kind.
    pub fn with_kind(value: Value, kind: ErrorKind) -> LuaError {
        LuaError(Box::new(ErrorInner {
            value,
            traceback: None,
            handled: false,
            kind,
        }))
    }

    /// The kind of failure.
    #[inline]
    pub fn kind(&self) -> ErrorKind {
        self.0.kind
    }

    /// `true` for errors that protected calls inside Lua must not catch.
    #[inline]
    pub fn is_uncatchable(&self) -> bool {
        self.0.kind == ErrorKind::InstructionLimit
    }

    /// The error value.
    #[inline]
    pub fn value(&self) -> Value {
        self.0.value
    }

    pub fn set_value(&mut self, v: Value) {
        self.0.value = v;
    }

    /// `true` once an `xpcall` message handler has processed this error.
    pub fn handled(&self) -> bool {
        self.0.handled
    }

    pub fn set_handled(&mut self) {
        self.0.handled = true;
    }

    pub fn traceback(&self) -> Option<&str> {
        self.0.traceback.as_deref()
    }

    pub fn set_traceback(&mut self, tb: String) {
        self.0.traceback = Some(tb);
    }

    /// The message if the value is a string or number, else a description.
    pub fn message(&self) -> String {
        match self.0.value {
            Value::Str(s) => s.to_str_lossy().into_owned(),
            Value::Int(i) => i.to_string(),
            Value::Float(f) => {
                let mut b = Vec::new();
                crate::number::fmt_float(f, &mut b);
                String::from_utf8_lossy(&b).into_owned()
            }
            Value::Nil => "nil".into(),
            v => format!("(error object is a {} value)", v.type_name()),
        }
    }
}

impl fmt::Debug for LuaError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "LuaError({})", self.message())
    }
}

impl fmt::Display for LuaError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.message())
    }
}

impl State {
    /// Position prefix `chunk:line: ` of the Lua function at `level` (0 = the running function,
    /// 1 = its caller...) as `luaL_where`; empty for native frames and for functions without
    /// line information (stripped binary chunks), as in PUC.
    pub fn where_(&self, level: usize) -> String {
        self.position(level, false)
    }

    /// `chunk:line: ` of the Lua function at `level`. Stripped chunks have no line
    /// information: then `chunk:-1: ` when `runtime` (PUC's runtime errors), or nothing (as
    /// `luaL_where`, used by `error` and `luaL_error`).
    fn position(&self, level: usize, runtime: bool) -> String {
        let frames = &self.current.data().frames;
        if level >= frames.len() {
            return String::new();
        }
        let f = &frames[frames.len() - 1 - level];
        match f.kind {
            FrameKind::Lua { cl, .. } => {
                let p = &cl.proto.proto;
                let id = crate::chunkid::chunk_id(&p.source);
                match p.lines.get((f.pc as usize).saturating_sub(1)) {
                    Some(line) => format!("{}:{}: ", id, line),
                    None if runtime => format!("{}:-1: ", id),
                    None => String::new(),
                }
            }
            FrameKind::Native { .. } => String::new(),
        }
    }

    /// A runtime error raised by the running Lua function, with its position.
    #[cold]
    #[inline(never)]
    pub fn rt_error(&mut self, msg: &str) -> super::LuaError {
        let m = format!("{}{}", self.position(0, true), msg);
        self.error_str(&m)
    }

    /// Describes register `reg` of the running Lua frame for messages: ` (local 'x')` or empty.
    #[cold]
    #[inline(never)]
    pub fn var_info(&self, reg: usize) -> String {
        let frames = &self.current.data().frames;
        if let Some(f) = frames.last() {
            if let FrameKind::Lua { cl, .. } = f.kind {
                let p = &cl.proto.proto;
                if let Some((kind, name)) =
                    super::debuginfo::obj_name(p, (f.pc as usize).saturating_sub(1), reg)
                {
                    return format!(" ({} '{}')", kind, name);
                }
            }
        }
        String::new()
    }

    /// Describes upvalue `idx` of the running Lua frame for messages.
    #[cold]
    #[inline(never)]
    pub fn upval_info(&self, idx: usize) -> String {
        let frames = &self.current.data().frames;
        if let Some(f) = frames.last() {
            if let FrameKind::Lua { cl, .. } = f.kind {
                if let Some(u) = cl.proto.proto.upvalues.get(idx) {
                    // Stripped chunks have no names ("?" as in PUC).
                    let name = if u.name.is_empty() { "?" } else { &u.name };
                    return format!(" (upvalue '{}')", name);
                }
            }
        }
        String::new()
    }

    /// "attempt to <op> a <type> value<varinfo>".
    #[cold]
    #[inline(never)]
    pub fn type_error_msg(&mut self, v: Value, op: &str, varinfo: String) -> super::LuaError {
        let t = self.type_name_for_msg(v);
        self.rt_error(&format!("attempt to {} a {} value{}", op, t, varinfo))
    }
}
