#if canImport(Glibc)
import Glibc
#endif
import CPython
import CPyLoader

/// One OS thread's thread state in one loader's interpreter.
///
/// - Made on the thread's first entry into the loader, reused afterwards.
/// - Deleted when the loader closes (by the closing thread) or when the thread ends.
/// - `tstate` and `depth` are read and written only with the GIL held.
final class LoaderThreadState {
    unowned let thread: ThreadRecord
    let loader: Loader
    /// nil once deleted (the loader closed or the thread ended).
    var tstate: ThreadStatePointer?
    /// How many activations of this loader are running on this thread right now.
    var depth = 0

    init(thread: ThreadRecord, loader: Loader, tstate: ThreadStatePointer) {
        self.thread = thread
        self.loader = loader
        self.tstate = tstate
    }
}

/// Everything PyLoader keeps for one OS thread.
///
/// Lifetime rules:
/// - Made on the thread's first call into PyLoader; owned by the thread (a
///   pthread key), released when the thread ends.
/// - `carrier` is the thread's thread state in the *main* interpreter. The thread
///   takes the GIL through it and then swaps to the loader it enters, so a thread
///   never waits for the GIL on a thread state that a `close()` could delete. It is
///   made before any sub-interpreter thread state of this thread, so the
///   `PyGILState_*` API (which assumes the main interpreter) binds to it.
final class ThreadRecord {
    let carrier: ThreadStatePointer
    /// > 0 while this thread holds the GIL through PyLoader, or runs inside a
    /// Python-to-Swift call. Only this thread reads or writes it.
    var gilDepth = 0
    /// This thread's thread states, by loader id. Only this thread reads or writes
    /// the dictionary; the entries' fields are guarded by the GIL.
    var states: [Int: LoaderThreadState] = [:]
    /// The entry of `states` this thread entered last: most activations enter the loader
    /// the previous one did, and this spares them the dictionary lookup.
    var lastState: LoaderThreadState?
    /// The thread's context loaders, innermost last (Java's context class loader).
    var contextStack: [Loader] = []
    /// > 0 while this thread holds the GIL of an own-GIL loader through PyLoader (and then
    /// no other GIL): how many activations of own-GIL loaders are running on it.
    var ownGILDepth = 0

    private init(carrier: ThreadStatePointer) {
        self.carrier = carrier
    }

    /// Adds `state`, this thread's new record in a shared-GIL loader. First drops the records
    /// of shared-GIL loaders that other threads closed (a closing thread removes only its
    /// own): else a thread that runs many short-lived loaders closed elsewhere (the pytest
    /// runner's main thread) keeps every one of them alive. Own-GIL loaders' records are
    /// left alone: their fields are guarded by their own GILs, not this one.
    /// PRECONDITION: the shared GIL is held; called by this record's thread.
    func addSharedGILState(_ state: LoaderThreadState) {
        if states.contains(where: { !$0.value.loader.ownsGIL && $0.value.tstate == nil }) {
            states = states.filter { $0.value.loader.ownsGIL || $0.value.tstate != nil }
        }
        if let last = lastState, !last.loader.ownsGIL, last.tstate == nil { lastState = nil }
        states[state.loader.id] = state
    }

    /// The calling thread's record, made on first use.
    static var current: ThreadRecord {
        @inline(__always) get {
            if let raw = pyl_GetThreadRecord() {
                return Unmanaged<ThreadRecord>.fromOpaque(raw).takeUnretainedValue()
            }
            return makeCurrent(adopting: nil)
        }
    }

    /// The calling thread's record, or nil when it has none yet (it never entered a loader,
    /// so it holds no GIL through PyLoader). Makes nothing: safe after CPython finalized.
    static var existing: ThreadRecord? {
        pyl_GetThreadRecord().map { Unmanaged<ThreadRecord>.fromOpaque($0).takeUnretainedValue() }
    }

    /// Makes the calling thread's record. `adopting` is the thread state that
    /// `Py_Initialize` made for the thread that starts the runtime.
    @discardableResult
    static func makeCurrent(adopting tstate: ThreadStatePointer?) -> ThreadRecord {
        // PyThreadState_New needs no GIL in 3.11 (it takes the runtime's HEAD_LOCK).
        let carrier = tstate ?? PyThreadState_New(Runtime.mainInterpreter)!
        let record = ThreadRecord(carrier: carrier)
        let raw = Unmanaged.passRetained(record).toOpaque()
        pyl_SetThreadRecord(raw)
        pthread_setspecific(threadExitKey, raw)
        return record
    }

