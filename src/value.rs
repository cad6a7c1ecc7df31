//! Public values: [`Value`], the rooted handle [`ValueRef`] behind every reference type,
//! [`String`], [`Thread`], [`LightUserData`], [`MultiValue`], [`Variadic`] and
//! [`RegistryKey`].
//!
//! Reference types have no lifetime parameter: each holds a root slot of its state (see
//! `lua.rs`) and a weak reference to the state, so a value stored inside its own state (a
//! closure capturing a table) makes no reference cycle. Using a handle after its state was
//! dropped gives [`Error::MismatchedState`].

use crate::error::{Error, Result};
use crate::lua::{Lua, WeakLua};
use std::collections::VecDeque;
use std::fmt;
use std::ops::{Deref, DerefMut};

/// The interpreter's own value type.
pub(crate) type RawValue = rua_interp::value::Value;

/// A rooted reference to a collectable Lua value.
pub struct ValueRef {
    pub(crate) lua: WeakLua,
    pub(crate) slot: usize,
}

impl ValueRef {
    pub(crate) fn lua(&self) -> Result<Lua> {
        self.lua.upgrade()
    }

    /// Runs `f` with the state and this handle's raw value.
    pub(crate) fn with_raw<R>(
        &self,
        f: impl FnOnce(&Lua, &mut rua_interp::vm::State, RawValue) -> Result<R>,
    ) -> Result<R> {
        let lua = self.lua()?;
        lua.with_state(|st| {
            let v = lua.ref_to_raw(st, self)?;
            f(&lua, st, v)
        })?
    }
}

impl Clone for ValueRef {
    fn clone(&self) -> Self {
        if let Some(inner) = self.lua.0.upgrade() {
            inner.retain(self.slot);
        }
        ValueRef {
            lua: self.lua.clone(),
            slot: self.slot,
        }
    }
}

impl Drop for ValueRef {
    fn drop(&mut self) {
        if let Some(inner) = self.lua.0.upgrade() {
            inner.release(self.slot);
        }
    }
}

impl PartialEq for ValueRef {
    /// Raw equality of the referenced values (the same object, or equal strings).
    fn eq(&self, other: &Self) -> bool {
        if !self.lua.0.ptr_eq(&other.lua.0) {
            return false;
        }
        self.with_raw(|lua, st, a| {
            let b = lua.ref_to_raw(st, other)?;
            Ok(a.raw_eq(&b))
        })
        .unwrap_or(false)
    }
}

impl fmt::Debug for ValueRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let d = self
            .with_raw(|_, _, v| Ok(format!("{v:?}")))
            .unwrap_or_else(|_| "<dropped state>".into());
        f.write_str(&d)
    }
}

/// A light userdata: a raw pointer value Lua stores but never dereferences.
///
/// ```
/// let lua = rua::Lua::new();
/// let p = rua::LightUserData(8 as *mut std::ffi::c_void);
/// lua.globals().set("p", p).unwrap();
/// assert_eq!(lua.load("return type(p)").eval::<String>().unwrap(), "userdata");
/// assert_eq!(lua.globals().get::<rua::LightUserData>("p").unwrap(), p);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct LightUserData(pub *mut std::ffi::c_void);

// SAFETY: a light userdata is an address that Rua stores and compares but never dereferences,
// so sending or sharing it cannot cause a data race through Rua.
unsafe impl Send for LightUserData {}
// SAFETY: as above.
unsafe impl Sync for LightUserData {}

/// A Lua value held by Rust. Objects (strings, tables, functions, threads, userdata) are
/// rooted handles: they stay valid while held.
///
/// ```
/// let lua = rua::Lua::new();
/// let v: rua::Value = lua.load("{1, 2}").eval().unwrap();
/// assert_eq!(v.type_name(), "table");
/// assert!(v.as_table().is_some());
/// ```
#[derive(Clone, Debug, Default)]
pub enum Value {
    /// `nil`
    #[default]
    Nil,
    /// `true` or `false`
    Boolean(bool),
    /// A raw pointer (Lua's light userdata).
    LightUserData(LightUserData),
    /// A Lua integer (`math.type(x) == "integer"`).
    Integer(i64),
    /// A Lua float.
    Number(f64),
    /// A string (bytes, not necessarily UTF-8).
    String(String),
    /// A table.
    Table(crate::Table),
    /// A Lua function or host function.
    Function(crate::Function),
    /// A coroutine.
    Thread(Thread),
    /// A full userdata.
    UserData(crate::AnyUserData),
    /// An error value carrying a Rust [`Error`] (what `pcall` returns for an error raised by
    /// a host function).
    Error(Box<Error>),
}

