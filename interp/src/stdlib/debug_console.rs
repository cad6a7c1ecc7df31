//! `debug.debug`: a minimal console that reads Lua commands from standard input and runs
//! them, one line each, until a line `cont` or the end of input. The prompt `lua_debug> `
//! and error messages go to standard error, as in PUC Lua.

use crate::value::Value;
use crate::vm::native::{Action, Ctx};
use crate::vm::LuaResult;
use std::io::{BufRead, Write};

pub fn debug(ctx: &mut Ctx) -> LuaResult<Action> {
    loop {
        {
            let mut err = std::io::stderr().lock();
            let _ = err.write_all(b"lua_debug> ");
            let _ = err.flush();
        }
        let mut line = Vec::new();
        match std::io::stdin().lock().read_until(b'\n', &mut line) {
            Ok(0) | Err(_) => return ctx.ret0(),
            Ok(_) => {}
        }
        if line == b"cont\n" || line == b"cont" {
            return ctx.ret0();
        }
        let outcome = match ctx.st.load(&line, b"=(debug command)", None) {
            Ok(f) => ctx.st.call_value_protected(f, &[], 0).map(|_| ()),
            Err(e) => Err(e),
        };
        if let Err(e) = outcome {
            let text = match e.value() {
                Value::Str(s) => s.as_bytes().to_vec(),
                v => ctx.st.tostring_basic(v),
            };
            let mut err = std::io::stderr().lock();
            let _ = err.write_all(&text);
            let _ = err.write_all(b"\n");
        }
    }
}
