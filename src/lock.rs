//! [`ReentrantLock`], the lock that serialises every access to one Lua state across threads.
//!
//! A thread may lock it again while it holds it (a host function called by the VM uses the
//! API of the state that is running it); other threads wait until the last guard of the
//! owning thread is dropped. Guards are neither `Send` nor `Sync`, so what a guard protects
//! is only ever reached by the thread that locked it.

use std::cell::Cell;
use std::marker::PhantomData;
use std::ops::Deref;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Condvar, Mutex, PoisonError};

thread_local! {
    static THREAD_TOKEN: u8 = const { 0 };
}

/// A non-zero number identifying the current thread among the live threads (the address of
/// a thread-local). A thread cannot end while it owns the lock (its guards live on its own
/// stack), so an owner's token is never reused while it is recorded.
#[inline]
fn thread_token() -> usize {
    THREAD_TOKEN.with(|t| t as *const u8 as usize)
}

/// A reentrant mutual-exclusion lock around a `T` that may be reached from one thread at a
/// time (the same contract as the standard library's unstable `ReentrantLock`).
///
/// Uncontended locking is one compare-and-swap; relocking by the owner is a counter increment.
/// Contended threads sleep on a condition variable.
pub(crate) struct ReentrantLock<T> {
    /// Token of the owning thread, 0 when free.
    owner: AtomicUsize,
    /// Guards held by the owner (read and written only by the owner).
    depth: Cell<usize>,
    /// Threads sleeping in `lock_contended`.
    waiters: AtomicUsize,
    sleep: Mutex<()>,
    released: Condvar,
    data: T,
}

// SAFETY: `data` is reached only through a `LockGuard` (or `get_mut`, which needs exclusive
// access to the lock), and `depth` only by the owning thread. Guards exist on one thread at a
// time: `lock` waits until no other thread owns the lock, and guards cannot move to another
// thread (they are `!Send`). So a `&ReentrantLock<T>` shared between threads never lets two
// threads touch `T` concurrently, and `T` only has to be movable between threads (`Send`),
// not shareable (`Sync`).
unsafe impl<T: Send> Sync for ReentrantLock<T> {}

impl<T> ReentrantLock<T> {
    pub(crate) fn new(data: T) -> Self {
        ReentrantLock {
            owner: AtomicUsize::new(0),
            depth: Cell::new(0),
            waiters: AtomicUsize::new(0),
            sleep: Mutex::new(()),
            released: Condvar::new(),
            data,
        }
    }

    /// Locks, waiting while another thread holds the lock.
    #[inline]
    pub(crate) fn lock(&self) -> LockGuard<'_, T> {
        let me = thread_token();
        if self.owner.load(Ordering::Relaxed) == me {
            // Only this thread writes `owner` to or from `me`, so it is still ours.
            self.depth.set(self.depth.get() + 1);
        } else {
            if self
                .owner
                .compare_exchange(0, me, Ordering::Acquire, Ordering::Relaxed)
                .is_err()
            {
                self.lock_contended(me);
            }
            self.depth.set(1);
        }
        LockGuard {
            lock: self,
            _not_send: PhantomData,
        }
    }

    #[cold]
    fn lock_contended(&self, me: usize) {
        let mut g = self.sleep.lock().unwrap_or_else(PoisonError::into_inner);
        self.waiters.fetch_add(1, Ordering::SeqCst);
        loop {
            if self
                .owner
                .compare_exchange(0, me, Ordering::SeqCst, Ordering::SeqCst)
                .is_ok()
            {
                break;
            }
            g = self
                .released
                .wait(g)
                .unwrap_or_else(PoisonError::into_inner);
        }
        self.waiters.fetch_sub(1, Ordering::SeqCst);
    }

    #[inline]
    fn unlock(&self) {
        let d = self.depth.get() - 1;
        self.depth.set(d);
        if d == 0 {
            self.owner.store(0, Ordering::SeqCst);
            // Either a sleeper registered before this load (and is woken here, after it
            // released `sleep` inside `wait`), or it retries the swap after its registration
            // and sees the store above.
            if self.waiters.load(Ordering::SeqCst) != 0 {
                drop(self.sleep.lock().unwrap_or_else(PoisonError::into_inner));
                self.released.notify_all();
            }
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
    #[inline]
    fn deref(&self) -> &T {
        &self.lock.data
    }
}

impl<T> Drop for LockGuard<'_, T> {
    #[inline]
    fn drop(&mut self) {
        self.lock.unlock();
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
