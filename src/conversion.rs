//! Conversions between Rust and Lua values: [`IntoLua`]/[`FromLua`] for one value and
//! [`IntoLuaMulti`]/[`FromLuaMulti`] for argument and result lists (tuples, [`Variadic`],
//! [`MultiValue`]).
//!
//! Numbers follow Lua: integers convert to any Rust integer type when in range (else a
//! conversion error saying "out of range"), floats convert to integers only when they have an
//! exact integer value, numeric strings convert to numbers, numbers convert to strings. `bool`
//! accepts every value by truthiness. `Option<T>` maps `nil` to `None`.

use crate::error::{Error, Result};
use crate::lua::Lua;
use crate::value::{LightUserData, MultiValue, Value, Variadic};
use crate::{AnyUserData, Function, String as LuaString, Table, Thread};
use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap};
use std::hash::{BuildHasher, Hash};
use std::sync::Arc;

/// Converts a Rust value into one Lua value.
///
/// ```
/// use rua::IntoLua;
/// let lua = rua::Lua::new();
/// let v = vec![1, 2, 3].into_lua(&lua).unwrap();
/// assert_eq!(v.as_table().unwrap().len().unwrap(), 3);
/// ```
pub trait IntoLua: Sized {
    /// Converts `self`; objects are created in (or must belong to) `lua`'s state.
    fn into_lua(self, lua: &Lua) -> Result<Value>;
}

/// Converts one Lua value into a Rust value.
///
/// ```
/// use rua::FromLua;
/// let lua = rua::Lua::new();
/// assert_eq!(i32::from_lua(rua::Value::Number(3.0), &lua).unwrap(), 3);
/// assert!(u8::from_lua(rua::Value::Integer(300), &lua).is_err());
/// ```
pub trait FromLua: Sized {
    /// Converts `value`, failing with [`Error::FromLuaConversionError`] when it does not fit.
    fn from_lua(value: Value, lua: &Lua) -> Result<Self>;
}

/// Converts a Rust value into a list of Lua values (arguments or results).
///
/// ```
/// use rua::IntoLuaMulti;
/// let lua = rua::Lua::new();
/// assert_eq!((1, "a", true).into_lua_multi(&lua).unwrap().len(), 3);
/// ```
pub trait IntoLuaMulti: Sized {
    /// Converts `self` into zero or more values (a tuple gives one value per element).
    fn into_lua_multi(self, lua: &Lua) -> Result<MultiValue>;
}

/// Converts a list of Lua values into a Rust value. Missing values read as `nil`; extra values
/// are ignored.
///
/// ```
/// use rua::FromLuaMulti;
/// let lua = rua::Lua::new();
/// let (a, b): (i32, Option<i32>) = FromLuaMulti::from_lua_multi(rua::MultiValue::new(), &lua)
///     .unwrap_or((0, None));
/// assert_eq!((a, b), (0, None));
/// ```
pub trait FromLuaMulti: Sized {
    /// Converts a value list, taking as many values as `Self` needs.
    fn from_lua_multi(values: MultiValue, lua: &Lua) -> Result<Self>;

    /// Like `from_lua_multi` for the arguments of a host function starting at position `pos`:
    /// a failing conversion becomes [`Error::BadArgument`] naming the position.
    fn from_lua_args(args: MultiValue, pos: usize, to: Option<&str>, lua: &Lua) -> Result<Self> {
        let _ = (pos, to);
        Self::from_lua_multi(args, lua)
    }
}

impl<T: IntoLua> IntoLuaMulti for T {
    fn into_lua_multi(self, lua: &Lua) -> Result<MultiValue> {
        let mut mv = MultiValue::new();
        mv.push_back(self.into_lua(lua)?);
        Ok(mv)
    }
}

impl<T: FromLua> FromLuaMulti for T {
    fn from_lua_multi(mut values: MultiValue, lua: &Lua) -> Result<Self> {
        T::from_lua(values.pop_front().unwrap_or(Value::Nil), lua)
    }

    fn from_lua_args(
        mut args: MultiValue,
        pos: usize,
        to: Option<&str>,
        lua: &Lua,
    ) -> Result<Self> {
        T::from_lua(args.pop_front().unwrap_or(Value::Nil), lua).map_err(|e| bad_arg(e, pos, to))
    }
}

fn bad_arg(e: Error, pos: usize, to: Option<&str>) -> Error {
    Error::BadArgument {
        to: to.map(str::to_string),
        pos,
        cause: Arc::new(e),
    }
}

impl IntoLuaMulti for MultiValue {
    fn into_lua_multi(self, _: &Lua) -> Result<MultiValue> {
        Ok(self)
    }
}

impl FromLuaMulti for MultiValue {
    fn from_lua_multi(values: MultiValue, _: &Lua) -> Result<Self> {
        Ok(values)
    }
}

