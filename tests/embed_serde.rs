//! serde: to_value / from_value and the null / array / map rules.

use rua::{Lua, LuaSerdeExt, Value};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;

#[derive(Serialize, Deserialize, Debug, PartialEq)]
enum Mode {
    Fast,
    Limited(u32),
    Custom { level: u8 },
}

#[derive(Serialize, Deserialize, Debug, PartialEq)]
struct Config {
    name: String,
    port: u16,
    ratio: f64,
    tags: Vec<String>,
    limits: HashMap<String, i64>,
    backup: Option<String>,
    modes: Vec<Mode>,
}

#[test]
fn lua_table_into_struct_and_back() {
    let lua = Lua::new();
    let v: Value = lua
        .load(
            r#"{
            name = "svc", port = 8080, ratio = 0.5, tags = {"a", "b"},
            limits = {cpu = 2, mem = 512},
            modes = {"Fast", {Limited = 3}, {Custom = {level = 7}}},
        }"#,
        )
        .eval()
        .unwrap();
    let cfg: Config = lua.from_value(v).unwrap();
    assert_eq!(cfg.port, 8080);
    assert_eq!(cfg.tags, ["a", "b"]);
    assert_eq!(cfg.limits["mem"], 512);
    assert_eq!(cfg.backup, None);
    assert_eq!(
        cfg.modes,
        [Mode::Fast, Mode::Limited(3), Mode::Custom { level: 7 }]
    );

    let back = lua.to_value(&cfg).unwrap();
    let again: Config = lua.from_value(back.clone()).unwrap();
    assert_eq!(again, cfg);
    lua.globals().set("cfg", back).unwrap();
    let ok: bool = lua
        .load("return cfg.port == 8080 and cfg.tags[2] == 'b' and cfg.modes[2].Limited == 3 and cfg.modes[1] == 'Fast'")
        .eval()
        .unwrap();
    assert!(ok);
}

#[test]
fn null_rules() {
    let lua = Lua::new();
    let v = lua.to_value(&(None::<i32>, ())).unwrap();
    let t = v.as_table().unwrap();
    assert!(t.raw_get::<Value>(1).unwrap().is_null());
    assert!(t.raw_get::<Value>(2).unwrap().is_null());
    // NULL and nil (or a missing key) all read as None.
    #[derive(Deserialize, Debug, PartialEq)]
    struct Opts {
        a: Option<i32>,
        b: Option<i32>,
        c: Option<i32>,
    }
    let t: Value = lua
        .load("local null = ... return {a = nil, b = null, c = 3}")
        .call(lua.null())
        .unwrap();
    let o: Opts = lua.from_value(t).unwrap();
    assert_eq!(
        o,
        Opts {
            a: None,
            b: None,
            c: Some(3)
        }
    );
    let x: Option<i32> = lua.from_value(Value::NULL).unwrap();
    assert_eq!(x, None);
}

#[test]
fn untyped_tables_follow_the_array_map_rule() {
    let lua = Lua::new();
    let seq: serde_json::Value = lua
        .from_value(lua.load("{1, 2, 3}").eval().unwrap())
        .unwrap();
    assert_eq!(seq, serde_json::json!([1, 2, 3]));
    let map: serde_json::Value = lua
        .from_value(lua.load("{1, 2, x = 3}").eval().unwrap())
        .unwrap();
    assert_eq!(map, serde_json::json!({"1": 1, "2": 2, "x": 3}));
    let empty: serde_json::Value = lua.from_value(lua.load("{}").eval().unwrap()).unwrap();
    assert_eq!(empty, serde_json::json!({}));
    let holes: serde_json::Value = lua
        .from_value(lua.load("{[1] = 'a', [3] = 'c'}").eval().unwrap())
        .unwrap();
    assert!(holes.is_object(), "{holes}");
}

#[test]
fn errors_name_the_problem() {
    let lua = Lua::new();
    let e = lua
        .from_value::<Config>(lua.load("{ name = 'x', port = 70000 }").eval().unwrap())
        .unwrap_err();
    assert!(e.to_string().contains("70000"), "{e}");
    let e = lua
        .from_value::<Config>(lua.load("print").eval().unwrap())
        .unwrap_err();
    assert!(e.to_string().contains("function"), "{e}");
}
