//! [`Table`]: a rooted handle to a Lua table, with metamethod-aware (`get`, `set`, `len`) and
//! raw access, traversal and metatables.

use crate::conversion::{FromLua, IntoLua, IntoLuaMulti};
use crate::error::{Error, Result};
use crate::lua::Lua;
use crate::value::{MultiValue, RawValue, Value, ValueRef};
use std::marker::PhantomData;

/// A Lua table.
///
/// ```
/// let lua = rua::Lua::new();
/// let t = lua.create_table().unwrap();
/// t.set("name", "rua").unwrap();
/// t.push(10).unwrap();
/// assert_eq!(t.get::<String>("name").unwrap(), "rua");
/// assert_eq!(t.raw_len(), 1);
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct Table(pub(crate) ValueRef);

impl Table {
    fn lua(&self) -> Result<Lua> {
        self.0.lua()
    }

    fn raw_table(
        &self,
        st: &rua_interp::vm::State,
        lua: &Lua,
    ) -> Result<rua_gc::Gc<rua_interp::table::Table>> {
        match lua.ref_to_raw(st, &self.0)? {
            RawValue::Table(t) => Ok(t),
            _ => Err(Error::MismatchedState),
        }
    }

    /// `t[key]`, calling `__index` if needed.
    ///
    /// ```
    /// let lua = rua::Lua::new();
    /// let t: rua::Table = lua
    ///     .load("setmetatable({}, {__index = function(_, k) return k .. '!' end})")
    ///     .eval()
    ///     .unwrap();
    /// assert_eq!(t.get::<String>("hi").unwrap(), "hi!");
    /// ```
    pub fn get<V: FromLua>(&self, key: impl IntoLua) -> Result<V> {
        let lua = self.lua()?;
        let key = key.into_lua(&lua)?;
        let f = crate::Function(lua.helper_ref(|h| h.index)?);
        f.call((self.clone(), key))
    }

    /// `t[key] = value`, calling `__newindex` if needed.
    ///
    /// ```
    /// let lua = rua::Lua::new();
    /// let t = lua.create_table().unwrap();
    /// t.set(1, "x").unwrap();
    /// assert!(t.set(rua::Value::Nil, 1).is_err());
    /// ```
    pub fn set(&self, key: impl IntoLua, value: impl IntoLua) -> Result<()> {
        let lua = self.lua()?;
        let key = key.into_lua(&lua)?;
        let value = value.into_lua(&lua)?;
        let f = crate::Function(lua.helper_ref(|h| h.newindex)?);
        f.call((self.clone(), key, value))
    }

    /// `rawget(t, key)`.
    ///
    /// ```
    /// let lua = rua::Lua::new();
    /// let t = lua.create_table_from([(1, "a")]).unwrap();
    /// assert_eq!(t.raw_get::<String>(1).unwrap(), "a");
    /// ```
    pub fn raw_get<V: FromLua>(&self, key: impl IntoLua) -> Result<V> {
        let lua = self.lua()?;
        let key = key.into_lua(&lua)?;
        let v = lua.with_state(|st| {
            let t = self.raw_table(st, &lua)?;
            let k = lua.value_to_raw(st, &key)?;
            let v = t.get(k);
            Ok::<_, Error>(lua.raw_to_value(st, v))
        })??;
        V::from_lua(v, &lua)
    }

    /// `rawset(t, key, value)`. A `nil` or NaN key is an error.
    ///
    /// ```
    /// let lua = rua::Lua::new();
    /// let t = lua.create_table().unwrap();
    /// t.raw_set("k", 1).unwrap();
    /// assert!(t.raw_set(f64::NAN, 1).is_err());
    /// ```
    pub fn raw_set(&self, key: impl IntoLua, value: impl IntoLua) -> Result<()> {
        let lua = self.lua()?;
        let key = key.into_lua(&lua)?;
        let value = value.into_lua(&lua)?;
        lua.with_state(|st| {
            let t = self.raw_table(st, &lua)?;
            let k = lua.value_to_raw(st, &key)?;
            match k {
                RawValue::Nil => return Err(Error::runtime("index is nil")),
                RawValue::Float(f) if f.is_nan() => return Err(Error::runtime("index is NaN")),
                _ => {}
            }
            let v = lua.value_to_raw(st, &value)?;
            t.set(k, v);
            Ok(())
        })?
    }

    /// `#t`, calling `__len` if present.
    ///
    /// ```
    /// let lua = rua::Lua::new();
    /// let t: rua::Table = lua.load("setmetatable({}, {__len = function() return 7 end})").eval().unwrap();
    /// assert_eq!(t.len().unwrap(), 7);
    /// assert_eq!(t.raw_len(), 0);
    /// ```
    pub fn len(&self) -> Result<i64> {
        let lua = self.lua()?;
        let f = crate::Function(lua.helper_ref(|h| h.len)?);
        f.call(self.clone())
    }

