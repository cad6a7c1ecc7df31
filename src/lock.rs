//! [`ReentrantLock`], the lock that serialises every access to one Lua state across threads.
//!
//! A thread may lock it again while it holds it (a host function called by the VM uses the
//! API of the state that is running it); other threads wait until the last guard of the
//! owning thread is dropped. Guards are neither `Send` nor `Sync`, so what a guard protects
//! is only ever reached by the thread that locked it.

use std::marker::PhantomData;
use std::ops::Deref;
use std::sync::{Condvar, Mutex, MutexGuard, PoisonError};
use std::thread::ThreadId;

/// Which thread holds the lock, and how many guards it holds.
struct Owner {
    thread: Option<ThreadId>,
    depth: usize,
}

/// A reentrant mutual-exclusion lock around a `T` that may be reached from one thread at a
/// time (the same contract as the standard library's unstable `ReentrantLock`).
pub(crate) struct ReentrantLock<T> {
    owner: Mutex<Owner>,
    released: Condvar,
    data: T,
}

// SAFETY: `data` is reached only through a `LockGuard` (or `get_mut`, which needs exclusive
// access to the lock). Guards exist on one thread at a time: `lock` waits until no other
// thread owns the lock, and guards cannot move to another thread (they are `!Send`). So a
// `&ReentrantLock<T>` shared between threads never lets two threads touch `T` concurrently,
// and `T` only has to be movable between threads (`Send`), not shareable (`Sync`).
unsafe impl<T: Send> Sync for ReentrantLock<T> {}

impl<T> ReentrantLock<T> {
    pub(crate) fn new(data: T) -> Self {
        ReentrantLock {
            owner: Mutex::new(Owner {
                thread: None,
                depth: 0,
            }),
            released: Condvar::new(),
            data,
        }
    }

    fn owner(&self) -> MutexGuard<'_, Owner> {
        // The inner mutex guards two plain fields updated without panicking in between, so
        // a poisoned mutex still holds consistent data.
        self.owner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Locks, waiting while another thread holds the lock.
    pub(crate) fn lock(&self) -> LockGuard<'_, T> {
        let me = std::thread::current().id();
        let mut o = self.owner();
        if o.thread == Some(me) {
            o.depth += 1;
        } else {
            while o.thread.is_some() {
                o = self
                    .released
                    .wait(o)
                    .unwrap_or_else(PoisonError::into_inner);
            }
            o.thread = Some(me);
            o.depth = 1;
        }
        LockGuard {
            lock: self,
            _not_send: PhantomData,
        }
    }

    /// The data, through exclusive access to the lock (no guard needed).
    pub(crate) fn get_mut(&mut self) -> &mut T {
        &mut self.data
    }
}

/// Proof that the current thread holds a [`ReentrantLock`]; gives shared access to its data.
pub(crate) struct LockGuard<'a, T> {
    lock: &'a ReentrantLock<T>,
    /// Keeps the guard on the thread that locked (`*const ()` is neither `Send` nor `Sync`).
    _not_send: PhantomData<*const ()>,
}

impl<T> Deref for LockGuard<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.lock.data
    }
}

impl<T> Drop for LockGuard<'_, T> {
    fn drop(&mut self) {
        let mut o = self.lock.owner();
        o.depth -= 1;
        if o.depth == 0 {
            o.thread = None;
            drop(o);
            self.lock.released.notify_one();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::Cell;
    use std::sync::Arc;

    #[test]
    fn reentrant_on_one_thread() {
        let l = ReentrantLock::new(Cell::new(0));
        let a = l.lock();
        let b = l.lock();
        a.set(1);
        assert_eq!(b.get(), 1);
        drop(a);
        drop(b);
        assert_eq!(l.lock().get(), 1);
    }

    #[test]
    fn excludes_other_threads() {
        // Cell is Send but not Sync: the lock makes it shareable. Each thread does a
        // non-atomic read-modify-write; without exclusion increments would be lost.
        let l = Arc::new(ReentrantLock::new(Cell::new(0u64)));
        let threads: Vec<_> = (0..4)
            .map(|_| {
                let l = l.clone();
                std::thread::spawn(move || {
                    for _ in 0..10_000 {
                        let g = l.lock();
                        let inner = l.lock();
                        let v = g.get();
                        std::hint::black_box(&v);
                        inner.set(v + 1);
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        assert_eq!(l.lock().get(), 40_000);
    }
}
