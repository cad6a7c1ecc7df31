//! Serde support (feature `serde`): [`LuaSerdeExt::to_value`] turns any `Serialize` value into a
//! Lua value and [`LuaSerdeExt::from_value`] reads any `Deserialize` type from one.
//!
//! # Mapping rules
//!
//! | serde | Lua |
//! | --- | --- |
//! | bool, integers, floats | boolean, integer (`u64`/`u128` above `i64::MAX` become floats), float |
//! | char, string, bytes | string |
//! | `None`, `()`, unit struct | [`Value::NULL`] (a light userdata null), so the key stays present |
//! | `Some(v)`, newtype struct | `v` |
//! | sequence, tuple | table with keys `1..n` |
//! | map, struct | table keyed by field name |
//! | unit variant | the variant name as a string |
//! | newtype/tuple/struct variant | `{ Variant = value }` |
//!
//! Reading back: `nil` and [`Value::NULL`] read as `None`/`()`; a missing struct field that is an
//! `Option` reads as `None`. A table read as a sequence uses `t[1] .. t[#t]`; read as a map or
//! struct it uses all its entries. When the target type does not say (`deserialize_any`, e.g.
//! `serde_json::Value`), a non-empty table whose keys are exactly `1..n` is a sequence and any
//! other table, including an empty one, is a map; numeric keys of such a map read as strings
//! when the key type does not ask for a number. Integral floats convert to integer fields;
//! functions, threads and userdata cannot be deserialized.

use crate::error::{Error, Result};
use crate::lua::Lua;
use crate::value::Value;
use crate::Table;
use serde::de::{self, DeserializeOwned, IntoDeserializer, Visitor};
use serde::ser::{self, Serialize};

/// Serde conversions on [`Lua`].
///
/// ```
/// use rua::LuaSerdeExt;
/// use serde::{Deserialize, Serialize};
/// #[derive(Serialize, Deserialize, Debug, PartialEq)]
/// struct Config { name: String, workers: u32, tags: Vec<String>, limit: Option<u64> }
///
/// let lua = rua::Lua::new();
/// let t = lua.load("{ name = 'api', workers = 4, tags = {'a', 'b'} }").eval().unwrap();
/// let cfg: Config = lua.from_value(t).unwrap();
/// assert_eq!(cfg, Config { name: "api".into(), workers: 4, tags: vec!["a".into(), "b".into()], limit: None });
///
/// let v = lua.to_value(&cfg).unwrap();
/// lua.globals().set("cfg", v).unwrap();
/// // `None` became NULL (a light userdata), so the key is present:
/// assert!(lua.load("return cfg.workers == 4 and cfg.tags[2] == 'b' and cfg.limit ~= nil")
///     .eval::<bool>().unwrap());
/// ```
pub trait LuaSerdeExt {
    /// The null value ([`Value::NULL`]).
    fn null(&self) -> Value;

    /// Converts a `Serialize` value into a Lua value.
    fn to_value<T: Serialize + ?Sized>(&self, t: &T) -> Result<Value>;

    /// Converts a Lua value into a `Deserialize` type.
    #[allow(clippy::wrong_self_convention)] // the name mlua uses
    fn from_value<T: DeserializeOwned>(&self, value: Value) -> Result<T>;
}

impl LuaSerdeExt for Lua {
    fn null(&self) -> Value {
        Value::NULL
    }

    fn to_value<T: Serialize + ?Sized>(&self, t: &T) -> Result<Value> {
        t.serialize(Serializer { lua: self })
    }

    fn from_value<T: DeserializeOwned>(&self, value: Value) -> Result<T> {
        T::deserialize(Deserializer { value })
    }
}

impl ser::Error for Error {
    fn custom<T: std::fmt::Display>(msg: T) -> Self {
        Error::SerializeError(msg.to_string())
    }
}

impl de::Error for Error {
    fn custom<T: std::fmt::Display>(msg: T) -> Self {
        Error::DeserializeError(msg.to_string())
    }
}

/// Serializer producing Lua values.
struct Serializer<'a> {
    lua: &'a Lua,
}

/// A table being filled by a sequence or a map/struct serializer.
struct TableBuilder<'a> {
    lua: &'a Lua,
    table: Table,
    next_index: i64,
    pending_key: Option<Value>,
    /// For variants: wrap the result as `{ name = table }`.
    variant: Option<&'static str>,
}