impl Value {
    /// The null sentinel used by serde conversions (a light userdata with a null pointer).
    ///
    /// ```
    /// let lua = rua::Lua::new();
    /// assert!(rua::Value::NULL.is_null());
    /// assert!(lua.load("return ...").call::<rua::Value>(rua::Value::NULL).unwrap().is_null());
    /// ```
    pub const NULL: Value = Value::LightUserData(LightUserData(std::ptr::null_mut()));

    /// The name `type()` gives this value (`"error"` for [`Value::Error`]).
    ///
    /// ```
    /// assert_eq!(rua::Value::Integer(1).type_name(), "integer");
    /// assert_eq!(rua::Value::Number(1.5).type_name(), "number");
    /// ```
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::Nil => "nil",
            Value::Boolean(_) => "boolean",
            Value::LightUserData(_) => "lightuserdata",
            Value::Integer(_) => "integer",
            Value::Number(_) => "number",
            Value::String(_) => "string",
            Value::Table(_) => "table",
            Value::Function(_) => "function",
            Value::Thread(_) => "thread",
            Value::UserData(_) => "userdata",
            Value::Error(_) => "error",
        }
    }

    /// `true` for `nil`.
    ///
    /// ```
    /// assert!(rua::Value::Nil.is_nil());
    /// ```
    pub fn is_nil(&self) -> bool {
        matches!(self, Value::Nil)
    }

    /// `true` for [`Value::NULL`].
    ///
    /// ```
    /// assert!(!rua::Value::Nil.is_null());
    /// ```
    pub fn is_null(&self) -> bool {
        matches!(self, Value::LightUserData(p) if p.0.is_null())
    }

    /// The integer, if this is an integer.
    ///
    /// ```
    /// assert_eq!(rua::Value::Integer(3).as_integer(), Some(3));
    /// ```
    pub fn as_integer(&self) -> Option<i64> {
        match self {
            Value::Integer(i) => Some(*i),
            _ => None,
        }
    }

    /// The number as `f64`, if this is a number.
    ///
    /// ```
    /// assert_eq!(rua::Value::Integer(3).as_number(), Some(3.0));
    /// ```
    pub fn as_number(&self) -> Option<f64> {
        match self {
            Value::Integer(i) => Some(*i as f64),
            Value::Number(n) => Some(*n),
            _ => None,
        }
    }

    /// The boolean, if this is one.
    ///
    /// ```
    /// assert_eq!(rua::Value::Boolean(true).as_boolean(), Some(true));
    /// ```
    pub fn as_boolean(&self) -> Option<bool> {
        match self {
            Value::Boolean(b) => Some(*b),
            _ => None,
        }
    }

    /// The string, if this is one.
    ///
    /// ```
    /// let lua = rua::Lua::new();
    /// let v = lua.pack("hi").unwrap();
    /// assert_eq!(v.as_string().unwrap().to_str().unwrap(), "hi");
    /// ```
    pub fn as_string(&self) -> Option<&String> {
        match self {
            Value::String(s) => Some(s),
            _ => None,
        }
    }

    /// The table, if this is one.
    ///
    /// ```
    /// assert!(rua::Value::Nil.as_table().is_none());
    /// ```
    pub fn as_table(&self) -> Option<&crate::Table> {
        match self {
            Value::Table(t) => Some(t),
            _ => None,
        }
    }

    /// The function, if this is one.
    ///
    /// ```
    /// let lua = rua::Lua::new();
    /// let v: rua::Value = lua.globals().get("print").unwrap();
    /// assert!(v.as_function().is_some());
    /// ```
    pub fn as_function(&self) -> Option<&crate::Function> {
        match self {
            Value::Function(f) => Some(f),
            _ => None,
        }
    }

    /// The userdata, if this is one.
    ///
    /// ```
    /// assert!(rua::Value::Nil.as_userdata().is_none());
    /// ```
    pub fn as_userdata(&self) -> Option<&crate::AnyUserData> {
        match self {
            Value::UserData(u) => Some(u),
            _ => None,
        }
    }

    /// Converts to a string like Lua's `tostring` (calling `__tostring` if present).
    ///
    /// ```
    /// let lua = rua::Lua::new();
    /// assert_eq!(rua::Value::Number(0.5).to_string().unwrap(), "0.5");
    /// ```
    pub fn to_string(&self) -> Result<std::string::String> {
        match self {
            Value::Nil => Ok("nil".into()),
            Value::Boolean(b) => Ok(b.to_string()),
            Value::Integer(i) => Ok(i.to_string()),
            Value::Number(n) => {
                let mut b = Vec::new();
                rua_interp::number::fmt_float(*n, &mut b);
                Ok(std::string::String::from_utf8_lossy(&b).into_owned())
            }
            Value::LightUserData(p) => Ok(format!("userdata: {:p}", p.0)),
            Value::Error(e) => Ok(e.to_string()),
            Value::String(s) => Ok(s.to_string_lossy()),
            Value::Table(crate::Table(r))
            | Value::Function(crate::Function(r))
            | Value::Thread(Thread(r))
            | Value::UserData(crate::AnyUserData(r)) => {
                let lua = r.lua()?;
                let ts: crate::Function = lua.globals().raw_get("tostring")?;
                ts.call(self.clone())
            }
        }
    }
}