impl<T: IntoLua> IntoLuaMulti for Variadic<T> {
    fn into_lua_multi(self, lua: &Lua) -> Result<MultiValue> {
        self.into_iter().map(|v| v.into_lua(lua)).collect()
    }
}

impl<T: FromLua> FromLuaMulti for Variadic<T> {
    fn from_lua_multi(values: MultiValue, lua: &Lua) -> Result<Self> {
        values.into_iter().map(|v| T::from_lua(v, lua)).collect()
    }

    fn from_lua_args(args: MultiValue, pos: usize, to: Option<&str>, lua: &Lua) -> Result<Self> {
        args.into_iter()
            .enumerate()
            .map(|(i, v)| T::from_lua(v, lua).map_err(|e| bad_arg(e, pos + i, to)))
            .collect()
    }
}

impl IntoLuaMulti for () {
    fn into_lua_multi(self, _: &Lua) -> Result<MultiValue> {
        Ok(MultiValue::new())
    }
}

impl FromLuaMulti for () {
    fn from_lua_multi(_: MultiValue, _: &Lua) -> Result<Self> {
        Ok(())
    }
}

macro_rules! tuple_impls {
    ($($name:ident)+; $last:ident) => {
        impl<$($name: IntoLua,)* $last: IntoLuaMulti> IntoLuaMulti for ($($name,)* $last,) {
            #[allow(non_snake_case)]
            fn into_lua_multi(self, lua: &Lua) -> Result<MultiValue> {
                let ($($name,)* $last,) = self;
                let mut mv = $last.into_lua_multi(lua)?;
                let firsts = [$($name.into_lua(lua)?,)*];
                for v in firsts.into_iter().rev() {
                    mv.push_front(v);
                }
                Ok(mv)
            }
        }

        impl<$($name: FromLua,)* $last: FromLuaMulti> FromLuaMulti for ($($name,)* $last,) {
            #[allow(non_snake_case)]
            fn from_lua_multi(mut values: MultiValue, lua: &Lua) -> Result<Self> {
                $(let $name = $name::from_lua(values.pop_front().unwrap_or(Value::Nil), lua)?;)*
                let $last = $last::from_lua_multi(values, lua)?;
                Ok(($($name,)* $last,))
            }

            #[allow(non_snake_case, unused_assignments)]
            fn from_lua_args(
                mut args: MultiValue,
                pos: usize,
                to: Option<&str>,
                lua: &Lua,
            ) -> Result<Self> {
                let mut p = pos;
                $(
                    let $name = $name::from_lua(args.pop_front().unwrap_or(Value::Nil), lua)
                        .map_err(|e| bad_arg(e, p, to))?;
                    p += 1;
                )*
                let $last = $last::from_lua_args(args, p, to, lua)?;
                Ok(($($name,)* $last,))
            }
        }
    };
    (; $last:ident) => {
        impl<$last: IntoLuaMulti> IntoLuaMulti for ($last,) {
            fn into_lua_multi(self, lua: &Lua) -> Result<MultiValue> {
                self.0.into_lua_multi(lua)
            }
        }

        impl<$last: FromLuaMulti> FromLuaMulti for ($last,) {
            fn from_lua_multi(values: MultiValue, lua: &Lua) -> Result<Self> {
                Ok(($last::from_lua_multi(values, lua)?,))
            }

            fn from_lua_args(
                args: MultiValue,
                pos: usize,
                to: Option<&str>,
                lua: &Lua,
            ) -> Result<Self> {
                Ok(($last::from_lua_args(args, pos, to, lua)?,))
            }
        }
    };
}

tuple_impls!(; A);
tuple_impls!(A; B);
tuple_impls!(A B; C);
tuple_impls!(A B C; D);
tuple_impls!(A B C D; E);
tuple_impls!(A B C D E; F);
tuple_impls!(A B C D E F; G);
tuple_impls!(A B C D E F G; H);
tuple_impls!(A B C D E F G H; I);
tuple_impls!(A B C D E F G H I; J);
tuple_impls!(A B C D E F G H I J; K);
tuple_impls!(A B C D E F G H I J K; L);

// ---------------------------------------------------------------------------------------------
// Single values

impl IntoLua for Value {
    fn into_lua(self, _: &Lua) -> Result<Value> {
        Ok(self)
    }
}

impl FromLua for Value {
    fn from_lua(v: Value, _: &Lua) -> Result<Self> {
        Ok(v)
    }
}

impl IntoLua for &Value {
    fn into_lua(self, _: &Lua) -> Result<Value> {
        Ok(self.clone())
    }
}