impl<'a> TableBuilder<'a> {
    fn new(lua: &'a Lua, variant: Option<&'static str>) -> Result<Self> {
        Ok(TableBuilder {
            lua,
            table: lua.create_table()?,
            next_index: 1,
            pending_key: None,
            variant,
        })
    }

    fn push<T: Serialize + ?Sized>(&mut self, v: &T) -> Result<()> {
        let v = v.serialize(Serializer { lua: self.lua })?;
        self.table.raw_set(self.next_index, v)?;
        self.next_index += 1;
        Ok(())
    }

    fn field<T: Serialize + ?Sized>(&mut self, key: &'static str, v: &T) -> Result<()> {
        let v = v.serialize(Serializer { lua: self.lua })?;
        self.table.raw_set(key, v)
    }

    fn finish(self) -> Result<Value> {
        match self.variant {
            None => Ok(Value::Table(self.table)),
            Some(name) => {
                let outer = self.lua.create_table()?;
                outer.raw_set(name, self.table)?;
                Ok(Value::Table(outer))
            }
        }
    }
}

impl<'a> ser::Serializer for Serializer<'a> {
    type Ok = Value;
    type Error = Error;
    type SerializeSeq = TableBuilder<'a>;
    type SerializeTuple = TableBuilder<'a>;
    type SerializeTupleStruct = TableBuilder<'a>;
    type SerializeTupleVariant = TableBuilder<'a>;
    type SerializeMap = TableBuilder<'a>;
    type SerializeStruct = TableBuilder<'a>;
    type SerializeStructVariant = TableBuilder<'a>;

    fn serialize_bool(self, v: bool) -> Result<Value> {
        Ok(Value::Boolean(v))
    }
    fn serialize_i8(self, v: i8) -> Result<Value> {
        Ok(Value::Integer(v.into()))
    }
    fn serialize_i16(self, v: i16) -> Result<Value> {
        Ok(Value::Integer(v.into()))
    }
    fn serialize_i32(self, v: i32) -> Result<Value> {
        Ok(Value::Integer(v.into()))
    }
    fn serialize_i64(self, v: i64) -> Result<Value> {
        Ok(Value::Integer(v))
    }
    fn serialize_i128(self, v: i128) -> Result<Value> {
        Ok(i64::try_from(v).map_or(Value::Number(v as f64), Value::Integer))
    }
    fn serialize_u8(self, v: u8) -> Result<Value> {
        Ok(Value::Integer(v.into()))
    }
    fn serialize_u16(self, v: u16) -> Result<Value> {
        Ok(Value::Integer(v.into()))
    }
    fn serialize_u32(self, v: u32) -> Result<Value> {
        Ok(Value::Integer(v.into()))
    }
    fn serialize_u64(self, v: u64) -> Result<Value> {
        Ok(i64::try_from(v).map_or(Value::Number(v as f64), Value::Integer))
    }
    fn serialize_u128(self, v: u128) -> Result<Value> {
        Ok(i64::try_from(v).map_or(Value::Number(v as f64), Value::Integer))
    }
    fn serialize_f32(self, v: f32) -> Result<Value> {
        Ok(Value::Number(v.into()))
    }
    fn serialize_f64(self, v: f64) -> Result<Value> {
        Ok(Value::Number(v))
    }
    fn serialize_char(self, v: char) -> Result<Value> {
        let mut b = [0; 4];
        Ok(Value::String(
            self.lua.create_string(v.encode_utf8(&mut b))?,
        ))
    }
    fn serialize_str(self, v: &str) -> Result<Value> {
        Ok(Value::String(self.lua.create_string(v)?))
    }
    fn serialize_bytes(self, v: &[u8]) -> Result<Value> {
        Ok(Value::String(self.lua.create_string(v)?))
    }
    fn serialize_none(self) -> Result<Value> {
        Ok(Value::NULL)
    }
    fn serialize_some<T: Serialize + ?Sized>(self, v: &T) -> Result<Value> {
        v.serialize(self)
    }
    fn serialize_unit(self) -> Result<Value> {
        Ok(Value::NULL)
    }
    fn serialize_unit_struct(self, _: &'static str) -> Result<Value> {
        Ok(Value::NULL)
    }
    fn serialize_unit_variant(
        self,
        _: &'static str,
        _: u32,
        variant: &'static str,
    ) -> Result<Value> {
        self.serialize_str(variant)
    }
    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        v: &T,
    ) -> Result<Value> {
        v.serialize(self)
    }
    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        _: u32,
        variant: &'static str,
        v: &T,
    ) -> Result<Value> {
        let t = self.lua.create_table()?;
        t.raw_set(variant, v.serialize(Serializer { lua: self.lua })?)?;
        Ok(Value::Table(t))
    }
    fn serialize_seq(self, _: Option<usize>) -> Result<TableBuilder<'a>> {
        TableBuilder::new(self.lua, None)
    }
    fn serialize_tuple(self, _: usize) -> Result<TableBuilder<'a>> {
        TableBuilder::new(self.lua, None)
    }
    fn serialize_tuple_struct(self, _: &'static str, _: usize) -> Result<TableBuilder<'a>> {
        TableBuilder::new(self.lua, None)
    }
    fn serialize_tuple_variant(
        self,
        _: &'static str,
        _: u32,
        variant: &'static str,
        _: usize,
    ) -> Result<TableBuilder<'a>> {
        TableBuilder::new(self.lua, Some(variant))
    }
    fn serialize_map(self, _: Option<usize>) -> Result<TableBuilder<'a>> {
        TableBuilder::new(self.lua, None)
    }
    fn serialize_struct(self, _: &'static str, _: usize) -> Result<TableBuilder<'a>> {
        TableBuilder::new(self.lua, None)
    }
    fn serialize_struct_variant(
        self,
        _: &'static str,
        _: u32,
        variant: &'static str,
        _: usize,
    ) -> Result<TableBuilder<'a>> {
        TableBuilder::new(self.lua, Some(variant))
    }
}

