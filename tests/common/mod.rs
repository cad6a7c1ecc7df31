//! Helpers shared by the integration tests of the async embedding API.

use rua::Lua;
use std::time::Duration;

/// A state with a global async `sleep(ms, v)` that waits `ms` milliseconds on tokio's timer
/// and returns `v`.
pub fn lua_with_sleep() -> Lua {
    let lua = Lua::new();
    let sleep = lua
        .create_async_function(|_, (ms, v): (u64, rua::Value)| async move {
            tokio::time::sleep(Duration::from_millis(ms)).await;
            Ok(v)
        })
        .unwrap();
    lua.globals().set("sleep", sleep).unwrap();
    lua
}
