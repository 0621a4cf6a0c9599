#if canImport(Glibc)
import Glibc
#endif
import CPython
import CPyLoader

/// How the embedded CPython is started. Fixed by the first use of `Loader.root`;
/// set it before that with `Loader.configure(_:)`.
public struct RuntimeOptions: Sendable, Equatable {
    /// Folders appended to the root's `sys.path` after the standard library.
    public var rootPaths: [String] = []
    /// Whether the system's site-packages (`/usr/lib/python3/dist-packages` and
    /// friends, as `site.getsitepackages()` lists them) are on the root's path.
    /// Off by default: third-party code reaches a loader only through its paths.
    public var systemSitePackages = false
    /// Whether imports write `__pycache__` folders (CPython's default: yes).
    public var writeBytecode = true
    /// The Python executable of the linked libpython: `sys.executable`, which
    /// `multiprocessing` and `subprocess.run([sys.executable, ...])` start. By default the
    /// `bin/python3.X` of the installation the linked `libpython3.X` belongs to (Debian's
    /// `/usr/bin/python3.11`, or `.python/3.13/bin/python3.13` of `Scripts/build-python`).
    public var pythonExecutable = PythonVersion.executableOfLinkedLibrary
    /// The folder in which PyLoader makes this process's folder of private copies of
    /// extension modules (`pyloader-<pid>-XXXXXX`, removed at exit; see
    /// `ExtensionPolicy.copy`). nil: `$PYLOADER_CACHE`, else `$TMPDIR`, else `/tmp`.
    /// It must allow executable mappings (not a `noexec` mount).
    public var extensionCacheFolder: String?

    /// Whether PyLoader handles SIGINT, SIGTERM and SIGHUP as `python3` does: SIGINT raises
    /// `KeyboardInterrupt` in the code the main thread runs, in whichever loader; SIGTERM and
    /// SIGHUP remove the extension copies and end the process; SIGPIPE and SIGXFSZ are
    /// ignored, so a write to a closed socket raises `BrokenPipeError` (see `Interrupts`). Off by
    /// default: an embedding host's signals stay its own. The `pyloader` command turns it on.
    /// Start the runtime on the process's main thread when it is on.
    public var handlesSignals = false

    public init(rootPaths: [String] = [], systemSitePackages: Bool = false, writeBytecode: Bool = true) {
        self.rootPaths = rootPaths
        self.systemSitePackages = systemSitePackages
        self.writeBytecode = writeBytecode
    }
}

/// The process-wide CPython runtime: started once, finalized at exit after every
/// sub-interpreter has been ended.
enum Runtime {
    private enum Phase {
        case notStarted
        case running(Loader)
        case failed(LoaderError)
        case finalized
    }

    static let lock = Lock()
    nonisolated(unsafe) private static var phase = Phase.notStarted
    nonisolated(unsafe) private static var options = RuntimeOptions()

    /// Set once at start-up, before any other thread can see the runtime.
    nonisolated(unsafe) static var mainInterpreter: InterpreterPointer!
    /// The thread state Py_Initialize made (the starting thread's carrier).
    nonisolated(unsafe) static var initialThreadState: ThreadStatePointer?
    /// Set (with the GIL held) just before Py_FinalizeEx; read without a lock on the
    /// path that takes the GIL, where a stale `false` cannot happen after exit began.
    nonisolated(unsafe) static var finalizing = false
    /// `sys.path` of a fresh interpreter: the standard library only.
    nonisolated(unsafe) static var standardLibraryPaths: [String] = []
    /// `sys.stdlib_module_names` and `sys.builtin_module_names`: the names every
    /// loader loads for itself unless it lists them in `shared`.
    nonisolated(unsafe) static var standardLibraryNames: Set<String> = []

    static var isRunning: Bool {
        lock.withLock { if case .running = phase { return true } else { return false } }
    }

    static func configure(_ newOptions: RuntimeOptions) throws {
        try lock.withLock {
            switch phase {
            case .notStarted:
                options = newOptions
            case .running, .failed:
                guard newOptions == options else {
                    throw LoaderError.runtime("already started; configure(_:) must come before the first use of Loader.root")
                }
            case .finalized:
                throw LoaderError.runtime("already finalized")
            }
        }
    }

    /// The root loader, starting CPython on first use.
    static func root() throws -> Loader {
        try lock.withLock {
            switch phase {
            case .running(let root): return root
            case .failed(let error): throw error
            case .finalized: throw LoaderError.runtime("already finalized")
            case .notStarted:
                do {
                    let root = try start()
                    phase = .running(root)
                    return root
                } catch let error as LoaderError {
                    phase = .failed(error)
                    throw error
                }
            }
        }
    }

