//! The interface between the VM and native (Rust) functions: the call context [`Ctx`] a native
//! receives and the [`Action`] it returns.
//!
//! A native never calls Lua recursively when it can avoid it: to call a function it returns
//! [`Action::Call`] with a continuation [`Cont`], and the VM resumes it through the continuation
//! when the callee returns (or raises, for a catching continuation like `pcall`). This keeps Lua
//! calls off the Rust stack and lets coroutines yield and host futures be awaited across such
//! natives. Natives that cannot be written this way may use [`Ctx::call`], a nested run of the
//! VM; a yield inside it raises "attempt to yield across a C-call boundary".

use crate::string::LuaStr;
use crate::table::Table;
use crate::thread::Thread;
use crate::value::Value;
use crate::vm::frame::RetMode;
use crate::vm::{LuaError, LuaResult, State};
use rua_gc::Gc;
use std::future::Future;
use std::pin::Pin;

/// Completion of an awaited host future: runs with the state borrowed and returns the
/// native's final action (usually `Return`). `Send`, like [`HostFuture`], so that an embedder
/// can drive tasks on a multi-threaded executor.
pub type Completion = Box<dyn FnOnce(&mut Ctx<'_>) -> LuaResult<Action> + Send>;

/// A pending host future. It is polled with the state *not* borrowed, possibly on another
/// thread than the one that created it, so it must be `Send`.
pub type HostFuture = Pin<Box<dyn Future<Output = Completion> + Send>>;

/// Outcome reported to a continuation.
pub enum CallStatus {
    /// The callee returned; its results are the last `n` values of the native's stack.
    Ok(usize),
    /// The callee raised (only for catching continuations).
    Err(LuaError),
}

/// Signature of a continuation: the native's context, the callee's outcome, the data word the
/// native stored when making the call.
pub type ContFn = fn(&mut Ctx<'_>, CallStatus, usize) -> LuaResult<Action>;

/// Whether and how a continuation catches errors raised by its callee.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Catch {
    No,
    /// `pcall`-style: errors are delivered to the continuation.
    Yes,
    /// `xpcall`-style: the message handler at argument 2 of the native frame runs first.
    WithHandler,
}

/// A continuation registered by a native that called a function.
#[derive(Clone, Copy)]
pub struct Cont {
    pub f: ContFn,
    pub data: usize,
    pub catch: Catch,
    /// Whether a `coroutine.yield` may suspend the thread while this continuation waits.
    /// Library functions that PUC Lua runs through a plain `lua_call` (the `__tostring` of
    /// `string.format`, `gsub` replacements, `table.sort` comparators) set `false`, so a
    /// yield inside raises "attempt to yield across a C-call boundary" and
    /// `coroutine.isyieldable` is false there, as in PUC; awaiting a host future
    /// ([`Action::Await`]) still passes through them.
    pub yieldable: bool,
}

/// What a native function asks the VM to do next.
pub enum Action {
    /// Return the last `n` values of the stack.
    Return(usize),
    /// Call the function at `stack[len - nargs - 1]` with the `nargs` values above it, wanting
    /// `nresults` results (-1: all), then run `cont`.
    Call {
        nargs: usize,
        nresults: i32,
        cont: Cont,
    },
    /// Replace this native by a call to the function at `stack[len - nargs - 1]`.
    TailCall { nargs: usize },
    /// Yield the last `n` values to the resumer.
    Yield(usize),
    /// Resume `co` with the last `nargs` values.
    Resume {
        co: Gc<Thread>,
        nargs: usize,
        kind: crate::vm::frame::ResumeKind,
    },
    /// Suspend this Lua thread until the future completes.
    Await(HostFuture),
}

/// The call context of a native function: its arguments are `stack[base .. base + nargs]`, and
/// it may push values above them.
pub struct Ctx<'a> {
    pub st: &'a mut State,
    pub(crate) base: usize,
    pub(crate) nargs: usize,
}

impl<'a> Ctx<'a> {
    #[inline]
    fn stack(&self) -> &mut Vec<Value> {
        &mut self.st.current.data().stack
    }

    /// Number of arguments.
    #[inline]
    pub fn nargs(&self) -> usize {
        self.nargs
    }

    /// Argument `i` (1-based); nil when absent.
    #[inline]
    pub fn arg(&self, i: usize) -> Value {
        if i >= 1 && i <= self.nargs {
            self.stack()[self.base + i - 1]
        } else {
            Value::Nil
        }
    }

