import CPython
import CPyLoader

/// A Python exception is already set in the current thread state; the caller
/// (a Python-facing adapter) leaves it there.
struct PendingPythonException: Error {}

/// Import delegation between loaders: the one place that decides which loader
/// provides a module. Every child has `pyloader._DelegatingFinder` first on its
/// `sys.meta_path`; the finder asks `findSpec`, and for a delegated name the
/// import system then calls `loadDelegated`.
enum Resolver {
    enum Decision {
        /// Loaded by this loader's own finders (standard library, its paths).
        case local
        /// Taken from the loader that defines it: the very module object it holds.
        case delegated(Loader)
        /// Already in the loader's `sys.modules` (step 1), put there by the loader named:
        /// itself, or the loader its import was delegated to.
        case loaded(by: Loader)
    }

    /// Decides where `fullName`, imported in `loader`, comes from: every step of
    /// delegation, checked in this order by the code below (tagged with the numbers).
    ///
    /// Before these steps, the context rule (ContextLoaders.swift) has chosen `L`, the loader
    /// that imports: the one that owns the importing code, or for an absolute
    /// `importlib.import_module` outside module bodies the thread's context loader.
    /// For a module `M` with top-level name `T`, in loader `L` with parent `P`:
    /// 1. Already in `L`'s `sys.modules`: that module. (The import system checks this
    ///    before it asks `L`'s finder; it matters here when `P` is asked whether it can
    ///    provide `T`, and for `importlib.reload`.)
    /// 2. The root (no parent): local.
    /// 3. A package is one unit: a submodule `T.x` follows wherever `T` came from.
    /// 4. `T` in the standard library (`sys.stdlib_module_names`, builtins) and not in
    ///    `L.shared`: local (every loader has its own standard library), except the few
    ///    standard-library modules that CPython 3.11 caches in C statics process-wide
    ///    (`rootOnlyModules`): always the root's, which never closes.
    /// 5. `T` in `L.local`: local. `T` in `L.shared`: from `P`, or a
    ///    `ModuleNotFoundError` naming the chain when `P` cannot provide it.
    /// 6. Parent-first: from `P` if `P` (by its own rules, recursively) can provide `T`;
    ///    otherwise local.
    /// 7. Child-first: local if `L`'s own paths have `T`; otherwise from `P` if it can.
    /// After the decision (`loadDelegated`): a delegated module is the very object the
    /// defining loader holds, and that loader's module is not modified (`__spec__` and
    /// `__loader__` stay its own); `importlib.reload` of it in `L` is refused
    /// (`_DelegatingFinder.find_spec` in import_system.py).
    ///
    /// PRECONDITION: the GIL is held and `loader`'s thread state is current.
    static func decide(_ fullName: String, in loader: Loader) throws -> Decision {
        assertHoldingGIL()
        let top = topLevelName(fullName)
        if let module = moduleInSysModules(fullName) {                             // 1
            Py_DecRef(module)
            return .loaded(by: loader.delegatedNames[top] ?? loader)
        }
        guard let parent = loader.parent else { return .local }                   // 2
        if top != fullName {                                                       // 3
            return loader.delegatedNames[top].map(Decision.delegated) ?? .local
        }
        if Runtime.standardLibraryNames.contains(top) && !loader.shared.contains(top) {   // 4
            return Resolver.rootOnlyModules.contains(top) ? .delegated(try Loader.root) : .local
        }
        if loader.local.contains(top) { return .local }                            // 5
        if loader.shared.contains(top) {
            guard let definer = try parent.provider(of: top) else {
                throw moduleNotFound(top, sharedBy: loader)
            }
            return .delegated(definer)
        }
        switch loader.delegation {
        case .parentFirst:                                                         // 6
            guard let definer = try parent.provider(of: top) else { return .local }
            // As on one sys.path, a regular package or module beats namespace-package
            // portions found first: the parent's namespace package does not hide the
            // child's own regular one.
            if try definer.isNamespacePackage(top), try loader.hasOwnRegular(top) { return .local }
            return .delegated(definer)
        case .childFirst:                                                          // 7
            if try loader.hasOwn(top) { return .local }
            return try parent.provider(of: top).map(Decision.delegated) ?? .local
        }
    }