    /// `rawlen(t)` (0 if the state was dropped).
    ///
    /// ```
    /// let lua = rua::Lua::new();
    /// let t = lua.create_sequence_from([1, 2, 3]).unwrap();
    /// assert_eq!(t.raw_len(), 3);
    /// ```
    pub fn raw_len(&self) -> usize {
        self.0
            .with_raw(|_, _, v| match v {
                RawValue::Table(t) => Ok(t.len() as usize),
                _ => Err(Error::MismatchedState),
            })
            .unwrap_or(0)
    }

    /// `true` if the table has no entries at all (raw).
    ///
    /// ```
    /// let lua = rua::Lua::new();
    /// let t = lua.create_table().unwrap();
    /// assert!(t.is_empty().unwrap());
    /// t.set("x", 1).unwrap();
    /// assert!(!t.is_empty().unwrap());
    /// ```
    pub fn is_empty(&self) -> Result<bool> {
        self.0.with_raw(|_, _, v| match v {
            RawValue::Table(t) => Ok(matches!(t.next(RawValue::Nil), Ok(None))),
            _ => Err(Error::MismatchedState),
        })
    }

    /// `true` if `t[key]` (raw) is not nil.
    ///
    /// ```
    /// let lua = rua::Lua::new();
    /// let t = lua.create_table_from([("a", 1)]).unwrap();
    /// assert!(t.contains_key("a").unwrap());
    /// assert!(!t.contains_key("b").unwrap());
    /// ```
    pub fn contains_key(&self, key: impl IntoLua) -> Result<bool> {
        Ok(!self.raw_get::<Value>(key)?.is_nil())
    }

    /// Appends `value` at `#t + 1` (raw).
    ///
    /// ```
    /// let lua = rua::Lua::new();
    /// let t = lua.create_table().unwrap();
    /// t.push("a").unwrap();
    /// t.push("b").unwrap();
    /// assert_eq!(t.raw_get::<String>(2).unwrap(), "b");
    /// ```
    pub fn push(&self, value: impl IntoLua) -> Result<()> {
        let n = self.raw_len() as i64;
        self.raw_set(n + 1, value)
    }

    /// Sets (or with `None` removes) the metatable.
    ///
    /// ```
    /// let lua = rua::Lua::new();
    /// let t = lua.create_table().unwrap();
    /// let mt = lua.create_table().unwrap();
    /// mt.set("__index", lua.create_table_from([("x", 1)]).unwrap()).unwrap();
    /// t.set_metatable(Some(mt));
    /// assert_eq!(t.get::<i32>("x").unwrap(), 1);
    /// assert!(t.metatable().is_some());
    /// ```
    pub fn set_metatable(&self, metatable: Option<Table>) {
        let _ = self.0.with_raw(|lua, st, v| {
            let RawValue::Table(t) = v else {
                return Err(Error::MismatchedState);
            };
            let mt = match &metatable {
                Some(m) => match lua.ref_to_raw(st, &m.0)? {
                    RawValue::Table(m) => Some(m),
                    _ => return Err(Error::MismatchedState),
                },
                None => None,
            };
            let weak = rua_interp::stdlib::base::weak_mode_of(st, mt);
            t.set_metatable(mt, weak);
            st.check_finalizer(v);
            Ok(())
        });
    }

    /// The metatable, if any.
    ///
    /// ```
    /// let lua = rua::Lua::new();
    /// let t = lua.create_table().unwrap();
    /// assert!(t.metatable().is_none());
    /// t.set_metatable(Some(lua.create_table().unwrap()));
    /// assert!(t.metatable().is_some());
    /// ```
    pub fn metatable(&self) -> Option<Table> {
        self.0
            .with_raw(|lua, st, v| match v {
                RawValue::Table(t) => Ok(t
                    .metatable()
                    .map(|m| Table(lua.new_ref(st, RawValue::Table(m))))),
                _ => Err(Error::MismatchedState),
            })
            .ok()
            .flatten()
    }

    /// Iterates over all entries (raw, in `next` order), converting keys and values.
    ///
    /// ```
    /// let lua = rua::Lua::new();
    /// let t = lua.create_table_from([("a", 1), ("b", 2)]).unwrap();
    /// let mut sum = 0;
    /// for pair in t.pairs::<String, i32>() {
    ///     let (_k, v) = pair.unwrap();
    ///     sum += v;
    /// }
    /// assert_eq!(sum, 3);
    /// ```
    pub fn pairs<K: FromLua, V: FromLua>(&self) -> TablePairs<K, V> {
        TablePairs {
            table: self.clone(),
            key: Some(Value::Nil),
            _marker: PhantomData,
        }
    }

    /// Iterates over `t[1], t[2], ...` (raw) until the first nil.
    ///
    /// ```
    /// let lua = rua::Lua::new();
    /// let t: rua::Table = lua.load("{10, 20, 30}").eval().unwrap();
    /// let v: Vec<i32> = t.sequence_values().collect::<rua::Result<_>>().unwrap();
    /// assert_eq!(v, [10, 20, 30]);
    /// ```
    pub fn sequence_values<V: FromLua>(&self) -> TableSequence<V> {
        TableSequence {
            table: self.clone(),
            index: 1,
            done: false,
            _marker: PhantomData,
        }
    }

