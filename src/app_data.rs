//! Application data: one value per Rust type attached to a [`Lua`] state
//! ([`Lua::set_app_data`], [`Lua::app_data_ref`], [`Lua::app_data_mut`],
//! [`Lua::remove_app_data`]), as in mlua. Host functions reach shared host objects (a database
//! pool, configuration, counters) through the `&Lua` they receive.
//!
//! The values live outside the interpreter heap in a map guarded by a mutex that is held only
//! while the map is read or changed. Each value sits in its own reference-counted cell with an
//! atomic borrow flag, so the guards returned by `app_data_ref`/`app_data_mut` do not hold any
//! lock: a guard may live across calls into Lua, and a conflicting borrow panics (as `RefCell`
//! and mlua do) instead of deadlocking. Because a [`Lua`] is `Send` and `Sync`, guards may be
//! taken on several threads: values must be `Send`, and shared borrows need `Sync`.

use crate::lua::Lua;
use std::any::{Any, TypeId};
use std::cell::UnsafeCell;
use std::collections::HashMap;
use std::fmt;
use std::ops::{Deref, DerefMut};
use std::sync::atomic::{AtomicIsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

/// One application value with its borrow flag (0: free, `n > 0`: `n` shared borrows, -1:
/// borrowed mutably).
struct Slot {
    flag: AtomicIsize,
    value: UnsafeCell<Box<dyn Any + Send>>,
}

// SAFETY: the value is reached only through the guards below, which follow the borrow flag:
// shared guards (`AppDataRef<T>`, which needs `T: Sync` to be shared) read it concurrently,
// an exclusive guard is the only access while it lives, and `T: Send` (the box's bound) lets
// the value be used and dropped on any thread.
unsafe impl Sync for Slot {}

/// The application data of one state.
#[derive(Default)]
pub(crate) struct AppData {
    map: Mutex<HashMap<TypeId, Arc<Slot>>>,
}

impl AppData {
    fn slot(&self, t: TypeId) -> Option<Arc<Slot>> {
        let map = self.map.lock().unwrap_or_else(PoisonError::into_inner);
        map.get(&t).cloned()
    }
}

/// Makes a guard neither `Send` nor `Sync` by itself (see the impls below).
type NotSendSync<T> = std::marker::PhantomData<(fn() -> T, *const ())>;

/// A shared borrow of application data (from [`Lua::app_data_ref`]).
pub struct AppDataRef<T: 'static> {
    slot: Arc<Slot>,
    _marker: NotSendSync<T>,
}

/// An exclusive borrow of application data (from [`Lua::app_data_mut`]).
pub struct AppDataRefMut<T: 'static> {
    slot: Arc<Slot>,
    _marker: NotSendSync<T>,
}

// SAFETY: a shared guard gives only `&T`, so moving or sharing it is sharing `&T`: `T: Sync`.
unsafe impl<T: Sync> Send for AppDataRef<T> {}
// SAFETY: as above.
unsafe impl<T: Sync> Sync for AppDataRef<T> {}
// SAFETY: an exclusive guard is the only access to the `T`: moving it moves that access, which
// needs `T: Send`; through `&AppDataRefMut<T>` only `&T` is reachable, so sharing needs
// `T: Sync`.
unsafe impl<T: Send> Send for AppDataRefMut<T> {}
// SAFETY: as above.
unsafe impl<T: Sync> Sync for AppDataRefMut<T> {}

impl<T: 'static> Deref for AppDataRef<T> {
    type Target = T;
    fn deref(&self) -> &T {
        // SAFETY: this guard holds a shared borrow (no exclusive guard exists while it lives),
        // and the slot was found under `TypeId::of::<T>()`, so the box holds a `T`.
        let any = unsafe { &**self.slot.value.get() };
        any.downcast_ref::<T>().expect("app data slot of its type")
    }
}

impl<T: 'static> Drop for AppDataRef<T> {
    fn drop(&mut self) {
        self.slot.flag.fetch_sub(1, Ordering::Release);
    }
}

impl<T: 'static> Deref for AppDataRefMut<T> {
    type Target = T;
    fn deref(&self) -> &T {
        // SAFETY: this guard holds the exclusive borrow; the box holds a `T` (see above).
        let any = unsafe { &**self.slot.value.get() };
        any.downcast_ref::<T>().expect("app data slot of its type")
    }
}

impl<T: 'static> DerefMut for AppDataRefMut<T> {
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: this guard holds the exclusive borrow, so this is the only access.
        let any = unsafe { &mut **self.slot.value.get() };
        any.downcast_mut::<T>().expect("app data slot of its type")
    }
}

impl<T: 'static> Drop for AppDataRefMut<T> {
    fn drop(&mut self) {
        self.slot.flag.store(0, Ordering::Release);
    }
}

impl<T: fmt::Debug + 'static> fmt::Debug for AppDataRef<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        (**self).fmt(f)
    }
}

impl<T: fmt::Debug + 'static> fmt::Debug for AppDataRefMut<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        (**self).fmt(f)
    }
}