impl PartialEq for Value {
    /// Raw equality (no `__eq`): numbers by value, strings by content, objects by identity.
    fn eq(&self, other: &Value) -> bool {
        match (self, other) {
            (Value::Nil, Value::Nil) => true,
            (Value::Boolean(a), Value::Boolean(b)) => a == b,
            (Value::LightUserData(a), Value::LightUserData(b)) => a == b,
            (Value::Integer(a), Value::Integer(b)) => a == b,
            (Value::Number(a), Value::Number(b)) => a == b,
            (Value::Integer(i), Value::Number(f)) | (Value::Number(f), Value::Integer(i)) => {
                rua_interp::value::int_float_eq(*i, *f)
            }
            (Value::String(a), Value::String(b)) => *a.as_bytes() == *b.as_bytes(),
            (Value::Table(a), Value::Table(b)) => a.0 == b.0,
            (Value::Function(a), Value::Function(b)) => a.0 == b.0,
            (Value::Thread(a), Value::Thread(b)) => a.0 == b.0,
            (Value::UserData(a), Value::UserData(b)) => a.0 == b.0,
            _ => false,
        }
    }
}

/// A Lua string: bytes, not necessarily UTF-8.
///
/// ```
/// let lua = rua::Lua::new();
/// let s: rua::String = lua.load("return 'héllo'").eval().unwrap();
/// assert_eq!(s.to_str().unwrap(), "héllo");
/// assert_eq!(s.as_bytes().len(), 6);
/// ```
#[derive(Clone, PartialEq)]
pub struct String(pub(crate) ValueRef);

/// The bytes of a [`String`], borrowed from the heap (which keeps them in place).
///
/// ```
/// let lua = rua::Lua::new();
/// let s = lua.create_string("abc").unwrap();
/// let b = s.as_bytes();
/// assert_eq!(&*b, b"abc");
/// assert_eq!(b.as_ref().len(), 3);
/// ```
pub struct BorrowedBytes<'a> {
    bytes: &'a [u8],
    // Keeps the state (and so the heap holding `bytes`) alive while borrowed.
    _lua: Option<Lua>,
}

impl Deref for BorrowedBytes<'_> {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        self.bytes
    }
}

impl AsRef<[u8]> for BorrowedBytes<'_> {
    fn as_ref(&self) -> &[u8] {
        self.bytes
    }
}

impl fmt::Debug for BorrowedBytes<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.bytes, f)
    }
}

