import CPython
import CPyLoader

/// Loaders with a GIL of their own (`GIL.own`; CPython 3.12+, PEP 684).
///
/// The rules, each enforced here:
/// 1. **One GIL per thread.** A thread holds at most one GIL through PyLoader. Entering an
///    own-GIL loader gives up the GIL the thread holds (`PyEval_SaveThread`) and takes the
///    loader's through the thread's own thread state in it (`PyEval_RestoreThread`);
///    leaving does the reverse, and so does entering a loader of the shared GIL from inside
///    one (`ThreadRecord.suspendingGIL`). A call into an own-GIL loader therefore waits only for that
///    loader's GIL, and two threads in two own-GIL loaders run Python at the same time.
///    (CPython 3.13's `PyThreadState_Swap` also trades GILs, 3.12's does not: this file
///    never swaps across GILs, so both behave the same.)
/// 2. **Nothing crosses.** The loader delegates nothing (no finder, no import hook, no
///    `pyloader` or `_pyloader` module in it: stock CPython importing from its own paths and its own
///    standard library). A value passed into it or returned from it is copied: pickled
///    where it lives, unpickled where it goes (`copy(_:from:)`); str, bytes, int, float,
///    bool, None and tuples, lists and dicts of them always copy, other values when they
///    pickle. An exception crossing out becomes one of the same name from `builtins` (else
///    `RuntimeError`) with the same message.
/// 3. **Entries are counted.** Under the registry lock a thread counts itself in
///    (`ownGILEntries`) before it waits for the loader's GIL; `close()` marks the loader
///    closing under the same lock only when no thread is counted, and only then takes the
///    GIL itself, so no thread ever waits for a GIL that `Py_EndInterpreter` destroys.
/// 4. The loader's own fields that shared-GIL loaders guard with the tree's GIL
///    (`threadStates`, the slots of `handles`) are guarded by its own GIL.
enum OwnGIL {
    // MARK: Making one

    /// PRECONDITION: none (no GIL needed).
    static func validate(name: String, shared: [String]) throws {
        guard PythonVersion.hasPerInterpreterGIL else {
            throw LoaderError.invalidArgument("loader '\(name)': gil = \"own\" needs CPython 3.12 or newer; PyLoader"
                                              + " was built against CPython \(PythonVersion.short), which has one GIL"
                                              + " for the whole process")
        }
        if !shared.isEmpty {
            throw LoaderError.invalidArgument("loader '\(name)' has its own GIL, so it cannot take '\(shared[0])' (or"
                                              + " anything) from its parent: objects cannot be shared across GILs."
                                              + " Leave `shared` empty, or give the loader the shared GIL")
        }
    }

    static func makeChild(of parent: Loader, name: String, paths: [String], delegation: Delegation, local: [String],
                          extensions: ExtensionPolicy) throws -> Loader {
        try parent.withActivated {
            let thread = ThreadRecord.current
            let previous = pyl_CurrentThreadState()
            var error = [CChar](repeating: 0, count: 256)
            // Returns holding the new GIL, the caller's thread state detached.
            guard let tstate = pyl_NewInterpreter(1, &error, error.count) else {
                if pyl_CurrentThreadState() != previous { PyEval_RestoreThread(previous) }
                throw LoaderError.runtime("could not make the interpreter of '\(name)': \(String(nulTerminated: error))")
            }
            let loader = Loader(name: name, parent: parent, interpreter: tstate.pointee.interp, paths: paths,
                                delegation: delegation, shared: [], local: local, extensions: extensions, gil: .own)
            loader.initialThreadState = tstate
            let state = LoaderThreadState(thread: thread, loader: loader, tstate: tstate)
            thread.states[loader.id] = state
            loader.threadStates.append(state)
            do {
                try configure(loader)
            } catch {
                Py_EndInterpreter(tstate)
                PyEval_RestoreThread(previous)
                thread.states[loader.id] = nil
                throw error
            }
            PyEval_SaveThread()
            PyEval_RestoreThread(previous)
            Loader.registry.add(loader)
            parent.adopt(loader)
            return loader
        }
    }