impl Lua {
    /// Attaches `data` to the state, replacing (and returning) the value of the same type set
    /// before. Host functions get it back with [`Lua::app_data_ref`] / [`Lua::app_data_mut`].
    ///
    /// # Panics
    ///
    /// If a value of this type is borrowed (through a guard of `app_data_ref`/`app_data_mut`).
    ///
    /// ```
    /// let lua = rua::Lua::new();
    /// assert_eq!(lua.set_app_data(String::from("v1")), None);
    /// assert_eq!(lua.set_app_data(String::from("v2")).as_deref(), Some("v1"));
    /// let greet = lua
    ///     .create_function(|lua, ()| Ok(format!("config {}", *lua.app_data_ref::<String>().unwrap())))
    ///     .unwrap();
    /// assert_eq!(greet.call::<String>(()).unwrap(), "config v2");
    /// ```
    pub fn set_app_data<T: Send + 'static>(&self, data: T) -> Option<T> {
        let slot = Arc::new(Slot {
            flag: AtomicIsize::new(0),
            value: UnsafeCell::new(Box::new(data)),
        });
        let old = {
            let mut map = self
                .0
                .app_data
                .map
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            if let Some(old) = map.get(&TypeId::of::<T>()) {
                assert!(
                    old.flag.load(Ordering::Acquire) == 0,
                    "app data of this type is borrowed"
                );
            }
            map.insert(TypeId::of::<T>(), slot)
        };
        old.and_then(|s| Self::unwrap_slot(s))
    }

    /// A shared borrow of the value of type `T`, if one is set.
    ///
    /// # Panics
    ///
    /// If the value is borrowed mutably (by a live [`AppDataRefMut`]).
    ///
    /// ```
    /// let lua = rua::Lua::new();
    /// assert!(lua.app_data_ref::<u32>().is_none());
    /// lua.set_app_data(7u32);
    /// let a = lua.app_data_ref::<u32>().unwrap();
    /// let b = lua.app_data_ref::<u32>().unwrap();
    /// assert_eq!(*a + *b, 14);
    /// ```
    pub fn app_data_ref<T: Sync + 'static>(&self) -> Option<AppDataRef<T>> {
        let slot = self.0.app_data.slot(TypeId::of::<T>())?;
        let mut cur = slot.flag.load(Ordering::Relaxed);
        loop {
            assert!(
                (0..isize::MAX).contains(&cur),
                "app data of this type is already mutably borrowed"
            );
            match slot.flag.compare_exchange_weak(
                cur,
                cur + 1,
                Ordering::Acquire,
                Ordering::Relaxed,
            ) {
                Ok(_) => break,
                Err(now) => cur = now,
            }
        }
        Some(AppDataRef {
            slot,
            _marker: std::marker::PhantomData,
        })
    }

    /// An exclusive borrow of the value of type `T`, if one is set.
    ///
    /// # Panics
    ///
    /// If the value is borrowed (by a live guard of either kind).
    ///
    /// ```
    /// let lua = rua::Lua::new();
    /// lua.set_app_data(Vec::<String>::new());
    /// let log = lua
    ///     .create_function(|lua, msg: String| {
    ///         lua.app_data_mut::<Vec<String>>().unwrap().push(msg);
    ///         Ok(())
    ///     })
    ///     .unwrap();
    /// lua.globals().set("log", log).unwrap();
    /// lua.load("log('a') log('b')").exec().unwrap();
    /// assert_eq!(*lua.app_data_ref::<Vec<String>>().unwrap(), ["a", "b"]);
    /// ```
    pub fn app_data_mut<T: 'static>(&self) -> Option<AppDataRefMut<T>> {
        let slot = self.0.app_data.slot(TypeId::of::<T>())?;
        let r = slot
            .flag
            .compare_exchange(0, -1, Ordering::Acquire, Ordering::Relaxed);
        assert!(r.is_ok(), "app data of this type is already borrowed");
        Some(AppDataRefMut {
            slot,
            _marker: std::marker::PhantomData,
        })
    }

    /// Removes the value of type `T` and returns it.
    ///
    /// # Panics
    ///
    /// If the value is borrowed.
    ///
    /// ```
    /// let lua = rua::Lua::new();
    /// lua.set_app_data(1.5f64);
    /// assert_eq!(lua.remove_app_data::<f64>(), Some(1.5));
    /// assert_eq!(lua.remove_app_data::<f64>(), None);
    /// ```
    pub fn remove_app_data<T: 'static>(&self) -> Option<T> {
        let slot = {
            let mut map = self
                .0
                .app_data
                .map
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            let slot = map.get(&TypeId::of::<T>())?;
            assert!(
                slot.flag.load(Ordering::Acquire) == 0,
                "app data of this type is borrowed"
            );
            map.remove(&TypeId::of::<T>())?
        };
        Self::unwrap_slot(slot)
    }

    /// The value of a slot removed from the map while no guard holds it.
    fn unwrap_slot<T: 'static>(slot: Arc<Slot>) -> Option<T> {
        // No guard existed when the slot left the map (checked under the map's lock). A
        // thread that looked the slot up just before may still hold it and borrow the old
        // value; then the value stays with it and `None` is returned.
        let slot = Arc::into_inner(slot)?;
        slot.value.into_inner().downcast::<T>().ok().map(|b| *b)
    }
}