macro_rules! handle_conv {
    ($ty:ident, $variant:ident, $name:expr) => {
        impl IntoLua for $ty {
            fn into_lua(self, _: &Lua) -> Result<Value> {
                Ok(Value::$variant(self))
            }
        }

        impl IntoLua for &$ty {
            fn into_lua(self, _: &Lua) -> Result<Value> {
                Ok(Value::$variant(self.clone()))
            }
        }

        impl FromLua for $ty {
            fn from_lua(v: Value, _: &Lua) -> Result<Self> {
                match v {
                    Value::$variant(x) => Ok(x),
                    other => Err(Error::from_lua_conv(other.type_name(), $name, None)),
                }
            }
        }
    };
}

handle_conv!(Table, Table, "table");
handle_conv!(Function, Function, "function");
handle_conv!(Thread, Thread, "thread");
handle_conv!(AnyUserData, UserData, "userdata");

impl IntoLua for LuaString {
    fn into_lua(self, _: &Lua) -> Result<Value> {
        Ok(Value::String(self))
    }
}

impl IntoLua for &LuaString {
    fn into_lua(self, _: &Lua) -> Result<Value> {
        Ok(Value::String(self.clone()))
    }
}

impl FromLua for LuaString {
    fn from_lua(v: Value, lua: &Lua) -> Result<Self> {
        match v {
            Value::String(s) => Ok(s),
            Value::Integer(_) | Value::Number(_) => lua.create_string(v.to_string()?),
            other => Err(Error::from_lua_conv(other.type_name(), "string", None)),
        }
    }
}

impl IntoLua for LightUserData {
    fn into_lua(self, _: &Lua) -> Result<Value> {
        Ok(Value::LightUserData(self))
    }
}

impl FromLua for LightUserData {
    fn from_lua(v: Value, _: &Lua) -> Result<Self> {
        match v {
            Value::LightUserData(p) => Ok(p),
            other => Err(Error::from_lua_conv(
                other.type_name(),
                "lightuserdata",
                None,
            )),
        }
    }
}

impl IntoLua for Error {
    fn into_lua(self, _: &Lua) -> Result<Value> {
        Ok(Value::Error(Box::new(self)))
    }
}

impl FromLua for Error {
    fn from_lua(v: Value, _: &Lua) -> Result<Self> {
        match v {
            Value::Error(e) => Ok(*e),
            other => Ok(Error::RuntimeError(other.to_string()?)),
        }
    }
}

impl IntoLua for bool {
    fn into_lua(self, _: &Lua) -> Result<Value> {
        Ok(Value::Boolean(self))
    }
}

impl FromLua for bool {
    /// Lua truthiness: only `nil` and `false` are false.
    fn from_lua(v: Value, _: &Lua) -> Result<Self> {
        Ok(!matches!(v, Value::Nil | Value::Boolean(false)))
    }
}

/// A string or number as a number, as Lua's arithmetic coerces it.
fn coerce_number(v: &Value) -> Option<Value> {
    match v {
        Value::Integer(_) | Value::Number(_) => Some(v.clone()),
        Value::String(s) => rua_interp::number::str_to_number(&s.as_bytes()).map(|n| match n {
            rua_interp::number::Number::Int(i) => Value::Integer(i),
            rua_interp::number::Number::Float(f) => Value::Number(f),
        }),
        _ => None,
    }
}

macro_rules! int_conv {
    ($($t:ty),*) => {$(
        impl IntoLua for $t {
            fn into_lua(self, _: &Lua) -> Result<Value> {
                #[allow(irrefutable_let_patterns)]
                if let Ok(i) = i64::try_from(self) {
                    Ok(Value::Integer(i))
                } else {
                    Ok(Value::Number(self as f64))
                }
            }
        }

        impl FromLua for $t {
            fn from_lua(v: Value, _: &Lua) -> Result<Self> {
                let from = v.type_name();
                let to = stringify!($t);
                let n = coerce_number(&v).ok_or_else(|| Error::from_lua_conv(
                    from, to, Some("expected number".into())))?;
                let wide: i128 = match n {
                    Value::Integer(i) => i as i128,
                    Value::Number(f) => {
                        if f.is_finite() && f.fract() == 0.0 && f.abs() < 1.7e38 {
                            f as i128
                        } else {
                            return Err(Error::from_lua_conv(
                                from, to, Some("number has no integer representation".into())));
                        }
                    }
                    _ => unreachable!(),
                };
                <$t>::try_from(wide).map_err(|_| Error::from_lua_conv(
                    from, to, Some(format!("{wide} out of range"))))
            }
        }
    )*};
}

int_conv!(i8, i16, i32, i64, i128, isize, u8, u16, u32, u64, u128, usize);

