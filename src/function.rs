//! [`Function`]: a rooted handle to a Lua or host function, with synchronous calls and
//! argument binding ([`Function::call_async`] lives in `async_call.rs`).

use crate::conversion::{FromLuaMulti, IntoLuaMulti};
use crate::error::Result;
use crate::lua::Lua;
use crate::value::{MultiValue, ValueRef};

/// The boxed form of a host function: arguments in, results out.
pub(crate) type Callback = Box<dyn Fn(&Lua, MultiValue) -> Result<MultiValue> + Send>;

/// A Lua function (a Lua closure or a host function).
///
/// ```
/// let lua = rua::Lua::new();
/// let f: rua::Function = lua.load("function(a, b) return a * b, a + b end").eval().unwrap();
/// let (p, s): (i32, i32) = f.call((3, 4)).unwrap();
/// assert_eq!((p, s), (12, 7));
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct Function(pub(crate) ValueRef);

impl Function {
    /// Calls the function synchronously. Reaching an async host function fails with
    /// [`crate::Error::AwaitOutsideAsync`]; use [`Function::call_async`] for those.
    ///
    /// ```
    /// let lua = rua::Lua::new();
    /// let f: rua::Function = lua.load("function(s) return #s end").eval().unwrap();
    /// assert_eq!(f.call::<usize>("four").unwrap(), 4);
    /// ```
    pub fn call<R: FromLuaMulti>(&self, args: impl IntoLuaMulti) -> Result<R> {
        let lua = self.0.lua()?;
        let args = args.into_lua_multi(&lua)?;
        lua.call_function(&self.0, args)
    }

    /// A function that calls this one with `args` in front of its own arguments.
    ///
    /// ```
    /// let lua = rua::Lua::new();
    /// let sub: rua::Function = lua.load("function(a, b) return a - b end").eval().unwrap();
    /// let ten_minus = sub.bind(10).unwrap();
    /// assert_eq!(ten_minus.call::<i32>(3).unwrap(), 7);
    /// ```
    pub fn bind(&self, args: impl IntoLuaMulti) -> Result<Function> {
        let lua = self.0.lua()?;
        let bound = args.into_lua_multi(&lua)?;
        let me = self.clone();
        // The binder is a Lua closure so that calls through it stay stackless (yields and
        // awaits pass through it).
        let binder: Function = lua
            .load(
                "local f, b = ... local nb = b.n \
                     return function(...) \
                       local args = {n = 0} \
                       for i = 1, nb do args[i] = b[i] end \
                       local m = select('#', ...) \
                       for i = 1, m do args[nb + i] = select(i, ...) end \
                       local function unpack(i, last) \
                         if i > last then return end \
                         return args[i], unpack(i + 1, last) \
                       end \
                       return f(unpack(1, nb + m)) \
                     end",
            )
            .set_name("=[bind]")
            .into_function()?;
        let b = lua.create_table()?;
        let n = bound.len();
        for (i, v) in bound.into_iter().enumerate() {
            b.raw_set(i as i64 + 1, v)?;
        }
        b.raw_set("n", n as i64)?;
        binder.call((me, b))
    }

    /// Information about the function: whether it is a Lua function and where it was
    /// defined.
    ///
    /// ```
    /// let lua = rua::Lua::new();
    /// let f: rua::Function = lua.load("function() end").set_name("=defs").eval().unwrap();
    /// let info = f.info();
    /// assert_eq!(info.source.as_deref(), Some("=defs"));
    /// assert_eq!(info.line_defined, Some(1));
    /// ```
    pub fn info(&self) -> FunctionInfo {
        use crate::value::RawValue;
        self.0
            .with_raw(|_, _, v| {
                Ok(match v {
                    RawValue::LuaFn(cl) => {
                        let p = &cl.proto.proto;
                        FunctionInfo {
                            is_lua: true,
                            source: Some(String::from_utf8_lossy(&p.source).into_owned()),
                            line_defined: Some(p.line_defined as usize),
                        }
                    }
                    _ => FunctionInfo {
                        is_lua: false,
                        source: None,
                        line_defined: None,
                    },
                })
            })
            .unwrap_or(FunctionInfo {
                is_lua: false,
                source: None,
                line_defined: None,
            })
    }
}

/// What [`Function::info`] reports.
///
/// ```
/// let lua = rua::Lua::new();
/// let f = lua.create_function(|_, ()| Ok(())).unwrap();
/// assert_eq!(f.info(), rua::FunctionInfo { is_lua: false, source: None, line_defined: None });
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FunctionInfo {
    /// `true` for a Lua function, `false` for a host function.
    pub is_lua: bool,
    /// The chunk name of a Lua function.
    pub source: Option<String>,
    /// The line where a Lua function's definition starts (0 for a main chunk).
    pub line_defined: Option<usize>,
}
