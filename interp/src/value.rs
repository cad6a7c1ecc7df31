//! [`Value`]: the 16-byte tagged representation of every Lua value.
//!
//! Layout (`#[repr(C, u8)]`): the tag byte at offset 0, the payload (an `i64`, `f64`, `bool` or
//! `Gc` pointer) at offset 8. The JIT relies on these fixed offsets. Integers are true 64-bit
//! integers, distinct from floats, as in Lua 5.4.

use crate::func::{LuaClosure, NativeClosure};
use crate::string::LuaStr;
use crate::table::Table;
use crate::thread::Thread;
use crate::userdata::UserData;
use rua_gc::{Gc, Trace, Tracer};

/// A Lua value.
#[derive(Clone, Copy, Default)]
#[repr(C, u8)]
pub enum Value {
    #[default]
    Nil,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(Gc<LuaStr>),
    Table(Gc<Table>),
    LuaFn(Gc<LuaClosure>),
    NativeFn(Gc<NativeClosure>),
    Thread(Gc<Thread>),
    UserData(Gc<UserData>),
    LightUserData(usize),
}

const _: () = assert!(std::mem::size_of::<Value>() == 16);

/// Lua's basic types, as `type()` names them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LuaType {
    Nil,
    Boolean,
    Number,
    String,
    Table,
    Function,
    Thread,
    UserData,
}

impl LuaType {
    pub fn name(self) -> &'static str {
        match self {
            LuaType::Nil => "nil",
            LuaType::Boolean => "boolean",
            LuaType::Number => "number",
            LuaType::String => "string",
            LuaType::Table => "table",
            LuaType::Function => "function",
            LuaType::Thread => "thread",
            LuaType::UserData => "userdata",
        }
    }
}

impl Value {
    #[inline]
    pub fn lua_type(&self) -> LuaType {
        match self {
            Value::Nil => LuaType::Nil,
            Value::Bool(_) => LuaType::Boolean,
            Value::Int(_) | Value::Float(_) => LuaType::Number,
            Value::Str(_) => LuaType::String,
            Value::Table(_) => LuaType::Table,
            Value::LuaFn(_) | Value::NativeFn(_) => LuaType::Function,
            Value::Thread(_) => LuaType::Thread,
            Value::UserData(_) | Value::LightUserData(_) => LuaType::UserData,
        }
    }

