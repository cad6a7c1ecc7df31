//! Rust values as Lua userdata: the [`UserData`] trait with its method and field registries
//! ([`UserDataMethods`], [`UserDataFields`], [`MetaMethod`]), [`AnyUserData`] handles and the
//! borrow guards [`UserDataRef`] / [`UserDataRefMut`].
//!
//! A userdata stores its value as a [`UserDataCell<T>`] inside the interpreter's userdata
//! object, so methods borrow it dynamically: a `&mut self` method called while the value is
//! borrowed (for example re-entered through Lua) fails with [`Error::UserDataBorrowMutError`]
//! instead of aliasing. Each Rust type gets one metatable, built on first use and cached per
//! state.
//!
//! # Threads
//!
//! A [`Lua`] may move between threads, so userdata values must be `Send`. The borrow guards
//! live outside the state's lock (a guard may be held on one thread while another thread runs
//! the state), so the cell's borrow flag is atomic, and a shared borrow that can outlive the
//! lock ([`AnyUserData::borrow`], [`UserDataRef`] as an argument, async methods) needs
//! `T: Sync`, since Lua code on another thread may borrow the same value at the same time.
//! Methods taking `&T` / `&mut T` run under the lock and need only `T: Send`.

use crate::conversion::{FromLua, FromLuaMulti, IntoLua, IntoLuaMulti};
use crate::error::{Error, Result};
use crate::function::Callback;
use crate::lua::Lua;
use crate::value::{MultiValue, RawValue, Value, ValueRef};
use crate::Table;
use rua_interp::userdata::UserData as RawUserData;
use std::any::TypeId;
use std::cell::{Cell, RefCell, UnsafeCell};
use std::collections::HashMap;
use std::fmt;
use std::mem::ManuallyDrop;
use std::ops::{Deref, DerefMut};
use std::ptr::NonNull;
use std::sync::atomic::{AtomicIsize, Ordering};

/// The payload of a userdata made from a `T`: the value and an atomic borrow flag
/// (0: free, `n > 0`: `n` shared borrows, -1: borrowed mutably, [`TAKEN`]: the value was moved
/// out by [`AnyUserData::take`] and is gone; the cell itself stays in place, since borrow
/// guards and handles on other threads may still point at it).
pub(crate) struct UserDataCell<T> {
    flag: AtomicIsize,
    /// Dropped by `Drop for UserDataCell` unless taken.
    value: UnsafeCell<ManuallyDrop<T>>,
}

/// Borrow flag of a cell whose value was taken.
const TAKEN: isize = isize::MIN;

impl<T> Drop for UserDataCell<T> {
    fn drop(&mut self) {
        if *self.flag.get_mut() != TAKEN {
            // SAFETY: the value was not moved out (flag not `TAKEN`) and `&mut self` means no
            // borrow guard is alive, so this is the only access, and it happens once.
            unsafe { ManuallyDrop::drop(self.value.get_mut()) }
        }
    }
}

impl<T> UserDataCell<T> {
    fn new(value: T) -> Self {
        UserDataCell {
            flag: AtomicIsize::new(0),
            value: UnsafeCell::new(ManuallyDrop::new(value)),
        }
    }

    /// Moves the value out, leaving the cell `TAKEN`. Fails while it is borrowed.
    fn take(&self) -> Result<T> {
        match self
            .flag
            .compare_exchange(0, TAKEN, Ordering::Acquire, Ordering::Relaxed)
        {
            // SAFETY: the flag went from free to `TAKEN` here, so no borrow guard exists and
            // none can be made (every acquire fails on `TAKEN`), and the value is read once:
            // `Drop` skips it from now on.
            Ok(_) => Ok(unsafe { ManuallyDrop::take(&mut *self.value.get()) }),
            Err(TAKEN) => Err(Error::UserDataDestructed),
            Err(_) => Err(Error::UserDataBorrowMutError),
        }
    }

    /// Takes a shared borrow (released with `release_shared`).
    fn acquire_shared(&self) -> Result<()> {
        let mut cur = self.flag.load(Ordering::Relaxed);
        loop {
            if cur == TAKEN {
                return Err(Error::UserDataDestructed);
            }
            if cur < 0 || cur == isize::MAX {
                return Err(Error::UserDataBorrowError);
            }
            match self.flag.compare_exchange_weak(
                cur,
                cur + 1,
                Ordering::Acquire,
                Ordering::Relaxed,
            ) {
                Ok(_) => return Ok(()),
                Err(now) => cur = now,
            }
        }
    }

    fn release_shared(&self) {
        self.flag.fetch_sub(1, Ordering::Release);
    }

    /// Takes the exclusive borrow (released with `release_exclusive`).
    fn acquire_exclusive(&self) -> Result<()> {
        match self
            .flag
            .compare_exchange(0, -1, Ordering::Acquire, Ordering::Relaxed)
        {
            Ok(_) => Ok(()),
            Err(TAKEN) => Err(Error::UserDataDestructed),
            Err(_) => Err(Error::UserDataBorrowMutError),
        }
    }

    fn release_exclusive(&self) {
        self.flag.store(0, Ordering::Release);
    }
}