impl String {
    /// The bytes (empty if the state was dropped).
    ///
    /// ```
    /// let lua = rua::Lua::new();
    /// assert_eq!(&*lua.create_string("ab").unwrap().as_bytes(), b"ab");
    /// ```
    pub fn as_bytes(&self) -> BorrowedBytes<'_> {
        let r = self.0.with_raw(|lua, _, v| match v {
            RawValue::Str(s) => {
                let p: *const [u8] = s.as_bytes();
                Ok((p, lua.clone()))
            }
            _ => Err(Error::MismatchedState),
        });
        match r {
            // SAFETY: the string object is rooted by `self` for at least `'_`, the heap never
            // moves objects and strings are immutable, and the `Lua` kept in the result keeps
            // the heap alive; so the bytes stay valid and unchanged while borrowed.
            Ok((p, lua)) => BorrowedBytes {
                bytes: unsafe { &*p },
                _lua: Some(lua),
            },
            Err(_) => BorrowedBytes {
                bytes: &[],
                _lua: None,
            },
        }
    }

    /// The string as UTF-8, or an error naming the conversion.
    ///
    /// ```
    /// let lua = rua::Lua::new();
    /// assert!(lua.create_string(b"\xff").unwrap().to_str().is_err());
    /// ```
    pub fn to_str(&self) -> Result<std::string::String> {
        std::string::String::from_utf8(self.as_bytes().to_vec()).map_err(|e| {
            Error::from_lua_conv("string", "&str", Some(format!("invalid utf-8: {e}")))
        })
    }

    /// The string with invalid UTF-8 replaced by U+FFFD.
    ///
    /// ```
    /// let lua = rua::Lua::new();
    /// assert_eq!(lua.create_string(b"a\xff").unwrap().to_string_lossy(), "a\u{fffd}");
    /// ```
    pub fn to_string_lossy(&self) -> std::string::String {
        std::string::String::from_utf8_lossy(&self.as_bytes()).into_owned()
    }
}

impl fmt::Debug for String {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", self.to_string_lossy())
    }
}

impl PartialEq<str> for String {
    fn eq(&self, other: &str) -> bool {
        &*self.as_bytes() == other.as_bytes()
    }
}

impl PartialEq<&str> for String {
    fn eq(&self, other: &&str) -> bool {
        &*self.as_bytes() == other.as_bytes()
    }
}

/// A Lua thread (coroutine).
///
/// ```
/// let lua = rua::Lua::new();
/// let co: rua::Thread = lua.load("coroutine.create(function() end)").eval().unwrap();
/// assert_eq!(co.status(), rua::ThreadStatus::Resumable);
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct Thread(pub(crate) ValueRef);

/// Status of a [`Thread`] (see [`Thread::status`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ThreadStatus {
    /// Not started, or suspended in a yield.
    Resumable,
    /// Running or resuming another coroutine.
    Running,
    /// Finished (returned or died with an error).
    Finished,
}

impl Thread {
    /// The thread's status.
    ///
    /// ```
    /// use rua::ThreadStatus;
    /// let lua = rua::Lua::new();
    /// let f: rua::Function = lua.load("function() coroutine.yield() end").eval().unwrap();
    /// let co = lua.create_thread(f).unwrap();
    /// assert_eq!(co.status(), ThreadStatus::Resumable);
    /// co.resume::<()>(()).unwrap();
    /// assert_eq!(co.status(), ThreadStatus::Resumable);
    /// co.resume::<()>(()).unwrap();
    /// assert_eq!(co.status(), ThreadStatus::Finished);
    /// ```
    pub fn status(&self) -> ThreadStatus {
        use rua_interp::thread::ThreadStatus as S;
        self.0
            .with_raw(|_, _, v| match v {
                RawValue::Thread(t) => Ok(match t.status() {
                    S::Suspended => ThreadStatus::Resumable,
                    S::Running | S::Normal => ThreadStatus::Running,
                    S::Dead => ThreadStatus::Finished,
                }),
                _ => Err(Error::MismatchedState),
            })
            .unwrap_or(ThreadStatus::Finished)
    }

    /// Resumes the coroutine with `args` (as `coroutine.resume` without the status): returns
    /// what it yields or returns, or the error it dies with.
    ///
    /// ```
    /// let lua = rua::Lua::new();
    /// let co: rua::Thread = lua
    ///     .load("coroutine.create(function(a) local b = coroutine.yield(a + 1) return b * 2 end)")
    ///     .eval()
    ///     .unwrap();
    /// assert_eq!(co.resume::<i32>(1).unwrap(), 2);
    /// assert_eq!(co.resume::<i32>(10).unwrap(), 20);
    /// assert_eq!(co.status(), rua::ThreadStatus::Finished);
    /// ```
    pub fn resume<R: crate::FromLuaMulti>(&self, args: impl crate::IntoLuaMulti) -> Result<R> {
        let lua = self.0.lua()?;
        let resume = lua.resume_function()?;
        let mut mv = args.into_lua_multi(&lua)?;
        mv.push_front(Value::Thread(self.clone()));
        let mut out: MultiValue = resume.call(mv)?;
        match out.pop_front() {
            Some(Value::Boolean(true)) => R::from_lua_multi(out, &lua),
            _ => {
                let e = out.pop_front().unwrap_or(Value::Nil);
                Err(match e {
                    Value::Error(e) => *e,
                    other => Error::RuntimeError(other.to_string()?),
                })
            }
        }
    }
}

