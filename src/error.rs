//! [`Error`], the error type of the embedding API, and [`Result`].
//!
//! Lua errors reach Rust as one of these variants: syntax errors from loading, runtime errors
//! (message and Lua traceback), memory errors, and callback errors that wrap the Rust error a
//! host function returned (kept intact as [`std::error::Error::source`]). Conversion errors name
//! both the Lua and the Rust type.

use std::fmt;
use std::sync::Arc;

/// `Result` with [`Error`] as the error type.
///
/// ```
/// fn answer(lua: &rua::Lua) -> rua::Result<i64> {
///     lua.load("return 42").eval()
/// }
/// assert_eq!(answer(&rua::Lua::new()).unwrap(), 42);
/// ```
pub type Result<T> = std::result::Result<T, Error>;

/// An error raised by Lua or by the embedding API.
///
/// ```
/// let lua = rua::Lua::new();
/// match lua.load("error('boom')").exec() {
///     Err(rua::Error::RuntimeError(msg)) => {
///         assert!(msg.contains("boom"));
///         assert!(msg.contains("stack traceback:"));
///     }
///     other => panic!("unexpected: {other:?}"),
/// }
/// ```
#[derive(Clone, Debug)]
#[non_exhaustive]
pub enum Error {
    /// The source did not compile. `incomplete_input` is `true` when more input could make it
    /// valid (the message ends at `<eof>`), which a REPL uses to ask for another line.
    SyntaxError {
        /// The compiler's message, with the chunk name and line (`chunk:1: ... near ...`).
        message: String,
        /// `true` when the error is at the end of the input.
        incomplete_input: bool,
    },
    /// A Lua runtime error: the message, then a line `stack traceback:` and the Lua call stack
    /// at the point of the error (as `luaL_traceback` formats it).
    RuntimeError(String),
    /// Lua ran out of memory (or hit the memory limit).
    MemoryError(String),
    /// The instruction budget set by [`crate::Lua::set_instruction_limit`] ran out.
    InstructionLimitExceeded,
    /// A Rust error returned by a host function, as it reached the Rust caller through Lua:
    /// the Lua traceback at the point of the error and the original error.
    CallbackError {
        /// The Lua traceback (`stack traceback:` and the frames).
        traceback: String,
        /// The error the host function returned.
        cause: Arc<Error>,
    },
    /// A Lua value could not be converted to the Rust type `to`.
    FromLuaConversionError {
        /// The Lua type name of the value (`"table"`, `"nil"`, ...).
        from: &'static str,
        /// The Rust type asked for.
        to: String,
        /// Why, when more can be said (`"out of range"`, ...).
        message: Option<String>,
    },
    /// A Rust value could not be converted to the Lua type `to`.
    ToLuaConversionError {
        /// The Rust type of the value.
        from: String,
        /// The Lua type it was converted to.
        to: &'static str,
        /// Why, when more can be said.
        message: Option<String>,
    },
    /// An argument of a host function did not convert.
    BadArgument {
        /// The function's name when known.
        to: Option<String>,
        /// 1-based argument position.
        pos: usize,
        /// The conversion error.
        cause: Arc<Error>,
    },
    /// A userdata is not of the Rust type that was asked for.
    UserDataTypeMismatch,
    /// A userdata could not be borrowed because it is mutably borrowed.
    UserDataBorrowError,
    /// A userdata could not be borrowed mutably because it is borrowed.
    UserDataBorrowMutError,
    /// The userdata's value was moved out by [`crate::AnyUserData::take`].
    UserDataDestructed,
    /// A `&mut` host function (`create_function_mut`) was called again while running.
    RecursiveMutCallback,
    /// A handle belongs to another [`crate::Lua`] state, or its state was dropped.
    MismatchedState,
    /// The Lua state is in use by the code that called this one and cannot be entered (for
    /// example from a userdata's `Drop` that runs during a collection).
    StateBusy,
    /// A synchronous call reached an async host function.
    AwaitOutsideAsync(String),
    /// Any other Rust error (from [`Error::external`] or the `?` operator on a foreign error).
    ExternalError(Arc<dyn std::error::Error + Send + Sync>),
    /// A value could not be serialized into a Lua value.
    #[cfg(feature = "serde")]
    SerializeError(String),
    /// A Lua value could not be deserialized.
    #[cfg(feature = "serde")]
    DeserializeError(String),
    /// An error with added context.
    WithContext {
        /// The added text, shown before the cause.
        context: String,
        /// The wrapped error.
        cause: Arc<Error>,
    },
}

