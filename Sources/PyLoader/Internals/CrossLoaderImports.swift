#if canImport(Glibc)
import Glibc
#endif
import CPython
import CPyLoader

/// Deadlock avoidance for imports that cross loaders.
///
/// Within one interpreter importlib detects a concurrent circular import (thread 1
/// holds module A's lock and waits for B's, thread 2 the reverse) and hands one side
/// the partially initialized module. Its bookkeeping (`_bootstrap._blocking_on`) is
/// per interpreter, so a cycle through two loaders (P's `cyca` imports C's `cycb`,
/// which imports `cyca` from P) on two threads deadlocked. PyLoader therefore does not
/// wait inside importlib when it imports a module that another thread is initializing
/// in another loader: it waits here, following the chain of waits across every loader.
enum CrossLoaderImports {
    /// Threads waiting in `awaitInitialization`, by thread id: the loader and module
    /// each waits for.
    private static let waits = GILGuarded([UInt: (loader: Loader, name: String)]())

    /// Call before importing `name` in `loader` on behalf of another loader. While
    /// another thread is initializing it there, waits (the GIL released between
    /// looks); returns that partially initialized module (a new reference) when
    /// waiting would deadlock, as importlib does within one interpreter; nil when
    /// the import can go ahead.
    /// PRECONDITION: activated in `loader` (GIL held, its thread state current).
    static func awaitInitialization(of name: String, in loader: Loader) -> PyObjectPointer? {
        assertHoldingGIL()
        // The common cases, without calling Python: not in sys.modules at all, or
        // there and fully initialized (importlib's `__spec__._initializing` is false).
        guard let present = Resolver.moduleInSysModules(name) else { return nil }
        let initializing = isInitializing(present)
        Py_DecRef(present)
        guard initializing else { return nil }
        let me = PyThread_get_thread_ident()
        defer { waits.withValue { $0[me] = nil } }
        while let owner = initializingThread(of: name, in: loader), owner != me {
            if chainOfWaits(from: owner, reaches: me) {
                trace(loader, name, "partially initialized module handed over (a cross-loader import cycle)")
                return Resolver.moduleInSysModules(name)
            }
            waits.withValue { $0[me] = (loader, name) }
            let tstate = PyEval_SaveThread()
            usleep(1000)
            PyEval_RestoreThread(tstate)
        }
        return nil
    }

    /// Imports `name` in `loader` on behalf of another loader (or of Swift): the module
    /// another thread is initializing there once it is done (or handed over in a cycle, see
    /// `awaitInitialization`), else `Resolver.importInCurrentInterpreter`. A new reference,
    /// or nil with an exception set. PRECONDITION: activated in `loader`.
    static func importWaitingForOthers(_ name: String, in loader: Loader) -> PyObjectPointer? {
        assertHoldingGIL()
        return awaitInitialization(of: name, in: loader) ?? Resolver.importInCurrentInterpreter(name)
    }

    /// `module.__spec__._initializing`, as importlib sets it while the module's code runs.
    static func isInitializing(_ module: PyObjectPointer) -> Bool {
        guard let spec = PyObject_GetAttrString(module, "__spec__") else { PyErr_Clear(); return false }
        defer { Py_DecRef(spec) }
        guard let flag = PyObject_GetAttrString(spec, "_initializing") else { PyErr_Clear(); return false }
        defer { Py_DecRef(flag) }
        let truth = PyObject_IsTrue(flag)
        if truth < 0 { PyErr_Clear() }
        return truth == 1
    }

    /// Whether following "thread waits for a module lock owned by thread" from `start`
    /// reaches `target`, through PyLoader's waits and every loader's importlib.
    private static func chainOfWaits(from start: UInt, reaches target: UInt) -> Bool {
        var thread = start
        var seen: Set<UInt> = []
        while seen.insert(thread).inserted {
            guard let next = ownerOfWhatBlocks(thread) else { return false }
            if next == target { return true }
            thread = next
        }
        return false
    }

    private static func ownerOfWhatBlocks(_ thread: UInt) -> UInt? {
        if let wait = waits.withValue({ $0[thread] }) {
            return initializingThread(of: wait.name, in: wait.loader)
        }
        for loader in Loader.registry.sharingGIL where loader.lifecycleHoldingGIL == .open {
            if let owner = call(loader, "_blocked_on_owner", PyLong_FromUnsignedLong(thread)) { return owner }
        }
        return nil
    }

    /// The thread initializing `name` in `loader`, or nil.
    private static func initializingThread(of name: String, in loader: Loader) -> UInt? {
        call(loader, "_import_owner", makePythonString(name))
    }

    /// `_pyloader.<function>(argument)` in `loader`, as a thread id; nil for None or on
    /// any error (this is a best-effort check: an error means "no known wait").
    private static func call(_ loader: Loader, _ function: String, _ argument: PyObjectPointer?) -> UInt? {
        defer { Py_DecRef(argument) }
        guard let argument else { PyErr_Clear(); return nil }
        return try? loader.withActivated { () -> UInt? in
            guard let callable = try? loader.coreFunction(function) else {
                PyErr_Clear()
                return nil
            }
            guard let result = PyObject_CallOneArg(callable, argument) else { pyl_ClearErrorKeepingInterrupt(); return nil }
            defer { Py_DecRef(result) }
            guard result != pyl_None() else { return nil }
            let value = PyLong_AsUnsignedLong(result)
            if PyErr_Occurred() != nil { PyErr_Clear(); return nil }
            return value
        } ?? nil
    }
}
