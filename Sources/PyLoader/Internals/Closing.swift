import CPython
import CPyLoader

// Closing a loader: every step, in order, in this file.
//
// The ways in: `Loader.close()` and `closeReportingLeaks()` (Swift), `pyloader.Loader.close`
// (Python, through `_core_close`), and `Runtime.finalizeAtExit` (each child of the root at
// exit, through `closeHoldingGIL`). The code is tagged with these step numbers, which
// docs/ARCHITECTURE.md (section 9) explains one by one.
//
// A subtree of the shared GIL (`closeReportingLeaks`, `closeHoldingGIL`):
//  1. The root → `cannotCloseRoot`; an own-GIL loader → `OwnGIL.close` (O1–O7 below).
//  2. Activate the root (the GIL, the root's thread state).
//  3. Already closed → return, nothing done.
//  4. Refuse, nothing closed (`checkClosable`): a. from inside the subtree
//     (`closingFromInside`); b. a loader of it being closed by another thread, running code
//     on another thread, or some thread's context loader (`busy`). Then the own-GIL leaves
//     of the subtree close (O1–O7); a refusal there is this loader's `busy`.
//  5. Mark the subtree `.closing`: from here no thread can enter it, so what step 4 checked
//     stays true while the GIL is given up to join threads and run atexit callbacks. Every
//     later refusal reopens the loaders not yet closed.
//  6. Join the Python threads, parents first (`joinPythonThreads`): ending an interpreter
//     under a running thread aborts the process ("not the last thread").
//  7. Leak scan, while every object is whole: after the joins, before anything ends, and
//     before 8.d.vi disarms the hooks whose class records name the classes' loaders.
//  8. Deepest first, each loader (`endOwnInterpreter`): a. swap to this thread's state in
//     it; b. its atexit callbacks, now (Py_EndInterpreter would run them after its own
//     last-thread check, and a callback that starts a thread would abort); c. join again
//     (a callback may have started a thread); d. `endInterpreter`, steps i–xv; e. swap back.
//  9. Return the leaks.
//
// `endInterpreter` (also used by `Loader.child` when a new interpreter fails to set up):
//  i. `.closing`. ii. Release every live handle (a `__del__` may run: the interpreter must
//  be alive and current). iii. And the references of handles dropped without the GIL
//  (`HandleTable.releaseAll` does both). iv. Clear and delete the other threads'
//  states. v. Delete the parked initial state. (ii–v: `releaseEverythingButTheInterpreter`.)
//  vi. Disarm the import hook (later calls raise ImportError instead of touching a freed
//  interpreter). vii. `dropBorrowedModules` (Py_EndInterpreter clears every module still in
//  sys.modules, a parent's delegated module included; needs `builtinsDictionary`).
//  viii. Keep the builtins dict; `forgetDelegations` (needs the loader's state current).
//  ix. `Py_EndInterpreter`; forget the references of handles made since ii. x. Swap to the carrier (nothing is current after ix).
//  xi. Release the replaced static-type dicts (3.12+; only after ix). xii. The closed-loader
//  stub into the old builtins dict as `__import__` (ix cleared that dict). xiii. Swap to no
//  thread state. xiv. Remove the loader's extension copies. xv. Forget the thread states;
//  `markClosed` (out of the registry and the parent's children, `.closed`).
//
// An own-GIL loader (`OwnGIL.close`; it has no children, no hook, no borrowed modules):
//  O1. From inside → `closingFromInside`. O2. Give up any GIL this thread holds.
//  O3. Under the registry lock: closed → return; threads counted in → `busy`; else
//  `.closing` (OwnGIL rule 3). O4. Take the loader's GIL through this thread's state.
//  O5. Join, atexit callbacks, join again; threads left → reopen, `busy`.
//  O6. Steps ii–v. O7. `Py_EndInterpreter`, `markClosed`.

extension Loader {
    // MARK: The public entry points

    /// Closes this loader: its descendants first (deepest first), then its own
    /// interpreter, after releasing its live handles and deleting every thread's
    /// thread state in it. Closing a closed loader does nothing.
    ///
    /// Non-daemon threads that code in the loader started are joined, for at most
    /// `threadJoinTimeout` per loader closed (and again after its atexit callbacks).
    ///
    /// - Throws: `LoaderError.cannotCloseRoot`; `.closingFromInside` when called from
    ///   code running in this loader or a descendant; `.busy` when another thread is
    ///   running code in it, a thread it started is still alive (daemon threads
    ///   included), or it is some thread's context loader. Nothing is closed then.
    ///
    /// References that outlive the loader (modules of loaders that stay open holding its
    /// objects) are logged through `ImportTrace.logger`; `closeReportingLeaks()` returns them.
    public func close() throws {
        _ = try closeReportingLeaks()
    }