    /// The `type()` name.
    #[inline]
    pub fn type_name(&self) -> &'static str {
        self.lua_type().name()
    }

    /// Lua truthiness: everything but `nil` and `false` is true.
    #[inline]
    pub fn truthy(&self) -> bool {
        !matches!(self, Value::Nil | Value::Bool(false))
    }

    #[inline]
    pub fn is_nil(&self) -> bool {
        matches!(self, Value::Nil)
    }

    #[inline]
    pub fn is_function(&self) -> bool {
        matches!(self, Value::LuaFn(_) | Value::NativeFn(_))
    }

    /// Primitive equality (`rawequal`): no metamethods. Integers and floats compare by
    /// mathematical value; strings by content.
    pub fn raw_eq(&self, other: &Value) -> bool {
        match (self, other) {
            (Value::Nil, Value::Nil) => true,
            (Value::Bool(a), Value::Bool(b)) => a == b,
            (Value::Int(a), Value::Int(b)) => a == b,
            (Value::Float(a), Value::Float(b)) => a == b,
            (Value::Int(i), Value::Float(f)) | (Value::Float(f), Value::Int(i)) => {
                int_float_eq(*i, *f)
            }
            (Value::Str(a), Value::Str(b)) => LuaStr::eq_gc(*a, *b),
            (Value::Table(a), Value::Table(b)) => a == b,
            (Value::LuaFn(a), Value::LuaFn(b)) => a == b,
            (Value::NativeFn(a), Value::NativeFn(b)) => a == b,
            (Value::Thread(a), Value::Thread(b)) => a == b,
            (Value::UserData(a), Value::UserData(b)) => a == b,
            (Value::LightUserData(a), Value::LightUserData(b)) => a == b,
            _ => false,
        }
    }

    /// Address of a collectable value (for `%p`, `tostring` of tables/functions), else 0.
    pub fn gc_addr(&self) -> usize {
        match self {
            Value::Str(g) => g.as_ptr() as usize,
            Value::Table(g) => g.as_ptr() as usize,
            Value::LuaFn(g) => g.as_ptr() as usize,
            Value::NativeFn(g) => g.as_ptr() as usize,
            Value::Thread(g) => g.as_ptr() as usize,
            Value::UserData(g) => g.as_ptr() as usize,
            Value::LightUserData(p) => *p,
            _ => 0,
        }
    }

    /// Marks the object this value refers to, if any.
    #[inline]
    pub fn trace(&self, t: &mut Tracer) {
        match *self {
            Value::Str(g) => t.mark(g),
            Value::Table(g) => t.mark(g),
            Value::LuaFn(g) => t.mark(g),
            Value::NativeFn(g) => t.mark(g),
            Value::Thread(g) => t.mark(g),
            Value::UserData(g) => t.mark(g),
            _ => {}
        }
    }

    /// `true` if this is a collectable object allocated since the last collection (the value
    /// side of the write barrier).
    #[inline]
    pub fn is_young_object(&self) -> bool {
        match *self {
            Value::Str(g) => g.is_young(),
            Value::Table(g) => g.is_young(),
            Value::LuaFn(g) => g.is_young(),
            Value::NativeFn(g) => g.is_young(),
            Value::Thread(g) => g.is_young(),
            Value::UserData(g) => g.is_young(),
            _ => false,
        }
    }

    /// `true` if this is a collectable object that is not marked (used by weak tables).
    /// Strings are values, not objects, for weak-table purposes: never cleared.
    pub fn is_dead_object(&self) -> bool {
        match *self {
            Value::Table(g) => !g.is_marked(),
            Value::LuaFn(g) => !g.is_marked(),
            Value::NativeFn(g) => !g.is_marked(),
            Value::Thread(g) => !g.is_marked(),
            Value::UserData(g) => !g.is_marked(),
            _ => false,
        }
    }

    /// Converts a number to an integer if it has an exact integer value (Lua's `tointeger`
    /// without string coercion).
    #[inline]
    pub fn as_int_exact(&self) -> Option<i64> {
        match *self {
            Value::Int(i) => Some(i),
            Value::Float(f) => crate::number::float_to_int_exact(f),
            _ => None,
        }
    }

    /// Converts a number to a float (no string coercion).
    #[inline]
    pub fn as_float(&self) -> Option<f64> {
        match *self {
            Value::Int(i) => Some(i as f64),
            Value::Float(f) => Some(f),
            _ => None,
        }
    }

    /// The string's bytes, if this is a string.
    #[inline]
    pub fn as_str(&self) -> Option<Gc<LuaStr>> {
        match *self {
            Value::Str(s) => Some(s),
            _ => None,
        }
    }

    #[inline]
    pub fn as_table(&self) -> Option<Gc<Table>> {
        match *self {
            Value::Table(t) => Some(t),
            _ => None,
        }
    }
}

/// Exact comparison of an integer with a float.
#[inline]
pub fn int_float_eq(i: i64, f: f64) -> bool {
    match crate::number::float_to_int_exact(f) {
        Some(fi) => fi == i,
        None => false,
    }
}

impl std::fmt::Debug for Value {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Value::Nil => write!(f, "nil"),
            Value::Bool(b) => write!(f, "{b}"),
            Value::Int(i) => write!(f, "{i}"),
            Value::Float(x) => write!(f, "{x:?}"),
            Value::Str(s) => write!(f, "{:?}", String::from_utf8_lossy(s.as_bytes())),
            other => write!(f, "{}: {:#x}", other.type_name(), other.gc_addr()),
        }
    }
}

/// The write barrier for a store of `v` into the heap object `obj` (a table, a closed
/// upvalue, a userdata, a native closure): if `obj` is old and `v` young, `obj` is remembered
/// for the next minor collection. Fast path: one header-bit test.
#[inline(always)]
pub fn barrier<T: Trace>(obj: Gc<T>, v: Value) {
    if obj.is_old() {
        barrier_slow(obj, v);
    }
}

/// The part of [`barrier`] that runs when `obj` is old.
#[cold]
#[inline(never)]
pub fn barrier_slow<T: Trace>(obj: Gc<T>, v: Value) {
    if v.is_young_object() {
        obj.remember();
    }
}
