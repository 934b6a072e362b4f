//! The plugin's memory allocator on wasm (feature `arena`, on by default): a bump arena
//! in front of the standard allocator.
//!
//! The store host runs every call in a fresh instance and throws its memory away when
//! the call ends, so freeing memory during a call buys little, while a call's
//! allocations are many and small: the host hands over every string of the request
//! through an allocation (three per basket line), and the answer allocates again. A
//! bump arena serves each of those with an add and a compare instead of a walk through
//! the standard allocator's free lists; measured on a 200-line basket it takes about a
//! fifth off the whole call (BENCHMARKS.md).
//!
//! What it does, exactly:
//! - The arena is [`ARENA_BYTES`] of zeroed static memory, part of the module's initial
//!   memory: using it grows nothing, and its pages are touched only as they are used.
//! - Allocations are carved from the arena in order. Freeing the latest allocation
//!   gives its room back (so a growing `String` or `Vec` reallocates in place);
//!   freeing any other arena allocation does nothing until the call ends.
//! - Once the arena is full, allocations go to the standard allocator, which reuses
//!   freed memory as usual: a plugin that churns through many megabytes in one call
//!   still runs within its memory cap.
//!
//! A plugin that wants the standard allocator alone, or its own `#[global_allocator]`,
//! depends on `linli-sdk` with `default-features = false`.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::{Cell, UnsafeCell};

/// How much the arena holds: several times what a 200-line basket takes.
pub const ARENA_BYTES: usize = 256 << 10;

/// The arena's memory.
#[repr(C, align(16))]
pub struct Room(UnsafeCell<[u8; ARENA_BYTES]>);

// SAFETY: the room's bytes are reached only through the one `Arena` made over it
// (`Arena::new`'s contract), which is itself `Sync` only on single-threaded wasm.
unsafe impl Sync for Room {}

impl Room {
    pub const fn new() -> Room {
        Room(UnsafeCell::new([0; ARENA_BYTES]))
    }
}

/// A bump allocator over one [`Room`].
pub struct Arena {
    room: &'static Room,
    /// Offset of the next free byte in the room.
    next: Cell<usize>,
}

// SAFETY: a wasm32-wasip2 plugin instance runs one thread, so the arena's cells are
// never touched by two threads at once.
#[cfg(target_arch = "wasm32")]
unsafe impl Sync for Arena {}

impl Arena {
    /// # Safety
    ///
    /// At most one arena is made over a room: two would hand out the same bytes.
    pub const unsafe fn new(room: &'static Room) -> Arena {
        Arena {
            room,
            next: Cell::new(0),
        }
    }

    fn start(&self) -> usize {
        self.room.0.get() as usize
    }

    fn contains(&self, ptr: *mut u8) -> bool {
        let addr = ptr as usize;
        self.start() <= addr && addr < self.start() + ARENA_BYTES
    }

    /// Whether `ptr` is the start of a block ending at the arena's next free byte.
    fn is_last(&self, ptr: *mut u8, size: usize) -> bool {
        ptr as usize + size == self.start() + self.next.get()
    }

    /// Carve `layout` out of the arena, or `None` when it does not fit.
    fn bump(&self, layout: Layout) -> Option<*mut u8> {
        let start = self.start();
        let at = (start + self.next.get()).checked_next_multiple_of(layout.align())?;
        let end = at.checked_add(layout.size())?;
        if end > start + ARENA_BYTES {
            return None;
        }
        self.next.set(end - start);
        Some(at as *mut u8)
    }
}

unsafe impl GlobalAlloc for Arena {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        match self.bump(layout) {
            Some(ptr) => ptr,
            // SAFETY: the caller's layout has a non-zero size, as `alloc` requires.
            None => unsafe { System.alloc(layout) },
        }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        if !self.contains(ptr) {
            // SAFETY: not from the arena, so from `System` with this layout.
            return unsafe { System.dealloc(ptr, layout) };
        }
        if self.is_last(ptr, layout.size()) {
            self.next.set(ptr as usize - self.start());
        }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if !self.contains(ptr) {
            // SAFETY: not from the arena, so from `System` with this layout.
            return unsafe { System.realloc(ptr, layout, new_size) };
        }
        let offset = ptr as usize - self.start();
        if self.is_last(ptr, layout.size()) && offset + new_size <= ARENA_BYTES {
            self.next.set(offset + new_size);
            return ptr;
        }
        if new_size <= layout.size() {
            return ptr;
        }
        // SAFETY: `new_size` is non-zero (it is larger than the old size) and the
        // alignment is the old, valid one, as `realloc`'s contract guarantees.
        let new_layout = unsafe { Layout::from_size_align_unchecked(new_size, layout.align()) };
        // SAFETY: as above.
        let moved = unsafe { self.alloc(new_layout) };
        if !moved.is_null() {
            // SAFETY: both blocks are live, distinct and at least `layout.size()` long;
            // the old one is then freed (which gives its room back when it was the
            // latest and the new one came from the standard allocator).
            unsafe {
                std::ptr::copy_nonoverlapping(ptr, moved, layout.size());
                self.dealloc(ptr, layout);
            }
        }
        moved
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The arena on its own (off wasm it is not the global allocator, so it can be
    /// driven directly).
    #[test]
    fn bumps_reuses_the_last_block_and_falls_back_when_full() {
        static ROOM: Room = Room::new();
        // SAFETY: the only arena over this room.
        let arena = unsafe { Arena::new(&ROOM) };
        let small = Layout::from_size_align(24, 8).unwrap();
        unsafe {
            let a = arena.alloc(small);
            let b = arena.alloc(small);
            assert!(arena.contains(a) && arena.contains(b));
            assert_eq!(b as usize, a as usize + 24, "blocks are carved in order");
            assert_eq!(a as usize % 8, 0);

            // Freeing the latest block gives its room back; the next takes it.
            arena.dealloc(b, small);
            assert_eq!(arena.alloc(small), b);

            // Growing the latest block stays in place; growing an older one moves it
            // and keeps its bytes.
            a.write_bytes(7, 24);
            let grown = arena.realloc(b, small, 100);
            assert_eq!(grown, b);
            let moved = arena.realloc(a, small, 48);
            assert_ne!(moved, a);
            assert_eq!(std::slice::from_raw_parts(moved, 24), &[7; 24]);

            // Alignment is honoured.
            let page = Layout::from_size_align(10, 4096).unwrap();
            assert_eq!(arena.alloc(page) as usize % 4096, 0);

            // The latest block outgrowing the arena moves to the standard allocator
            // and gives its room back.
            let last = arena.alloc(small);
            let out = arena.realloc(last, small, ARENA_BYTES + 1);
            assert!(!out.is_null() && !arena.contains(out));
            assert_eq!(arena.alloc(small), last);
            System.dealloc(out, Layout::from_size_align(ARENA_BYTES + 1, 8).unwrap());

            // Past the arena, blocks come from the standard allocator and are freed
            // back to it.
            let big = Layout::from_size_align(ARENA_BYTES, 8).unwrap();
            let outside = arena.alloc(big);
            assert!(!outside.is_null() && !arena.contains(outside));
            let outside = arena.realloc(outside, big, ARENA_BYTES * 2);
            arena.dealloc(
                outside,
                Layout::from_size_align(ARENA_BYTES * 2, 8).unwrap(),
            );
        }
    }
}