    /// Closes the loader as `close()` does and returns the references that outlive it
    /// (`LoaderLeak`): modules of loaders that stay open holding objects of this loader or
    /// its descendants. Empty in the normal case.
    public func closeReportingLeaks() throws -> [LoaderLeak] {
        // Step 1
        guard parent != nil else { throw LoaderError.cannotCloseRoot }
        if ownsGIL { return try OwnGIL.close(self) }
        // Step 2
        let root = try Loader.root
        return try root.withActivated {
            try closeHoldingGIL(thread: ThreadRecord.current)
        }
    }

    /// How long `close()` waits for the non-daemon threads Python code started in the
    /// loader (default 5 seconds; a negative value counts as zero). Process-wide.
    public static var threadJoinTimeout: Duration {
        get { registry.lock.withLock { _threadJoinTimeout } }
        set { registry.lock.withLock { _threadJoinTimeout = Swift.max(.zero, newValue) } }
    }
    nonisolated(unsafe) private static var _threadJoinTimeout = Duration.seconds(5)

    /// `threadJoinTimeout` in seconds, as the Python side of the wait takes it.
    static var threadJoinSeconds: Double {
        let (seconds, attoseconds) = threadJoinTimeout.components
        return Double(seconds) + Double(attoseconds) / 1e18
    }

    // MARK: A subtree of the shared GIL (steps 3–9)

    /// PRECONDITION: the GIL is held.
    @discardableResult
    func closeHoldingGIL(thread: ThreadRecord) throws -> [LoaderLeak] {
        assertHoldingGIL()
        // Step 1, for a loader reached as a descendant or at exit: an own-GIL loader closes
        // under its own GIL, counted entries and all (OwnGIL rule 3); ended here, its thread
        // states of ended threads were deleted as if the shared GIL guarded them (a crash on 3.13).
        if ownsGIL { return try OwnGIL.close(self) }
        // Step 3
        guard lifecycleHoldingGIL != .closed else { return [] }
        // Step 4
        try checkClosable(from: thread)
        for loader in subtree where loader.ownsGIL {   // leaves: own-GIL loaders have no children
            do {
                _ = try OwnGIL.close(loader)
            } catch LoaderError.busy(_, let reason) {
                throw LoaderError.busy(loader: name, reason: reason)
            }
        }
        // Step 5
        let loaders = subtree.filter { !$0.ownsGIL }
        for loader in loaders { loader.lifecycle = .closing }
        // Step 6
        do {
            for loader in loaders {
                try loader.joinPythonThreads(thread: thread)
            }
        } catch {
            for loader in loaders where loader.lifecycleHoldingGIL == .closing { loader.lifecycle = .open }
            throw error
        }
        // Step 7
        let leaks = LeakScan.scan(closing: loaders)
        for leak in leaks { ImportTrace.logger.warning("\(leak)") }
        // Step 8 (parents come before children in `subtree`, so reversed: deepest first)
        do {
            for loader in loaders.reversed() {
                try loader.endOwnInterpreter(thread: thread)
            }
        } catch {
            for loader in loaders where loader.lifecycleHoldingGIL == .closing { loader.lifecycle = .open }
            throw error
        }
        // Step 9
        return leaks
    }

    /// Step 4: refuses to close this subtree from inside it, or while it is in use elsewhere.
    private func checkClosable(from thread: ThreadRecord) throws {
        let loaders = subtree
        let current = pyl_CurrentThreadState()
        // 4.a
        for loader in loaders {
            if (thread.states[loader.id]?.depth ?? 0) > 0 || current?.pointee.interp == loader.interpreter {
                throw LoaderError.closingFromInside(loader: name, caller: loader.name)
            }
        }
        // 4.b
        for loader in loaders where !loader.ownsGIL {   // OwnGIL.close checks its own
            // Another close is under way (it gives the GIL up while it joins threads, and on
            // 3.13 at every swap): this one must neither end its loaders nor, refused, reopen them.
            if loader.lifecycleHoldingGIL == .closing {
                throw LoaderError.busy(loader: name, reason: .beingClosed(loader: loader.name))
            }
            if loader.threadStates.contains(where: { $0.thread !== thread && $0.depth > 0 }) {
                throw LoaderError.busy(loader: name, reason: .runningOnAnotherThread(loader: loader.name))
            }
            if loader.contextUses > 0 {
                throw LoaderError.busy(loader: name, reason: .contextLoader(loader: loader.name))
            }
        }
    }