    /// `sys.path` (the standard library, then the loader's paths, their `.pth` files
    /// processed), nothing else. PRECONDITION: the loader's GIL is held, its state current.
    private static func configure(_ loader: Loader) throws {
        assertHoldingGIL()
        guard let list = try (Runtime.standardLibraryPaths + loader.paths).makePythonReference().pointer as PyObjectPointer?,
              PySys_SetObject("path", list) == 0 else {
            throw PythonError.fetch(in: loader)
        }
        Py_DecRef(list)
        let siteDirectories = loader.paths.filter(InterpreterSetup.holdsPthFiles)
        if !siteDirectories.isEmpty {
            try InterpreterSetup.callSetup("add_site_dirs", siteDirectories, in: loader)
        }
    }

    // MARK: Entering and leaving

    /// Runs `body` in `loader` (rule 1). PRECONDITION: `loader.ownsGIL`.
    static func withActivated<R>(_ loader: Loader, thread: ThreadRecord, _ body: () throws -> R) throws -> R {
        if let state = thread.states[loader.id], state.depth > 0, let tstate = state.tstate,
           tstate == pyl_CurrentThreadState() {
            state.depth += 1   // already inside, holding its GIL
            defer { state.depth -= 1 }
            return try body()
        }
        return try thread.suspendingGIL {
            var abandoned: [LoaderThreadState] = []
            guard loader.countEntry(takingAbandoned: &abandoned) else { throw LoaderError.closed(loader: loader.name) }
            defer { loader.uncountEntry() }
            let state: LoaderThreadState
            var made = false
            if let existing = thread.states[loader.id], existing.tstate != nil {
                state = existing
            } else {
                // PyThreadState_New needs no GIL.
                guard let tstate = PyThreadState_New(loader.interpreter) else { throw LoaderError.runtime("out of memory") }
                state = LoaderThreadState(thread: thread, loader: loader, tstate: tstate)
                thread.states[loader.id] = state
                made = true
            }
            PyEval_RestoreThread(state.tstate)
            thread.ownGILDepth += 1
            if made { loader.threadStates.append(state) }
            if !abandoned.isEmpty { deleteEnded(abandoned, of: loader) }
            if loader.handles.hasPending { loader.handles.releasePending() }
            state.depth += 1
            defer {
                state.depth -= 1
                thread.ownGILDepth -= 1
                PyEval_SaveThread()
            }
            do {
                return try body()
            } catch is PendingPythonException {
                // The exception object lives under this GIL: hand over its text.
                throw PythonError.fetch(in: loader)
            }
        }
    }

    // MARK: Values across GILs (rule 2)

    /// A copy, in the current interpreter, of `pointer`, an object of `source` (which has
    /// another GIL than the current one). PRECONDITION: activated in the destination.
    static func copy(_ pointer: PyObjectPointer, from source: Loader) throws -> PyObjectPointer {
        assertHoldingGIL()
        let data: [UInt8] = try source.withActivated {
            guard let pickled = pickle("dumps", pointer) else { throw PythonError.fetch(in: source) }
            defer { Py_DecRef(pickled) }
            return bytesContent(pickled)
        }
        let destination = pyl_CurrentThreadState().flatMap { Loader.registry.loader(interpreter: $0.pointee.interp) } ?? source
        guard let bytes = makeBytes(data) else { throw PythonError.fetch(in: destination) }
        defer { Py_DecRef(bytes) }
        guard let copy = pickle("loads", bytes) else { throw PythonError.fetch(in: destination) }
        return copy
    }