macro_rules! float_conv {
    ($($t:ty),*) => {$(
        impl IntoLua for $t {
            fn into_lua(self, _: &Lua) -> Result<Value> {
                Ok(Value::Number(self as f64))
            }
        }

        impl FromLua for $t {
            fn from_lua(v: Value, _: &Lua) -> Result<Self> {
                match coerce_number(&v) {
                    Some(Value::Integer(i)) => Ok(i as $t),
                    Some(Value::Number(f)) => Ok(f as $t),
                    _ => Err(Error::from_lua_conv(
                        v.type_name(), stringify!($t), Some("expected number".into()))),
                }
            }
        }
    )*};
}

float_conv!(f32, f64);

impl IntoLua for &str {
    fn into_lua(self, lua: &Lua) -> Result<Value> {
        Ok(Value::String(lua.create_string(self)?))
    }
}

impl IntoLua for std::string::String {
    fn into_lua(self, lua: &Lua) -> Result<Value> {
        Ok(Value::String(lua.create_string(self)?))
    }
}

impl IntoLua for &std::string::String {
    fn into_lua(self, lua: &Lua) -> Result<Value> {
        Ok(Value::String(lua.create_string(self)?))
    }
}

impl IntoLua for Cow<'_, str> {
    fn into_lua(self, lua: &Lua) -> Result<Value> {
        Ok(Value::String(lua.create_string(self.as_bytes())?))
    }
}

impl FromLua for std::string::String {
    fn from_lua(v: Value, _: &Lua) -> Result<Self> {
        match &v {
            Value::String(s) => {
                std::string::String::from_utf8(s.as_bytes().to_vec()).map_err(|e| {
                    Error::from_lua_conv("string", "String", Some(format!("invalid utf-8: {e}")))
                })
            }
            Value::Integer(_) | Value::Number(_) => v.to_string(),
            other => Err(Error::from_lua_conv(
                other.type_name(),
                "String",
                Some("expected string or number".into()),
            )),
        }
    }
}

impl<T: IntoLua> IntoLua for Option<T> {
    fn into_lua(self, lua: &Lua) -> Result<Value> {
        match self {
            Some(v) => v.into_lua(lua),
            None => Ok(Value::Nil),
        }
    }
}

impl<T: FromLua> FromLua for Option<T> {
    fn from_lua(v: Value, lua: &Lua) -> Result<Self> {
        match v {
            Value::Nil => Ok(None),
            v => T::from_lua(v, lua).map(Some),
        }
    }
}

impl<T: IntoLua> IntoLua for Vec<T> {
    fn into_lua(self, lua: &Lua) -> Result<Value> {
        Ok(Value::Table(lua.create_sequence_from(self)?))
    }
}

impl<T: IntoLua + Clone> IntoLua for &[T] {
    fn into_lua(self, lua: &Lua) -> Result<Value> {
        Ok(Value::Table(
            lua.create_sequence_from(self.iter().cloned())?,
        ))
    }
}

impl<T: IntoLua, const N: usize> IntoLua for [T; N] {
    fn into_lua(self, lua: &Lua) -> Result<Value> {
        Ok(Value::Table(lua.create_sequence_from(self)?))
    }
}

impl<T: FromLua> FromLua for Vec<T> {
    /// Reads `t[1] .. t[#t]` (raw).
    fn from_lua(v: Value, _: &Lua) -> Result<Self> {
        match v {
            Value::Table(t) => t.sequence_values::<T>().collect(),
            other => Err(Error::from_lua_conv(
                other.type_name(),
                "Vec",
                Some("expected table".into()),
            )),
        }
    }
}

impl<K: IntoLua, V: IntoLua, S> IntoLua for HashMap<K, V, S> {
    fn into_lua(self, lua: &Lua) -> Result<Value> {
        Ok(Value::Table(lua.create_table_from(self)?))
    }
}

impl<K: FromLua + Eq + Hash, V: FromLua, S: BuildHasher + Default> FromLua for HashMap<K, V, S> {
    fn from_lua(v: Value, _: &Lua) -> Result<Self> {
        match v {
            Value::Table(t) => t.pairs::<K, V>().collect(),
            other => Err(Error::from_lua_conv(
                other.type_name(),
                "HashMap",
                Some("expected table".into()),
            )),
        }
    }
}

impl<K: IntoLua, V: IntoLua> IntoLua for BTreeMap<K, V> {
    fn into_lua(self, lua: &Lua) -> Result<Value> {
        Ok(Value::Table(lua.create_table_from(self)?))
    }
}

impl<K: FromLua + Ord, V: FromLua> FromLua for BTreeMap<K, V> {
    fn from_lua(v: Value, _: &Lua) -> Result<Self> {
        match v {
            Value::Table(t) => t.pairs::<K, V>().collect(),
            other => Err(Error::from_lua_conv(
                other.type_name(),
                "BTreeMap",
                Some("expected table".into()),
            )),
        }
    }
}