    /// Starts CPython as PyLoader runs it. Each setting is a decision of PyLoader's:
    /// - the isolated configuration (`python3 -I`): no environment variables, no user
    ///   site-packages, no command-line parsing; every loader's `sys.path` is set by PyLoader;
    /// - UTF-8 mode (PEP 540): text I/O and file names are UTF-8 whatever the locale. The
    ///   isolated configuration leaves the locale alone (it is the host's), so without it an
    ///   embedded interpreter under LANG=C.UTF-8 ran with the "C" locale's ASCII stdio;
    /// - no `site` (a loader's paths are its own; `.pth` files are processed by PyLoader);
    /// - no signal handlers of CPython's own (`Interrupts.swift` installs PyLoader's when the
    ///   host asks for them);
    /// - unbuffered standard streams, as `python3 -u`: the host's output and Python's reach
    ///   the terminal in the order they were written;
    /// - bytecode written as `RuntimeOptions.writeBytecode` says; `program` as `sys.executable`,
    ///   from which CPython finds the standard library;
    /// - the fork audit hook (`Forking.swift`) added before start-up, so every interpreter
    ///   made afterwards has it.
    /// PRECONDITION: CPython is not initialized; `pyloader` is already in the inittab.
    private static func startCPython(program: String, writeBytecode: Bool) throws {
        var preconfig = PyPreConfig()
        PyPreConfig_InitIsolatedConfig(&preconfig)
        preconfig.utf8_mode = 1
        let prestatus = Py_PreInitialize(&preconfig)
        if PyStatus_Exception(prestatus) != 0 { throw startError(prestatus, "pre-initialization failed") }
        guard pyl_AddAuditHook() == 0 else { throw LoaderError.runtime("could not add PyLoader's audit hook") }

        var config = PyConfig()
        PyConfig_InitIsolatedConfig(&config)
        config.use_environment = 0
        config.user_site_directory = 0
        config.parse_argv = 0
        config.site_import = 0
        config.install_signal_handlers = 0
        config.buffered_stdio = 0
        config.write_bytecode = writeBytecode ? 1 : 0
        var status = withUnsafeMutablePointer(to: &config) { config in
            PyConfig_SetBytesString(config, &config.pointee.program_name, program)
        }
        if PyStatus_Exception(status) == 0 { status = Py_InitializeFromConfig(&config) }
        PyConfig_Clear(&config)
        if PyStatus_Exception(status) != 0 { throw startError(status, "CPython failed to start") }
    }

    /// `function: message` of a failed start-up status.
    private static func startError(_ status: PyStatus, _ fallback: String) -> LoaderError {
        let message = status.err_msg.map { String(cString: $0) } ?? fallback
        return .runtime(status.func.map { String(cString: $0) + ": " + message } ?? message)
    }

    private static func start() throws -> Loader {
        guard Py_IsInitialized() == 0 else {
            throw LoaderError.runtime("CPython was already initialized by other code in this process")
        }
        let rootPaths = try options.rootPaths.map(validatedFolder)
        ExtensionModules.cacheParentOption = options.extensionCacheFolder
        PyloaderModule.registerInittab()
        try startCPython(program: options.pythonExecutable, writeBytecode: options.writeBytecode)
        // Py_InitializeFromConfig returns with the main thread state current and the GIL held.
        let mainThreadState = pyl_CurrentThreadState()!
        mainInterpreter = mainThreadState.pointee.interp
        initialThreadState = mainThreadState
        ThreadRecord.makeCurrent(adopting: mainThreadState)
        ThreadRecord.current.gilDepth += 1
        defer {
            ThreadRecord.current.gilDepth -= 1
            PyEval_SaveThread()   // the GIL is released whenever no Python code runs
        }
        standardLibraryPaths = try currentSysPath()
        standardLibraryNames = Set(
            (["stdlib_module_names", "builtin_module_names"] as [String]).flatMap { name in
                PySys_GetObject(name).flatMap(swiftStrings) ?? []
            }).union(standardLibraryPaths.flatMap(topLevelModuleNames(in:)))
        ImportHook.registerCallbacks()
        Forking.install()
        let root = Loader(rootWithInterpreter: mainInterpreter, paths: rootPaths)
        Loader.registry.add(root)
        try InterpreterSetup.configure(root, systemSitePackages: options.systemSitePackages)
        atexit { Runtime.finalizeAtExit() }
        if options.handlesSignals { try Interrupts.install(root: root) }
        return root
    }

    /// Ends every sub-interpreter, deepest first, then finalizes CPython, so that
    /// Python's own `atexit` callbacks run and buffered output is flushed. Skipped
    /// (CPython left as it is) when a loader is still running code on some thread:
    /// finalizing then would abort the process.
    private static func finalizeAtExit() {
        defer { ExtensionModules.removeCacheFolder() }   // whatever happens below: mapped copies need no file
        let root: Loader? = lock.withLock {
            if case .running(let root) = phase { return root } else { return nil }
        }
        guard let root else { return }
        let thread = ThreadRecord.current
        guard thread.gilDepth == 0 else { return }   // exit() from inside Python code
        do {
            try root.withActivated {
                for child in root.children.reversed() {
                    try child.closeHoldingGIL(thread: thread)
                }
            }
        } catch {
            return
        }
        lock.withLock { phase = .finalized }
        PyEval_RestoreThread(thread.carrier)
        finalizing = true
        Py_FinalizeEx()
    }
}

/// `list(sys.path)` of the current interpreter. PRECONDITION: the GIL is held.
func currentSysPath() throws -> [String] {
    assertHoldingGIL()
    guard let path = PySys_GetObject("path"), let strings = swiftStrings(path) else {
        throw LoaderError.runtime("sys.path is not a list of str")
    }
    return strings
}
