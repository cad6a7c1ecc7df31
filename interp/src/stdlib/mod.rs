//! The Lua standard library, one module per library table, plus the state-independent engines
//! they use (`pattern`, `strformat`, `pack`).

pub mod base;
pub mod coroutine;
pub mod debug;
pub mod debug_console;
pub mod debug_locals;
pub mod io;
pub mod math;
pub mod os;
pub mod pack;
pub mod package;
pub mod pattern;
pub mod strformat;
pub mod string;
pub mod table;
mod table_steps;
pub mod utf8;

use crate::vm::State;

/// Opens every standard library into the state's globals.
pub fn open_all(st: &mut State) {
    base::open(st);
    package::open(st);
    coroutine::open(st);
    table::open(st);
    io::open(st);
    os::open(st);
    string::open(st);
    math::open(st);
    utf8::open(st);
    debug::open(st);
}

/// The text of an OS error without Rust's " (os error N)" suffix, as C's `strerror` gives it.
pub fn os_error_text(e: &std::io::Error) -> String {
    let s = e.to_string();
    match s.find(" (os error") {
        Some(p) => s[..p].to_string(),
        None => s,
    }
}
