//! Rua: a Lua 5.4 runtime.
//!
//! This crate is the `rua` command and the embedding facade. The layers below it:
//! [`interp`] (front end, VM, standard library) on top of `rua-gc` (the heap), with `rua-jit`
//! (the tracing JIT, in progress) plugging into the interpreter's hooks.
//!
//! ```
//! let mut st = rua::new_state();
//! let f = st.load(b"return 6 * 7", b"=example", None).unwrap();
//! let r = st.call_value(f, &[], 1).unwrap();
//! assert!(matches!(r[0], rua::interp::value::Value::Int(42)));
//! ```

pub use rua_interp as interp;

/// A Lua state with every standard library opened.
pub fn new_state() -> interp::vm::State {
    let mut st = interp::vm::State::new_bare();
    interp::stdlib::open_all(&mut st);
    st
}
