import CPython
import CPyLoader

/// A node of the loader tree: one CPython interpreter with its own `sys.modules`,
/// `sys.path` and builtins. The root owns the main interpreter; every other
/// loader owns a sub-interpreter made by `Py_NewInterpreter`.
///
/// Imports in a child are routed by its `delegation`, `shared` and `local`
/// rules (every step in `Resolver.decide`, Internals/Resolver.swift; the README lists them);
/// whenever execution crosses from one loader into
/// another, the calling thread's thread state is swapped, so code always imports
/// into the interpreter it belongs to.
///
/// Any thread may call any loader at any time. Every method that runs Python code
/// takes the GIL for the duration and gives it back afterwards. Hence `@unchecked
/// Sendable`: its mutable fields are guarded by the GIL, or by the GIL and the registry's
/// lock (docs/ARCHITECTURE.md, section 5), locks the compiler cannot see.
public final class Loader: @unchecked Sendable {
    enum Lifecycle { case open, closing, closed }

    /// The loader's name: `"root"` for the root, unique among live loaders.
    public let name: String
    /// The parent loader; nil for the root.
    public let parent: Loader?
    /// The folders this loader adds to the standard library on its `sys.path`, absolute.
    /// (For the root: its configured paths and those a manifest's `[root]` added.)
    public var paths: [String] {
        Loader.registry.lock.withLock { _paths }
    }
    /// Whether the parent or the loader's own paths are asked first.
    public let delegation: Delegation
    /// Top-level module names always taken from the parent.
    public let shared: [String]
    /// Top-level module names never taken from the parent.
    public let local: [String]
    /// What happens when this loader imports an extension module whose file another
    /// interpreter of the process has already loaded.
    public let extensions: ExtensionPolicy
    /// Whether the loader shares the tree's GIL or has one of its own (`GIL.own`, 3.12+).
    public let gil: GIL
    /// `gil == .own`, read on every activation.
    let ownsGIL: Bool

    let id: Int
    let interpreter: InterpreterPointer

    // Guarded by the GIL.
    /// Every thread's thread state in this interpreter that PyLoader made.
    var threadStates: [LoaderThreadState] = []
    /// The interpreter's first thread state (`Py_NewInterpreter`'s), nil for the root.
    /// It is deleted only when the interpreter ends: see `ThreadRecord.threadEnded`.
    var initialThreadState: ThreadStatePointer?
    /// The initial thread state once the thread that used it has ended: kept, unused,
    /// so that the interpreter's list of thread states is never empty while it is open.
    var parkedThreadState: ThreadStatePointer?
    /// The references of this loader's handles (`PythonObject`): live ones, and those of
    /// handles dropped without the GIL (HandleTable.swift, which has its own rules).
    let handles = HandleTable()
    /// `builtins.__import__` of this interpreter (a strong reference), or nil.
    var importHook: PyObjectPointer?
    /// How many threads have this loader as a context loader right now.
    var contextUses = 0
    /// This interpreter's internal `_pyloader` module (a strong reference), once imported by
    /// PyLoader (`coreModule()`).
    var coreModuleReference: PyObjectPointer?
    /// Functions of `_pyloader` that Swift calls, by name (strong references).
    var coreModuleFunctions: [String: PyObjectPointer] = [:]
    /// Top-level names this loader's own finders do not find, while that holds (AbsentNames.swift).
    let absentNames = AbsentNames()
    /// This interpreter's builtins dict (borrowed: it lives as long as the interpreter).
    var builtinsDictionary: PyObjectPointer?
    /// Top-level names this loader took from another loader, and from which.
    var delegatedNames: [String: Loader] = [:]
    /// The static-type dictionaries the interpreter had before it took the root's
    /// (3.12+, see `pyl_ShareStaticTypeDictionaries`), released once it has ended.
    var replacedTypeDictionaries: UnsafeMutableRawPointer?

    // Written with the GIL and the registry lock held; read under either.
    private var _children: [Loader] = []
    fileprivate var _paths: [String]
    fileprivate var _lifecycle = Lifecycle.open
    /// Own-GIL loaders: threads inside the loader or on their way in (OwnGIL.swift).
    /// Guarded by the registry lock.
    var ownGILEntries = 0
    /// Own-GIL loaders: thread states of threads that ended, for the next thread that takes
    /// the loader's GIL to delete (OwnGIL.swift). Guarded by the registry lock.
    var abandonedThreadStates: [LoaderThreadState] = []

    /// The lifecycle read without the lock. PRECONDITION: the GIL is held (every
    /// write holds it too), so this is exact — and it is on every activation's path.
    var lifecycleHoldingGIL: Lifecycle { _lifecycle }