/// Metamethods a userdata type can define.
///
/// ```
/// assert_eq!(rua::MetaMethod::Add.name(), "__add");
/// assert_eq!(rua::MetaMethod::ToString.to_string(), "__tostring");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum MetaMethod {
    /// `+` (`__add`)
    Add,
    /// `-` (`__sub`)
    Sub,
    /// `*` (`__mul`)
    Mul,
    /// `/` (`__div`)
    Div,
    /// `%` (`__mod`)
    Mod,
    /// `^` (`__pow`)
    Pow,
    /// unary `-` (`__unm`)
    Unm,
    /// `//` (`__idiv`)
    IDiv,
    /// `&` (`__band`)
    BAnd,
    /// `|` (`__bor`)
    BOr,
    /// binary `~` (`__bxor`)
    BXor,
    /// unary `~` (`__bnot`)
    BNot,
    /// `<<` (`__shl`)
    Shl,
    /// `>>` (`__shr`)
    Shr,
    /// `..` (`__concat`)
    Concat,
    /// `#` (`__len`)
    Len,
    /// `==` (`__eq`)
    Eq,
    /// `<` (`__lt`)
    Lt,
    /// `<=` (`__le`)
    Le,
    /// reading a missing field (`__index`)
    Index,
    /// assigning a field (`__newindex`)
    NewIndex,
    /// calling the value (`__call`)
    Call,
    /// `tostring` and `%s` in `string.format` (`__tostring`)
    ToString,
    /// `pairs` (`__pairs`)
    Pairs,
    /// leaving the scope of a `<close>` variable (`__close`)
    Close,
}

impl MetaMethod {
    /// The metatable key (`"__add"`, ...); see the type-level example.
    pub fn name(self) -> &'static str {
        match self {
            MetaMethod::Add => "__add",
            MetaMethod::Sub => "__sub",
            MetaMethod::Mul => "__mul",
            MetaMethod::Div => "__div",
            MetaMethod::Mod => "__mod",
            MetaMethod::Pow => "__pow",
            MetaMethod::Unm => "__unm",
            MetaMethod::IDiv => "__idiv",
            MetaMethod::BAnd => "__band",
            MetaMethod::BOr => "__bor",
            MetaMethod::BXor => "__bxor",
            MetaMethod::BNot => "__bnot",
            MetaMethod::Shl => "__shl",
            MetaMethod::Shr => "__shr",
            MetaMethod::Concat => "__concat",
            MetaMethod::Len => "__len",
            MetaMethod::Eq => "__eq",
            MetaMethod::Lt => "__lt",
            MetaMethod::Le => "__le",
            MetaMethod::Index => "__index",
            MetaMethod::NewIndex => "__newindex",
            MetaMethod::Call => "__call",
            MetaMethod::ToString => "__tostring",
            MetaMethod::Pairs => "__pairs",
            MetaMethod::Close => "__close",
        }
    }
}

impl fmt::Display for MetaMethod {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A Rust type usable as Lua userdata. Implement `add_methods` and/or `add_fields`.
///
/// ```
/// use rua::{MetaMethod, UserData, UserDataFields, UserDataMethods};
/// struct Counter(i64);
/// impl UserData for Counter {
///     fn add_fields<F: UserDataFields<Self>>(fields: &mut F) {
///         fields.add_field_method_get("value", |_, c| Ok(c.0));
///     }
///     fn add_methods<M: UserDataMethods<Self>>(methods: &mut M) {
///         methods.add_method_mut("inc", |_, c, by: Option<i64>| {
///             c.0 += by.unwrap_or(1);
///             Ok(c.0)
///         });
///         methods.add_meta_method(MetaMethod::ToString, |_, c, ()| Ok(format!("Counter({})", c.0)));
///     }
/// }
/// let lua = rua::Lua::new();
/// lua.globals().set("c", Counter(1)).unwrap();
/// let s: String = lua.load("c:inc() c:inc(3) return tostring(c) .. ' ' .. c.value").eval().unwrap();
/// assert_eq!(s, "Counter(5) 5");
/// ```
pub trait UserData: Sized + 'static {
    /// Registers fields (`obj.name` reads and writes).
    fn add_fields<F: UserDataFields<Self>>(_fields: &mut F) {}

    /// Registers methods (`obj:name(...)`) and metamethods.
    fn add_methods<M: UserDataMethods<Self>>(_methods: &mut M) {}
}