    /// Standard-library modules every loader takes from the root (step 4's exception): CPython 3.11's
    /// `_datetime` keeps the `_strptime` module it first imports in a C static for the rest
    /// of the process, so one imported by a child that later closed broke `datetime.strptime`
    /// everywhere (fixed in 3.12, which keeps it per interpreter).
    static let rootOnlyModules: Set<String> = ["_strptime"]

    /// `_DelegatingFinder.find_spec`: None for a local name, else
    /// `(defining loader id, origin, is_package)`.
    /// PRECONDITION: called from `loader`'s finder (its thread state current).
    static func findSpec(fullName: String, in loader: Loader) throws -> PyObjectPointer? {
        var decision = try decide(fullName, in: loader)
        if case .loaded(let holder) = decision {   // a reload: refused when delegated
            decision = holder === loader ? .local : .delegated(holder)
        }
        guard case .delegated(let definer) = decision else {
            if topLevelName(fullName) == fullName { loader.delegatedNames[fullName] = nil }
            trace(loader, fullName, "local")
            return Py_NewRef(pyl_None())
        }
        let (origin, isPackage) = try definer.withActivated { () -> (String?, Bool) in
            if let module = moduleInSysModules(fullName) {
                defer { Py_DecRef(module) }
                return describe(spec: PyObject_GetAttrString(module, "__spec__"))
            }
            guard topLevelName(fullName) == fullName else { return (nil, false) }
            return describe(spec: try definer.ownSpec(fullName))
        }
        trace(loader, fullName, "delegated to '\(definer.name)'", file: origin)
        guard let tuple = PyTuple_New(3), let id = PyLong_FromLong(definer.id) else { return nil }
        PyTuple_SetItem(tuple, 0, id)
        PyTuple_SetItem(tuple, 1, origin.flatMap(makePythonString) ?? Py_NewRef(pyl_None()))
        PyTuple_SetItem(tuple, 2, Py_NewRef(isPackage ? pyl_True() : pyl_False()))
        return tuple
    }

    /// `_DelegatedLoader.load_module`: imports `fullName` in `definer` (by its own
    /// rules) and puts that very object in `loader`'s `sys.modules`. A failure is
    /// the defining loader's own exception object, with a note naming both loaders.
    /// PRECONDITION: `loader`'s thread state is current.
    static func loadDelegated(fullName: String, in loader: Loader, definer: Loader) throws -> PyObjectPointer? {
        assertHoldingGIL()
        let module = definer.callMovingException {
            CrossLoaderImports.importWaitingForOthers(fullName, in: definer)
        }
        guard let module else {
            addNoteToPendingException("while importing \(pythonLiteral(fullName)) in loader '\(definer.name)',"
                                      + " delegated from loader '\(loader.name)'")
            throw PendingPythonException()
        }
        guard let modules = PyImport_GetModuleDict(), PyDict_SetItemString(modules, fullName, module) == 0 else {
            Py_DecRef(module)
            throw PendingPythonException()
        }
        if topLevelName(fullName) == fullName { loader.delegatedNames[fullName] = definer }
        return module
    }

    /// Imports `name` in the interpreter whose thread state is current, whatever the
    /// thread's context loader (no `builtins.__import__`), and returns the module
    /// itself (for `a.b`, the submodule). Nil with an exception set on failure.
    static func importInCurrentInterpreter(_ name: String) -> PyObjectPointer? {
        guard let nameObject = makePythonString(name) else { return nil }
        defer { Py_DecRef(nameObject) }
        guard let top = PyImport_ImportModuleLevelObject(nameObject, nil, nil, nil, 0) else { return nil }
        Py_DecRef(top)
        guard let module = PyImport_GetModule(nameObject) else {
            if PyErr_Occurred() == nil {
                PyErr_SetImportError(makePythonString("import of \(name) left no module in sys.modules"), nameObject, nil)
            }
            return nil
        }
        return module
    }

