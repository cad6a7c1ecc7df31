//! `rua-gc`: the garbage-collected heap under Rua's values.
//!
//! The heap owns every collectable object as a `GcBox<T>` (a header plus the value, for
//! [`InlineTail`] types such as strings followed by bytes) allocated separately and never moved,
//! and hands out [`Gc<T>`] pointers: `Copy`, pointer-sized, compared by address. Collection is precise tracing mark & sweep driven by the embedder (the
//! interpreter), which decides *when* to collect and supplies the roots; this crate supplies the
//! mechanism: allocation with byte accounting, a mark phase with a gray stack ([`Tracer`]), hooks
//! for weak containers and ephemerons, and sweeping.
//!
//! # The one invariant
//!
//! A `Gc<T>` stays valid while its object is reachable from the roots given to the collector at
//! every collection. The interpreter only collects at *safepoints* (between instructions, at call
//! boundaries) where every live value is in a root (a thread's stack, the registry, globals,
//! open upvalues...), never while a Rust function holds an unrooted `Gc` on its own stack. All
//! dereferences rely on this invariant; the `unsafe` code that depends on it lives in this file.

mod heap;
mod ptr;

pub use heap::{alloc_debt_add, alloc_debt_swap, Heap, Tracer};
pub use ptr::{Gc, InlineTail, Trace};