    /// Calls `f` for every entry (raw); stops at the first error.
    ///
    /// ```
    /// let lua = rua::Lua::new();
    /// let t = lua.create_table_from([(1, 2)]).unwrap();
    /// let mut n = 0;
    /// t.for_each(|k: i32, v: i32| { n += k + v; Ok(()) }).unwrap();
    /// assert_eq!(n, 3);
    /// ```
    pub fn for_each<K: FromLua, V: FromLua>(
        &self,
        mut f: impl FnMut(K, V) -> Result<()>,
    ) -> Result<()> {
        for pair in self.pairs::<K, V>() {
            let (k, v) = pair?;
            f(k, v)?;
        }
        Ok(())
    }

    /// Calls the table's `__call` metamethod or fails.
    ///
    /// ```
    /// let lua = rua::Lua::new();
    /// let t: rua::Table = lua.load("setmetatable({}, {__call = function(_, x) return x * 2 end})").eval().unwrap();
    /// assert_eq!(t.call::<i32>(4).unwrap(), 8);
    /// ```
    pub fn call<R: crate::FromLuaMulti>(&self, args: impl IntoLuaMulti) -> Result<R> {
        let lua = self.lua()?;
        let args = args.into_lua_multi(&lua)?;
        lua.call_function(&self.0, args)
    }
}

impl Lua {
    pub(crate) fn helper_ref(
        &self,
        pick: impl Fn(&crate::lua::Helpers) -> RawValue,
    ) -> Result<ValueRef> {
        let v = pick(&self.0.helpers());
        self.with_state(|st| self.new_ref(st, v))
    }
}

/// Iterator of [`Table::pairs`]. Each item is a `Result`: a key or value that does not
/// convert gives an `Err` (and iteration goes on with the next entry).
///
/// ```
/// let lua = rua::Lua::new();
/// let t = lua.create_table_from([("a", 1), ("b", 2)]).unwrap();
/// let mut sum = 0;
/// for kv in t.pairs::<String, i64>() {
///     sum += kv.unwrap().1;
/// }
/// assert_eq!(sum, 3);
/// ```
pub struct TablePairs<K, V> {
    table: Table,
    /// The key to continue after (`None` once finished).
    key: Option<Value>,
    _marker: PhantomData<(K, V)>,
}

impl<K: FromLua, V: FromLua> Iterator for TablePairs<K, V> {
    type Item = Result<(K, V)>;

    fn next(&mut self) -> Option<Self::Item> {
        let key = self.key.take()?;
        let step = self.table.0.with_raw(|lua, st, v| {
            let RawValue::Table(t) = v else {
                return Err(Error::MismatchedState);
            };
            let k = lua.value_to_raw(st, &key)?;
            match t.next(k) {
                Ok(Some((k, v))) => Ok(Some((lua.raw_to_value(st, k), lua.raw_to_value(st, v)))),
                Ok(None) => Ok(None),
                Err(_) => Err(Error::runtime("invalid key to 'next'")),
            }
        });
        match step {
            Ok(Some((k, v))) => {
                self.key = Some(k.clone());
                let lua = match self.table.lua() {
                    Ok(l) => l,
                    Err(e) => return Some(Err(e)),
                };
                Some(K::from_lua(k, &lua).and_then(|k| Ok((k, V::from_lua(v, &lua)?))))
            }
            Ok(None) => None,
            Err(e) => Some(Err(e)),
        }
    }
}

/// Iterator of [`Table::sequence_values`]: `t[1], t[2], ...` up to the first `nil` (raw).
///
/// ```
/// let lua = rua::Lua::new();
/// let t: rua::Table = lua.load("{10, 20, nil, 40}").eval().unwrap();
/// let v: Vec<i64> = t.sequence_values().collect::<rua::Result<_>>().unwrap();
/// assert_eq!(v, [10, 20]);
/// ```
pub struct TableSequence<V> {
    table: Table,
    index: i64,
    done: bool,
    _marker: PhantomData<V>,
}

impl<V: FromLua> Iterator for TableSequence<V> {
    type Item = Result<V>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        match self.table.raw_get::<Value>(self.index) {
            Ok(Value::Nil) => {
                self.done = true;
                None
            }
            Ok(v) => {
                self.index += 1;
                let lua = match self.table.lua() {
                    Ok(l) => l,
                    Err(e) => return Some(Err(e)),
                };
                Some(V::from_lua(v, &lua))
            }
            Err(e) => {
                self.done = true;
                Some(Err(e))
            }
        }
    }
}

impl Table {
    /// The values as a [`MultiValue`] (`t[1] .. t[#t]`, raw), like `table.unpack`.
    ///
    /// ```
    /// let lua = rua::Lua::new();
    /// let t: rua::Table = lua.load("{1, 2}").eval().unwrap();
    /// assert_eq!(t.to_multi().unwrap().len(), 2);
    /// ```
    pub fn to_multi(&self) -> Result<MultiValue> {
        self.sequence_values::<Value>().collect()
    }
}
