//! The synchronous embedding API: loading and running chunks, globals, tables, host functions,
//! conversions and errors.

use rua::{Error, Function, Lua, LuaOptions, MultiValue, StdLib, Table, Value, Variadic};
use std::collections::{BTreeMap, HashMap};

#[test]
fn eval_exec_call_and_globals() {
    let lua = Lua::new();
    assert_eq!(lua.load("1 + 2 * 3").eval::<i64>().unwrap(), 7);
    lua.load("x = 'hello'").exec().unwrap();
    assert_eq!(lua.globals().get::<String>("x").unwrap(), "hello");
    let r: (i64, String) = lua
        .load("local a, b = ... return a * 2, b:upper()")
        .call((21, "abc"))
        .unwrap();
    assert_eq!(r, (42, "ABC".to_string()));
    let f = lua.load("return ...").into_function().unwrap();
    let mv: MultiValue = f.call((1, "two", Value::Nil)).unwrap();
    assert_eq!(mv.len(), 3);
}

#[test]
fn sandbox_library_selection() {
    let libs = StdLib::ALL_SAFE & !(StdLib::IO | StdLib::OS | StdLib::PACKAGE);
    let lua = Lua::new_with(libs, LuaOptions::new()).unwrap();
    let missing: bool = lua
        .load("return io == nil and os == nil and debug == nil and require == nil")
        .eval()
        .unwrap();
    assert!(missing);
    assert!(lua
        .load("return string.rep('x', 2)")
        .eval::<String>()
        .is_ok());
    let full = Lua::new_with(StdLib::ALL, LuaOptions::new()).unwrap();
    assert!(full
        .load("return debug ~= nil and io ~= nil")
        .eval::<bool>()
        .unwrap());
    // Lua::new leaves out debug only.
    assert!(Lua::new()
        .load("return debug == nil and os ~= nil")
        .eval::<bool>()
        .unwrap());
}

#[test]
fn syntax_errors() {
    let lua = Lua::new();
    match lua.load("x = = 1").set_name("=cfg").exec() {
        Err(Error::SyntaxError {
            message,
            incomplete_input,
        }) => {
            assert!(message.starts_with("cfg:1:"), "{message}");
            assert!(!incomplete_input);
        }
        other => panic!("{other:?}"),
    }
    match lua.load("if x then").exec() {
        Err(Error::SyntaxError {
            incomplete_input, ..
        }) => assert!(incomplete_input),
        other => panic!("{other:?}"),
    }
}

#[test]
fn runtime_errors_carry_a_traceback() {
    let lua = Lua::new();
    let err = lua
        .load("local function inner() error('deep failure') end\nlocal function outer() inner() end\nouter()")
        .set_name("=script")
        .exec()
        .unwrap_err();
    let Error::RuntimeError(msg) = &err else {
        panic!("{err:?}")
    };
    assert!(msg.starts_with("script:1: deep failure"), "{msg}");
    assert!(msg.contains("stack traceback:"), "{msg}");
    assert!(msg.contains("'inner'"), "{msg}");
    eprintln!("{msg}");
    assert!(msg.contains("script:2:"), "{msg}");
    // Variable names in messages.
    let err = lua.load("local t = nil; return t.x").exec().unwrap_err();
    assert!(
        err.to_string()
            .contains("attempt to index a nil value (local 't')"),
        "{err}"
    );
}

#[derive(Debug)]
struct MyError(u32);
impl std::fmt::Display for MyError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "my error {}", self.0)
    }
}
impl std::error::Error for MyError {}

#[test]
fn callback_errors_keep_the_rust_cause() {
    let lua = Lua::new();
    let fail = lua
        .create_function(|_, code: u32| -> rua::Result<()> { Err(Error::external(MyError(code))) })
        .unwrap();
    lua.globals().set("fail", fail).unwrap();
    // Uncaught: CallbackError whose source is the original error.
    let err = lua.load("fail(7)").exec().unwrap_err();
    match &err {
        Error::CallbackError { traceback, cause } => {
            assert!(traceback.contains("stack traceback:"), "{traceback}");
            assert!(matches!(**cause, Error::ExternalError(_)));
        }
        other => panic!("{other:?}"),
    }
    let src = std::error::Error::source(&err).expect("source");
    assert_eq!(src.to_string(), "my error 7");
    assert_eq!(err.downcast_ref::<MyError>().unwrap().0, 7);

    // Caught by pcall in Lua: the value is an error object that prints its message, and
    // returned to Rust it is the original error, intact.
    let (ok, msg, e): (bool, String, Value) = lua
        .load("local ok, e = pcall(fail, 9) return ok, tostring(e), e")
        .eval()
        .unwrap();
    assert!(!ok);
    assert_eq!(msg, "my error 9");
    match e {
        Value::Error(e) => assert_eq!(e.downcast_ref::<MyError>().unwrap().0, 9),
        other => panic!("{other:?}"),
    }
}

