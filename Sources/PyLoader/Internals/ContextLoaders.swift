import CPython
import CPyLoader

/// The per-thread context loader (Java's `Thread.setContextClassLoader`) and the one
/// rule that says which imports it serves.
///
/// In Java a class's own references always resolve through its defining loader; the
/// context class loader serves frameworks that look up user-named code by name. Here:
/// 1. **A module's own imports resolve in its defining loader.** Every `import` and
///    `from ... import` statement and every `__import__` call runs in the loader that
///    owns the importing code (Eby's hook, `hook_import` in CPyLoader.c), whatever the
///    thread's context loader. Relative imports included.
/// 2. **Lookups by name at call time go to the context loader.** An absolute
///    `importlib.import_module(name)` (so `pkgutil.resolve_name` and
///    `unittest.mock.patch('a.b')` too) made while the thread has a context loader and
///    no module body is executing on the thread runs in the context loader
///    (`contextImport` below decides; `hook_gcd_import` in CPyLoader.c asks it).
/// 3. **Inside a module body the context loader is ignored**: an `import_module` made
///    while any module is being initialized on the thread runs in the loader that owns
///    that `importlib` (as in step 1), so no module ends up bound to a module of a loader
///    that can close before it.
/// 4. `pyloader.context_loader().import_module(name)` and `Loader.importModule` name their
///    loader: they always import there.
/// 5. C code importing by name imports where it runs (`crossImport`, ImportHook.swift): see there.
///
/// PRECONDITION for all: the GIL is held.
enum ContextLoaders {
    static func push(_ loader: Loader, on thread: ThreadRecord) throws {
        if loader.ownsGIL {
            // Its modules would be handed to code under another GIL (OwnGIL.swift, rule 2).
            throw LoaderError.invalidArgument("loader '\(loader.name)' has its own GIL, so it cannot be a context loader:"
                                              + " its modules cannot be used under another GIL")
        }
        guard loader.lifecycle == .open else { throw LoaderError.closed(loader: loader.name) }
        thread.contextStack.append(loader)
        loader.contextUses += 1
        pyl_SetContextLoader(Unmanaged.passUnretained(loader).toOpaque())
    }

    static func pop(expectedID: Int, on thread: ThreadRecord) throws {
        guard let top = thread.contextStack.last, top.id == expectedID else {
            throw LoaderError.invalidArgument("pyloader.context exited out of order")
        }
        thread.contextStack.removeLast()
        top.contextUses -= 1
        if let next = thread.contextStack.last {
            pyl_SetContextLoader(Unmanaged.passUnretained(next).toOpaque())
        } else {
            pyl_SetContextLoader(nil)
        }
    }
}

extension ContextLoaders {
    /// Runs `body` with the calling thread's context loader set aside, for PyLoader's
    /// own imports. PRECONDITION: the GIL is held.
    static func suspended<R>(_ body: () throws -> R) rethrows -> R {
        assertHoldingGIL()
        guard let top = ThreadRecord.current.contextStack.last else { return try body() }
        pyl_SetContextLoader(nil)
        defer { pyl_SetContextLoader(Unmanaged.passUnretained(top).toOpaque()) }
        return try body()
    }
}

extension Loader {
    /// Runs `body` with this loader as the calling thread's context loader: lookups by
    /// name made on this thread meanwhile (`importlib.import_module`, outside module
    /// bodies; see `ContextLoaders`) run in this loader and leave the calling loader's
    /// `sys.modules` untouched. Import statements are not affected. Nestable.
    public func withContext<R>(_ body: () throws -> R) throws -> R {
        let root = try Loader.root
        let thread = ThreadRecord.current
        try root.withActivated { try ContextLoaders.push(self, on: thread) }
        defer { try? root.withActivated { try ContextLoaders.pop(expectedID: id, on: thread) } }
        return try body()
    }
}

/// The callback of `importlib.import_module`'s wrapper while the thread has a context
/// loader (`target`): steps 2 and 3 of the rule. A lookup it serves is imported there,
/// waiting as `Loader.importModule` does when another thread is initializing it; for any
/// other it returns nil with no exception, and the wrapper goes on as without a context
/// loader. It serves an absolute lookup (`level` missing or 0) of a str name, unless the
/// importlib called is the context loader's own and runs there already, and unless a module
/// body is executing on the thread (step 3).
let contextImport: pyl_ContextImport = { target, owner, args, count, keywords in
    enteredFromPython { _ in
        guard let target, let args, count >= 1, let name = args[0], pyl_IsUnicode(name) != 0 else { return nil }
        var level: PyObjectPointer? = count >= 3 ? args[2] : nil
        if let keywords {
            for index in 0..<PyTuple_Size(keywords) where String(pythonString: PyTuple_GetItem(keywords, index)!) == "level" {
                level = args[count + index]
            }
        }
        if let level {
            guard pyl_IsLong(level) != 0 else { return nil }
            let value = PyLong_AsLong(level)
            if value == -1, PyErr_Occurred() != nil { return nil }
            guard value == 0 else { return nil }   // relative: the importing package's loader
        }
        let loader = Unmanaged<Loader>.fromOpaque(target).takeUnretainedValue()
        if target == owner, pyl_CurrentThreadState()?.pointee.interp == loader.interpreter { return nil }
        guard !moduleBodyExecuting() else { return nil }
        guard let text = String(pythonString: name) else { return nil }
        trace(loader, text, "imported in the context loader (a lookup by name)")
        return loader.callMovingException {
            CrossLoaderImports.importWaitingForOthers(text, in: loader)
        }
    }
}

/// Whether a module body is executing on this thread (step 3): some frame of the current
/// thread state runs with the globals of a module importlib is still initializing
/// (`__spec__._initializing`, set by `_bootstrap._load_unlocked` around `exec_module`).
/// PRECONDITION: the GIL is held.
private func moduleBodyExecuting() -> Bool {
    // Frames are opaque to Swift (OpaquePointer); references are counted as objects.
    var frame = PyEval_GetFrame()   // borrowed
    if let frame { Py_IncRef(PyObjectPointer(frame)) }
    while let current = frame {
        defer { Py_DecRef(PyObjectPointer(current)) }
        if let globals = PyFrame_GetGlobals(current) {
            defer { Py_DecRef(globals) }
            if pyl_IsDict(globals) != 0, let spec = PyDict_GetItemString(globals, "__spec__"), spec != pyl_None() {
                if let flag = PyObject_GetAttrString(spec, "_initializing") {
                    let initializing = PyObject_IsTrue(flag) == 1
                    Py_DecRef(flag)
                    if initializing { return true }
                }
                PyErr_Clear()
            }
        }
        frame = PyFrame_GetBack(current)   // a new reference, or nil
    }
    return false
}