/// Method registry passed to [`UserData::add_methods`].
///
/// ```
/// use rua::{MetaMethod, UserData, UserDataMethods};
/// #[derive(Clone, Copy)]
/// struct V(i64);
/// impl UserData for V {
///     fn add_methods<M: UserDataMethods<Self>>(m: &mut M) {
///         m.add_method("get", |_, v, ()| Ok(v.0));
///         m.add_method_mut("bump", |_, v, by: i64| { v.0 += by; Ok(()) });
///         m.add_function("new", |_, n: i64| Ok(V(n)));
///         m.add_meta_method(MetaMethod::Len, |_, v, ()| Ok(v.0));
///         m.add_meta_method_mut(MetaMethod::Call, |_, v, ()| { v.0 *= 2; Ok(v.0) });
///         // `__add` may see the userdata as either operand: take plain values.
///         m.add_meta_function(MetaMethod::Add, |_, (a, b): (rua::AnyUserData, i64)| {
///             Ok(V(a.borrow::<V>()?.0 + b))
///         });
///     }
/// }
/// let lua = rua::Lua::new();
/// lua.globals().set("v", V(1)).unwrap();
/// let r: (i64, i64, i64, i64) = lua
///     .load("v:bump(4) local w = v + 10 return v:get(), #v, v(), w:get()")
///     .eval()
///     .unwrap();
/// assert_eq!(r, (5, 5, 10, 15));
/// assert_eq!(lua.load("return v.new(7):get()").eval::<i64>().unwrap(), 7);
/// ```
///
/// An async method, awaited from Lua in an async call:
///
/// ```
/// # #[cfg(feature = "async")] {
/// use rua::{UserData, UserDataMethods};
/// struct Db;
/// impl UserData for Db {
///     fn add_methods<M: UserDataMethods<Self>>(m: &mut M) {
///         m.add_async_method("fetch", |_, _db, key: String| async move {
///             Ok(format!("value of {key}"))
///         });
///     }
/// }
/// let lua = rua::Lua::new();
/// lua.globals().set("db", Db).unwrap();
/// let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
/// let s: String = rt.block_on(lua.load("return db:fetch('k')").eval_async()).unwrap();
/// assert_eq!(s, "value of k");
/// # }
/// ```
pub trait UserDataMethods<T> {
    /// A method taking `&T`.
    fn add_method<M, A, R>(&mut self, name: impl ToString, method: M)
    where
        M: Fn(&Lua, &T, A) -> Result<R> + Send + 'static,
        A: FromLuaMulti,
        R: IntoLuaMulti;

    /// A method taking `&mut T`.
    fn add_method_mut<M, A, R>(&mut self, name: impl ToString, method: M)
    where
        M: FnMut(&Lua, &mut T, A) -> Result<R> + Send + 'static,
        A: FromLuaMulti,
        R: IntoLuaMulti;

    /// A function stored in the methods table (no `self` conversion).
    fn add_function<F, A, R>(&mut self, name: impl ToString, function: F)
    where
        F: Fn(&Lua, A) -> Result<R> + Send + 'static,
        A: FromLuaMulti,
        R: IntoLuaMulti;

    /// A metamethod taking `&T` as first operand.
    fn add_meta_method<M, A, R>(&mut self, name: impl ToString, method: M)
    where
        M: Fn(&Lua, &T, A) -> Result<R> + Send + 'static,
        A: FromLuaMulti,
        R: IntoLuaMulti;

    /// A metamethod taking `&mut T` as first operand.
    fn add_meta_method_mut<M, A, R>(&mut self, name: impl ToString, method: M)
    where
        M: FnMut(&Lua, &mut T, A) -> Result<R> + Send + 'static,
        A: FromLuaMulti,
        R: IntoLuaMulti;

    /// A metamethod without `self` conversion (e.g. `__add` where the userdata may be the
    /// second operand).
    fn add_meta_function<F, A, R>(&mut self, name: impl ToString, function: F)
    where
        F: Fn(&Lua, A) -> Result<R> + Send + 'static,
        A: FromLuaMulti,
        R: IntoLuaMulti;

    /// An async method: the future holds a shared borrow of the value while it runs (so `T`
    /// must be `Sync`: the future runs without the state's lock).
    #[cfg(feature = "async")]
    fn add_async_method<M, A, MR, R>(&mut self, name: impl ToString, method: M)
    where
        T: Sync + 'static,
        M: Fn(Lua, UserDataRef<T>, A) -> MR + Send + 'static,
        A: FromLuaMulti,
        MR: std::future::Future<Output = Result<R>> + Send + 'static,
        R: IntoLuaMulti;
}

/// Field registry passed to [`UserData::add_fields`].
///
/// ```
/// use rua::{UserData, UserDataFields};
/// struct Config { port: u16 }
/// impl UserData for Config {
///     fn add_fields<F: UserDataFields<Self>>(f: &mut F) {
///         f.add_field("kind", "config");
///         f.add_field_method_get("port", |_, c| Ok(c.port));
///         f.add_field_method_set("port", |_, c, p: u16| { c.port = p; Ok(()) });
///     }
/// }
/// let lua = rua::Lua::new();
/// lua.globals().set("cfg", Config { port: 80 }).unwrap();
/// let r: (String, u16) = lua.load("cfg.port = cfg.port + 8000 return cfg.kind, cfg.port").eval().unwrap();
/// assert_eq!(r, ("config".to_string(), 8080));
/// assert!(lua.load("cfg.port = 70000").exec().is_err(), "u16 range is checked");
/// ```
pub trait UserDataFields<T> {
    /// A constant field.
    fn add_field<V: IntoLua + Clone + 'static>(&mut self, name: impl ToString, value: V);

    /// A computed field read as `obj.name`.
    fn add_field_method_get<M, R>(&mut self, name: impl ToString, method: M)
    where
        M: Fn(&Lua, &T) -> Result<R> + Send + 'static,
        R: IntoLua;