impl ser::SerializeSeq for TableBuilder<'_> {
    type Ok = Value;
    type Error = Error;
    fn serialize_element<T: Serialize + ?Sized>(&mut self, v: &T) -> Result<()> {
        self.push(v)
    }
    fn end(self) -> Result<Value> {
        self.finish()
    }
}

impl ser::SerializeTuple for TableBuilder<'_> {
    type Ok = Value;
    type Error = Error;
    fn serialize_element<T: Serialize + ?Sized>(&mut self, v: &T) -> Result<()> {
        self.push(v)
    }
    fn end(self) -> Result<Value> {
        self.finish()
    }
}

impl ser::SerializeTupleStruct for TableBuilder<'_> {
    type Ok = Value;
    type Error = Error;
    fn serialize_field<T: Serialize + ?Sized>(&mut self, v: &T) -> Result<()> {
        self.push(v)
    }
    fn end(self) -> Result<Value> {
        self.finish()
    }
}

impl ser::SerializeTupleVariant for TableBuilder<'_> {
    type Ok = Value;
    type Error = Error;
    fn serialize_field<T: Serialize + ?Sized>(&mut self, v: &T) -> Result<()> {
        self.push(v)
    }
    fn end(self) -> Result<Value> {
        self.finish()
    }
}

impl ser::SerializeMap for TableBuilder<'_> {
    type Ok = Value;
    type Error = Error;
    fn serialize_key<T: Serialize + ?Sized>(&mut self, k: &T) -> Result<()> {
        self.pending_key = Some(k.serialize(Serializer { lua: self.lua })?);
        Ok(())
    }
    fn serialize_value<T: Serialize + ?Sized>(&mut self, v: &T) -> Result<()> {
        let k = self
            .pending_key
            .take()
            .ok_or_else(|| Error::SerializeError("map value without key".into()))?;
        if k.is_nil() || k.is_null() {
            return Err(Error::SerializeError("map key is null".into()));
        }
        let v = v.serialize(Serializer { lua: self.lua })?;
        self.table.raw_set(k, v)
    }
    fn end(self) -> Result<Value> {
        self.finish()
    }
}

impl ser::SerializeStruct for TableBuilder<'_> {
    type Ok = Value;
    type Error = Error;
    fn serialize_field<T: Serialize + ?Sized>(&mut self, key: &'static str, v: &T) -> Result<()> {
        self.field(key, v)
    }
    fn end(self) -> Result<Value> {
        self.finish()
    }
}

impl ser::SerializeStructVariant for TableBuilder<'_> {
    type Ok = Value;
    type Error = Error;
    fn serialize_field<T: Serialize + ?Sized>(&mut self, key: &'static str, v: &T) -> Result<()> {
        self.field(key, v)
    }
    fn end(self) -> Result<Value> {
        self.finish()
    }
}