#[test]
fn panics_in_callbacks_become_errors() {
    let lua = Lua::new();
    let f = lua
        .create_function(|_, ()| -> rua::Result<()> { panic!("boom") })
        .unwrap();
    lua.globals().set("f", f).unwrap();
    let (ok, msg): (bool, String) = lua
        .load("local ok, e = pcall(f) return ok, tostring(e)")
        .eval()
        .unwrap();
    assert!(!ok);
    assert!(msg.contains("Rust callback panicked: boom"), "{msg}");
    // The state is still usable.
    assert_eq!(lua.load("1").eval::<i32>().unwrap(), 1);

    let lua = Lua::new_with(StdLib::ALL_SAFE, LuaOptions::new().catch_rust_panics(false)).unwrap();
    let f = lua
        .create_function(|_, ()| -> rua::Result<()> { panic!("resumed") })
        .unwrap();
    lua.globals().set("f", f).unwrap();
    let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| lua.load("pcall(f)").exec()));
    let p = r.expect_err("panic resumed at the Rust boundary");
    assert_eq!(p.downcast_ref::<&str>(), Some(&"resumed"));
    assert_eq!(lua.load("2").eval::<i32>().unwrap(), 2);
}

#[test]
fn integer_conversions_check_ranges() {
    let lua = Lua::new();
    assert_eq!(lua.load("255").eval::<u8>().unwrap(), 255);
    let e = lua.load("256").eval::<u8>().unwrap_err();
    assert!(e.to_string().contains("out of range"), "{e}");
    assert!(e.to_string().contains("u8"), "{e}");
    assert!(lua.load("-1").eval::<u32>().is_err());
    assert_eq!(lua.load("3.0").eval::<i32>().unwrap(), 3);
    let e = lua.load("3.5").eval::<i32>().unwrap_err();
    assert!(e.to_string().contains("no integer representation"), "{e}");
    assert_eq!(lua.load("'12'").eval::<i64>().unwrap(), 12);
    let e = lua.load("{}").eval::<i64>().unwrap_err();
    match e {
        Error::FromLuaConversionError { from, to, .. } => {
            assert_eq!(from, "table");
            assert_eq!(to, "i64");
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(lua.load("math.maxinteger").eval::<i64>().unwrap(), i64::MAX);
    assert_eq!(lua.pack(u64::MAX).unwrap().type_name(), "number");
    assert_eq!(lua.load("2^53").eval::<u64>().unwrap(), 1u64 << 53);
    assert!(lua.load("'x'").eval::<f64>().is_err());
    assert!(lua.load("nil").eval::<bool>().map(|b| !b).unwrap());
    assert!(lua.load("0").eval::<bool>().unwrap());
}

#[test]
fn collections_and_options() {
    let lua = Lua::new();
    let v: Vec<i32> = lua.load("{1, 2, 3}").eval().unwrap();
    assert_eq!(v, [1, 2, 3]);
    let m: HashMap<String, i32> = lua.load("{a = 1, b = 2}").eval().unwrap();
    assert_eq!(m["b"], 2);
    let b: BTreeMap<i32, String> = lua.load("{[3] = 'c', [1] = 'a'}").eval().unwrap();
    assert_eq!(
        b.into_iter().collect::<Vec<_>>(),
        [(1, "a".into()), (3, "c".into())]
    );
    let o: Option<i32> = lua.load("nil").eval().unwrap();
    assert_eq!(o, None);
    lua.globals()
        .set("m", HashMap::from([("k".to_string(), vec![1.5, 2.5])]))
        .unwrap();
    assert_eq!(lua.load("m.k[2]").eval::<f64>().unwrap(), 2.5);
    let e = lua.load("{1, 'x'}").eval::<Vec<i32>>().unwrap_err();
    assert!(
        matches!(e, Error::FromLuaConversionError { from: "string", .. }),
        "{e:?}"
    );
}

#[test]
fn table_api() {
    let lua = Lua::new();
    let t = lua.create_table().unwrap();
    t.set("a", 1).unwrap();
    t.raw_set(1, "x").unwrap();
    t.push("y").unwrap();
    assert_eq!(t.raw_len(), 2);
    assert_eq!(t.len().unwrap(), 2);
    assert!(t.contains_key("a").unwrap());
    assert!(!t.contains_key("zz").unwrap());
    let mut keys: Vec<String> = t
        .pairs::<Value, Value>()
        .map(|p| p.unwrap().0.to_string().unwrap())
        .collect();
    keys.sort();
    assert_eq!(keys, ["1", "2", "a"]);
    let seq: Vec<String> = t.sequence_values().collect::<rua::Result<_>>().unwrap();
    assert_eq!(seq, ["x", "y"]);

    // Metamethods: get/set go through __index/__newindex, raw_* do not.
    let log = lua.create_table().unwrap();
    let mt: Table = lua
        .load("local log = ... return {__index = function(_, k) return k .. '?' end, __newindex = function(_, k, v) log[k] = v end}")
        .call(log.clone())
        .unwrap();
    let p = lua.create_table().unwrap();
    p.set_metatable(Some(mt));
    assert_eq!(p.get::<String>("q").unwrap(), "q?");
    assert!(p.raw_get::<Option<String>>("q").unwrap().is_none());
    p.set("w", 5).unwrap();
    assert_eq!(log.get::<i32>("w").unwrap(), 5);
    assert!(p.raw_get::<Value>("w").unwrap().is_nil());
    p.set_metatable(None);
    assert!(p.metatable().is_none());

    assert!(t.raw_set(Value::Nil, 1).is_err());
    assert!(t.raw_set(f64::NAN, 1).is_err());
    let e = lua
        .load("setmetatable({}, {__newindex = function() error('read-only') end})")
        .eval::<Table>()
        .unwrap()
        .set("x", 1)
        .unwrap_err();
    assert!(e.to_string().contains("read-only"), "{e}");

    let from = lua.create_table_from([("k1", 10), ("k2", 20)]).unwrap();
    assert_eq!(from.get::<i32>("k2").unwrap(), 20);
}

#[test]
fn functions_variadics_bind_and_mut() {
    let lua = Lua::new();
    let sum = lua
        .create_function(|_, (first, rest): (i64, Variadic<i64>)| {
            Ok(first * 100 + rest.iter().sum::<i64>())
        })
        .unwrap();
    assert_eq!(sum.call::<i64>((1, 2, 3)).unwrap(), 105);
    let e = sum.call::<i64>(("x", 1)).unwrap_err();
    assert!(e.to_string().contains("bad argument #1"), "{e}");
    let e = sum.call::<i64>((1, 2, "nope")).unwrap_err();
    assert!(e.to_string().contains("bad argument #3"), "{e}");

    let multi = lua.create_function(|_, ()| Ok((1, "two", 3.5))).unwrap();
    let (a, b, c): (i32, String, f64) = multi.call(()).unwrap();
    assert_eq!((a, b.as_str(), c), (1, "two", 3.5));

    let concat: Function = lua
        .load("function(...) return table.concat({...}, ',') end")
        .eval()
        .unwrap();
    let bound = concat.bind(("a", "b")).unwrap();
    assert_eq!(bound.call::<String>(("c", "d")).unwrap(), "a,b,c,d");
    assert_eq!(bound.call::<String>(()).unwrap(), "a,b");

    let mut n = 0;
    let counter = lua
        .create_function_mut(move |_, ()| {
            n += 1;
            Ok(n)
        })
        .unwrap();
    counter.call::<()>(()).unwrap();
    assert_eq!(counter.call::<i32>(()).unwrap(), 2);

    // A mut callback that re-enters itself gets RecursiveMutCallback, not aliasing.
    let lua2 = lua.clone();
    let rec = lua
        .create_function_mut(move |_, depth: i32| {
            if depth > 0 {
                let me: Function = lua2.globals().get("rec")?;
                me.call::<()>(depth - 1)?;
            }
            Ok(())
        })
        .unwrap();
    lua.globals().set("rec", rec.clone()).unwrap();
    let e = rec.call::<()>(1).unwrap_err();
    assert!(e.to_string().contains("recursively"), "{e}");
}

#[test]
fn reentrancy_from_callbacks() {
    let lua = Lua::new();
    let run = lua
        .create_function(|lua, src: String| {
            // Create values and run Lua from inside a host function.
            let t = lua.create_table()?;
            t.set("n", 2)?;
            lua.globals().set("inner_t", t)?;
            lua.load(&src).eval::<i64>()
        })
        .unwrap();
    lua.globals().set("run", run).unwrap();
    let v: i64 = lua
        .load("return run('return inner_t.n * 10 + run(\"return 3\")')")
        .eval()
        .unwrap();
    assert_eq!(v, 23);
}

#[test]
fn handles_stay_rooted_across_collections() {
    let lua = Lua::new();
    let t: Table = lua
        .load("{ s = string.rep('x', 100) .. 'end' }")
        .eval()
        .unwrap();
    let s: rua::String = lua.load("return string.rep('y', 50)").eval().unwrap();
    let f: Function = lua
        .load("local up = {7} return function() return up[1] end")
        .eval()
        .unwrap();
    for _ in 0..3 {
        lua.load("local junk = {} for i = 1, 20000 do junk[i] = {i} end collectgarbage()")
            .exec()
            .unwrap();
        lua.gc_collect().unwrap();
    }
    assert!(t.get::<String>("s").unwrap().ends_with("end"));
    assert_eq!(s.to_str().unwrap(), "y".repeat(50));
    assert_eq!(f.call::<i32>(()).unwrap(), 7);
    // Dropped handles release their roots: memory goes back down.
    let before = lua.used_memory();
    let big: Vec<Table> = (0..2000)
        .map(|_| lua.create_sequence_from(0..50).unwrap())
        .collect();
    lua.gc_collect().unwrap();
    let held = lua.used_memory();
    assert!(held > before + 2000 * 50 * 16, "{before} -> {held}");
    drop(big);
    lua.gc_collect().unwrap();
    assert!(
        lua.used_memory() < held / 2,
        "{} vs {}",
        lua.used_memory(),
        held
    );
}

#[test]
fn registry_keys_and_foreign_handles() {
    let a = Lua::new();
    let b = Lua::new();
    let key = a.create_registry_value(vec![1, 2]).unwrap();
    assert_eq!(a.registry_value::<Vec<i32>>(&key).unwrap(), [1, 2]);
    assert!(matches!(
        b.registry_value::<Value>(&key),
        Err(Error::MismatchedState)
    ));
    assert!(b.remove_registry_value(key).is_err());

    // A table of state `a` passed to a function of state `b` is refused.
    let ta = a.create_table().unwrap();
    let fb: Function = b.load("function(t) return t end").eval().unwrap();
    assert!(matches!(fb.call::<Value>(ta), Err(Error::MismatchedState)));

    // Handles outliving their state fail cleanly.
    let t = b.create_table().unwrap();
    drop(fb);
    drop(b);
    assert!(matches!(t.get::<Value>(1), Err(Error::MismatchedState)));
    assert_eq!(t.raw_len(), 0);
}

#[test]
fn closures_capturing_handles_do_not_leak_the_state() {
    struct DropFlag(std::sync::Arc<std::sync::atomic::AtomicBool>);
    impl Drop for DropFlag {
        fn drop(&mut self) {
            self.0.store(true, std::sync::atomic::Ordering::SeqCst);
        }
    }
    impl rua::UserData for DropFlag {}
    let dropped = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    {
        let lua = Lua::new();
        let t = lua.create_table().unwrap();
        lua.globals()
            .set("flag", DropFlag(dropped.clone()))
            .unwrap();
        // The closure (stored in the state) holds a table handle.
        let f = lua.create_function(move |_, ()| t.get::<Value>(1)).unwrap();
        lua.globals().set("f", f).unwrap();
        lua.load("f()").exec().unwrap();
    }
    assert!(
        dropped.load(std::sync::atomic::Ordering::SeqCst),
        "state freed (its userdata dropped) with the last Lua handle"
    );
}

#[test]
fn threads_resume_and_status() {
    let lua = Lua::new();
    let f: Function = lua
        .load("function(a) local b = coroutine.yield(a * 2) error('stop ' .. b) end")
        .eval()
        .unwrap();
    let co = lua.create_thread(f).unwrap();
    assert_eq!(co.status(), rua::ThreadStatus::Resumable);
    assert_eq!(co.resume::<i32>(21).unwrap(), 42);
    let e = co.resume::<()>("here").unwrap_err();
    assert!(e.to_string().contains("stop here"), "{e}");
    assert_eq!(co.status(), rua::ThreadStatus::Finished);
}

#[test]
fn strings_are_bytes() {
    let lua = Lua::new();
    let s = lua.create_string(b"a\0b\xff").unwrap();
    assert_eq!(&*s.as_bytes(), b"a\0b\xff");
    assert!(s.to_str().is_err());
    lua.globals().set("s", s).unwrap();
    assert_eq!(lua.load("#s").eval::<i32>().unwrap(), 4);
    assert_eq!(lua.load("10").eval::<String>().unwrap(), "10");
    let e = lua.load("'\\xff'").eval::<String>().unwrap_err();
    assert!(e.to_string().contains("utf-8"), "{e}");
}

/// The README's embedding example, kept compiling and passing.
#[tokio::test(flavor = "current_thread")]
async fn readme_example() -> rua::Result<()> {
    use std::time::Duration;
    let lua = Lua::new();
    let add = lua.create_function(|_, (a, b): (i64, i64)| Ok(a + b))?;
    let sleep = lua.create_async_function(|_, ms: u64| async move {
        tokio::time::sleep(Duration::from_millis(ms)).await;
        Ok(ms)
    })?;
    lua.globals().set("add", add)?;
    lua.globals().set("sleep", sleep)?;
    let v: i64 = lua.load("return add(sleep(10), 32)").eval_async().await?;
    assert_eq!(v, 42);
    Ok(())
}