    // MARK: Which loader defines what

    /// The loader that defines `fullName` when it is imported from `loader`, or nil.
    /// For a submodule not yet imported, the loader of its top-level package.
    /// PRECONDITION: `loader`'s thread state is current.
    static func definingLoader(of fullName: String, seenFrom loader: Loader) throws -> Loader? {
        assertHoldingGIL()
        let top = topLevelName(fullName)
        // A module that ran no Python code (an extension, a namespace package) has no
        // __builtins__ to tell its loader by: a delegated one is in `delegatedNames`.
        if let module = moduleInSysModules(fullName) {
            defer { Py_DecRef(module) }
            return definingLoader(ofObject: module) ?? loader.delegatedNames[top] ?? loader
        }
        if top != fullName, let module = moduleInSysModules(top) {
            defer { Py_DecRef(module) }
            return definingLoader(ofObject: module) ?? loader.delegatedNames[top] ?? loader
        }
        return try loader.provider(of: top)
    }

    /// The loader whose interpreter defined an object (Java's `getClassLoader()`):
    /// - a class: the loader whose class statement made it (recorded by each loader's
    ///   `__build_class__`), else the loader of its methods' globals, else that of the module
    ///   named by its `__module__` in which it is reachable by `__qualname__` (classes made by
    ///   `type(...)`);
    /// - a module, function, method, property, `functools.partial`: the loader whose builtins
    ///   its globals use (of the wrapped function for the last three);
    /// - any other object: the defining loader of its class.
    /// Nil when it cannot be told (built-in types and objects of closed loaders).
    /// PRECONDITION: the GIL is held.
    static func definingLoader(ofObject object: PyObjectPointer) -> Loader? {
        assertHoldingGIL()
        if pyl_IsType(object) != 0 {
            guard pyl_IsHeapType(object) != 0 else { return nil }   // int, dict...: no loader defines them
            let loaders = Loader.registry.sharingGIL
            if let recorded = loaders.first(where: { $0.importHook.map { pyl_HookDefinedClass($0, object) == 1 } ?? false }) {
                return recorded
            }
            return definingLoaderByGlobals(object) ?? definingLoaderByModuleName(ofClass: object, among: loaders)
        }
        guard pyl_IsCodeHolder(object) != 0 else {
            return definingLoader(ofObject: UnsafeMutableRawPointer(pyl_TypeOf(object)).assumingMemoryBound(to: PyObject.self))
        }
        if let found = definingLoaderByGlobals(object) { return found }
        if let function = PyObject_GetAttrString(object, "func") {   // functools.partial
            defer { Py_DecRef(function) }
            if function != object, let found = definingLoader(ofObject: function) { return found }
        }
        PyErr_Clear()
        return nil
    }

    /// A class made by `type(...)` with no methods: the loader holding the module its
    /// `__module__` names, in which `__qualname__` reaches this very class.
    private static func definingLoaderByModuleName(ofClass cls: PyObjectPointer, among loaders: [Loader]) -> Loader? {
        guard let moduleName = PyObject_GetAttrString(cls, "__module__") else { PyErr_Clear(); return nil }
        defer { Py_DecRef(moduleName) }
        guard let qualname = PyObject_GetAttrString(cls, "__qualname__"), let path = String(pythonString: qualname) else {
            PyErr_Clear()
            return nil
        }
        Py_DecRef(qualname)
        for loader in loaders where loader.lifecycleHoldingGIL == .open {
            guard let modules = pyl_InterpreterModules(loader.interpreter),
                  let module = PyDict_GetItem(modules, moduleName) else { continue }
            var object = Py_NewRef(module)!
            var reached = true
            for part in path.split(separator: ".") {
                guard let next = PyObject_GetAttrString(object, String(part)) else { PyErr_Clear(); reached = false; break }
                Py_DecRef(object)
                object = next
            }
            defer { Py_DecRef(object) }
            if reached && object == cls {
                return definingLoaderByGlobals(module) ?? loader
            }
        }
        return nil
    }