    /// Replaces argument `i` (1-based, must exist).
    pub fn set_arg(&mut self, i: usize, v: Value) {
        let b = self.base;
        self.stack()[b + i - 1] = v;
    }

    /// All arguments, copied.
    pub fn args(&self) -> Vec<Value> {
        self.stack()[self.base..self.base + self.nargs].to_vec()
    }

    /// Current number of values in this native's stack window (arguments plus pushed values).
    #[inline]
    pub fn top(&self) -> usize {
        self.stack().len() - self.base
    }

    /// Value at window position `i` (0-based from the first argument).
    #[inline]
    pub fn at(&self, i: usize) -> Value {
        self.stack()[self.base + i]
    }

    /// Pushes a value.
    #[inline]
    pub fn push(&mut self, v: Value) {
        let s = self.stack();
        let cap = s.capacity();
        s.push(v);
        if s.capacity() != cap {
            rua_gc::alloc_debt_add((s.capacity() - cap) * 16);
        }
    }

    /// This native's stack window (its arguments and the values it pushed), for natives that
    /// keep state in stack slots across continuation calls.
    #[inline]
    pub fn window(&mut self) -> &mut [Value] {
        let b = self.base;
        &mut self.stack()[b..]
    }

    /// Removes values so that the window holds `n` values.
    pub fn truncate(&mut self, n: usize) {
        let b = self.base;
        self.stack().truncate(b + n);
    }

    /// Inserts a value at window position `i`.
    pub fn insert(&mut self, i: usize, v: Value) {
        let b = self.base;
        self.stack().insert(b + i, v);
    }

    /// Returns one value.
    #[inline]
    pub fn ret1(&mut self, v: Value) -> LuaResult<Action> {
        self.push(v);
        Ok(Action::Return(1))
    }

    /// Returns no values.
    #[inline]
    pub fn ret0(&mut self) -> LuaResult<Action> {
        Ok(Action::Return(0))
    }

    /// Returns the given values.
    pub fn ret(&mut self, vals: &[Value]) -> LuaResult<Action> {
        for v in vals {
            self.push(*v);
        }
        Ok(Action::Return(vals.len()))
    }

    /// Creates (interns) a string.
    #[inline]
    pub fn new_str(&mut self, b: &[u8]) -> Value {
        Value::Str(self.st.intern(b))
    }

    /// Creates a string from an owned buffer.
    #[inline]
    pub fn new_string(&mut self, b: Vec<u8>) -> Value {
        Value::Str(self.st.intern_vec(b))
    }

    /// Creates a new table.
    pub fn new_table(&mut self) -> Gc<Table> {
        self.st.new_table(0, 0)
    }

    /// Name of the running native for messages.
    pub fn fn_name(&self) -> String {
        self.st.current_native_name()
    }

    /// A runtime error with position information of the calling Lua code (`luaL_error`).
    pub fn error(&mut self, msg: impl AsRef<str>) -> LuaError {
        let msg = format!("{}{}", self.st.where_(1), msg.as_ref());
        self.st.error_str(&msg)
    }

    /// "bad argument #i to 'name' (msg)".
    pub fn arg_error(&mut self, i: usize, msg: impl AsRef<str>) -> LuaError {
        let (name, method) = self.st.current_native_call_name();
        if method {
            if i == 1 {
                return self.error(format!("calling '{}' on bad self ({})", name, msg.as_ref()));
            }
            return self.error(format!(
                "bad argument #{} to '{}' ({})",
                i - 1,
                name,
                msg.as_ref()
            ));
        }
        self.error(format!(
            "bad argument #{} to '{}' ({})",
            i,
            name,
            msg.as_ref()
        ))
    }

    /// "bad argument #i to 'name' (T expected, got U)".
    pub fn type_error(&mut self, i: usize, expected: &str) -> LuaError {
        let v = self.arg(i);
        let got = if i > self.nargs {
            "no value".to_string()
        } else if let Value::LightUserData(_) = v {
            "light userdata".to_string()
        } else {
            self.st.type_name_for_msg(v)
        };
        self.arg_error(i, format!("{} expected, got {}", expected, got))
    }

    /// Requires argument `i` to be present.
    pub fn check_any(&mut self, i: usize) -> LuaResult<Value> {
        if i > self.nargs {
            Err(self.arg_error(i, "value expected"))
        } else {
            Ok(self.arg(i))
        }
    }

