#if canImport(Glibc)
import Glibc
#endif
import CPython
import CPyLoader

/// Signals for a process that behaves like `python3` (the `pyloader` command;
/// `RuntimeOptions.handlesSignals` for embedders). Off by default: a host's signals are
/// its own, and CPython starts without its handlers.
///
/// 1. **SIGINT raises `KeyboardInterrupt` in the code the main thread is running, in
///    whichever loader that is.** CPython 3.11 runs signal handlers only in the main thread
///    *of the main interpreter*, so:
///    - in the root, CPython's own machinery does it (a handler installed with
///      `signal.signal`), also inside `time.sleep` and `input`;
///    - in a child, a watcher thread woken by PyLoader's C handler schedules a pending call
///      in every child interpreter; the main thread runs it at its next bytecode in the
///      loader it is in, and it raises there, also in the middle of a busy loop. A blocking
///      call in a child (a long `time.sleep`) is not cut short: CPython does not report
///      signals to sub-interpreters.
///    - one interrupt raises once: whichever side delivers it first consumes it.
///    - one that would be lost is raised again: where CPython writes it off as unraisable (a
///      weakref callback, a `__del__`: the audit hook's "sys.unraisablehook" event), after
///      the callback and its hook; where PyLoader's own best-effort call into Python ate it
///      (`pyl_ClearErrorKeepingInterrupt`), at once. Both in `CPyLoader.c`.
///    - a SIGINT that lands on another thread is handed to the main thread.
/// 2. **SIGTERM and SIGHUP end the process after cleanup**: the copies of extension modules
///    are removed, then the signal is raised again with its default action.
/// 3. **SIGPIPE and SIGXFSZ are ignored**, as python3 ignores them (CPython does it only with
///    its own handlers, which PyLoader starts without): a write to a closed pipe or socket
///    raises `BrokenPipeError` in the code that wrote, and a write past the file size limit
///    raises `OSError`, instead of ending the process. `subprocess` restores both to the
///    default in the programs it starts (`restore_signals`), as under python3.
/// A graceful stop for runners of many units (`pyloader test`): while `defersFirstInterrupt`
/// is set, the first Ctrl-C does not raise but sets `isRequested`, so that the runner can stop
/// after the current unit; a second Ctrl-C raises `KeyboardInterrupt` as usual. Only with
/// `RuntimeOptions.handlesSignals`.
public enum GracefulStop {
    /// Whether the first Ctrl-C only requests a stop.
    public static var defersFirstInterrupt: Bool {
        get { pyl_DefersFirstInterrupt() != 0 }
        set { pyl_SetDeferFirstInterrupt(newValue ? 1 : 0) }
    }

    /// Whether a Ctrl-C asked for a stop since the start.
    public static var isRequested: Bool { pyl_StopRequested() != 0 }
}

enum Interrupts {
    /// Installs the handlers and starts the watcher thread. PRECONDITION: on the main thread,
    /// right after the runtime started, the GIL not held.
    static func install(root: Loader) throws {
        // Before the root's `signal` module reads the dispositions: getsignal() then says
        // SIG_IGN, as under python3.
        Glibc.signal(SIGPIPE, SIG_IGN)
        Glibc.signal(SIGXFSZ, SIG_IGN)
        try root.withActivated {
            guard let handler = pyl_MakeInterruptHandler(),
                  let signalModule = Resolver.importInCurrentInterpreter("signal") else {
                throw PythonError.fetch(in: root)
            }
            defer { Py_DecRef(handler); Py_DecRef(signalModule) }
            guard let install = PyObject_GetAttrString(signalModule, "signal"),
                  let number = PyLong_FromLong(Int(SIGINT)) else { throw PythonError.fetch(in: root) }
            defer { Py_DecRef(install); Py_DecRef(number) }
            var arguments: [PyObjectPointer?] = [number, handler]
            guard let result = arguments.withUnsafeMutableBufferPointer({ PyObject_Vectorcall(install, $0.baseAddress, 2, nil) }) else {
                throw PythonError.fetch(in: root)
            }
            Py_DecRef(result)
        }
        guard pyl_InstallInterruptHandlers() == 0 else {
            throw LoaderError.runtime("could not install signal handlers: \(String(cString: strerror(errno)))")
        }
        let watcher = Thread { watch() }
        watcher.start()
    }

    private static func watch() {
        while true {
            let signal = pyl_WaitForSignal()
            if signal == SIGTERM || signal == SIGHUP {
                ExtensionModules.removeCacheFolder()
                Glibc.signal(signal, SIG_DFL)
                raise(signal)
                return
            }
            guard signal == SIGINT, pyl_InterruptPending() != 0, let root = try? Loader.root else { continue }
            // A child's busy loop would keep the GIL from this thread on 3.11 (CPyLoader.c).
            pyl_RequestGILFromEveryInterpreter()
            // With the GIL held no close is ending an interpreter: the open ones stay alive.
            try? root.withActivated {
                pyl_WithdrawGILRequests()
                for loader in Loader.registry.all where loader.parent != nil {
                    if loader.ownsGIL {
                        // Not serialized by this GIL: counted in, it cannot end meanwhile (OwnGIL.swift).
                        guard loader.countEntry() else { continue }
                        _ = pyl_ScheduleInterrupt(loader.interpreter)
                        loader.uncountEntry()
                    } else if loader.lifecycleHoldingGIL == .open {
                        _ = pyl_ScheduleInterrupt(loader.interpreter)
                    }
                }
            }
        }
    }
}

/// A minimal thread for the watcher (Foundation is not a dependency of the library).
private final class Thread {
    private let body: () -> Void
    init(_ body: @escaping () -> Void) { self.body = body }

    func start() {
        let box = Unmanaged.passRetained(self).toOpaque()
        var thread = pthread_t()
        pthread_create(&thread, nil, { raw in
            let me = Unmanaged<Thread>.fromOpaque(raw!).takeRetainedValue()
            me.body()
            return nil
        }, box)
        pthread_detach(thread)
    }
}
