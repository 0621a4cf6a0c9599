import CPython
import CPyLoader

extension Loader {
    /// How many levels of the recursion counter that guards the C stack one crossing between
    /// loaders counts as (`pyl_InheritRecursionBudget`): it costs far more C stack than a
    /// Python call (PyLoader's frames, and often a compile). 3.11's one counter allows 1,000
    /// levels for everything; 3.12+'s C counter allows 10,000 (Linux, release builds) for
    /// C frames alone. Either way about 45 crossings nest on one thread before RecursionError,
    /// as many as before 3.12's counter was used, which keeps a small thread stack safe.
    static let crossingRecursionCost: Int32 = PythonVersion.hex >= 0x030C_0000 ? 200 : 20

    /// Runs `body` with this loader's thread state current on the calling thread,
    /// and restores exactly the previous thread state afterwards, however deeply
    /// nested (Swift → A → Python → Swift → B → ...).
    ///
    /// - Takes the GIL (through the thread's carrier, see `ThreadRecord`) when the
    ///   thread holds none, and gives it back on the way out.
    /// - Costs one dictionary lookup and no swap when this loader is already current.
    /// - Synchronous: never hold it across an `await`.
    /// - Throws `LoaderError.closed` when the loader is closed or closing.
    @inline(__always)
    func withActivated<R>(_ body: () throws -> R) throws -> R {
        let thread = ThreadRecord.current
        // A GIL other than the tree's: OwnGIL.swift has the rules for crossing between them.
        if ownsGIL { return try OwnGIL.withActivated(self, thread: thread, body) }
        if thread.ownGILDepth > 0 { return try withActivatedLeavingOwnGIL(thread, body) }
        let acquired = thread.gilDepth == 0
        if acquired {
            // After Py_FinalizeEx every thread state is freed memory.
            guard !Runtime.finalizing else { throw LoaderError.runtime("CPython has been finalized") }
            PyEval_RestoreThread(thread.carrier)
        }
        thread.gilDepth += 1
        defer {
            thread.gilDepth -= 1
            if acquired { PyEval_SaveThread() }
        }
        // With the GIL held, the process-wide "current thread state" is this thread's.
        let previous = pyl_CurrentThreadState()
        let state = try threadState(on: thread)
        state.depth += 1
        defer { state.depth -= 1 }
        // What handles dropped without the GIL left to release (HandleTable.swift), only on
        // an entry that took the GIL: no code of this thread is inside Python then, so none
        // holds a borrowed reference that a `__del__` could free.
        if state.tstate == previous {
            if acquired && handles.hasPending { handles.releasePending() }
            return try body()
        }
        let tstate = state.tstate!
        PyThreadState_Swap(tstate)
        // Each thread state counts recursion on its own: without this, recursion
        // that goes round several loaders gets the whole limit in each of them and
        // overflows the C stack before any RecursionError. A crossing inherits what the
        // caller has left of the counter that guards the C stack, less what its own C
        // frames cost (3.11: the one counter; 3.12+: the C counter, the loader entered
        // counting its own Python depth; CPyLoader.h has the seam). An entry from outside
        // every loader (this thread held no GIL) whose previous thread state runs no Python
        // adds no crossing to a chain, so it costs nothing: a loader called from Swift starts
        // at the depth a fresh interpreter has. (With Python below it, a GIL-releasing C call
        // back into Swift, it pays as any crossing.)
        let ownBudget: pyl_RecursionBudget
        if let previous {
            let cost = acquired && pyl_RunsPython(previous) == 0 ? 0 : Loader.crossingRecursionCost
            ownBudget = pyl_InheritRecursionBudget(tstate, previous, cost)
        } else {
            ownBudget = pyl_RecursionBudgetOf(tstate)
        }
        defer { pyl_RestoreRecursionBudget(tstate, ownBudget) }
        if acquired && handles.hasPending { handles.releasePending() }
        do {
            let result = try body()
            PyThreadState_Swap(previous)
            return result
        } catch let pending as PendingPythonException {
            // The exception is set in this loader's thread state: move it across.
            var type: PyObjectPointer?, value: PyObjectPointer?, traceback: PyObjectPointer?
            PyErr_Fetch(&type, &value, &traceback)
            PyThreadState_Swap(previous)
            PyErr_Restore(type, value, traceback)
            throw pending
        } catch {
            PyThreadState_Swap(previous)
            throw error
        }
    }

    /// `withActivated` from inside an own-GIL loader: without that GIL, then as usual.
    /// Never inlined: `withActivated` is always inlined, and inlining this call into it would
    /// recurse forever (the optimizer of a release build ran out of memory on it).
    @inline(never)
    private func withActivatedLeavingOwnGIL<R>(_ thread: ThreadRecord, _ body: () throws -> R) throws -> R {
        try thread.suspendingGIL { try withActivated(body) }
    }

    /// Runs `body` (which returns a new reference, or nil with an exception set) in
    /// this loader and hands the result, or the very same exception object, to the
    /// caller's thread state: each thread state has its own error slot, so a
    /// pending exception must be moved across the swap. When the loader is closed or
    /// closes before the call enters it, the caller gets `pyloader.LoaderClosedError` of
    /// `pyloaderModule` (the `_pyloader` of a `pyloader` call) or, without one, `ImportError`
    /// (an import).
    /// PRECONDITION: the GIL is held (the caller is Python code).
    func callMovingException(closedErrorOf pyloaderModule: PyObjectPointer? = nil,
                             _ body: () -> PyObjectPointer?) -> PyObjectPointer? {
        assertHoldingGIL()
        if ownsGIL || ThreadRecord.current.ownGILDepth > 0 {
            return OwnGIL.callCopying(self, closedErrorOf: pyloaderModule, body)
        }
        var type: PyObjectPointer?, value: PyObjectPointer?, traceback: PyObjectPointer?
        let result: PyObjectPointer?
        do {
            result = try withActivated { () -> PyObjectPointer? in
                let result = body()
                if result == nil { PyErr_Fetch(&type, &value, &traceback) }
                return result
            }
        } catch {
            setPythonException(for: error, module: pyloaderModule)
            return nil
        }
        if result == nil {
            if type == nil {
                PyErr_SetString(pyl_ExcSystemError(), "PyLoader: call failed without an exception")
            } else {
                PyErr_Restore(type, value, traceback)
            }
        }
        return result
    }
}