    /// Step 6: joins the non-daemon threads Python code started in this loader (bounded);
    /// refuses when any thread it started, daemon or not, is still alive.
    /// PRECONDITION: the GIL is held.
    private func joinPythonThreads(thread: ThreadRecord) throws {
        assertHoldingGIL()
        guard Closing.foreignThreadStates(of: self) > 0 else { return }
        let previous = pyl_CurrentThreadState()
        let state = try threadState(on: thread, closing: true)
        PyThreadState_Swap(state.tstate)
        let alive = Closing.joinThreads(in: self, timeout: Loader.threadJoinSeconds)
        PyThreadState_Swap(previous)
        if alive > 0 {
            throw LoaderError.busy(loader: name, reason: .threadsStillRunning(loader: name, count: alive))
        }
    }

    /// Step 8: runs the interpreter's atexit callbacks and ends it. PRECONDITION: the GIL is
    /// held; no descendants are open; no thread of its own is running.
    private func endOwnInterpreter(thread: ThreadRecord) throws {
        guard lifecycleHoldingGIL != .closed else { return }
        // 8.a
        let previous = pyl_CurrentThreadState()
        let state = try threadState(on: thread, closing: true)
        PyThreadState_Swap(state.tstate)
        // 8.b
        Closing.runExitFunctions()
        // 8.c
        let alive = Closing.joinThreads(in: self, timeout: Loader.threadJoinSeconds)
        if alive > 0 {
            PyThreadState_Swap(previous)
            throw LoaderError.busy(loader: name, reason: .atexitLeftThreadsRunning(count: alive))
        }
        // 8.d
        endInterpreter(current: state)
        // 8.e
        PyThreadState_Swap(previous)
    }

    /// Step 8.d: releases everything of this loader and ends its interpreter.
    /// PRECONDITION: the GIL is held and `state` (this thread's) is current; no other
    /// thread runs code in the interpreter. Leaves no thread state current.
    func endInterpreter(current state: LoaderThreadState) {
        assertHoldingGIL()
        // i
        lifecycle = .closing
        // ii–v
        releaseEverythingButTheInterpreter(keeping: state.tstate)
        // vi. Functions of this loader may outlive it (held by other loaders). Ending the
        // interpreter clears its builtins dict, which they keep: a stand-in __import__
        // put back in it afterwards (xii: made in the main interpreter, holding only this
        // loader's name) makes their lazy imports raise an ImportError that names this
        // loader instead of "__import__ not found".
        if let hook = importHook {
            pyl_DisarmImportHook(hook)
            Py_DecRef(hook)
            importHook = nil
        }
        // vii
        dropBorrowedModules()
        // viii
        let builtins = builtinsDictionary.flatMap { Py_NewRef($0) }
        builtinsDictionary = nil
        forgetDelegations()
        // ix. Handles made during the steps above (a __del__ reached from iv) keep references
        // into the ended interpreter: their slots are forgotten (HandleTable.abandonAll).
        Py_EndInterpreter(state.tstate)
        handles.abandonAll()
        // x
        PyThreadState_Swap(state.thread.carrier)
        // xi
        pyl_ReleaseReplacedDictionaries(replacedTypeDictionaries)
        replacedTypeDictionaries = nil
        // xii
        if let builtins {
            if let stub = pyl_MakeClosedImportStub(name) {
                if PyDict_SetItemString(builtins, "__import__", stub) != 0 { PyErr_Clear() }
                Py_DecRef(stub)
            } else {
                PyErr_Clear()
            }
            Py_DecRef(builtins)
        }
        // xiii
        PyThreadState_Swap(nil)
        // xiv
        ExtensionModules.loaderClosed(self)
        // xv
        state.tstate = nil
        state.thread.states[id] = nil
        if state.thread.lastState === state { state.thread.lastState = nil }
        threadStates.removeAll()
        markClosed()
    }