    private static func definingLoaderByGlobals(_ object: PyObjectPointer) -> Loader? {
        guard let globals = globalsOf(object) else { return nil }
        defer { Py_DecRef(globals) }
        guard var builtins = PyDict_GetItemString(globals, "__builtins__") else { return nil }
        if pyl_IsModule(builtins) != 0, let dict = PyModule_GetDict(builtins) { builtins = dict }
        return Loader.registry.sharingGIL.first { $0.builtinsDictionary == builtins }
    }

    /// The globals dict that code of `object` runs with (new reference), or nil.
    private static func globalsOf(_ object: PyObjectPointer) -> PyObjectPointer? {
        if pyl_IsModule(object) != 0 { return PyModule_GetDict(object).map { Py_NewRef($0) } }
        if let globals = PyObject_GetAttrString(object, "__globals__") {
            if pyl_IsDict(globals) != 0 { return globals }
            Py_DecRef(globals)
        }
        PyErr_Clear()
        for attribute in ["__func__", "fget", "__wrapped__"] {
            if let inner = PyObject_GetAttrString(object, attribute) {
                defer { Py_DecRef(inner) }
                if inner != object, let globals = globalsOf(inner) { return globals }
            } else {
                PyErr_Clear()
            }
        }
        if pyl_IsType(object) != 0, let dict = PyObject_GetAttrString(object, "__dict__") {
            defer { Py_DecRef(dict) }
            if let values = PyMapping_Values(dict) {
                defer { Py_DecRef(values) }
                for index in 0..<PyList_Size(values) {
                    if let value = PyList_GetItem(values, index), pyl_IsType(value) == 0,
                       let globals = globalsOf(value) {
                        return globals
                    }
                }
            }
            PyErr_Clear()
        }
        return nil
    }

    // MARK: Per-loader set-up

    /// Imports `pyloader` in a new child and puts its finder first on `sys.meta_path`.
    static func installFinder(in loader: Loader) throws {
        guard let result = PyObject_CallNoArgs(try loader.coreFunction("_install_finder")) else {
            throw PythonError.fetch(in: loader)
        }
        Py_DecRef(result)
    }

    // MARK: The delegated-import fast path