    static let registry = LoaderRegistry()

    init(rootWithInterpreter interpreter: InterpreterPointer, paths: [String]) {
        self.name = "root"
        self.parent = nil
        self._paths = paths
        self.delegation = .parentFirst
        self.shared = []
        self.local = []
        self.extensions = .copy
        self.gil = .shared
        self.ownsGIL = false
        self.id = Loader.registry.makeID()
        self.interpreter = interpreter
    }

    init(name: String, parent: Loader, interpreter: InterpreterPointer, paths: [String],
         delegation: Delegation, shared: [String], local: [String], extensions: ExtensionPolicy,
         gil: GIL = .shared) {
        self.name = name
        self.parent = parent
        self._paths = paths
        self.delegation = delegation
        self.shared = shared
        self.local = local
        self.extensions = extensions
        self.gil = gil
        self.ownsGIL = gil == .own
        self.id = Loader.registry.makeID()
        self.interpreter = interpreter
    }

    // MARK: The tree

    /// The root loader, which owns CPython's main interpreter. The first use starts
    /// CPython (once per process) with the options given to `configure(_:)`.
    public static var root: Loader {
        get throws { try Runtime.root() }
    }

    /// Sets how CPython will be started. Call it before the first use of `root`;
    /// afterwards it only accepts the options already in force.
    public static func configure(_ options: RuntimeOptions) throws {
        try Runtime.configure(options)
    }

    /// The live loader with this name, or nil.
    public static func named(_ name: String) -> Loader? {
        registry.loader(named: name)
    }

    /// The live children, in creation order.
    public var children: [Loader] {
        Loader.registry.lock.withLock { _children }
    }

    /// Whether `close()` has finished for this loader.
    public var isClosed: Bool {
        Loader.registry.lock.withLock { _lifecycle == .closed }
    }

    var lifecycle: Lifecycle {
        get { Loader.registry.lock.withLock { _lifecycle } }
        set { Loader.registry.lock.withLock { _lifecycle = newValue } }
    }

    /// Every live loader of the subtree rooted here, parents before children.
    var subtree: [Loader] {
        [self] + children.flatMap(\.subtree)
    }

    /// Makes a child loader with its own sub-interpreter.
    ///
    /// - Parameters:
    ///   - name: Unique among live loaders; matches `[A-Za-z0-9][A-Za-z0-9_.-]*`; not `root`.
    ///   - paths: Existing folders for the child's `sys.path`, after the standard library
    ///     (relative ones are resolved against the current folder). A folder holding
    ///     `.pth` files has them processed, as `site.addsitedir` would.
    ///   - delegation: Whether the parent or the child's own paths are asked first.
    ///   - shared: Top-level names always taken from the parent.
    ///   - local: Top-level names never taken from the parent.
    ///   - extensions: What to do when the loader imports an extension module whose file
    ///     another interpreter already loaded (see `ExtensionPolicy`).
    ///   - gil: `.own` gives the loader a GIL of its own (CPython 3.12+): it runs Python in
    ///     parallel with the other loaders, takes nothing from its parent, and exchanges
    ///     values with the rest of the process by copy (see `GIL.own`; OwnGIL.swift).
    /// - Throws: `LoaderError` for a bad name, path or list, a closed parent, or `.own` where
    ///   it cannot be had; `PythonError` when the new interpreter cannot be set up.
    public func child(_ name: String, paths: [String] = [], delegation: Delegation = .parentFirst,
                      shared: [String] = [], local: [String] = [],
                      extensions: ExtensionPolicy = .copy, gil: GIL = .shared) throws -> Loader {
        try Loader.validateName(name)
        let folders = try paths.map(validatedFolder)
        try Loader.validateModuleNames(shared, key: "shared")
        try Loader.validateModuleNames(local, key: "local")
        if let both = shared.first(where: local.contains) {
            throw LoaderError.invalidArgument("'\(both)' cannot be both shared and local")
        }
        if ownsGIL {
            throw LoaderError.invalidArgument("loader '\(self.name)' has its own GIL, so it cannot have children:"
                                              + " they would delegate to it across GILs")
        }
        if gil == .own {
            try OwnGIL.validate(name: name, shared: shared)
        }
        try Loader.registry.reserve(name)
        defer { Loader.registry.unreserve(name) }
        if gil == .own {
            return try OwnGIL.makeChild(of: self, name: name, paths: folders, delegation: delegation, local: local,
                                        extensions: extensions)
        }
        return try withActivated {
            let thread = ThreadRecord.current
            let previous = pyl_CurrentThreadState()
            var error = [CChar](repeating: 0, count: 256)
            guard let tstate = pyl_NewInterpreter(0, &error, error.count) else {
                PyThreadState_Swap(previous)
                if PyErr_Occurred() != nil { PyErr_Clear() }
                throw LoaderError.runtime("could not make the interpreter of '\(name)': \(String(nulTerminated: error))")
            }
            defer { PyThreadState_Swap(previous) }
            // Py_NewInterpreter returns with the new thread state current: it becomes
            // this thread's thread state in the new loader.
            let loader = Loader(name: name, parent: self, interpreter: tstate.pointee.interp, paths: folders,
                                delegation: delegation, shared: shared, local: local, extensions: extensions)
            loader.initialThreadState = tstate
            let state = LoaderThreadState(thread: thread, loader: loader, tstate: tstate)
            thread.addSharedGILState(state)
            loader.threadStates.append(state)
            Loader.registry.add(loader)
            do {
                state.depth += 1
                defer { state.depth -= 1 }
                try InterpreterSetup.shareObjectsWithOtherInterpreters(loader) {
                    try InterpreterSetup.configure(loader, systemSitePackages: false)
                }
            } catch {
                loader.endInterpreter(current: state)
                throw error
            }
            Loader.registry.lock.withLock { _children.append(loader) }
            return loader
        }
    }

