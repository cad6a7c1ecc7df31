//! Awaiting async host functions inside library functions that call back into Lua through
//! continuations: `__tostring` reached from `string.format('%s')`, `string.gsub`
//! replacement functions and `__index` functions, and `table.sort` order functions. A plain `coroutine.yield` there still raises
//! PUC's "attempt to yield across a C-call boundary".

use rua::Lua;

mod common;
use common::lua_with_sleep;

#[tokio::test(flavor = "current_thread")]
async fn await_in_tostring_from_string_format() {
    let lua = lua_with_sleep();
    let v: String = lua
        .load(
            r#"
            local A = setmetatable({}, {__tostring = function() return sleep(1, 'alpha') end})
            local B = setmetatable({}, {__tostring = function() return sleep(0, 42) end})
            return string.format('[%s|%6s|%-4s|%d|%.3s]', A, B, 'x', 7, A)
            "#,
        )
        .eval_async()
        .await
        .unwrap();
    assert_eq!(v, "[alpha|    42|x   |7|alp]");
    // Errors after the await are reported as without it.
    let (ok, msg): (bool, String) = lua
        .load(
            "return pcall(string.format, '%s', setmetatable({}, \
             {__tostring = function() return sleep(0, {}) end}))",
        )
        .eval_async()
        .await
        .unwrap();
    assert!(!ok);
    assert!(msg.contains("'__tostring' must return a string"), "{msg}");
}

#[tokio::test(flavor = "current_thread")]
async fn await_in_gsub_replacements() {
    let lua = lua_with_sleep();
    let (s, n): (String, i64) = lua
        .load(
            "return string.gsub('one two three', '(%a)(%a*)', \
             function(a, rest) return sleep(1, a:upper() .. rest) end)",
        )
        .eval_async()
        .await
        .unwrap();
    assert_eq!((s.as_str(), n), ("One Two Three", 3));
    // nil/false keep the match; a table with an __index function awaits too.
    let (s, n): (String, i64) = lua
        .load(
            r#"
            local t = setmetatable({}, {__index = function(_, k)
              if k == 'b' then return sleep(0, false) end
              return sleep(0, k .. k)
            end})
            return string.gsub('abc', '%a', t)
            "#,
        )
        .eval_async()
        .await
        .unwrap();
    assert_eq!((s.as_str(), n), ("aabcc", 3));
    // Many matches, each awaiting.
    let n: i64 = lua
        .load("return #(string.gsub(string.rep('x', 500), 'x', function(c) return sleep(0, 'yz') end))")
        .eval_async()
        .await
        .unwrap();
    assert_eq!(n, 1000);
}

#[tokio::test(flavor = "current_thread")]
async fn await_in_table_sort_order_functions() {
    let lua = lua_with_sleep();
    let v: String = lua
        .load("local t = {3, 1, 2} table.sort(t, function(a, b) return sleep(0, a < b) end) return table.concat(t, ',')")
        .eval_async()
        .await
        .unwrap();
    assert_eq!(v, "1,2,3");
    // Many comparisons, each awaiting; same order as without awaits.
    let (same, n): (bool, i64) = lua
        .load(
            r#"
            local a, b = {}, {}
            for i = 1, 300 do a[i] = (i * 7919) % 301 b[i] = a[i] end
            local ca, cb = 0, 0
            table.sort(a, function(x, y) ca = ca + 1 return sleep(0, x > y) end)
            table.sort(b, function(x, y) cb = cb + 1 return x > y end)
            for i = 1, 300 do if a[i] ~= b[i] then return false, 0 end end
            return ca == cb, ca
            "#,
        )
        .eval_async()
        .await
        .unwrap();
    assert!(same && n > 300, "{n}");
    // An error after an await, and an invalid order function, are reported as without it.
    let msg: String = lua
        .load("return select(2, pcall(table.sort, {1, 2, 3}, function(a, b) sleep(0) error('cmp') end))")
        .eval_async()
        .await
        .unwrap();
    assert!(msg.ends_with("cmp"), "{msg}");
    let msg: String = lua
        .load(
            "local t = {} for i = 1, 200 do t[i] = i end \
             return select(2, pcall(table.sort, t, function() return sleep(0, true) end))",
        )
        .eval_async()
        .await
        .unwrap();
    assert!(msg.contains("invalid order function for sorting"), "{msg}");
}

#[test]
fn plain_yield_still_crosses_a_c_call_boundary() {
    let lua = Lua::new();
    for body in [
        "string.format('%s', setmetatable({}, {__tostring = function() \
         assert(not coroutine.isyieldable()) coroutine.yield() end}))",
        "string.gsub('ab', '.', function(c) assert(not coroutine.isyieldable()) coroutine.yield(c) end)",
        "table.sort({2, 1}, function(a, b) assert(not coroutine.isyieldable()) coroutine.yield() end)",
    ] {
        let msg: String = lua
            .load(format!(
                "local co = coroutine.wrap(function() \
                 return select(2, pcall(function() {body} end)) end) return co()"
            ))
            .eval()
            .unwrap();
        assert!(msg.contains("attempt to yield across a C-call boundary"), "{body}: {msg}");
    }
}
