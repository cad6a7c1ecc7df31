//! UserData: methods, mutable methods, metamethods, fields, async methods, borrow errors.

use rua::{
    AnyUserData, Error, Lua, MetaMethod, UserData, UserDataFields, UserDataMethods, UserDataRef,
};

#[derive(Debug, Clone, Copy, PartialEq)]
struct Vec2 {
    x: f64,
    y: f64,
}

impl UserData for Vec2 {
    fn add_fields<F: UserDataFields<Self>>(fields: &mut F) {
        fields.add_field_method_get("x", |_, v| Ok(v.x));
        fields.add_field_method_set("x", |_, v, x: f64| {
            v.x = x;
            Ok(())
        });
        fields.add_field_method_get("y", |_, v| Ok(v.y));
        fields.add_field("kind", "vec2");
    }

    fn add_methods<M: UserDataMethods<Self>>(methods: &mut M) {
        methods.add_method("len", |_, v, ()| Ok((v.x * v.x + v.y * v.y).sqrt()));
        methods.add_method_mut("scale", |_, v, k: f64| {
            v.x *= k;
            v.y *= k;
            Ok(())
        });
        methods.add_function("new", |_, (x, y): (f64, f64)| Ok(Vec2 { x, y }));
        methods.add_meta_function(
            MetaMethod::Add,
            |_, (a, b): (UserDataRef<Vec2>, UserDataRef<Vec2>)| {
                Ok(Vec2 {
                    x: a.x + b.x,
                    y: a.y + b.y,
                })
            },
        );
        methods.add_meta_method(MetaMethod::ToString, |_, v, ()| {
            Ok(format!("({}, {})", v.x, v.y))
        });
        methods.add_meta_method(MetaMethod::Eq, |_, a, b: UserDataRef<Vec2>| Ok(*a == *b));
        // Re-enters Lua with self borrowed: a mutable method called from there must fail.
        methods.add_method("visit", |_, _, f: rua::Function| f.call::<()>(()));
        methods.add_async_method("slow_len", |_, v, ms: u64| async move {
            tokio::time::sleep(std::time::Duration::from_millis(ms)).await;
            Ok((v.x * v.x + v.y * v.y).sqrt())
        });
    }
}

#[test]
fn methods_fields_and_metamethods() {
    let lua = Lua::new();
    lua.globals().set("v", Vec2 { x: 3.0, y: 4.0 }).unwrap();
    let r: (f64, f64, String, String) = lua
        .load("v:scale(2) v.x = v.x + 1 return v:len(), v.y, tostring(v + v), v.kind")
        .eval()
        .unwrap();
    assert_eq!(r.0, (49.0f64 + 64.0).sqrt());
    assert_eq!(r.1, 8.0);
    assert_eq!(r.2, "(14, 16)");
    assert_eq!(r.3, "vec2");
    let eq: bool = lua
        .load("local a = v.new(1, 2) local b = v.new(1, 2) return a == b and a ~= v")
        .eval()
        .unwrap();
    assert!(eq);
    let e = lua.load("v.z = 1").exec().unwrap_err();
    assert!(e.to_string().contains("unknown field 'z'"), "{e}");
    let e = lua.load("v.len(5)").exec().unwrap_err();
    assert!(e.to_string().contains("bad argument #1 to 'len'"), "{e}");
    let e = lua.load("v:scale('big')").exec().unwrap_err();
    assert!(e.to_string().contains("bad argument #2 to 'scale'"), "{e}");
}

#[test]
fn borrows_from_rust() {
    let lua = Lua::new();
    let ud: AnyUserData = lua.create_userdata(Vec2 { x: 1.0, y: 0.0 }).unwrap();
    assert!(ud.is::<Vec2>());
    assert!(matches!(
        ud.borrow::<String>(),
        Err(Error::UserDataTypeMismatch)
    ));
    {
        let mut m = ud.borrow_mut::<Vec2>().unwrap();
        m.x = 10.0;
        assert!(matches!(
            ud.borrow::<Vec2>(),
            Err(Error::UserDataBorrowError)
        ));
        assert!(matches!(
            ud.borrow_mut::<Vec2>(),
            Err(Error::UserDataBorrowMutError)
        ));
    }
    assert_eq!(ud.borrow::<Vec2>().unwrap().x, 10.0);
    // While Rust holds a shared borrow, Lua's mutable method fails cleanly.
    let r = ud.borrow::<Vec2>().unwrap();
    lua.globals().set("u", ud.clone()).unwrap();
    let e = lua.load("u:scale(2)").exec().unwrap_err();
    assert!(e.to_string().contains("already borrowed"), "{e}");
    drop(r);
    lua.load("u:scale(2)").exec().unwrap();
    assert_eq!(ud.borrow::<Vec2>().unwrap().x, 20.0);
    // Re-entrant: a method holding &self calls back into a &mut method.
    let e = lua
        .load("u:visit(function() u:scale(3) end)")
        .exec()
        .unwrap_err();
    assert!(e.to_string().contains("already borrowed"), "{e}");
    assert_eq!(ud.borrow::<Vec2>().unwrap().x, 20.0);
    // The borrow guard keeps the object alive across collections.
    let g = ud.borrow::<Vec2>().unwrap();
    drop(ud);
    lua.load("u = nil collectgarbage() collectgarbage()")
        .exec()
        .unwrap();
    assert_eq!(g.x, 20.0);
}

#[tokio::test(flavor = "current_thread")]
async fn async_methods() {
    let lua = Lua::new();
    lua.globals().set("v", Vec2 { x: 6.0, y: 8.0 }).unwrap();
    let n: f64 = lua.load("return v:slow_len(2)").eval_async().await.unwrap();
    assert_eq!(n, 10.0);
}

#[test]
fn userdata_values_are_dropped_by_the_collector() {
    use std::sync::atomic::{AtomicU32, Ordering::SeqCst};
    use std::sync::Arc;
    struct Tracked(Arc<AtomicU32>);
    impl Drop for Tracked {
        fn drop(&mut self) {
            self.0.fetch_add(1, SeqCst);
        }
    }
    impl UserData for Tracked {}
    let lua = Lua::new();
    let drops = Arc::new(AtomicU32::new(0));
    for _ in 0..10 {
        lua.create_userdata(Tracked(drops.clone())).unwrap();
    }
    lua.gc_collect().unwrap();
    assert_eq!(drops.load(SeqCst), 10);
}