    // MARK: Running code

    /// Runs `source` as a module body in this loader's `__main__` namespace.
    /// - Throws: `PythonError` for an exception raised by the code; `LoaderError.closed`.
    public func exec(_ source: String) throws {
        try withActivated {
            let globals = try mainNamespace()
            guard let result = PyRun_StringFlags(source, Py_file_input, globals, globals, nil) else {
                throw PythonError.fetch(in: self)
            }
            Py_DecRef(result)
        }
    }

    /// Evaluates one expression in this loader's `__main__` namespace.
    /// - Returns: A handle to the result, owned by this loader.
    public func eval(_ expression: String) throws -> PythonObject {
        try withActivated {
            let globals = try mainNamespace()
            guard let result = PyRun_StringFlags(expression, Py_eval_input, globals, globals, nil) else {
                throw PythonError.fetch(in: self)
            }
            return PythonObject(newReference: result, loader: self)
        }
    }

    /// Imports a module (dotted names allowed) in this loader, by its delegation rules.
    /// The loader is named explicitly, so the thread's context loader does not apply.
    /// - Returns: The module (for `a.b`, the submodule `a.b`).
    public func importModule(_ name: String) throws -> PythonObject {
        try withActivated {
            let module = CrossLoaderImports.importWaitingForOthers(name, in: self)
            guard let module else { throw PythonError.fetch(in: self) }
            return PythonObject(newReference: module, loader: self)
        }
    }

    /// Runs a script as this loader's `__main__`, like `python path args...`.
    ///
    /// `sys.argv` becomes `[path] + arguments` and the script's folder comes first on
    /// `sys.path` for the run. `SystemExit` gives the status (`None` → 0, an int →
    /// that int, anything else is printed to `sys.stderr` → 1); any other uncaught
    /// exception prints its traceback to `sys.stderr` and gives 1 (`KeyboardInterrupt`: 130).
    /// A script that cannot be read gives 1 after printing why.
    /// - Returns: The exit status.
    /// - Throws: `LoaderError` only (a closed loader); never for the script's own exceptions.
    public func runMain(path: String, arguments: [String] = []) throws -> Int32 {
        try withActivated { try MainProgram.run(.script(path: path), arguments: arguments, in: self) }
    }

    /// Runs source text as `__main__`, like `python -c code args...` (`sys.argv[0]` is `"-c"`).
    public func runMain(code: String, arguments: [String] = []) throws -> Int32 {
        try withActivated { try MainProgram.run(.code(code), arguments: arguments, in: self) }
    }

    /// Runs a module as `__main__`, like `python -m module args...`.
    public func runMain(module: String, arguments: [String] = []) throws -> Int32 {
        try withActivated { try MainProgram.run(.module(module), arguments: arguments, in: self) }
    }

    /// Runs the program read from standard input as `__main__`, like `python -`
    /// (`sys.argv[0]` is `"-"`).
    public func runMainFromStandardInput(arguments: [String] = []) throws -> Int32 {
        try withActivated { try MainProgram.run(.standardInput, arguments: arguments, in: self) }
    }