impl Lua {
    /// The `coroutine.resume` implementation (independent of the `coroutine` library being
    /// opened).
    fn resume_function(&self) -> Result<crate::Function> {
        fn resume(
            ctx: &mut rua_interp::vm::native::Ctx,
        ) -> rua_interp::vm::LuaResult<rua_interp::vm::native::Action> {
            match ctx.arg(1) {
                RawValue::Thread(co) => Ok(rua_interp::vm::native::Action::Resume {
                    co,
                    nargs: ctx.nargs() - 1,
                    kind: rua_interp::vm::frame::ResumeKind::Resume,
                }),
                _ => Err(ctx.type_error(1, "coroutine")),
            }
        }
        self.with_state(|st| {
            let f = st.new_native(resume, "resume");
            crate::Function(self.new_ref(st, f))
        })
    }

    /// Creates a coroutine running `func`.
    ///
    /// ```
    /// let lua = rua::Lua::new();
    /// let f = lua.load("coroutine.yield(1) return 2").into_function().unwrap();
    /// let co = lua.create_thread(f).unwrap();
    /// assert_eq!(co.resume::<i32>(()).unwrap(), 1);
    /// assert_eq!(co.resume::<i32>(()).unwrap(), 2);
    /// ```
    pub fn create_thread(&self, func: crate::Function) -> Result<Thread> {
        self.with_state(|st| {
            let f = self.ref_to_raw(st, &func.0)?;
            let th = rua_interp::stdlib::coroutine::new_coroutine(st, f);
            Ok(Thread(self.new_ref(st, RawValue::Thread(th))))
        })?
    }
}

/// Several values: arguments or results of a call.
///
/// ```
/// let lua = rua::Lua::new();
/// let mv: rua::MultiValue = lua.load("return 1, 'two', nil").eval().unwrap();
/// assert_eq!(mv.len(), 3);
/// ```
#[derive(Clone, Debug, Default)]
pub struct MultiValue(VecDeque<Value>);

impl MultiValue {
    /// No values.
    ///
    /// ```
    /// let mut mv = rua::MultiValue::new();
    /// assert!(mv.is_empty());
    /// mv.push_back(rua::Value::Nil);
    /// assert_eq!(mv.len(), 1);
    /// ```
    pub fn new() -> MultiValue {
        MultiValue(VecDeque::new())
    }

    pub(crate) fn with_capacity(n: usize) -> MultiValue {
        MultiValue(VecDeque::with_capacity(n))
    }

    /// From a vector, in order.
    ///
    /// ```
    /// let mv = rua::MultiValue::from_vec(vec![rua::Value::Integer(1)]);
    /// assert_eq!(mv.len(), 1);
    /// ```
    pub fn from_vec(v: Vec<Value>) -> MultiValue {
        MultiValue(v.into())
    }

    /// Into a vector, in order.
    ///
    /// ```
    /// let v = rua::MultiValue::new().into_vec();
    /// assert!(v.is_empty());
    /// ```
    pub fn into_vec(self) -> Vec<Value> {
        self.0.into()
    }
}

impl Deref for MultiValue {
    type Target = VecDeque<Value>;
    fn deref(&self) -> &VecDeque<Value> {
        &self.0
    }
}

impl DerefMut for MultiValue {
    fn deref_mut(&mut self) -> &mut VecDeque<Value> {
        &mut self.0
    }
}

impl FromIterator<Value> for MultiValue {
    fn from_iter<I: IntoIterator<Item = Value>>(iter: I) -> Self {
        MultiValue(iter.into_iter().collect())
    }
}

impl IntoIterator for MultiValue {
    type Item = Value;
    type IntoIter = std::collections::vec_deque::IntoIter<Value>;
    fn into_iter(self) -> Self::IntoIter {
        self.0.into_iter()
    }
}

