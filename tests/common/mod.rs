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

/// Installs a global async `wait_forever()` whose future never completes (for cancellation
/// tests: only dropping the call ends it).
#[allow(dead_code)] // not every test binary that includes this module uses it
pub fn set_wait_forever(lua: &Lua) {
    let wait_forever = lua
        .create_async_function(|_, ()| async move {
            std::future::pending::<()>().await;
            Ok(())
        })
        .unwrap();
    lua.globals().set("wait_forever", wait_forever).unwrap();
}
