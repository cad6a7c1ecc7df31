//! Full userdata: a Rust value owned by the heap, with a metatable and user values.

use crate::table::Table;
use crate::value::Value;
use rua_gc::{Gc, Trace, Tracer};
use std::any::Any;
use std::cell::{Cell, RefCell};

/// A full userdata object.
pub struct UserData {
    pub meta: Cell<Option<Gc<Table>>>,
    pub user_values: RefCell<Vec<Value>>,
    pub data: RefCell<Box<dyn Any>>,
    /// Set once the object is in the collector's finalization list.
    pub finalizer_registered: Cell<bool>,
}

impl Trace for UserData {
    fn trace(&self, t: &mut Tracer) {
        if let Some(m) = self.meta.get() {
            t.mark(m);
        }
        for v in self.user_values.borrow().iter() {
            v.trace(t);
        }
    }
}
