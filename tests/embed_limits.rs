//! Sandbox limits through the embedding API: memory and instruction limits.

use rua::{Error, Lua};
use std::time::Duration;

#[test]
fn memory_limit_raises_a_catchable_memory_error() {
    let lua = Lua::new();
    assert_eq!(lua.set_memory_limit(8 << 20).unwrap(), 0);
    let e = lua
        .load("local t = {} for i = 1, 1e8 do t[i] = {i} end")
        .exec()
        .unwrap_err();
    assert!(
        matches!(e, Error::MemoryError(ref m) if m == "not enough memory"),
        "{e:?}"
    );
    // Lua code can catch it, and the state stays usable.
    let (ok, msg): (bool, String) = lua
        .load("local ok, e = pcall(string.rep, 'x', 1 << 30) return ok, e")
        .eval()
        .unwrap();
    assert!(!ok);
    assert_eq!(msg, "not enough memory");
    assert_eq!(
        lua.load("return #string.rep('y', 1000)")
            .eval::<i64>()
            .unwrap(),
        1000
    );
    // Lifting the limit returns the previous one.
    assert_eq!(lua.set_memory_limit(0).unwrap(), 8 << 20);
    lua.load("local s = string.rep('x', 16 << 20)")
        .exec()
        .unwrap();
}

#[test]
fn instruction_limit_stops_untrusted_loops() {
    let lua = Lua::new();
    for src in [
        "while true do end",
        "while true do pcall(function() while true do end end) end",
        "local co = coroutine.wrap(function() while true do end end) co()",
        // Pathological pattern: exponential backtracking inside one library call.
        "return string.find(string.rep('a', 40), string.rep('a*', 40) .. 'b')",
    ] {
        lua.set_instruction_limit(Some(1_000_000)).unwrap();
        let e = lua.load(src).exec().unwrap_err();
        assert!(matches!(e, Error::InstructionLimitExceeded), "{src}: {e:?}");
    }
    lua.set_instruction_limit(None).unwrap();
    assert_eq!(
        lua.load("local n = 0 for i = 1, 1e6 do n = n + 1 end return n")
            .eval::<i64>()
            .unwrap(),
        1_000_000
    );
}

#[tokio::test(flavor = "current_thread")]
async fn instruction_limit_applies_to_async_calls() {
    let lua = Lua::new();
    let sleep = lua
        .create_async_function(|_, ms: u64| async move {
            tokio::time::sleep(Duration::from_millis(ms)).await;
            Ok(())
        })
        .unwrap();
    lua.globals().set("sleep", sleep).unwrap();
    lua.set_instruction_limit(Some(200_000)).unwrap();
    let e = lua
        .load("pcall(sleep, 1) while true do pcall(function() while true do end end) end")
        .exec_async()
        .await
        .unwrap_err();
    assert!(matches!(e, Error::InstructionLimitExceeded), "{e:?}");
}