    /// A field written as `obj.name = v`.
    fn add_field_method_set<M, A>(&mut self, name: impl ToString, method: M)
    where
        M: FnMut(&Lua, &mut T, A) -> Result<()> + Send + 'static,
        A: FromLua;
}

type FieldInit = Box<dyn FnOnce(&Lua) -> Result<Value>>;

/// Collects what a [`UserData`] type registers.
struct Registry<T> {
    methods: Vec<(String, Callback)>,
    meta: Vec<(String, Callback)>,
    #[cfg(feature = "async")]
    async_methods: Vec<(String, crate::async_call::AsyncCallback)>,
    fields: Vec<(String, FieldInit)>,
    getters: HashMap<String, Callback>,
    setters: HashMap<String, Callback>,
    _marker: std::marker::PhantomData<T>,
}

fn take_self<T: 'static>(args: &mut MultiValue, name: &str) -> Result<UserDataRef<T>> {
    let bad = |e: Error| Error::BadArgument {
        to: Some(name.to_string()),
        pos: 1,
        cause: std::sync::Arc::new(e),
    };
    match args.pop_front() {
        Some(Value::UserData(u)) => u.borrow_shared::<T>().map_err(bad),
        other => Err(bad(Error::from_lua_conv(
            other.as_ref().map_or("nil", Value::type_name),
            "userdata",
            None,
        ))),
    }
}

fn take_self_mut<T: 'static>(args: &mut MultiValue, name: &str) -> Result<UserDataRefMut<T>> {
    let bad = |e: Error| Error::BadArgument {
        to: Some(name.to_string()),
        pos: 1,
        cause: std::sync::Arc::new(e),
    };
    match args.pop_front() {
        Some(Value::UserData(u)) => u.borrow_mut::<T>().map_err(bad),
        other => Err(bad(Error::from_lua_conv(
            other.as_ref().map_or("nil", Value::type_name),
            "userdata",
            None,
        ))),
    }
}

fn method_cb<T: 'static, M, A, R>(name: String, method: M) -> Callback
where
    M: Fn(&Lua, &T, A) -> Result<R> + Send + 'static,
    A: FromLuaMulti,
    R: IntoLuaMulti,
{
    Box::new(move |lua, mut args| {
        let this = take_self::<T>(&mut args, &name)?;
        let a = A::from_lua_args(args, 2, Some(&name), lua)?;
        let r = method(lua, &this, a)?;
        drop(this);
        r.into_lua_multi(lua)
    })
}

fn method_mut_cb<T: 'static, M, A, R>(name: String, method: M) -> Callback
where
    M: FnMut(&Lua, &mut T, A) -> Result<R> + Send + 'static,
    A: FromLuaMulti,
    R: IntoLuaMulti,
{
    let method = RefCell::new(method);
    Box::new(move |lua, mut args| {
        let mut this = take_self_mut::<T>(&mut args, &name)?;
        let a = A::from_lua_args(args, 2, Some(&name), lua)?;
        let mut m = method
            .try_borrow_mut()
            .map_err(|_| Error::RecursiveMutCallback)?;
        let r = m(lua, &mut this, a)?;
        drop(this);
        r.into_lua_multi(lua)
    })
}

fn function_cb<F, A, R>(name: String, function: F) -> Callback
where
    F: Fn(&Lua, A) -> Result<R> + Send + 'static,
    A: FromLuaMulti,
    R: IntoLuaMulti,
{
    Box::new(move |lua, args| {
        let a = A::from_lua_args(args, 1, Some(&name), lua)?;
        function(lua, a)?.into_lua_multi(lua)
    })
}

impl<T: 'static> UserDataMethods<T> for Registry<T> {
    fn add_method<M, A, R>(&mut self, name: impl ToString, method: M)
    where
        M: Fn(&Lua, &T, A) -> Result<R> + Send + 'static,
        A: FromLuaMulti,
        R: IntoLuaMulti,
    {
        let name = name.to_string();
        self.methods.push((name.clone(), method_cb(name, method)));
    }

    fn add_method_mut<M, A, R>(&mut self, name: impl ToString, method: M)
    where
        M: FnMut(&Lua, &mut T, A) -> Result<R> + Send + 'static,
        A: FromLuaMulti,
        R: IntoLuaMulti,
    {
        let name = name.to_string();
        self.methods
            .push((name.clone(), method_mut_cb(name, method)));
    }

    fn add_function<F, A, R>(&mut self, name: impl ToString, function: F)
    where
        F: Fn(&Lua, A) -> Result<R> + Send + 'static,
        A: FromLuaMulti,
        R: IntoLuaMulti,
    {
        let name = name.to_string();
        self.methods
            .push((name.clone(), function_cb(name, function)));
    }

    fn add_meta_method<M, A, R>(&mut self, name: impl ToString, method: M)
    where
        M: Fn(&Lua, &T, A) -> Result<R> + Send + 'static,
        A: FromLuaMulti,
        R: IntoLuaMulti,
    {
        let name = name.to_string();
        self.meta.push((name.clone(), method_cb(name, method)));
    }

    fn add_meta_method_mut<M, A, R>(&mut self, name: impl ToString, method: M)
    where
        M: FnMut(&Lua, &mut T, A) -> Result<R> + Send + 'static,
        A: FromLuaMulti,
        R: IntoLuaMulti,
    {
        let name = name.to_string();
        self.meta.push((name.clone(), method_mut_cb(name, method)));
    }

    fn add_meta_function<F, A, R>(&mut self, name: impl ToString, function: F)
    where
        F: Fn(&Lua, A) -> Result<R> + Send + 'static,
        A: FromLuaMulti,
        R: IntoLuaMulti,
    {
        let name = name.to_string();
        self.meta.push((name.clone(), function_cb(name, function)));
    }

    #[cfg(feature = "async")]
    fn add_async_method<M, A, MR, R>(&mut self, name: impl ToString, method: M)
    where
        T: Sync,
        M: Fn(Lua, UserDataRef<T>, A) -> MR + Send + 'static,
        A: FromLuaMulti,
        MR: std::future::Future<Output = Result<R>> + Send + 'static,
        R: IntoLuaMulti,
    {
        let name = name.to_string();
        let n = name.clone();
        self.async_methods.push((
            name,
            Box::new(move |lua, mut args| {
                let prepared = take_self::<T>(&mut args, &n).and_then(|this| {
                    let a = A::from_lua_args(args, 2, Some(&n), &lua)?;
                    Ok((this, a))
                });
                match prepared {
                    Ok((this, a)) => {
                        let fut = method(lua.clone(), this, a);
                        Box::pin(async move { fut.await?.into_lua_multi(&lua) })
                    }
                    Err(e) => Box::pin(std::future::ready(Err(e))),
                }
            }),
        ));
    }
}