    /// `_find_and_load` of a child (CPyLoader.c `hook_find_and_load`), before importlib's
    /// finder search: when `decide` would delegate `fullName` to a loader that already holds
    /// it, fully initialized, puts that very object into `loader`'s `sys.modules` and returns
    /// it (a new reference): what `findSpec` and `loadDelegated` would do, without importlib's
    /// spec, module lock and loader protocol around them. Every case that needs more is left
    /// to the finder path (nil, no exception):
    /// - any name `decide` would not delegate by steps 3–6, or would only after a search of a
    ///   loader's own paths (child-first, step 7; a namespace package, step 6's exception);
    /// - a module the defining loader does not hold yet, or is still initializing (the finder
    ///   path waits for it across loaders, `CrossLoaderImports`);
    /// - the standard library's root-only modules (step 4's exception), rare and first-use only.
    /// What a delegation guarantees holds here too: the module is the definer's very object,
    /// untouched (`__spec__` included); `delegatedNames` records it (so closing and
    /// `importlib.reload` treat it as delegated); the trace line is the finder path's.
    /// PRECONDITION: `loader`'s thread state is current (called from its importlib).
    static func handOver(_ name: PyObjectPointer, in loader: Loader) -> PyObjectPointer? {
        assertHoldingGIL()
        guard let parent = loader.parent, let fullName = String(pythonString: name) else { return nil }   // step 2
        let top = topLevelName(fullName)
        // Steps 4-7 for a top-level name first: Swift sets and one dict lookup, so that the
        // common miss (a first import of the standard library or of the loader's own module)
        // leaves at once, before anything below asks Python.
        var holder: Loader?
        if top == fullName {
            if Runtime.standardLibraryNames.contains(top) && !loader.shared.contains(top) { return nil }   // step 4
            if loader.local.contains(top) { return nil }                            // step 5
            guard loader.shared.contains(top) || loader.delegation == .parentFirst else { return nil }   // step 7
            guard let held = heldBy(parent, top) else { return nil }               // P's step 1
            holder = held
        }
        // Step 1 and importlib's own checks: `_gcd_import` calls `_find_and_load` for a name
        // already in sys.modules too, and a None there is an import blocked on purpose; a
        // module lock of the name means another thread is importing it here (the finder path
        // makes this one wait for it).
        guard let ownModules = PyImport_GetModuleDict(), !holdsKey(ownModules, name),
              !importInProgress(name) else { return nil }
        if top != fullName {                                                       // step 3
            // Its package first, as importlib would import it before looking for `fullName`:
            // handed over too, or the whole import takes the finder path.
            let package = String(fullName[..<fullName.lastIndex(of: ".")!])
            guard let packageName = makePythonString(package) else { PyErr_Clear(); return nil }
            defer { Py_DecRef(packageName) }
            if !holdsKey(ownModules, packageName) {
                guard let handed = handOver(packageName, in: loader) else { return nil }
                Py_DecRef(handed)
            }
            holder = loader.delegatedNames[top]
        }
        guard let definer = holder, let modules = pyl_InterpreterModules(definer.interpreter),
              let found = PyDict_GetItemWithError(modules, name), found != pyl_None() else {
            PyErr_Clear()
            return nil
        }
        // A strong reference: the checks below run Python attribute lookups.
        guard let module = Py_NewRef(found) else { return nil }
        if (top == fullName && isNamespacePackage(module))                         // step 6's exception
            || CrossLoaderImports.isInitializing(module) {
            Py_DecRef(module)
            return nil
        }
        guard PyDict_SetItem(ownModules, name, module) == 0 else {
            Py_DecRef(module)
            return nil   // an exception is set: the import fails with it
        }
        if top == fullName { loader.delegatedNames[top] = definer }
        if ImportTrace.isEnabled {
            trace(loader, fullName, "delegated to '\(definer.name)'", file: describe(spec: PyObject_GetAttrString(module, "__spec__")).0)
        }
        return module
    }

    /// Whether `dict` has `key`, whatever its value (None included). An error counts as yes
    /// (the caller then leaves the import to importlib) and is cleared.
    private static func holdsKey(_ dict: PyObjectPointer, _ key: PyObjectPointer) -> Bool {
        let found = PyDict_Contains(dict, key)
        if found < 0 { PyErr_Clear() }
        return found != 0
    }

    /// Whether the current interpreter's importlib has a live module lock for `name`
    /// (`_bootstrap._module_locks`): a thread is importing it there now. An error counts as yes.
    private static func importInProgress(_ name: PyObjectPointer) -> Bool {
        guard let bootstrap = PyImport_AddModule("_frozen_importlib"),
              let locks = PyObject_GetAttrString(bootstrap, "_module_locks") else { PyErr_Clear(); return true }
        defer { Py_DecRef(locks) }
        guard let reference = PyDict_GetItemWithError(locks, name) else {
            let failed = PyErr_Occurred() != nil
            PyErr_Clear()
            return failed
        }
        guard let lock = PyObject_CallNoArgs(reference) else { PyErr_Clear(); return true }   // weakref() → the lock or None
        defer { Py_DecRef(lock) }
        return lock != pyl_None()
    }