impl Error {
    /// Wraps any Rust error.
    ///
    /// ```
    /// let e = rua::Error::external(std::io::Error::other("disk full"));
    /// assert_eq!(e.to_string(), "disk full");
    /// ```
    pub fn external<E: Into<Box<dyn std::error::Error + Send + Sync>>>(e: E) -> Error {
        Error::ExternalError(Arc::from(e.into()))
    }

    /// A runtime error with the given message (what `error("...")` raises).
    ///
    /// ```
    /// let e = rua::Error::runtime("bad input");
    /// assert_eq!(e.to_string(), "runtime error: bad input");
    /// ```
    pub fn runtime<S: fmt::Display>(msg: S) -> Error {
        Error::RuntimeError(msg.to_string())
    }

    /// Adds context in front of this error.
    ///
    /// ```
    /// let e = rua::Error::runtime("x").context("loading config");
    /// assert!(e.to_string().starts_with("loading config"));
    /// ```
    pub fn context<C: fmt::Display>(self, context: C) -> Error {
        Error::WithContext {
            context: context.to_string(),
            cause: Arc::new(self),
        }
    }

    /// Looks through callback and context wrappers for an external error of type `T`.
    ///
    /// ```
    /// let e = rua::Error::external(std::io::Error::other("gone")).context("ctx");
    /// assert!(e.downcast_ref::<std::io::Error>().is_some());
    /// ```
    pub fn downcast_ref<T: std::error::Error + 'static>(&self) -> Option<&T> {
        match self {
            Error::ExternalError(e) => e.downcast_ref::<T>(),
            Error::CallbackError { cause, .. }
            | Error::WithContext { cause, .. }
            | Error::BadArgument { cause, .. } => cause.downcast_ref::<T>(),
            _ => None,
        }
    }

    pub(crate) fn from_lua_conv(from: &'static str, to: &str, message: Option<String>) -> Error {
        Error::FromLuaConversionError {
            from,
            to: to.to_string(),
            message,
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::SyntaxError { message, .. } => write!(f, "syntax error: {message}"),
            Error::RuntimeError(m) => write!(f, "runtime error: {m}"),
            Error::MemoryError(m) => write!(f, "memory error: {m}"),
            Error::InstructionLimitExceeded => write!(f, "instruction limit exceeded"),
            Error::CallbackError { traceback, cause } => write!(f, "{cause}\n{traceback}"),
            Error::FromLuaConversionError { from, to, message } => {
                write!(f, "error converting Lua {from} to {to}")?;
                match message {
                    Some(m) => write!(f, " ({m})"),
                    None => Ok(()),
                }
            }
            Error::ToLuaConversionError { from, to, message } => {
                write!(f, "error converting {from} to Lua {to}")?;
                match message {
                    Some(m) => write!(f, " ({m})"),
                    None => Ok(()),
                }
            }
            Error::BadArgument { to, pos, cause } => {
                write!(f, "bad argument #{pos}")?;
                if let Some(to) = to {
                    write!(f, " to '{to}'")?;
                }
                write!(f, ": {cause}")
            }
            Error::UserDataTypeMismatch => write!(f, "userdata is not of the expected type"),
            Error::UserDataBorrowError => write!(f, "userdata already mutably borrowed"),
            Error::UserDataBorrowMutError => write!(f, "userdata already borrowed"),
            Error::UserDataDestructed => write!(f, "userdata has been destructed"),
            Error::RecursiveMutCallback => write!(f, "mutable callback called recursively"),
            Error::MismatchedState => {
                write!(f, "handle belongs to another (or a dropped) Lua state")
            }
            Error::StateBusy => write!(f, "the Lua state is busy and cannot be entered"),
            Error::AwaitOutsideAsync(m) => write!(f, "{m}"),
            Error::ExternalError(e) => write!(f, "{e}"),
            #[cfg(feature = "serde")]
            Error::SerializeError(m) => write!(f, "serialize error: {m}"),
            #[cfg(feature = "serde")]
            Error::DeserializeError(m) => write!(f, "deserialize error: {m}"),
            Error::WithContext { context, cause } => write!(f, "{context}\n{cause}"),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::CallbackError { cause, .. }
            | Error::WithContext { cause, .. }
            | Error::BadArgument { cause, .. } => Some(cause.as_ref()),
            Error::ExternalError(e) => e.source(),
            _ => None,
        }
    }
}

