//! Load a configuration written in Lua into a Rust struct with serde:
//! `cargo run --example serde_config`.

use rua::{Lua, LuaSerdeExt, Result};
use serde::{Deserialize, Serialize};

#[derive(Debug, Deserialize, Serialize)]
struct Config {
    name: String,
    listen: Listen,
    workers: u32,
    routes: Vec<Route>,
    debug: Option<bool>,
}

#[derive(Debug, Deserialize, Serialize)]
struct Listen {
    host: String,
    port: u16,
}

#[derive(Debug, Deserialize, Serialize)]
struct Route {
    path: String,
    upstream: String,
}

const CONFIG: &str = r#"
local base = "http://backend"
local routes = {}
for _, svc in ipairs({"users", "orders"}) do
    routes[#routes + 1] = { path = "/" .. svc, upstream = base .. "/" .. svc }
end
return {
    name = "gateway",
    listen = { host = "0.0.0.0", port = 8000 + 80 },
    workers = 4,
    routes = routes,
}
"#;

fn main() -> Result<()> {
    // Configuration is code, but it gets no file or OS access.
    let sandbox =
        rua::StdLib::ALL_SAFE & !(rua::StdLib::IO | rua::StdLib::OS | rua::StdLib::PACKAGE);
    let lua = Lua::new_with(sandbox, rua::LuaOptions::new())?;
    let value = lua.load(CONFIG).set_name("=config.lua").eval()?;
    let config: Config = lua.from_value(value)?;
    println!("{config:#?}");

    // And back: a Rust value as a Lua table.
    lua.globals().set("config", lua.to_value(&config)?)?;
    lua.load("print(config.name, config.listen.port, #config.routes)")
        .exec()?;
    Ok(())
}