    /// Runs when an OS thread ends: deletes its thread states in every loader and
    /// its carrier. Nothing to do once CPython is finalized (it freed them all).
    fileprivate static func threadEnded(_ raw: UnsafeMutableRawPointer) {
        let record = Unmanaged<ThreadRecord>.fromOpaque(raw).takeRetainedValue()
        pyl_SetThreadRecord(nil)
        guard Runtime.isRunning, record.gilDepth == 0 else { return }
        for state in record.states.values where state.loader.ownsGIL {
            OwnGIL.threadEnded(state)   // under that loader's GIL, holding no other
        }
        PyEval_RestoreThread(record.carrier)
        for state in record.states.values where !state.loader.ownsGIL {
            guard let tstate = state.tstate, tstate != record.carrier else { continue }
            state.loader.forget(state)
            PyThreadState_Swap(tstate)
            PyThreadState_Clear(tstate)
            PyThreadState_Swap(record.carrier)
            if !state.loader.parksInitialThreadState(tstate) { PyThreadState_Delete(tstate) }
            state.tstate = nil
        }
        record.states.removeAll()
        if record.carrier == Runtime.initialThreadState {
            // The main interpreter's initial thread state is static memory in 3.11,
            // reused for the next thread state of an interpreter that has none:
            // deleting it here made the next new thread abort ("init_threadstate:
            // thread state already initialized"). It stays, unused, until finalization.
            PyEval_SaveThread()
        } else {
            PyThreadState_Clear(record.carrier)
            PyThreadState_DeleteCurrent()
        }
    }
}

/// The pthread key whose destructor cleans up after a thread that used PyLoader.
private let threadExitKey: pthread_key_t = {
    var key = pthread_key_t()
    pthread_key_create(&key) { raw in
        if let raw { ThreadRecord.threadEnded(raw) }
    }
    return key
}()

/// Marks the calling thread as holding the GIL for the duration of a
/// Python-to-Swift call (CPython called one of our C functions, so the GIL is
/// held and the current thread state is accurate).
@inline(__always)
func enteredFromPython<R>(_ body: (ThreadRecord) throws -> R) rethrows -> R {
    let thread = ThreadRecord.current
    thread.gilDepth += 1
    defer { thread.gilDepth -= 1 }
    return try body(thread)
}

// MARK: A loader's thread states: made on first use, dropped when their thread ends, the
// initial one parked (deleted at close: `Closing.swift`, steps 8.d.iv-v).

extension Loader {
    /// The calling thread's thread state in this loader, a shared-GIL one (own-GIL loaders'
    /// are made in OwnGIL.swift), made on first use.
    /// `closing`: for `close()` itself, which still enters a loader it is closing.
    /// PRECONDITION: the GIL is held.
    func threadState(on thread: ThreadRecord, closing: Bool = false) throws -> LoaderThreadState {
        assertHoldingGIL()
        let lifecycle = lifecycleHoldingGIL
        guard lifecycle == .open || (closing && lifecycle == .closing) else { throw LoaderError.closed(loader: name) }
        // A state whose thread state was deleted (tstate nil) is never reused; loader ids
        // are never reused either, so a match is this loader's live entry of `states`.
        if let state = thread.lastState, state.loader === self, state.tstate != nil { return state }
        if let state = thread.states[id], state.tstate != nil {
            thread.lastState = state
            return state
        }
        let tstate = parent == nil ? thread.carrier : PyThreadState_New(interpreter)!
        let state = LoaderThreadState(thread: thread, loader: self, tstate: tstate)
        thread.addSharedGILState(state)
        threadStates.append(state)
        return state
    }

    /// Drops a thread's state from the list (the thread is ending). PRECONDITION: the GIL is held.
    func forget(_ state: LoaderThreadState) {
        assertHoldingGIL()
        threadStates.removeAll { $0 === state }
    }

    /// Keeps `tstate`, an ending thread's thread state in this loader, when it is the
    /// interpreter's initial one, and says so (the thread must then not delete it).
    /// The rule: a live sub-interpreter's initial thread state is deleted only when the
    /// interpreter ends. (CPython 3.11's `new_threadstate` hands out the preallocated
    /// `interp->_initial_thread` whenever the interpreter has no thread state, and
    /// `init_threadstate` aborts, "thread state already initialized", because it was
    /// used before: deleting the last thread state of a live interpreter made the next
    /// entry into it abort the process.) So the initial one is kept, parked, instead.
    /// PRECONDITION: the GIL is held; `tstate` has been cleared.
    func parksInitialThreadState(_ tstate: ThreadStatePointer) -> Bool {
        assertHoldingGIL()
        guard tstate == initialThreadState, lifecycleHoldingGIL != .closed else { return false }
        parkedThreadState = tstate
        return true
    }
}