/// Conversion of foreign errors with `?` inside host functions.
impl From<std::io::Error> for Error {
    fn from(e: std::io::Error) -> Error {
        Error::external(e)
    }
}

impl From<std::string::FromUtf8Error> for Error {
    fn from(e: std::string::FromUtf8Error) -> Error {
        Error::external(e)
    }
}

impl From<std::num::ParseIntError> for Error {
    fn from(e: std::num::ParseIntError) -> Error {
        Error::external(e)
    }
}

impl From<std::num::ParseFloatError> for Error {
    fn from(e: std::num::ParseFloatError) -> Error {
        Error::external(e)
    }
}

/// Adds `.into_lua_err()` to any `Result` with a Rust error, as in mlua.
///
/// ```
/// use rua::ExternalResult;
/// let r: Result<u8, std::num::ParseIntError> = "300".parse::<u8>();
/// let e = r.into_lua_err().unwrap_err();
/// assert!(e.to_string().contains("too large"));
/// ```
pub trait ExternalResult<T> {
    /// Wraps the error with [`Error::external`].
    fn into_lua_err(self) -> Result<T>;
}

impl<T, E: Into<Box<dyn std::error::Error + Send + Sync>>> ExternalResult<T>
    for std::result::Result<T, E>
{
    fn into_lua_err(self) -> Result<T> {
        self.map_err(Error::external)
    }
}

/// Adds `.context(..)` / `.with_context(..)` to [`Result`].
///
/// ```
/// use rua::ErrorContext;
/// let r: rua::Result<()> = Err(rua::Error::runtime("x"));
/// assert!(r.context("step 2").unwrap_err().to_string().starts_with("step 2"));
/// ```
pub trait ErrorContext<T> {
    /// Wraps the error in [`Error::WithContext`] with `context`.
    fn context<C: fmt::Display>(self, context: C) -> Result<T>;
    /// Like [`ErrorContext::context`], with the context computed from the error (only on
    /// failure).
    ///
    /// ```
    /// use rua::ErrorContext;
    /// let r: rua::Result<()> = Err(rua::Error::runtime("x"));
    /// let e = r.with_context(|e| format!("while handling <{e}>")).unwrap_err();
    /// assert!(e.to_string().starts_with("while handling <runtime error: x>"));
    /// ```
    fn with_context<C: fmt::Display>(self, f: impl FnOnce(&Error) -> C) -> Result<T>;
}

impl<T> ErrorContext<T> for Result<T> {
    fn context<C: fmt::Display>(self, context: C) -> Result<T> {
        self.map_err(|e| e.context(context))
    }
    fn with_context<C: fmt::Display>(self, f: impl FnOnce(&Error) -> C) -> Result<T> {
        self.map_err(|e| {
            let c = f(&e);
            e.context(c)
        })
    }
}