/// Any number of values of one type: as arguments, "the rest of the arguments"; as results,
/// several results.
///
/// ```
/// use rua::Variadic;
/// let lua = rua::Lua::new();
/// let sum = lua
///     .create_function(|_, xs: Variadic<i64>| Ok(xs.iter().sum::<i64>()))
///     .unwrap();
/// assert_eq!(sum.call::<i64>((1, 2, 3)).unwrap(), 6);
/// ```
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Variadic<T>(Vec<T>);

impl<T> Variadic<T> {
    /// No values.
    ///
    /// ```
    /// let mut v = rua::Variadic::<i32>::new();
    /// v.push(1);
    /// assert_eq!(v.len(), 1);
    /// ```
    pub fn new() -> Variadic<T> {
        Variadic(Vec::new())
    }
}

impl<T> Deref for Variadic<T> {
    type Target = Vec<T>;
    fn deref(&self) -> &Vec<T> {
        &self.0
    }
}

impl<T> DerefMut for Variadic<T> {
    fn deref_mut(&mut self) -> &mut Vec<T> {
        &mut self.0
    }
}

impl<T> From<Vec<T>> for Variadic<T> {
    fn from(v: Vec<T>) -> Self {
        Variadic(v)
    }
}

impl<T> FromIterator<T> for Variadic<T> {
    fn from_iter<I: IntoIterator<Item = T>>(iter: I) -> Self {
        Variadic(iter.into_iter().collect())
    }
}

impl<T> IntoIterator for Variadic<T> {
    type Item = T;
    type IntoIter = std::vec::IntoIter<T>;
    fn into_iter(self) -> Self::IntoIter {
        self.0.into_iter()
    }
}

/// A value stored by Rust in the state's registry, independent of any Rust borrow; retrieve it
/// with [`Lua::registry_value`]. A key of another state is refused.
///
/// ```
/// let lua = rua::Lua::new();
/// let key = lua.create_registry_value("kept").unwrap();
/// assert_eq!(lua.registry_value::<String>(&key).unwrap(), "kept");
/// let other = rua::Lua::new();
/// assert!(other.registry_value::<String>(&key).is_err());
/// ```
#[derive(Debug)]
pub struct RegistryKey(ValueRef);

impl Lua {
    /// Stores a value in the registry (see [`RegistryKey`] for an example).
    pub fn create_registry_value<T: crate::IntoLua>(&self, v: T) -> Result<RegistryKey> {
        let v = v.into_lua(self)?;
        self.with_state(|st| {
            let raw = self.value_to_raw(st, &v)?;
            Ok(RegistryKey(self.new_ref(st, raw)))
        })?
    }

    /// Reads a stored value (see [`RegistryKey`]; a key of another state is refused with
    /// [`crate::Error::MismatchedState`]).
    pub fn registry_value<T: crate::FromLua>(&self, key: &RegistryKey) -> Result<T> {
        let v = self.with_state(|st| {
            let raw = self.ref_to_raw(st, &key.0)?;
            Ok::<_, Error>(self.raw_to_value(st, raw))
        })??;
        T::from_lua(v, self)
    }

    /// Replaces a stored value.
    ///
    /// ```
    /// let lua = rua::Lua::new();
    /// let key = lua.create_registry_value(1).unwrap();
    /// lua.replace_registry_value(&key, 2).unwrap();
    /// assert_eq!(lua.registry_value::<i32>(&key).unwrap(), 2);
    /// ```
    pub fn replace_registry_value<T: crate::IntoLua>(&self, key: &RegistryKey, v: T) -> Result<()> {
        let v = v.into_lua(self)?;
        self.with_state(|st| {
            self.ref_to_raw(st, &key.0)?;
            let raw = self.value_to_raw(st, &v)?;
            st.roots[key.0.slot] = raw;
            Ok(())
        })?
    }

    /// Removes a stored value (dropping the key does the same).
    ///
    /// ```
    /// let lua = rua::Lua::new();
    /// let key = lua.create_registry_value(1).unwrap();
    /// lua.remove_registry_value(key).unwrap();
    /// ```
    pub fn remove_registry_value(&self, key: RegistryKey) -> Result<()> {
        if !self.owns(&key.0) {
            return Err(Error::MismatchedState);
        }
        drop(key);
        Ok(())
    }

    pub(crate) fn owns(&self, r: &ValueRef) -> bool {
        std::ptr::eq(r.lua.0.as_ptr(), std::sync::Arc::as_ptr(&self.0))
    }
}