    /// The loader whose module `loader` holds as `top` (its step 1: itself, or the loader it
    /// took the module from), or nil when its `sys.modules` has none.
    /// PRECONDITION: the GIL is held.
    private static func heldBy(_ loader: Loader, _ top: String) -> Loader? {
        guard let modules = pyl_InterpreterModules(loader.interpreter),
              let module = PyDict_GetItemString(modules, top), module != pyl_None() else { return nil }
        return loader.delegatedNames[top] ?? loader
    }

    /// Whether `module` is a namespace package (its spec has no origin and search locations).
    private static func isNamespacePackage(_ module: PyObjectPointer) -> Bool {
        isNamespaceSpec(PyObject_GetAttrString(module, "__spec__"))
    }

    // MARK: Helpers

    static func topLevelName(_ fullName: String) -> String {
        guard let dot = fullName.firstIndex(of: ".") else { return fullName }
        return String(fullName[..<dot])
    }

    /// `sys.modules.get(name)` of the current interpreter (new reference), nil when
    /// missing or `None` (an import blocked on purpose).
    static func moduleInSysModules(_ name: String) -> PyObjectPointer? {
        guard let modules = PyImport_GetModuleDict(), let module = PyDict_GetItemString(modules, name),
              module != pyl_None() else { return nil }
        return Py_NewRef(module)
    }

    /// A namespace package's spec has no origin file and no loader of its own
    /// (3.11: `origin` None, or `loader` a NamespaceLoader). Consumes `spec`.
    static func isNamespaceSpec(_ spec: PyObjectPointer?) -> Bool {
        guard let spec, spec != pyl_None() else { Py_DecRef(spec); PyErr_Clear(); return false }
        defer { Py_DecRef(spec) }
        let (origin, isPackage) = describe(spec: Py_NewRef(spec))
        return isPackage && (origin == nil || origin == "namespace")
    }

    /// `(spec.origin, spec.submodule_search_locations is not None)`; consumes `spec`.
    private static func describe(spec: PyObjectPointer?) -> (String?, Bool) {
        guard let spec, spec != pyl_None() else { Py_DecRef(spec); PyErr_Clear(); return (nil, false) }
        defer { Py_DecRef(spec) }
        var origin: String?
        if let value = PyObject_GetAttrString(spec, "origin") {
            origin = String(pythonString: value)
            Py_DecRef(value)
        }
        var isPackage = false
        if let locations = PyObject_GetAttrString(spec, "submodule_search_locations") {
            isPackage = locations != pyl_None()
            Py_DecRef(locations)
        }
        PyErr_Clear()
        return (origin, isPackage)
    }

    private static func moduleNotFound(_ top: String, sharedBy loader: Loader) -> Error {
        var chain: [String] = []
        var next: Loader? = loader
        while let current = next { chain.append(current.name); next = current.parent }
        let message = "No module named \(pythonLiteral(top)): it is shared in loader '\(loader.name)'"
            + " and its parent '\(loader.parent?.name ?? "")' cannot provide it (searched \(chain.dropFirst().joined(separator: " -> ")))"
        let messageObject = makePythonString(message)
        let nameObject = makePythonString(top)
        PyErr_SetImportErrorSubclass(pyl_ExcModuleNotFoundError(), messageObject, nameObject, nil)
        Py_DecRef(messageObject)
        Py_DecRef(nameObject)
        return PendingPythonException()
    }