impl<T: 'static> UserDataFields<T> for Registry<T> {
    fn add_field<V: IntoLua + Clone + 'static>(&mut self, name: impl ToString, value: V) {
        self.fields
            .push((name.to_string(), Box::new(move |lua| value.into_lua(lua))));
    }

    fn add_field_method_get<M, R>(&mut self, name: impl ToString, method: M)
    where
        M: Fn(&Lua, &T) -> Result<R> + Send + 'static,
        R: IntoLua,
    {
        let name = name.to_string();
        let cb = method_cb(name.clone(), move |lua, this: &T, (): ()| method(lua, this));
        self.getters.insert(name, cb);
    }

    fn add_field_method_set<M, A>(&mut self, name: impl ToString, method: M)
    where
        M: FnMut(&Lua, &mut T, A) -> Result<()> + Send + 'static,
        A: FromLua,
    {
        let name = name.to_string();
        let cb = method_mut_cb(name.clone(), method);
        self.setters.insert(name, cb);
    }
}

impl Lua {
    /// The metatable shared by all userdata of type `T` (built on first use).
    fn userdata_metatable<T: UserData>(&self) -> Result<RawValue> {
        if let Some(mt) = self.0.ud_meta(TypeId::of::<T>()) {
            return Ok(mt);
        }
        let mut reg = Registry::<T> {
            methods: Vec::new(),
            meta: Vec::new(),
            #[cfg(feature = "async")]
            async_methods: Vec::new(),
            fields: Vec::new(),
            getters: HashMap::new(),
            setters: HashMap::new(),
            _marker: std::marker::PhantomData,
        };
        T::add_fields(&mut reg);
        T::add_methods(&mut reg);
        let mt = self.create_table()?;
        let methods = self.create_table()?;
        for (name, cb) in reg.methods {
            methods.raw_set(name, self.create_callback(cb)?)?;
        }
        #[cfg(feature = "async")]
        for (name, cb) in reg.async_methods {
            methods.raw_set(name, self.create_async_callback(cb)?)?;
        }
        for (name, init) in reg.fields {
            methods.raw_set(name, init(self)?)?;
        }
        let mut user_index = None;
        let mut user_newindex = None;
        for (name, cb) in reg.meta {
            let f = self.create_callback(cb)?;
            match name.as_str() {
                "__index" => user_index = Some(f),
                "__newindex" => user_newindex = Some(f),
                _ => mt.raw_set(name, f)?,
            }
        }
        let short = std::any::type_name::<T>()
            .rsplit("::")
            .next()
            .unwrap_or("userdata")
            .to_string();
        mt.raw_set("__name", short)?;
        if reg.getters.is_empty() && user_index.is_none() {
            mt.raw_set("__index", methods)?;
        } else {
            let getters = reg.getters;
            let index = move |lua: &Lua, args: MultiValue| -> Result<MultiValue> {
                let ud = args.front().cloned().unwrap_or(Value::Nil);
                let key = args.get(1).cloned().unwrap_or(Value::Nil);
                if let Value::String(s) = &key {
                    if let Some(g) = getters.get(s.to_string_lossy().as_str()) {
                        return g(lua, MultiValue::from_vec(vec![ud]));
                    }
                }
                let v: Value = methods.raw_get(key.clone())?;
                if !v.is_nil() {
                    return v.into_lua_multi(lua);
                }
                match &user_index {
                    Some(f) => f.call((ud, key)),
                    None => Ok(MultiValue::from_vec(vec![Value::Nil])),
                }
            };
            mt.raw_set("__index", self.create_callback(Box::new(index))?)?;
        }
        if !reg.setters.is_empty() || user_newindex.is_some() {
            let setters = reg.setters;
            let newindex = move |lua: &Lua, args: MultiValue| -> Result<MultiValue> {
                let mut it = args.into_iter();
                let ud = it.next().unwrap_or(Value::Nil);
                let key = it.next().unwrap_or(Value::Nil);
                let val = it.next().unwrap_or(Value::Nil);
                if let Value::String(s) = &key {
                    if let Some(set) = setters.get(s.to_string_lossy().as_str()) {
                        return set(lua, MultiValue::from_vec(vec![ud, val]));
                    }
                }
                match &user_newindex {
                    Some(f) => f.call((ud, key, val)),
                    None => Err(Error::runtime(format!(
                        "attempt to set an unknown field '{}' of a userdata",
                        key.to_string()?
                    ))),
                }
            };
            mt.raw_set("__newindex", self.create_callback(Box::new(newindex))?)?;
        }
        let raw = self.with_state(|st| {
            let raw = self.ref_to_raw(st, &mt.0)?;
            // Rooted for the life of the state.
            let _slot = self.0.root(st, raw);
            Ok::<_, Error>(raw)
        })??;
        self.0.set_ud_meta(TypeId::of::<T>(), raw);
        Ok(raw)
    }