    /// Steps ii–v (and O6): releases the loader's handles and deferred references, and
    /// deletes every thread state in its interpreter but `kept` (the closing thread's).
    /// PRECONDITION: the loader's GIL is held and `kept` is current.
    func releaseEverythingButTheInterpreter(keeping kept: ThreadStatePointer?) {
        assertHoldingGIL()
        // ii–iii
        handles.releaseAll()
        // iv
        for other in threadStates where other.tstate != kept {
            if let tstate = other.tstate {
                PyThreadState_Clear(tstate)
                PyThreadState_Delete(tstate)
                other.tstate = nil
            }
        }
        // v
        if let parked = parkedThreadState {
            PyThreadState_Delete(parked)   // cleared when it was parked
            parkedThreadState = nil
        }
    }

    /// Step 8.d.vii: removes from this interpreter's `sys.modules` every module another
    /// loader defines (the modules delegated to it, and any foreign module user code put there).
    ///
    /// Why: `Py_EndInterpreter` clears the dict of every module still in `sys.modules`
    /// (CPython 3.11 `finalize_modules`), and a delegated module is the defining
    /// loader's very object — ending a child would wipe its parent's `hostapi`.
    /// PRECONDITION: the GIL is held and this loader's thread state is current.
    func dropBorrowedModules() {
        assertHoldingGIL()
        guard let modules = PyImport_GetModuleDict(), let items = PyDict_Items(modules) else {
            PyErr_Clear()
            return
        }
        defer { Py_DecRef(items) }
        for index in 0..<PyList_Size(items) {
            guard let pair = PyList_GetItem(items, index),
                  let key = PyTuple_GetItem(pair, 0), let module = PyTuple_GetItem(pair, 1),
                  let name = String(pythonString: key) else { continue }
            if isBorrowed(module, named: name), PyDict_DelItem(modules, key) != 0 { PyErr_Clear() }
        }
    }

    /// Delegated here, or a module whose code ran with another interpreter's builtins.
    /// (A module that ran no Python code, such as an extension, has no `__builtins__`:
    /// only the delegation record tells.) PRECONDITION: `builtinsDictionary` is still set.
    private func isBorrowed(_ module: PyObjectPointer, named name: String) -> Bool {
        if delegatedNames[Resolver.topLevelName(name)] != nil { return true }
        guard pyl_IsModule(module) != 0, let namespace = PyModule_GetDict(module),
              var builtins = PyDict_GetItemString(namespace, "__builtins__") else { return false }
        if pyl_IsModule(builtins) != 0, let dict = PyModule_GetDict(builtins) { builtins = dict }
        return builtins != builtinsDictionary
    }

    /// Step 8.d.viii: drops what delegation holds for this loader: its `_pyloader` module, its
    /// own records (and the answers `AbsentNames` keeps), and every other loader's record of a
    /// name delegated to it.
    /// PRECONDITION: the GIL is held and this loader's thread state is current.
    private func forgetDelegations() {
        assertHoldingGIL()
        coreModuleFunctions.values.forEach { Py_DecRef($0) }
        coreModuleFunctions.removeAll()
        absentNames.forget()
        Py_DecRef(coreModuleReference)
        coreModuleReference = nil
        delegatedNames.removeAll()
        for other in Loader.registry.all {
            other.delegatedNames = other.delegatedNames.filter { $0.value !== self }
        }
    }
}

extension OwnGIL {
    /// `close()` of an own-GIL loader (it has no children), steps O1–O7. Returns no leaks:
    /// no other loader can hold its objects (rule 2).
    static func close(_ loader: Loader) throws -> [LoaderLeak] {
        let thread = ThreadRecord.current
        // O1
        if let state = thread.states[loader.id], state.depth > 0 {
            throw LoaderError.closingFromInside(loader: loader.name, caller: loader.name)
        }
        // O2
        try thread.suspendingGIL {
            // O3. Rule 3: closing only when no thread is inside or on its way in; from here
            // on every entry is refused, so this thread is the only one to take the GIL.
            switch loader.beginClosingOwnGIL() {
            case .closed: return
            case .busy: throw LoaderError.busy(loader: loader.name, reason: .runningOnAnotherThread(loader: loader.name))
            case .closing: break
            }
            // O4
            let tstate: ThreadStatePointer
            if let existing = thread.states[loader.id]?.tstate {
                tstate = existing
                PyEval_RestoreThread(tstate)
            } else {
                // PyThreadState_New needs no GIL; the list it joins is guarded by the loader's.
                guard let made = PyThreadState_New(loader.interpreter) else {
                    loader.lifecycle = .open
                    throw LoaderError.runtime("out of memory")
                }
                tstate = made
                let state = LoaderThreadState(thread: thread, loader: loader, tstate: made)
                thread.states[loader.id] = state
                PyEval_RestoreThread(made)
                loader.threadStates.append(state)
            }
            // This thread now holds the loader's GIL, until O7 ends it (or a refusal gives it up).
            thread.ownGILDepth += 1
            defer { thread.ownGILDepth -= 1 }
            // O5
            var alive = Closing.joinThreads(in: loader, timeout: Loader.threadJoinSeconds)
            if alive == 0 {
                Closing.runExitFunctions()
                alive = Closing.joinThreads(in: loader, timeout: Loader.threadJoinSeconds)
            }
            if alive > 0 {
                PyEval_SaveThread()
                loader.lifecycle = .open
                throw LoaderError.busy(loader: loader.name, reason: .threadsStillRunning(loader: loader.name, count: alive))
            }
            // O6
            loader.releaseEverythingButTheInterpreter(keeping: tstate)
            // O7
            loader.threadStates.removeAll()
            Py_EndInterpreter(tstate)   // leaves no thread state current; the GIL is gone
            loader.handles.abandonAll()   // as in endInterpreter's step ix
            thread.states[loader.id] = nil
            loader.markClosed()
        }
        return []
    }
}