    /// An interactive prompt in this loader's `__main__`, like `python` on a terminal: line
    /// editing and history (readline), multi-line input, `exit()`, Ctrl-D; `pyloader` is
    /// importable. Returns the exit status (`exit(3)` gives 3; Ctrl-D 0).
    /// - Parameter argv: `sys.argv` for the session; default `[""]`, as python3's prompt has
    ///   (after a script, pass the script's, as `python -i` keeps it).
    public func runInteractivePrompt(argv: [String]? = nil) throws -> Int32 {
        try withActivated { try MainProgram.run(.prompt, arguments: [], argv: argv, in: self) }
    }

    /// The loader that defines `module` when it is imported from this loader, or nil
    /// when no loader can provide it. Does not import anything.
    public func which(_ module: String) throws -> Loader? {
        try withActivated { try Resolver.definingLoader(of: module, seenFrom: self) }
    }

    // MARK: Own-GIL bookkeeping (OwnGIL.swift, rule 3)

    /// Counts the calling thread in when the loader is open; false otherwise. With
    /// `takingAbandoned`, also hands over the thread states of ended threads to delete.
    func countEntry(takingAbandoned abandoned: UnsafeMutablePointer<[LoaderThreadState]>? = nil) -> Bool {
        Loader.registry.lock.withLock {
            guard _lifecycle == .open else { return false }
            ownGILEntries += 1
            if let abandoned, !abandonedThreadStates.isEmpty {
                abandoned.pointee = abandonedThreadStates
                abandonedThreadStates.removeAll()
            }
            return true
        }
    }

    /// An ended thread's thread state, left for the next thread under the loader's GIL (an
    /// open loader) or for `close()`, which deletes every thread state (otherwise).
    func abandon(_ state: LoaderThreadState) {
        Loader.registry.lock.withLock {
            if _lifecycle == .open { abandonedThreadStates.append(state) }
        }
    }

    func uncountEntry() {
        Loader.registry.lock.withLock { ownGILEntries -= 1 }
    }

    /// Marks an open own-GIL loader closing when no thread is inside it or on its way in
    /// (`.closing`); otherwise says why not (`.busy`, or `.closed` when it is not open).
    func beginClosingOwnGIL() -> OwnGILClosing {
        Loader.registry.lock.withLock {
            guard _lifecycle == .open else { return .closed }
            guard ownGILEntries == 0 else { return .busy }
            _lifecycle = .closing
            return .closing
        }
    }

    enum OwnGILClosing { case closing, busy, closed }

    /// Adds a new child to `children`.
    func adopt(_ child: Loader) {
        Loader.registry.lock.withLock { _children.append(child) }
    }

    /// The end of every close: out of the registry and the parent's children, closed.
    func markClosed() {
        Loader.registry.remove(self)
        Loader.registry.lock.withLock {
            _lifecycle = .closed
            abandonedThreadStates.removeAll()
            parent?._children.removeAll { $0 === self }
        }
    }

    /// In a forked process (Forking.swift): this loader's interpreter was left behind, so it
    /// is closed here without ending anything; its hook raises ImportError naming it.
    /// PRECONDITION: the registry lock is held.
    func markLostInFork() {
        _lifecycle = .closed
        _children = []
        threadStates.removeAll()
        parkedThreadState = nil
        handles.abandonAll()
        if let importHook { pyl_DisarmImportHookAfterFork(importHook) }
        if let parent, parent.parent == nil { parent._children.removeAll { $0 === self } }
    }

    // MARK: Helpers

    /// `__main__.__dict__` of this interpreter (borrowed). PRECONDITION: activated.
    func mainNamespace() throws -> PyObjectPointer {
        guard let main = PyImport_AddModule("__main__"), let globals = PyModule_GetDict(main) else {
            throw PythonError.fetch(in: self)
        }
        return globals
    }

    static func validateName(_ name: String) throws {
        guard !name.isEmpty else { throw LoaderError.invalidName(name, reason: "empty") }
        guard name != "root" else { throw LoaderError.invalidName(name, reason: "'root' is reserved for the root loader") }
        guard Names.isValidLoaderName(name) else {
            throw LoaderError.invalidName(name, reason: "must match [A-Za-z0-9][A-Za-z0-9_.-]*")
        }
    }

    /// Adds folders to the root's `paths` record (`appendRootPaths` puts them on `sys.path`).
    func recordRootPaths(_ added: [String]) {
        Loader.registry.lock.withLock { _paths += added.filter { !_paths.contains($0) } }
    }

    /// Top-level module names: Python identifiers, no dots.
    static func validateModuleNames(_ names: [String], key: String) throws {
        for name in names {
            guard Names.isTopLevelModuleName(name) else {
                throw LoaderError.invalidArgument("\(key): '\(name)' is not a top-level module name")
            }
        }
    }
}

extension Loader: CustomStringConvertible {
    public var description: String { "Loader(\(name))" }
}
