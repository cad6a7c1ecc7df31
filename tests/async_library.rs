//! Awaiting async host functions inside library functions that call back into Lua through
//! continuations: `__tostring` reached from `string.format('%s')`, `string.gsub`
//! replacement functions and `__index` functions, `table.sort` order functions and `__lt`
//! metamethods, and the `__len`/`__index`/`__newindex` metamethods of proxy tables reached by
//! `table.insert`, `table.remove`, `table.concat` and `table.unpack`. A plain
//! `coroutine.yield` there still raises PUC's "attempt to yield across a C-call boundary".

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

/// `table.sort` with an order function runs as continuation calls inside an async task and as
/// nested calls elsewhere: both make the same comparisons, in the same order, with the same
/// outcomes (results, errors, invalid order functions, nested sorts, native order functions).
#[tokio::test(flavor = "current_thread")]
async fn sort_with_order_function_same_in_sync_and_async_calls() {
    let lua = Lua::new();
    let script = r#"
        local out = {}
        local function log(...)
          local p = table.pack(...)
          for i = 1, p.n do p[i] = tostring(p[i]) end
          out[#out + 1] = table.concat(p, " ")
        end
        for _, n in ipairs({2, 3, 7, 60, 500, 3000}) do
          local t, seed = {}, n
          for i = 1, n do seed = (seed * 16807) % 2147483647 t[i] = seed % (n // 2 + 1) end
          local h, c = 7, 0
          table.sort(t, function(a, b) c = c + 1 h = (h * 31 + a * 3 + b) % 1000000007 return a > b end)
          log("sorted", n, c, h, t[1], t[n])
        end
        local recs = {}
        for i = 1, 400 do recs[i] = {k = (i * 37) % 11, id = i} end
        table.sort(recs, function(a, b) if a.k ~= b.k then return a.k < b.k end return a.id > b.id end)
        log("records", recs[1].k, recs[1].id, recs[400].k, recs[400].id)
        log(pcall(table.sort, {5, 4, 3, 2, 1}, function(a, b) if a == 2 then error("at 2") end return a < b end))
        local all = {} for i = 1, 300 do all[i] = i end
        log(pcall(table.sort, all, function() return true end))
        local outer = {{3, 1}, {2, 9}, {5, 0}}
        table.sort(outer, function(a, b) table.sort(a) table.sort(b, function(x, y) return x > y end) return a[1] < b[1] end)
        log("nested", outer[1][1], outer[1][2], outer[3][1], outer[3][2])
        local u = {} for i = 1, 200 do u[i] = (i * 7919) % 211 - 100 end
        table.sort(u, math.ult) log("native", u[1], u[100], u[200])
        return table.concat(out, "\n")
    "#;
    let sync: String = lua.load(script).eval().unwrap();
    let in_task: String = lua.load(script).eval_async().await.unwrap();
    assert_eq!(sync, in_task);
    assert!(
        sync.contains("invalid order function for sorting"),
        "{sync}"
    );
    assert!(sync.contains("at 2"), "{sync}");
}

/// A proxy over `store` whose `__len`, `__index` and `__newindex` each await `sleep`.
const ASYNC_PROXY: &str = r#"
    local function proxy(store)
      return setmetatable({}, {
        __len = function() return sleep(0, #store) end,
        __index = function(_, k) return sleep(0, store[k]) end,
        __newindex = function(_, k, v) sleep(0) store[k] = v end,
      })
    end
"#;

#[tokio::test(flavor = "current_thread")]
async fn await_in_proxy_metamethods_of_the_table_library() {
    let lua = lua_with_sleep();
    let v: String = lua
        .load(format!(
            r#"{ASYNC_PROXY}
            local s = {{10, 20, 30}}
            local p = proxy(s)
            table.insert(p, 40)
            table.insert(p, 1, 5)
            local r1 = table.remove(p, 2)
            local r2 = table.remove(p)
            local joined = table.concat(p, '-')
            local a, b, c = table.unpack(p)
            local x, y = table.unpack(p, 2, 3)
            return table.concat({{table.concat(s, ','), r1, r2, joined, a, b, c, x, y}}, ' ')
            "#
        ))
        .eval_async()
        .await
        .unwrap();
    assert_eq!(v, "5,20,30 10 40 5-20-30 5 20 30 20 30");
    // Many awaits in one call, mixed with plain pieces of the concatenation.
    let (n, same): (i64, bool) = lua
        .load(format!(
            r#"{ASYNC_PROXY}
            local s = {{}}
            for i = 1, 300 do s[i] = i end
            local big = table.concat(proxy(s), ',')
            return #big, big == table.concat(s, ',')
            "#
        ))
        .eval_async()
        .await
        .unwrap();
    assert_eq!((n, same), (1091, true));
    let n: i64 = lua
        .load(format!(
            r#"{ASYNC_PROXY}
            local s = {{}}
            for i = 1, 200 do s[i] = i end
            return select('#', table.unpack(proxy(s)))
            "#
        ))
        .eval_async()
        .await
        .unwrap();
    assert_eq!(n, 200);
    // Errors after awaits are reported as without them.
    let msg: String = lua
        .load(format!(
            r#"{ASYNC_PROXY}
            return select(2, pcall(table.concat, proxy({{1, {{}}, 3}}), ','))"#
        ))
        .eval_async()
        .await
        .unwrap();
    assert!(
        msg.contains("invalid value (table) at index 2 in table for 'concat'"),
        "{msg}"
    );
    let msg: String = lua
        .load(format!(
            r#"{ASYNC_PROXY}
            return select(2, pcall(table.insert, proxy({{1}}), 5, 0))"#
        ))
        .eval_async()
        .await
        .unwrap();
    assert!(msg.contains("position out of bounds"), "{msg}");
}

#[tokio::test(flavor = "current_thread")]
async fn await_in_lt_metamethods_of_table_sort() {
    let lua = lua_with_sleep();
    let (sorted, same): (String, bool) = lua
        .load(
            r#"
            local calls = {0, 0}
            local function boxes(which)
              local mt = {__lt = function(a, b)
                calls[which] = calls[which] + 1
                if which == 1 then return sleep(0, a.v < b.v) end
                return a.v < b.v
              end}
              local t = {}
              for i = 1, 100 do t[i] = setmetatable({v = (i * 37) % 101}, mt) end
              return t
            end
            local a, b = boxes(1), boxes(2)
            table.sort(a) table.sort(b)
            local out = {}
            for i = 1, 5 do out[i] = a[i].v end
            for i = 1, 100 do if a[i].v ~= b[i].v then return '', false end end
            return table.concat(out, ','), calls[1] == calls[2]
            "#,
        )
        .eval_async()
        .await
        .unwrap();
    assert_eq!(sorted, "1,2,3,4,5");
    assert!(same, "the same comparisons with and without awaits");
    let msg: String = lua
        .load(
            r#"
            local mt = {__lt = function() return sleep(0, true) end}
            local t = {}
            for i = 1, 50 do t[i] = setmetatable({}, mt) end
            return select(2, pcall(table.sort, t))
            "#,
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
        "local mt = {__lt = function() assert(not coroutine.isyieldable()) coroutine.yield() end} \
         table.sort({setmetatable({}, mt), setmetatable({}, mt)})",
        "table.concat(setmetatable({}, {__len = function() return 1 end, \
         __index = function() assert(not coroutine.isyieldable()) coroutine.yield() end}))",
        "table.insert(setmetatable({}, {__len = function() return 0 end, \
         __newindex = function() assert(not coroutine.isyieldable()) coroutine.yield() end}), 1)",
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
