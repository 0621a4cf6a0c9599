import CPython
import Synchronization

/// The references a loader's live handles (`PythonObject`) own, so that `close()` can
/// release every one of them before the interpreter ends; and the references of handles
/// dropped on a thread that did not hold the GIL, to be released at the next chance.
///
/// Why a table and not the handles themselves: a handle dropped without the GIL must leave
/// the list at once (its memory is freed when its `deinit` returns), and the list is guarded
/// by the GIL, so each such drop took the GIL a second time after the call that made the
/// handle: half the cost of a Swift call from a thread that holds no GIL (BENCHMARKS.md,
/// "Swift → Python call"). A handle instead owns a slot here, whose memory outlives it.
/// Dropped without the GIL, the handle pushes its slot onto a lock-free stack (one
/// compare-and-swap, PyO3's reference pool idea); the next entry into the loader that takes
/// the GIL (`withActivated` from a thread holding none, `OwnGIL.withActivated`) or
/// `close()` releases what the stack holds, with the GIL held and the loader current. Not
/// any entry, and not the making of a handle: a `__del__` may run, and code of ours up the
/// stack may hold a borrowed reference it could free (`Dictionary(python:)` wraps a key while
/// its value is still borrowed).
///
/// Rules:
/// 1. Slots, the list through them and the free list are guarded by the loader's GIL.
///    Only the pending stack's head is atomic; a slot's `nextPending` is written before
///    the push publishes it and read after the drain takes it.
/// 2. Slots live in chunks that never move or shrink, freed with the table (the loader
///    outlives its handles: each holds it), so a handle's slot pointer stays valid.
/// 3. A slot is `live` (linked, owning `reference`), `released` (`close()` released the
///    reference; its handle still exists) or `free`. A pending slot is live or released;
///    the drain releases a live one and frees both.
final class HandleTable {
    struct Slot {
        enum State { case live, released, free }
        var reference: PyObjectPointer?
        var state = State.free
        var older: UnsafeMutablePointer<Slot>?
        var newer: UnsafeMutablePointer<Slot>?
        var nextPending: UnsafeMutablePointer<Slot>?
    }
    typealias SlotPointer = UnsafeMutablePointer<Slot>

    private static let chunkSize = 256
    private var chunks: [SlotPointer] = []
    /// The free slots, through `newer`.
    private var freeSlots: SlotPointer?
    /// The newest live slot; older ones through `older`.
    private var newest: SlotPointer?
    /// Slots of handles dropped without the GIL: a Treiber stack through `nextPending`.
    private let pending = Atomic<SlotPointer?>(nil)

    deinit {
        for chunk in chunks { chunk.deinitialize(count: Self.chunkSize).deallocate() }
    }

    /// Whether handles were dropped without the GIL since the last `releasePending`. Needs no
    /// GIL (a drop racing with it is seen by the next check).
    var hasPending: Bool {
        @inline(__always) get { pending.load(ordering: .relaxed) != nil }
    }

    /// A live slot owning `reference`. Runs no Python code. PRECONDITION: the loader's GIL
    /// is held.
    func insert(_ reference: PyObjectPointer) -> SlotPointer {
        if freeSlots == nil { addChunk() }
        let slot = freeSlots!
        freeSlots = slot.pointee.newer
        slot.pointee = Slot(reference: reference, state: .live, older: newest, newer: nil, nextPending: nil)
        newest?.pointee.newer = slot
        newest = slot
        return slot
    }

    /// Frees `slot` and returns the reference it owned (nil when `close()` released it), for
    /// the caller to release. PRECONDITION: the loader's GIL is held.
    func remove(_ slot: SlotPointer) -> PyObjectPointer? {
        let reference = slot.pointee.state == .live ? slot.pointee.reference : nil
        if slot.pointee.state == .live { unlink(slot) }
        slot.pointee = Slot(newer: freeSlots)
        freeSlots = slot
        return reference
    }

    /// Hands `slot` to the next entry into the loader that takes the GIL, or to `close()`.
    /// Needs no GIL.
    func deferRemoval(_ slot: SlotPointer) {
        var head = pending.load(ordering: .relaxed)
        while true {
            slot.pointee.nextPending = head
            let (exchanged, current) = pending.compareExchange(expected: head, desired: slot,
                                                               successOrdering: .releasing, failureOrdering: .relaxed)
            if exchanged { return }
            head = current
        }
    }

    /// Releases the references of the slots the stack holds, and frees them.
    /// PRECONDITION: the loader's GIL is held and its thread state is current.
    @inline(never)
    func releasePending() {
        var next = pending.exchange(nil, ordering: .acquiring)
        while let slot = next {
            next = slot.pointee.nextPending
            // Py_DecRef may run __del__ code that makes or drops handles: the slot is
            // freed first, and a slot pushed meanwhile waits for the next drain.
            Py_DecRef(remove(slot))
        }
    }

    /// Releases every reference (`close()`, step ii), newest first: the stack's, then the
    /// live handles', which stay `released` until dropped.
    /// PRECONDITION: the loader's GIL is held and its thread state is current.
    func releaseAll() {
        releasePending()
        // A release may run __del__ code that makes or drops handles: take the newest
        // each time rather than walking a list that may change.
        while let slot = newest {
            let reference = slot.pointee.reference
            unlink(slot)
            slot.pointee.reference = nil
            slot.pointee.state = .released
            Py_DecRef(reference)
        }
        releasePending()
    }

    /// Forgets every reference without releasing it: the interpreter is gone (ended by
    /// `close()`, which released all but those of handles made during its last steps; or left
    /// behind in a forked process, Forking.swift). A handle dropped later then finds its slot
    /// released, whatever interpreter a new loader gets at the same address.
    /// PRECONDITION: the loader's GIL is held, or no other thread runs (the child of a fork).
    func abandonAll() {
        _ = pending.exchange(nil, ordering: .relaxed)
        while let slot = newest {
            unlink(slot)
            slot.pointee.reference = nil
            slot.pointee.state = .released
        }
    }

    /// Whether the live handles include none. PRECONDITION: the loader's GIL is held.
    var isEmpty: Bool { newest == nil }

    private func unlink(_ slot: SlotPointer) {
        if let newer = slot.pointee.newer { newer.pointee.older = slot.pointee.older } else { newest = slot.pointee.older }
        slot.pointee.older?.pointee.newer = slot.pointee.newer
        slot.pointee.older = nil
        slot.pointee.newer = nil
    }

    private func addChunk() {
        let chunk = SlotPointer.allocate(capacity: Self.chunkSize)
        for index in 0..<Self.chunkSize {
            (chunk + index).initialize(to: Slot(newer: index + 1 < Self.chunkSize ? chunk + index + 1 : freeSlots))
        }
        chunks.append(chunk)
        freeSlots = chunk
    }
}