/// The Python threads and `atexit` callbacks of a closing loader (steps 6, 8.b, 8.c, O5).
/// PRECONDITION for all: the loader's GIL is held and its thread state is current.
enum Closing {
    /// Runs the interpreter's `atexit` callbacks now, while PyLoader can still
    /// check what they leave behind (Py_EndInterpreter would run them after its
    /// own last-thread check, and a callback that starts a thread would abort).
    static func runExitFunctions() {
        guard let modules = PyImport_GetModuleDict(),
              PyDict_GetItemString(modules, "atexit") != nil,
              let atexit = Resolver.importInCurrentInterpreter("atexit") else { return }
        defer { Py_DecRef(atexit) }
        if let result = pyl_CallMethod0(atexit, "_run_exitfuncs") { Py_DecRef(result) } else { PyErr_Clear() }
    }

    /// Joins the non-daemon threads that code in `loader` started, for at most
    /// `timeout` seconds in all. Returns how many threads (daemon or not) still have
    /// a thread state in the interpreter that PyLoader did not make.
    static func joinThreads(in loader: Loader, timeout: Double) -> Int {
        guard foreignThreadStates(of: loader) > 0 else { return 0 }
        try? InterpreterSetup.callSetup("join_threads", timeout, in: loader)
        // A thread that `threading` already counts as ended still deletes its thread state
        // a moment later (3.13 makes that moment longer): when only such threads are left,
        // give them up to half a second. Live threads are not waited for again.
        var remaining = foreignThreadStates(of: loader)
        for _ in 0..<100 where remaining > 0 && !threadingHasOtherLiveThreads() {
            let tstate = PyEval_SaveThread()   // the GIL released while they finish
            usleep(5000)
            PyEval_RestoreThread(tstate)
            remaining = foreignThreadStates(of: loader)
        }
        return remaining
    }

    /// Whether `threading` (if imported) lists a live thread other than the main and the
    /// calling one in the current interpreter.
    private static func threadingHasOtherLiveThreads() -> Bool {
        guard let modules = PyImport_GetModuleDict(), let threading = PyDict_GetItemString(modules, "threading") else {
            return false
        }
        guard let threads = pyl_CallMethod0(threading, "enumerate"),
              let current = pyl_CallMethod0(threading, "current_thread"),
              let main = pyl_CallMethod0(threading, "main_thread") else {
            pyl_ClearErrorKeepingInterrupt()
            return true
        }
        defer { Py_DecRef(threads); Py_DecRef(current); Py_DecRef(main) }
        for index in 0..<PyList_Size(threads) {
            let thread = PyList_GetItem(threads, index)
            if thread != current && thread != main { return true }
        }
        return false
    }

    /// Thread states of the interpreter that PyLoader did not make: threads started
    /// by Python code in it. With the GIL held the list cannot change under us.
    static func foreignThreadStates(of loader: Loader) -> Int {
        let ours = Set(loader.threadStates.compactMap(\.tstate) + [loader.parkedThreadState].compactMap { $0 })
        var count = 0
        var next = PyInterpreterState_ThreadHead(loader.interpreter)
        while let tstate = next {
            if !ours.contains(tstate) { count += 1 }
            next = PyThreadState_Next(tstate)
        }
        return count
    }
}
