//! Application data (`Lua::set_app_data` and friends) and `AnyUserData::take`.

use rua::{Error, Lua, UserData, UserDataMethods};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

#[test]
fn app_data_is_set_replaced_borrowed_and_removed() {
    let lua = Lua::new();
    assert!(lua.app_data_ref::<String>().is_none());
    assert!(lua.set_app_data(String::from("a")).is_none());
    assert_eq!(lua.set_app_data(String::from("b")).as_deref(), Some("a"));
    // One value per type.
    lua.set_app_data(5i32);
    assert_eq!(*lua.app_data_ref::<String>().unwrap(), "b");
    assert_eq!(*lua.app_data_ref::<i32>().unwrap(), 5);
    // Host functions reach it through their `&Lua`, also mutably.
    let bump = lua
        .create_function(|lua, by: i32| {
            let mut n = lua.app_data_mut::<i32>().unwrap();
            *n += by;
            Ok(*n)
        })
        .unwrap();
    lua.globals().set("bump", bump).unwrap();
    assert_eq!(
        lua.load("bump(1) return bump(10)").eval::<i32>().unwrap(),
        16
    );
    assert_eq!(lua.remove_app_data::<i32>(), Some(16));
    assert!(lua.app_data_mut::<i32>().is_none());
    assert_eq!(lua.remove_app_data::<String>().as_deref(), Some("b"));
}

#[test]
fn app_data_is_dropped_with_the_state() {
    struct Tracked(Arc<AtomicUsize>);
    impl Drop for Tracked {
        fn drop(&mut self) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }
    let drops = Arc::new(AtomicUsize::new(0));
    let lua = Lua::new();
    lua.set_app_data(Tracked(drops.clone()));
    // Replaced: the old value comes back to the caller, dropped there.
    drop(lua.set_app_data(Tracked(drops.clone())));
    assert_eq!(drops.load(Ordering::SeqCst), 1);
    drop(lua);
    assert_eq!(drops.load(Ordering::SeqCst), 2);
}

#[test]
#[should_panic(expected = "already borrowed")]
fn conflicting_app_data_borrows_panic() {
    let lua = Lua::new();
    lua.set_app_data(1u8);
    let _r = lua.app_data_ref::<u8>().unwrap();
    let _w = lua.app_data_mut::<u8>();
}

#[test]
#[should_panic(expected = "is borrowed")]
fn replacing_borrowed_app_data_panics() {
    let lua = Lua::new();
    lua.set_app_data(1u8);
    let _r = lua.app_data_ref::<u8>().unwrap();
    lua.set_app_data(2u8);
}

#[test]
fn app_data_guards_move_between_threads() {
    let lua = Lua::new();
    lua.set_app_data(vec![1, 2, 3]);
    let guard = lua.app_data_ref::<Vec<i32>>().unwrap();
    let sum = std::thread::spawn(move || guard.iter().sum::<i32>())
        .join()
        .unwrap();
    assert_eq!(sum, 6);
    // The guard was released on the other thread.
    lua.app_data_mut::<Vec<i32>>().unwrap().push(4);
}

struct Resource {
    name: String,
    drops: Arc<AtomicUsize>,
}

impl Drop for Resource {
    fn drop(&mut self) {
        self.drops.fetch_add(1, Ordering::SeqCst);
    }
}

impl UserData for Resource {
    fn add_methods<M: UserDataMethods<Self>>(m: &mut M) {
        m.add_method("name", |_, r, ()| Ok(r.name.clone()));
        m.add_method_mut("rename", |_, r, n: String| {
            r.name = n;
            Ok(())
        });
    }
}

#[test]
fn take_moves_the_value_out_once() {
    let drops = Arc::new(AtomicUsize::new(0));
    let lua = Lua::new();
    let ud = lua
        .create_userdata(Resource {
            name: "r".into(),
            drops: drops.clone(),
        })
        .unwrap();
    lua.globals().set("res", ud.clone()).unwrap();
    lua.load("res:rename('s')").exec().unwrap();
    assert!(matches!(
        ud.take::<String>(),
        Err(Error::UserDataTypeMismatch)
    ));
    {
        let _b = ud.borrow_mut::<Resource>().unwrap();
        assert!(matches!(
            ud.take::<Resource>(),
            Err(Error::UserDataBorrowMutError)
        ));
    }
    let r = ud.take::<Resource>().unwrap();
    assert_eq!(r.name, "s");
    assert!(matches!(
        ud.take::<Resource>(),
        Err(Error::UserDataDestructed)
    ));
    assert!(matches!(
        ud.borrow::<Resource>(),
        Err(Error::UserDataDestructed)
    ));
    assert!(matches!(
        ud.borrow_mut::<Resource>(),
        Err(Error::UserDataDestructed)
    ));
    // Lua code sees a catchable error; the userdata itself stays a valid value.
    let (ok, msg, ty): (bool, String, String) = lua
        .load("local ok, e = pcall(res.name, res) return ok, tostring(e), type(res)")
        .eval()
        .unwrap();
    assert!(!ok);
    assert!(msg.contains("userdata has been destructed"), "{msg}");
    assert_eq!(ty, "userdata");
    // Collecting the emptied userdata drops nothing; the taken value is dropped by its owner.
    drop(ud);
    lua.globals().set("res", rua::Value::Nil).unwrap();
    lua.gc_collect().unwrap();
    assert_eq!(drops.load(Ordering::SeqCst), 0);
    drop(r);
    assert_eq!(drops.load(Ordering::SeqCst), 1);
    // Not taken: dropped once by the collector.
    lua.create_userdata(Resource {
        name: "t".into(),
        drops: drops.clone(),
    })
    .unwrap();
    lua.gc_collect().unwrap();
    drop(lua);
    assert_eq!(drops.load(Ordering::SeqCst), 2);
}