/// Deserializer reading a Lua value.
struct Deserializer {
    value: Value,
}

/// Deserializer for map keys: like [`Deserializer`], except that a number read without a type
/// hint is offered as its string form (so integer keys work with string-keyed maps such as
/// `serde_json::Value` objects). Typed integer keys still read as integers.
struct KeyDeserializer {
    value: Value,
}

impl<'de> de::Deserializer<'de> for KeyDeserializer {
    type Error = Error;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        match self.value {
            v @ (Value::Integer(_) | Value::Number(_)) => visitor.visit_string(v.to_string()?),
            v => Deserializer { value: v }.deserialize_any(visitor),
        }
    }

    fn deserialize_i8<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        Deserializer { value: self.value }.deserialize_i64(visitor)
    }
    fn deserialize_i16<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        Deserializer { value: self.value }.deserialize_i64(visitor)
    }
    fn deserialize_i32<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        Deserializer { value: self.value }.deserialize_i64(visitor)
    }
    fn deserialize_i64<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        Deserializer { value: self.value }.deserialize_i64(visitor)
    }
    fn deserialize_u8<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        Deserializer { value: self.value }.deserialize_u64(visitor)
    }
    fn deserialize_u16<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        Deserializer { value: self.value }.deserialize_u64(visitor)
    }
    fn deserialize_u32<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        Deserializer { value: self.value }.deserialize_u64(visitor)
    }
    fn deserialize_u64<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        Deserializer { value: self.value }.deserialize_u64(visitor)
    }
    fn deserialize_f64<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        Deserializer { value: self.value }.deserialize_any(visitor)
    }
    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        Deserializer { value: self.value }.deserialize_option(visitor)
    }

    serde::forward_to_deserialize_any! {
        bool i128 u128 f32 char str string bytes byte_buf unit unit_struct identifier
        ignored_any newtype_struct seq tuple tuple_struct map struct enum
    }
}

impl<'de> IntoDeserializer<'de, Error> for KeyDeserializer {
    type Deserializer = Self;
    fn into_deserializer(self) -> Self {
        self
    }
}

fn is_sequence(t: &Table) -> Result<Option<usize>> {
    let n = t.raw_len();
    if n == 0 {
        return Ok(None);
    }
    let mut count = 0;
    for pair in t.pairs::<Value, Value>() {
        let (k, _) = pair?;
        match k {
            Value::Integer(i) if i >= 1 && i as usize <= n => count += 1,
            _ => return Ok(None),
        }
    }
    Ok((count == n).then_some(n))
}

fn unexpected(v: &Value) -> Error {
    Error::DeserializeError(format!("cannot deserialize a Lua {}", v.type_name()))
}