    /// Moves `data` into a new userdata.
    ///
    /// ```
    /// struct Point { x: f64 }
    /// impl rua::UserData for Point {}
    /// let lua = rua::Lua::new();
    /// let ud = lua.create_userdata(Point { x: 1.5 }).unwrap();
    /// assert_eq!(ud.borrow::<Point>().unwrap().x, 1.5);
    /// ```
    pub fn create_userdata<T: UserData + Send>(&self, data: T) -> Result<AnyUserData> {
        let mt = self.userdata_metatable::<T>()?;
        self.with_state(|st| {
            let meta = match mt {
                RawValue::Table(t) => Some(t),
                _ => None,
            };
            let ud = st.heap.alloc(RawUserData {
                meta: Cell::new(meta),
                user_values: RefCell::new(Vec::new()),
                data: RefCell::new(Box::new(UserDataCell::new(data))),
                finalizer_registered: Cell::new(false),
            });
            AnyUserData(self.new_ref(st, RawValue::UserData(ud)))
        })
    }
}

impl<T: UserData + Send> IntoLua for T {
    fn into_lua(self, lua: &Lua) -> Result<Value> {
        Ok(Value::UserData(lua.create_userdata(self)?))
    }
}

/// A handle to a userdata of any type.
///
/// ```
/// struct Secret(u32);
/// impl rua::UserData for Secret {}
/// let lua = rua::Lua::new();
/// let ud = lua.create_userdata(Secret(7)).unwrap();
/// assert!(ud.is::<Secret>());
/// assert!(!ud.is::<String>());
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct AnyUserData(pub(crate) ValueRef);