    /// Integer argument (floats with integral values and numeric strings are converted).
    pub fn check_int(&mut self, i: usize) -> LuaResult<i64> {
        let v = self.arg(i);
        match v {
            Value::Int(n) => Ok(n),
            _ => match self.st.to_integer(v) {
                Some(n) => Ok(n),
                None => {
                    if self.st.to_number(v).is_some() {
                        Err(self.arg_error(i, "number has no integer representation"))
                    } else {
                        Err(self.type_error(i, "number"))
                    }
                }
            },
        }
    }

    /// Optional integer argument.
    pub fn opt_int(&mut self, i: usize, default: i64) -> LuaResult<i64> {
        if self.arg(i).is_nil() {
            Ok(default)
        } else {
            self.check_int(i)
        }
    }

    /// Number argument (numeric strings converted).
    pub fn check_number(&mut self, i: usize) -> LuaResult<Value> {
        let v = self.arg(i);
        match v {
            Value::Int(_) | Value::Float(_) => Ok(v),
            _ => match self.st.to_number(v) {
                Some(n) => Ok(n),
                None => Err(self.type_error(i, "number")),
            },
        }
    }

    /// Float argument.
    pub fn check_float(&mut self, i: usize) -> LuaResult<f64> {
        match self.check_number(i)? {
            Value::Int(n) => Ok(n as f64),
            Value::Float(f) => Ok(f),
            _ => unreachable!(),
        }
    }

    /// Optional float argument.
    pub fn opt_float(&mut self, i: usize, default: f64) -> LuaResult<f64> {
        if self.arg(i).is_nil() {
            Ok(default)
        } else {
            self.check_float(i)
        }
    }

    /// String argument (numbers are converted to strings, as `luaL_checklstring` does).
    pub fn check_str(&mut self, i: usize) -> LuaResult<Gc<LuaStr>> {
        let v = self.arg(i);
        match v {
            Value::Str(s) => Ok(s),
            Value::Int(_) | Value::Float(_) => {
                let s = self.st.tostring_number(v);
                if i <= self.nargs {
                    self.set_arg(i, Value::Str(s));
                }
                Ok(s)
            }
            _ => Err(self.type_error(i, "string")),
        }
    }

    /// Optional string argument.
    pub fn opt_str(&mut self, i: usize) -> LuaResult<Option<Gc<LuaStr>>> {
        if self.arg(i).is_nil() {
            Ok(None)
        } else {
            self.check_str(i).map(Some)
        }
    }

    /// Table argument.
    pub fn check_table(&mut self, i: usize) -> LuaResult<Gc<Table>> {
        match self.arg(i) {
            Value::Table(t) => Ok(t),
            _ => Err(self.type_error(i, "table")),
        }
    }

    /// Option argument from a fixed list (`luaL_checkoption`).
    pub fn check_option(
        &mut self,
        i: usize,
        default: Option<&str>,
        options: &[&str],
    ) -> LuaResult<usize> {
        let name: Vec<u8> = match (self.arg(i), default) {
            (Value::Nil, Some(d)) => d.as_bytes().to_vec(),
            _ => self.check_str(i)?.as_bytes().to_vec(),
        };
        match options.iter().position(|o| o.as_bytes() == name.as_slice()) {
            Some(p) => Ok(p),
            None => Err(self.arg_error(
                i,
                format!("invalid option '{}'", String::from_utf8_lossy(&name)),
            )),
        }
    }

    /// Calls `f` with `args` in a nested run of the VM and returns its results. Yields inside
    /// raise "attempt to yield across a C-call boundary". Prefer [`Action::Call`] where the
    /// native can be written with a continuation.
    pub fn call(&mut self, f: Value, args: &[Value], nresults: i32) -> LuaResult<Vec<Value>> {
        self.st.call_value(f, args, nresults)
    }

    /// [`Ctx::call`] adjusted to one result, without allocating a result vector (for natives
    /// that call a function many times: `table.sort`'s comparator, `string.gsub`'s replacement
    /// function).
    pub fn call1(&mut self, f: Value, args: &[Value]) -> LuaResult<Value> {
        let (func, n) = self.st.nested_run(f, args, 1, RetMode::Base)?;
        let d = self.st.current.data();
        let v = if n > 0 { d.stack[func] } else { Value::Nil };
        d.stack.truncate(func);
        Ok(v)
    }
}
