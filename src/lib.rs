//! Rua: a Lua 5.4 runtime.
//!
//! This crate is the `rua` command and the embedding API, [`Lua`], in the conventions of
//! [mlua](https://docs.rs/mlua): values held by Rust ([`Table`], [`Function`], [`AnyUserData`],
//! [`Thread`], [`String`], [`RegistryKey`]) are rooted handles without lifetime parameters,
//! conversions go through [`IntoLua`]/[`FromLua`], Rust types become userdata through
//! [`UserData`], and host functions may be `async` ([`Lua::create_async_function`]).
//!
//! ```
//! use rua::{Lua, Result};
//!
//! fn main() -> Result<()> {
//!     let lua = Lua::new();
//!     let greet = lua.create_function(|_, name: String| Ok(format!("hello, {name}")))?;
//!     lua.globals().set("greet", greet)?;
//!     let s: String = lua.load("return greet('rua')").eval()?;
//!     assert_eq!(s, "hello, rua");
//!     Ok(())
//! }
//! ```
//!
//! # Features
//!
//! * `async` (default): [`Lua::create_async_function`], [`Function::call_async`] and the
//!   `*_async` chunk methods. The futures are `std` futures; no runtime is required.
//! * `serde` (default): [`LuaSerdeExt`] (`to_value` / `from_value`).
//!
//! # Threads
//!
//! [`Lua`] and every handle ([`Table`], [`Function`], [`AnyUserData`], ...) are `Send` and
//! `Sync`: a state can move between threads (tokio worker threads, `spawn_blocking`) and the
//! futures of async calls can be spawned on a multi-threaded runtime. All handles of a state
//! reach it through one reentrant lock, so calls from several threads run one at a time (a
//! host function may call back into its own state; a call from another thread waits, and a
//! call that awaits a host future releases the lock while the future is pending). For this,
//! host functions, host futures and userdata values must be `Send`, and shared borrows of
//! userdata that may outlive the lock ([`AnyUserData::borrow`], async methods) need `Sync`.
//! A host function must therefore not block waiting for another thread that uses the same
//! state (that thread waits for the lock the host function holds). The invariant behind the
//! `unsafe impl Send` is written at `Shared` in `src/lua.rs`.
//!
//! # Layers
//!
//! Below the embedding API: [`interp`] (front end, VM, standard library) on top of `rua-gc` (the
//! heap), with `rua-jit` plugging into the interpreter's hooks.
//!
//! ```
//! let mut st = rua::new_state();
//! let f = st.load(b"return 6 * 7", b"=example", None).unwrap();
//! let r = st.call_value(f, &[], 1).unwrap();
//! assert!(matches!(r[0], rua::interp::value::Value::Int(42)));
//! ```

#![deny(missing_docs)]

pub use rua_interp as interp;

mod app_data;
#[cfg(feature = "async")]
mod async_call;
mod conversion;
mod error;
mod function;
mod lock;
mod lua;
#[cfg(feature = "serde")]
mod serde;
mod table;
mod userdata;
mod value;

pub use crate::app_data::{AppDataRef, AppDataRefMut};
pub use crate::conversion::{FromLua, FromLuaMulti, IntoLua, IntoLuaMulti};
pub use crate::error::{Error, ErrorContext, ExternalResult, Result};
pub use crate::function::{Function, FunctionInfo};
pub use crate::lua::{AsChunk, Chunk, Lua, LuaOptions, StdLib};
#[cfg(feature = "serde")]
pub use crate::serde::LuaSerdeExt;
pub use crate::table::{Table, TablePairs, TableSequence};
pub use crate::userdata::{
    AnyUserData, MetaMethod, UserData, UserDataFields, UserDataMethods, UserDataRef, UserDataRefMut,
};
pub use crate::value::{
    BorrowedBytes, LightUserData, MultiValue, RegistryKey, String, Thread, ThreadStatus, Value,
    Variadic,
};

/// The README's code blocks, compiled and run as doctests (so the "Embedding" example stays
/// correct).
#[cfg(all(doctest, feature = "async"))]
#[doc = include_str!("../README.md")]
mod readme_doctests {}

/// Common imports: `use rua::prelude::*;`.
pub mod prelude {
    pub use crate::{
        AnyUserData as LuaAnyUserData, Error as LuaError, ExternalResult as _, FromLua,
        FromLuaMulti, Function as LuaFunction, IntoLua, IntoLuaMulti, Lua, MetaMethod,
        MultiValue as LuaMultiValue, Result as LuaResult, String as LuaString, Table as LuaTable,
        UserData, UserDataFields, UserDataMethods, Value as LuaValue, Variadic,
    };
}

/// A raw interpreter state with every standard library opened (the `rua` command uses this;
/// embedders normally want [`Lua`]).
///
/// ```
/// let mut st = rua::new_state();
/// let f = st.load(b"return debug ~= nil", b"=raw", None).unwrap();
/// let r = st.call_value(f, &[], 1).unwrap();
/// assert!(matches!(r[0], rua::interp::value::Value::Bool(true)));
/// ```
pub fn new_state() -> interp::vm::State {
    let mut st = interp::vm::State::new_bare();
    interp::stdlib::open_all(&mut st);
    st
}