impl AnyUserData {
    /// `true` if the value is a `T` (see the type-level example).
    pub fn is<T: 'static>(&self) -> bool {
        self.cell_ptr::<T>().is_ok()
    }

    /// The cell inside the userdata, with the state keeping it alive.
    fn cell_ptr<T: 'static>(&self) -> Result<(NonNull<UserDataCell<T>>, Lua)> {
        self.0.with_raw(|lua, _, v| match v {
            RawValue::UserData(u) => {
                let data = u.data.borrow();
                match data.downcast_ref::<UserDataCell<T>>() {
                    Some(cell) => Ok((NonNull::from(cell), lua.clone())),
                    None => Err(Error::UserDataTypeMismatch),
                }
            }
            _ => Err(Error::UserDataTypeMismatch),
        })
    }

    /// Borrows the value as `&T`. Fails with [`Error::UserDataTypeMismatch`] for another
    /// type and [`Error::UserDataBorrowError`] while it is mutably borrowed. `T` must be
    /// `Sync`: the borrow may be held while another thread runs Lua code reading the value.
    ///
    /// ```
    /// struct N(i32);
    /// impl rua::UserData for N {}
    /// let lua = rua::Lua::new();
    /// let ud = lua.create_userdata(N(1)).unwrap();
    /// let w = ud.borrow_mut::<N>().unwrap();
    /// assert!(matches!(ud.borrow::<N>(), Err(rua::Error::UserDataBorrowError)));
    /// drop(w);
    /// assert_eq!(ud.borrow::<N>().unwrap().0, 1);
    /// ```
    pub fn borrow<T: Sync + 'static>(&self) -> Result<UserDataRef<T>> {
        self.borrow_shared()
    }

    /// A shared borrow without the `Sync` bound: for method calls, whose guard never leaves
    /// the host function (which runs with the state locked).
    fn borrow_shared<T: 'static>(&self) -> Result<UserDataRef<T>> {
        let (cell, lua) = self.cell_ptr::<T>()?;
        // SAFETY: the cell lives in the userdata's boxed payload, which is never replaced
        // (only this module stores `UserDataCell<T>` payloads and none reassigns them) and is
        // freed only when the object is collected or the state dropped. The guard keeps a
        // clone of this handle (rooting the object) and a strong `Lua` (keeping the heap).
        unsafe { cell.as_ref() }.acquire_shared()?;
        Ok(UserDataRef {
            cell,
            _handle: self.clone(),
            _lua: lua,
        })
    }

    /// Moves the value out of the userdata (as mlua's `take`). The userdata stays a valid Lua
    /// value, but its methods and any later borrow or `take` fail with
    /// [`Error::UserDataDestructed`]. Fails with [`Error::UserDataBorrowMutError`] while the
    /// value is borrowed, and with [`Error::UserDataTypeMismatch`] if it is not a `T`.
    ///
    /// ```
    /// use rua::{UserData, UserDataMethods};
    /// struct Conn(String);
    /// impl UserData for Conn {
    ///     fn add_methods<M: UserDataMethods<Self>>(m: &mut M) {
    ///         m.add_method("name", |_, c, ()| Ok(c.0.clone()));
    ///     }
    /// }
    /// let lua = rua::Lua::new();
    /// let ud = lua.create_userdata(Conn("db".into())).unwrap();
    /// lua.globals().set("conn", ud.clone()).unwrap();
    /// let guard = ud.borrow::<Conn>().unwrap();
    /// assert!(matches!(ud.take::<Conn>(), Err(rua::Error::UserDataBorrowMutError)));
    /// drop(guard);
    /// assert_eq!(ud.take::<Conn>().unwrap().0, "db");
    /// assert!(matches!(ud.borrow::<Conn>(), Err(rua::Error::UserDataDestructed)));
    /// let e = lua.load("return conn:name()").exec().unwrap_err();
    /// assert!(e.to_string().contains("destructed"), "{e}");
    /// ```
    pub fn take<T: 'static>(&self) -> Result<T> {
        let (cell, _lua) = self.cell_ptr::<T>()?;
        // SAFETY: as in `borrow_shared`: the cell stays allocated while this handle (rooting
        // the object) and the `Lua` returned with it live.
        unsafe { cell.as_ref() }.take()
    }

    /// Borrows the value as `&mut T`. Fails with [`Error::UserDataBorrowMutError`] while it
    /// is borrowed.
    ///
    /// ```
    /// struct N(i32);
    /// impl rua::UserData for N {}
    /// let lua = rua::Lua::new();
    /// let ud = lua.create_userdata(N(1)).unwrap();
    /// ud.borrow_mut::<N>().unwrap().0 = 5;
    /// let r = ud.borrow::<N>().unwrap();
    /// assert!(matches!(ud.borrow_mut::<N>(), Err(rua::Error::UserDataBorrowMutError)));
    /// assert_eq!(r.0, 5);
    /// ```
    pub fn borrow_mut<T: 'static>(&self) -> Result<UserDataRefMut<T>> {
        let (cell, lua) = self.cell_ptr::<T>()?;
        // SAFETY: as in `borrow_shared`.
        unsafe { cell.as_ref() }.acquire_exclusive()?;
        Ok(UserDataRefMut {
            cell,
            _handle: self.clone(),
            _lua: lua,
        })
    }

    /// Sets the userdata's user value (any Lua value kept alive with it).
    ///
    /// ```
    /// struct U;
    /// impl rua::UserData for U {}
    /// let lua = rua::Lua::new();
    /// let ud = lua.create_userdata(U).unwrap();
    /// ud.set_user_value("tag").unwrap();
    /// assert_eq!(ud.user_value::<String>().unwrap(), "tag");
    /// ```
    pub fn set_user_value(&self, v: impl IntoLua) -> Result<()> {
        let lua = self.0.lua()?;
        let v = v.into_lua(&lua)?;
        self.0.with_raw(|lua, st, u| {
            let raw = lua.value_to_raw(st, &v)?;
            if let RawValue::UserData(u) = u {
                rua_interp::value::barrier(u, raw);
                let mut uv = u.user_values.borrow_mut();
                if uv.is_empty() {
                    uv.push(raw);
                } else {
                    uv[0] = raw;
                }
            }
            Ok(())
        })
    }

    /// The user value set by [`AnyUserData::set_user_value`] (nil if none).
    ///
    /// ```
    /// struct Tag;
    /// impl rua::UserData for Tag {}
    /// let lua = rua::Lua::new();
    /// let ud = lua.create_userdata(Tag).unwrap();
    /// assert_eq!(ud.user_value::<Option<String>>().unwrap(), None);
    /// ud.set_user_value("note").unwrap();
    /// assert_eq!(ud.user_value::<String>().unwrap(), "note");
    /// ```
    pub fn user_value<V: FromLua>(&self) -> Result<V> {
        let v = self.0.with_raw(|lua, st, u| {
            let raw = match u {
                RawValue::UserData(u) => u.user_values.borrow().first().copied(),
                _ => None,
            };
            Ok(lua.raw_to_value(st, raw.unwrap_or(RawValue::Nil)))
        })?;
        V::from_lua(v, &self.0.lua()?)
    }

    /// The metatable shared by this userdata's type.
    ///
    /// ```
    /// use rua::{MetaMethod, UserData, UserDataMethods};
    /// struct Named;
    /// impl UserData for Named {
    ///     fn add_methods<M: UserDataMethods<Self>>(m: &mut M) {
    ///         m.add_meta_method(MetaMethod::ToString, |_, _, ()| Ok("named"));
    ///     }
    /// }
    /// let lua = rua::Lua::new();
    /// let ud = lua.create_userdata(Named).unwrap();
    /// let mt = ud.metatable().unwrap();
    /// assert!(mt.contains_key("__tostring").unwrap());
    /// ```
    pub fn metatable(&self) -> Result<Table> {
        self.0.with_raw(|lua, st, u| match u {
            RawValue::UserData(u) => match u.meta.get() {
                Some(m) => Ok(Table(lua.new_ref(st, RawValue::Table(m)))),
                None => Err(Error::runtime("userdata has no metatable")),
            },
            _ => Err(Error::UserDataTypeMismatch),
        })
    }
}