    /// `body`'s result (a new reference, or nil with an exception set), computed in
    /// `loader` and copied into the caller's interpreter, which has another GIL; an
    /// exception crosses by name and message (rule 2). PRECONDITION: the caller is Python code.
    static func callCopying(_ loader: Loader, closedErrorOf pyloaderModule: PyObjectPointer?,
                            _ body: () -> PyObjectPointer?) -> PyObjectPointer? {
        do {
            let data: [UInt8] = try loader.withActivated {
                guard let result = body() else { throw PythonError.fetch(in: loader) }
                defer { Py_DecRef(result) }
                guard let pickled = pickle("dumps", result) else { throw PythonError.fetch(in: loader) }
                defer { Py_DecRef(pickled) }
                return bytesContent(pickled)
            }
            guard let bytes = makeBytes(data) else { return nil }
            defer { Py_DecRef(bytes) }
            return pickle("loads", bytes)
        } catch {
            setPythonException(for: error, module: pyloaderModule)
            return nil
        }
    }

    /// `pickle.dumps(value, 5)` / `pickle.loads(value)` in the current interpreter.
    private static func pickle(_ function: String, _ value: PyObjectPointer) -> PyObjectPointer? {
        guard let module = PyImport_ImportModule("pickle") else { return nil }
        defer { Py_DecRef(module) }
        guard let callable = PyObject_GetAttrString(module, function) else { return nil }
        defer { Py_DecRef(callable) }
        guard let arguments = PyTuple_New(function == "dumps" ? 2 : 1) else { return nil }
        defer { Py_DecRef(arguments) }
        PyTuple_SetItem(arguments, 0, Py_NewRef(value))   // steals
        if function == "dumps" {
            guard let protocolNumber = PyLong_FromLong(5) else { return nil }
            PyTuple_SetItem(arguments, 1, protocolNumber)
        }
        return PyObject_Call(callable, arguments, nil)
    }

    /// The bytes of a `bytes` object. PRECONDITION: `bytes` is a `bytes`.
    private static func bytesContent(_ bytes: PyObjectPointer) -> [UInt8] {
        var buffer: UnsafeMutablePointer<CChar>?
        var length = 0
        guard PyBytes_AsStringAndSize(bytes, &buffer, &length) == 0, let buffer else { PyErr_Clear(); return [] }
        return [UInt8](UnsafeRawBufferPointer(start: buffer, count: length))
    }

    private static func makeBytes(_ data: [UInt8]) -> PyObjectPointer? {
        data.withUnsafeBytes { raw in
            PyBytes_FromStringAndSize(raw.baseAddress?.assumingMemoryBound(to: CChar.self), raw.count)
        }
    }

    // MARK: Closing and thread exit

    /// An ending thread's thread state in an own-GIL loader. The thread does not wait for
    /// the loader's GIL (a thread ending must not hold up a close, nor wait behind one): the
    /// next thread that takes it deletes the state (`deleteEnded`), or `close()` does.
    /// PRECONDITION: the thread holds no GIL.
    static func threadEnded(_ state: LoaderThreadState) {
        guard state.tstate != nil else { return }
        state.loader.abandon(state)
    }

    /// Deletes thread states of ended threads (the interpreter's initial one is parked,
    /// as for shared-GIL loaders). PRECONDITION: the loader's GIL is held.
    private static func deleteEnded(_ states: [LoaderThreadState], of loader: Loader) {
        assertHoldingGIL()
        let current = pyl_CurrentThreadState()
        for state in states {
            guard let tstate = state.tstate else { continue }
            loader.forget(state)
            PyThreadState_Swap(tstate)   // PyThreadState_Clear wants it current; same GIL
            PyThreadState_Clear(tstate)
            PyThreadState_Swap(current)
            if !loader.parksInitialThreadState(tstate) { PyThreadState_Delete(tstate) }
            state.tstate = nil
        }
    }
}

extension ThreadRecord {
    /// Runs `body` holding no GIL: gives up the one this thread holds through PyLoader, if
    /// any, and takes it back afterwards.
    func suspendingGIL<R>(_ body: () throws -> R) throws -> R {
        guard gilDepth > 0 || ownGILDepth > 0 else { return try body() }
        let saved = PyEval_SaveThread()
        let (depth, ownDepth) = (gilDepth, ownGILDepth)
        gilDepth = 0
        ownGILDepth = 0
        defer {
            gilDepth = depth
            ownGILDepth = ownDepth
            PyEval_RestoreThread(saved)
        }
        return try body()
    }
}
