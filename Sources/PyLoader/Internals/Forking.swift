#if canImport(Glibc)
import Glibc
#endif
import CPython
import CPyLoader

/// `fork()` in a process that has loaders: the one place that says what works.
///
/// 1. **Fork from the root works**, with any number of child loaders alive: `os.fork()`,
///    `multiprocessing`'s fork start method, `subprocess` with `preexec_fn`. In the forked
///    process only the root is left: every other loader is closed there (its use raises
///    `LoaderClosedError` / throws `LoaderError.closed`), and nothing of theirs is ended or
///    released — their interpreters stay behind in the copied memory, untouched, since
///    CPython cannot run a sub-interpreter after fork. The parent is unaffected.
/// 2. **Fork from code running in a child loader is refused** with a `RuntimeError`
///    naming the loader, before anything forks: CPython 3.11's after-fork code keeps only
///    the main interpreter, so the forked process died at once ("Fatal Python error:
///    _PyInterpreterState_DeleteExceptMain: not main interpreter"). The same holds in the
///    root when this thread runs code of a child further down its stack (the forked
///    process would unwind into an interpreter that is gone). 3.12+ refuses fork in
///    isolated sub-interpreters the same way.
/// 3. **`multiprocessing` in a child loader uses `spawn` by default** (`_DelegatingFinder`
///    patches `multiprocessing.context` as it loads), so `Pool()` and
///    `ProcessPoolExecutor()` work: a worker is a plain `python3` process started with the
///    child's `sys.path`, not a loader tree (shared modules are imported anew there).
///    An explicit `get_context("fork")` gets the error of rule 2.
/// 4. PyLoader's locks (the runtime's, the registry's, and CPython's interpreter-list lock)
///    are taken before `fork()` and released on both sides, so no lock another thread held
///    at that moment stays locked forever in the forked process.
enum Forking {
    /// Installs the audit-hook check and the `pthread_atfork` handlers. Called once, at start-up.
    static func install() {
        pyl_SetForkHandlers(forkCheck, { Forking.prepare() }, { Forking.parentResumes() }, { Forking.childStarts() })
    }

    /// Whether the calling thread may fork now; an error message when it may not.
    /// PRECONDITION: the GIL is held (an audit hook runs in Python code).
    static func refusal() -> String? {
        assertHoldingGIL()
        guard let tstate = pyl_CurrentThreadState() else { return nil }
        let alternatives = "use multiprocessing's 'spawn' or 'forkserver' start method, or subprocess, instead"
        if tstate.pointee.interp != Runtime.mainInterpreter {
            let name = Loader.registry.loader(interpreter: tstate.pointee.interp)?.name ?? "?"
            return "fork() is not supported in loader '\(name)': a forked process keeps only the root loader's"
                + " interpreter (CPython 3.11 cannot continue a sub-interpreter after fork); \(alternatives)"
        }
        guard let raw = pyl_GetThreadRecord() else { return nil }
        let record = Unmanaged<ThreadRecord>.fromOpaque(raw).takeUnretainedValue()
        if let inside = record.states.values.first(where: { $0.depth > 0 && $0.loader.parent != nil }) {
            return "fork() is not supported while this thread runs code of loader '\(inside.loader.name)'"
                + " further down its stack (the forked process would return into it); \(alternatives)"
        }
        return nil
    }

    private static func prepare() {
        Runtime.lock.lock()
        Loader.registry.lock.lock()
        ExtensionModules.lockForFork()
    }

    private static func parentResumes() {
        ExtensionModules.unlockInParent()
        Loader.registry.lock.unlock()
        Runtime.lock.unlock()
    }

    /// In the forked process, before CPython's own after-fork code: only the root is left.
    /// Touches no Python object (the other interpreters were left behind, and CPython has
    /// not re-initialized its own state yet).
    private static func childStarts() {
        let (root, lost) = Loader.registry.forgetAllButRootAfterFork()
        for loader in lost { loader.markLostInFork() }
        Loader.registry.lock.unlock()
        Runtime.lock.unlock()
        ExtensionModules.forgetAfterFork()
        guard let root else { return }
        // This thread is the only one left: the other threads' thread states are gone
        // (PyOS_AfterFork_Child deletes them); its own record keeps only the root.
        if let raw = pyl_GetThreadRecord() {
            let record = Unmanaged<ThreadRecord>.fromOpaque(raw).takeUnretainedValue()
            record.states = record.states.filter { $0.value.loader === root }
            record.contextStack.removeAll { $0 !== root }
            if let top = record.contextStack.last {
                pyl_SetContextLoader(Unmanaged.passUnretained(top).toOpaque())
            } else {
                pyl_SetContextLoader(nil)
            }
            root.threadStates.removeAll { $0.thread !== record }
        } else {
            root.threadStates.removeAll()
        }
    }
}

private let forkCheck: pyl_ForkCheck = {
    guard let message = Forking.refusal() else { return 0 }
    PyErr_SetString(pyl_ExcRuntimeError(), message)
    return -1
}