/// A shared borrow of a userdata's value (from [`AnyUserData::borrow`]). While it lives, a
/// mutable borrow (from Rust or from a `add_method_mut` method) fails.
///
/// ```
/// struct Point(i32);
/// impl rua::UserData for Point {}
/// let lua = rua::Lua::new();
/// let ud = lua.create_userdata(Point(3)).unwrap();
/// let p = ud.borrow::<Point>().unwrap();
/// assert_eq!(p.0, 3);
/// assert!(matches!(ud.borrow_mut::<Point>(), Err(rua::Error::UserDataBorrowMutError)));
/// ```
pub struct UserDataRef<T: 'static> {
    /// Points into the userdata kept alive by the two fields below.
    cell: NonNull<UserDataCell<T>>,
    _handle: AnyUserData,
    _lua: Lua,
}

// SAFETY: the guard only gives `&T` (and releases an atomic flag), so moving or sharing it
// across threads is sharing `&T`, which needs `T: Sync`. The handle and `Lua` it keeps are
// `Send + Sync`.
unsafe impl<T: Sync> Send for UserDataRef<T> {}
// SAFETY: as above.
unsafe impl<T: Sync> Sync for UserDataRef<T> {}

impl<T> Deref for UserDataRef<T> {
    type Target = T;
    fn deref(&self) -> &T {
        // SAFETY: the cell is alive (see `AnyUserData::borrow_shared`) and the shared borrow
        // flag held by this guard excludes `&mut T` until it is dropped.
        unsafe { &*self.cell.as_ref().value.get() }
    }
}

impl<T> Drop for UserDataRef<T> {
    fn drop(&mut self) {
        // SAFETY: the cell outlives the guard's fields, which are dropped after this.
        unsafe { self.cell.as_ref() }.release_shared();
    }
}

/// An exclusive borrow of a userdata's value (from [`AnyUserData::borrow_mut`]).
///
/// ```
/// struct Point(i32);
/// impl rua::UserData for Point {}
/// let lua = rua::Lua::new();
/// let ud = lua.create_userdata(Point(3)).unwrap();
/// ud.borrow_mut::<Point>().unwrap().0 += 1;
/// assert_eq!(ud.borrow::<Point>().unwrap().0, 4);
/// ```
pub struct UserDataRefMut<T: 'static> {
    /// Points into the userdata kept alive by the two fields below.
    cell: NonNull<UserDataCell<T>>,
    _handle: AnyUserData,
    _lua: Lua,
}

// SAFETY: the guard is the only access to the `T` while it lives (exclusive flag), so moving
// it to another thread moves access to the `T`: `T: Send` suffices, as for `&mut T`.
unsafe impl<T: Send> Send for UserDataRefMut<T> {}
// SAFETY: through `&UserDataRefMut<T>` only `&T` is reachable, so sharing needs `T: Sync`.
unsafe impl<T: Sync> Sync for UserDataRefMut<T> {}

impl<T> Deref for UserDataRefMut<T> {
    type Target = T;
    fn deref(&self) -> &T {
        // SAFETY: the cell is alive and this guard holds the exclusive borrow flag.
        unsafe { &*self.cell.as_ref().value.get() }
    }
}

impl<T> DerefMut for UserDataRefMut<T> {
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: the cell is alive and this guard holds the exclusive borrow flag, so no
        // other reference to the value exists.
        unsafe { &mut *self.cell.as_ref().value.get() }
    }
}

impl<T> Drop for UserDataRefMut<T> {
    fn drop(&mut self) {
        // SAFETY: the cell outlives the guard's fields, which are dropped after this.
        unsafe { self.cell.as_ref() }.release_exclusive();
    }
}

impl<T: Sync + 'static> FromLua for UserDataRef<T> {
    fn from_lua(v: Value, _: &Lua) -> Result<Self> {
        match v {
            Value::UserData(u) => u.borrow::<T>(),
            other => Err(Error::from_lua_conv(
                other.type_name(),
                std::any::type_name::<T>(),
                None,
            )),
        }
    }
}

impl<T: 'static> FromLua for UserDataRefMut<T> {
    fn from_lua(v: Value, _: &Lua) -> Result<Self> {
        match v {
            Value::UserData(u) => u.borrow_mut::<T>(),
            other => Err(Error::from_lua_conv(
                other.type_name(),
                std::any::type_name::<T>(),
                None,
            )),
        }
    }
}