    /// `exc.add_note(note)` on the pending exception (PEP 678, 3.11).
    private static func addNoteToPendingException(_ note: String) {
        var type: PyObjectPointer?, value: PyObjectPointer?, traceback: PyObjectPointer?
        PyErr_Fetch(&type, &value, &traceback)
        PyErr_NormalizeException(&type, &value, &traceback)
        if let value, let noteObject = makePythonString(note) {
            if let addNote = PyObject_GetAttrString(value, "add_note") {
                if let result = PyObject_CallOneArg(addNote, noteObject) { Py_DecRef(result) }
                Py_DecRef(addNote)
            }
            Py_DecRef(noteObject)
            PyErr_Clear()
        }
        if let value, let traceback { PyException_SetTraceback(value, traceback) }
        PyErr_Restore(type, value, traceback)
    }
}

extension Loader {
    /// The loader that would define top-level `name` if this loader imported it
    /// (by its own rules, recursively up the chain), or nil if it cannot.
    func provider(of name: String) throws -> Loader? {
        try withActivated {
            switch try Resolver.decide(name, in: self) {
            case .loaded(let holder): return holder
            case .delegated(let definer): return definer
            case .local: return try hasOwn(name) ? self : nil
            }
        }
    }

    /// Whether this loader's own finders (not delegation) find top-level `name`. A "no" is
    /// kept while the finders' state stays the same (`AbsentNames`).
    func hasOwn(_ name: String) throws -> Bool {
        try withActivated {
            if absentNames.contains(name) { return false }
            let times = absentNames.foldersBeforeSearch()
            let spec = try ownSpec(name)
            defer { Py_DecRef(spec) }
            guard spec == pyl_None() else { return true }
            // Only a shortcut: when the state cannot be read, the answer is not kept.
            if let times, let nameObject = makePythonString(name) {
                if let state = PyObject_CallOneArg(try coreFunction("_own_finder_state"), nameObject) {
                    absentNames.record(name, state: state, times: times)
                    Py_DecRef(state)
                } else {
                    pyl_ClearErrorKeepingInterrupt()
                }
                Py_DecRef(nameObject)
            }
            return false
        }
    }

    /// Whether top-level `name`, as this loader has or would load it, is a namespace package.
    func isNamespacePackage(_ name: String) throws -> Bool {
        try withActivated {
            if let module = Resolver.moduleInSysModules(name) {
                defer { Py_DecRef(module) }
                return Resolver.isNamespaceSpec(PyObject_GetAttrString(module, "__spec__"))
            }
            return Resolver.isNamespaceSpec(try ownSpec(name))
        }
    }

    /// Whether this loader's own finders find top-level `name` as a regular module or package.
    func hasOwnRegular(_ name: String) throws -> Bool {
        let spec = try ownSpec(name)
        guard spec != pyl_None() else { Py_DecRef(spec); return false }
        return try withActivated { !Resolver.isNamespaceSpec(spec) }
    }

    /// `_pyloader._own_find_spec(name)` in this loader (new reference; `None` when not found).
    func ownSpec(_ name: String) throws -> PyObjectPointer {
        try withActivated {
            let function = try coreFunction("_own_find_spec")
            guard let nameObject = makePythonString(name) else { throw PendingPythonException() }
            defer { Py_DecRef(nameObject) }
            guard let spec = PyObject_CallOneArg(function, nameObject) else { throw PendingPythonException() }
            return spec
        }
    }

    /// A function of this interpreter's `_pyloader` module, looked up once (borrowed).
    /// PRECONDITION: activated in this loader.
    func coreFunction(_ name: String) throws -> PyObjectPointer {
        if let function = coreModuleFunctions[name] { return function }
        guard let function = PyObject_GetAttrString(try coreModule(), name) else { throw PendingPythonException() }
        coreModuleFunctions[name] = function
        return function
    }

    /// This interpreter's internal `_pyloader` module, imported on first use (borrowed).
    /// PRECONDITION: activated in this loader.
    func coreModule() throws -> PyObjectPointer {
        assertHoldingGIL()
        if let coreModuleReference { return coreModuleReference }
        guard let module = Resolver.importInCurrentInterpreter("_pyloader") else { throw PythonError.fetch(in: self) }
        coreModuleReference = module
        return module
    }
}
