//! Run untrusted scripts with a library sandbox, a memory limit and an instruction limit:
//! `cargo run --example sandbox`.

use rua::{Error, Lua, LuaOptions, Result, StdLib};

fn run(lua: &Lua, name: &str, src: &str) {
    // A fresh budget for each script.
    lua.set_instruction_limit(Some(5_000_000))
        .expect("state available");
    match lua.load(src).set_name(format!("={name}")).exec() {
        Ok(()) => println!("{name}: ok"),
        Err(Error::InstructionLimitExceeded) => println!("{name}: stopped (instruction limit)"),
        Err(Error::MemoryError(m)) => println!("{name}: stopped ({m})"),
        Err(e) => println!("{name}: error: {e}"),
    }
}

fn main() -> Result<()> {
    let libs = StdLib::ALL_SAFE & !(StdLib::IO | StdLib::OS | StdLib::PACKAGE);
    let lua = Lua::new_with(libs, LuaOptions::new())?;
    lua.set_memory_limit(16 << 20)?;

    run(
        &lua,
        "well-behaved",
        "local s = 0 for i = 1, 1000 do s = s + i end assert(s == 500500)",
    );
    run(&lua, "busy loop", "while true do end");
    run(
        &lua,
        "pcall cannot swallow the limit",
        "while true do pcall(function() while true do end end) end",
    );
    run(
        &lua,
        "regex bomb",
        "string.find(string.rep('a', 40), string.rep('a*', 40) .. 'b')",
    );
    run(
        &lua,
        "memory hog",
        "local t = {} for i = 1, 1e9 do t[i] = tostring(i) end",
    );
    run(&lua, "no file access", "io.open('/etc/passwd')");

    // The state is still fine afterwards.
    lua.set_instruction_limit(None)?;
    println!(
        "after all that: {}",
        lua.load("'still ' .. 'usable'").eval::<String>()?
    );
    Ok(())
}