impl<'de> de::Deserializer<'de> for Deserializer {
    type Error = Error;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        match self.value {
            Value::Nil => visitor.visit_unit(),
            v if v.is_null() => visitor.visit_unit(),
            Value::Boolean(b) => visitor.visit_bool(b),
            Value::Integer(i) => visitor.visit_i64(i),
            Value::Number(n) => visitor.visit_f64(n),
            Value::String(s) => match s.to_str() {
                Ok(s) => visitor.visit_string(s),
                Err(_) => visitor.visit_byte_buf(s.as_bytes().to_vec()),
            },
            Value::Table(t) => {
                if is_sequence(&t)?.is_some() {
                    visit_seq(t, visitor)
                } else {
                    visit_map(t, visitor)
                }
            }
            other => Err(unexpected(&other)),
        }
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        match self.value {
            Value::Nil => visitor.visit_none(),
            v if v.is_null() => visitor.visit_none(),
            v => visitor.visit_some(Deserializer { value: v }),
        }
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _: &'static str,
        visitor: V,
    ) -> Result<V::Value> {
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_seq<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        match self.value {
            Value::Table(t) => visit_seq(t, visitor),
            other => Err(unexpected(&other)),
        }
    }

    fn deserialize_tuple<V: Visitor<'de>>(self, _: usize, visitor: V) -> Result<V::Value> {
        self.deserialize_seq(visitor)
    }

    fn deserialize_tuple_struct<V: Visitor<'de>>(
        self,
        _: &'static str,
        _: usize,
        visitor: V,
    ) -> Result<V::Value> {
        self.deserialize_seq(visitor)
    }

    fn deserialize_map<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        match self.value {
            Value::Table(t) => visit_map(t, visitor),
            other => Err(unexpected(&other)),
        }
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _: &'static str,
        _: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value> {
        self.deserialize_map(visitor)
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _: &'static str,
        _: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value> {
        match self.value {
            Value::String(s) => {
                let de: de::value::StringDeserializer<Error> = s.to_str()?.into_deserializer();
                visitor.visit_enum(de)
            }
            Value::Table(t) => {
                let mut pairs = t.pairs::<std::string::String, Value>();
                let (variant, value) = match (pairs.next(), pairs.next()) {
                    (Some(p), None) => p?,
                    _ => {
                        return Err(Error::DeserializeError(
                            "an enum variant table must have exactly one key".into(),
                        ))
                    }
                };
                visitor.visit_enum(EnumAccess { variant, value })
            }
            other => Err(unexpected(&other)),
        }
    }

    fn deserialize_i64<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        match self.value {
            Value::Number(n) if n.fract() == 0.0 && n.abs() < 9.2e18 => visitor.visit_i64(n as i64),
            v => Deserializer { value: v }.deserialize_any(visitor),
        }
    }

    fn deserialize_u64<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        match self.value {
            Value::Number(n) if n.fract() == 0.0 && (0.0..1.8e19).contains(&n) => {
                visitor.visit_u64(n as u64)
            }
            v => Deserializer { value: v }.deserialize_any(visitor),
        }
    }

    fn deserialize_i8<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        self.deserialize_i64(visitor)
    }
    fn deserialize_i16<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        self.deserialize_i64(visitor)
    }
    fn deserialize_i32<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        self.deserialize_i64(visitor)
    }
    fn deserialize_u8<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        self.deserialize_u64(visitor)
    }
    fn deserialize_u16<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        self.deserialize_u64(visitor)
    }
    fn deserialize_u32<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        self.deserialize_u64(visitor)
    }

    serde::forward_to_deserialize_any! {
        bool i128 u128 f32 f64 char str string bytes byte_buf unit unit_struct identifier
        ignored_any
    }
}

fn visit_seq<'de, V: Visitor<'de>>(t: Table, visitor: V) -> Result<V::Value> {
    let values: Vec<Value> = t.sequence_values::<Value>().collect::<Result<_>>()?;
    visitor.visit_seq(de::value::SeqDeserializer::new(
        values.into_iter().map(|value| Deserializer { value }),
    ))
}

fn visit_map<'de, V: Visitor<'de>>(t: Table, visitor: V) -> Result<V::Value> {
    let entries: Vec<(Value, Value)> = t.pairs::<Value, Value>().collect::<Result<_>>()?;
    visitor.visit_map(de::value::MapDeserializer::new(
        entries
            .into_iter()
            .map(|(k, v)| (KeyDeserializer { value: k }, Deserializer { value: v })),
    ))
}

impl<'de> IntoDeserializer<'de, Error> for Deserializer {
    type Deserializer = Self;
    fn into_deserializer(self) -> Self {
        self
    }
}

struct EnumAccess {
    variant: std::string::String,
    value: Value,
}

impl<'de> de::EnumAccess<'de> for EnumAccess {
    type Error = Error;
    type Variant = VariantAccess;

    fn variant_seed<S: de::DeserializeSeed<'de>>(
        self,
        seed: S,
    ) -> Result<(S::Value, VariantAccess)> {
        let de: de::value::StringDeserializer<Error> = self.variant.into_deserializer();
        let v = seed.deserialize(de)?;
        Ok((v, VariantAccess { value: self.value }))
    }
}

struct VariantAccess {
    value: Value,
}

impl<'de> de::VariantAccess<'de> for VariantAccess {
    type Error = Error;

    fn unit_variant(self) -> Result<()> {
        Ok(())
    }

    fn newtype_variant_seed<S: de::DeserializeSeed<'de>>(self, seed: S) -> Result<S::Value> {
        seed.deserialize(Deserializer { value: self.value })
    }

    fn tuple_variant<V: Visitor<'de>>(self, _: usize, visitor: V) -> Result<V::Value> {
        de::Deserializer::deserialize_seq(Deserializer { value: self.value }, visitor)
    }

    fn struct_variant<V: Visitor<'de>>(
        self,
        _: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value> {
        de::Deserializer::deserialize_map(Deserializer { value: self.value }, visitor)
    }
}
