//! Evaluate Lua and call a Rust function from it: `cargo run --example hello`.

use rua::{Lua, Result};

fn main() -> Result<()> {
    let lua = Lua::new();

    // A Rust function visible to Lua as `greet`.
    let greet = lua.create_function(|_, (name, times): (String, Option<usize>)| {
        Ok(format!("hello, {name}{}", "!".repeat(times.unwrap_or(1))))
    })?;
    lua.globals().set("greet", greet)?;

    let answer: i64 = lua.load("6 * 7").eval()?;
    println!("6 * 7 = {answer}");

    let text: String = lua.load("return greet('world', 3)").eval()?;
    println!("{text}");

    // Lua functions come back as values Rust can call.
    let fib: rua::Function = lua
        .load("local function fib(n) if n < 2 then return n end return fib(n - 1) + fib(n - 2) end return fib")
        .eval()?;
    println!("fib(20) = {}", fib.call::<i64>(20)?);
    Ok(())
}
