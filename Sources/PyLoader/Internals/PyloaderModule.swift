import CPython
import CPyLoader

/// The Swift half of PyLoader's two Python modules, both built in and one instance per
/// interpreter:
/// - `_pyloader` (internal), which every loader loads when it is made: the `_core_*`
///   functions below, `errors.py` and `import_system.py` (the import machinery);
/// - `pyloader` (the public API, `pyloader.py`), loaded on its first import, with the names
///   of `_pyloader` copied in: a loader whose code never imports it does not pay for it.
/// Each `_core_*` function is a thin adapter from Python arguments to the Swift core
/// (`Loader`), so there is one implementation of every rule.
enum PyloaderModule {
    typealias Function = @convention(c) (PyObjectPointer?, PyObjectPointer?) -> PyObjectPointer?

    /// The names the module's Python files use (`ruff.toml` lists them for the linter;
    /// `PythonSourceTests` checks that the three agree).
    static var coreFunctionNames: [String] { coreFunctions.map(\.name) }

    /// Registers `_pyloader` and `pyloader` as built-in modules. Called once, before CPython starts.
    static func registerInittab() {
        let table = coreFunctions
        let methods = UnsafeMutablePointer<PyMethodDef>.allocate(capacity: table.count + 1)
        for (index, (name, function)) in table.enumerated() {
            methods[index] = PyMethodDef(ml_name: strdup(name), ml_meth: function, ml_flags: METH_VARARGS, ml_doc: nil)
        }
        methods[table.count] = PyMethodDef(ml_name: nil, ml_meth: nil, ml_flags: 0, ml_doc: nil)
        pyl_SetPyloaderModules(methods, { module in PyloaderModule.execCore(module) },
                               { module in PyloaderModule.execAPI(module) })
        PyImport_AppendInittab(strdup("_pyloader"), pyl_CoreModuleInit)
        PyImport_AppendInittab(strdup("pyloader"), pyl_PyloaderModuleInit)
    }

    /// The Swift functions of the module, by name.
    private static let coreFunctions: [(name: String, function: Function)] = [
        ("_core_info", { module, args in PyloaderModule.adapt(module, args, count: 1) { a in try PyloaderModule.info(PyloaderModule.loaderArg(a[0], module)) } }),
        ("_core_name", { module, args in PyloaderModule.adapt(module, args, count: 1) { a in try PyloaderModule.name(a[0]) } }),
        ("_core_closed", { module, args in PyloaderModule.adapt(module, args, count: 1) { a in try PyloaderModule.closed(a[0]) } }),
        ("_core_root", { module, args in PyloaderModule.adapt(module, args, count: 0) { _ in try PyloaderModule.idObject(Loader.root) } }),
        ("_core_find", { module, args in PyloaderModule.adapt(module, args, count: 1) { a in
            guard let found = Loader.named(try PyloaderModule.string(a[0], "name")) else { return Py_NewRef(pyl_None()) }
            return try PyloaderModule.idObject(found)
        } }),
        ("_core_ids", { module, args in PyloaderModule.adapt(module, args, count: 0) { _ in
            try Loader.root.subtree.map(\.id).makePythonReference().pointer
        } }),
        ("_core_child", { module, args in PyloaderModule.adapt(module, args, count: 8) { a in
            let parent = try PyloaderModule.loaderArg(a[0], module)
            guard let delegation = Delegation(rawValue: try PyloaderModule.string(a[3], "delegation")) else {
                throw LoaderError.invalidArgument("delegation must be \"parent-first\" or \"child-first\"")
            }
            guard let extensions = ExtensionPolicy(rawValue: try PyloaderModule.string(a[6], "extensions")) else {
                throw LoaderError.invalidArgument("extensions must be \"copy\", \"share\" or \"error\"")
            }
            guard let gil = GIL(rawValue: try PyloaderModule.string(a[7], "gil")) else {
                throw LoaderError.invalidArgument("gil must be \"shared\" or \"own\"")
            }
            let child = try parent.child(try PyloaderModule.string(a[1], "name"), paths: try PyloaderModule.strings(a[2], "paths"),
                                         delegation: delegation, shared: try PyloaderModule.strings(a[4], "shared"),
                                         local: try PyloaderModule.strings(a[5], "local"), extensions: extensions,
                                         gil: gil)
            return try PyloaderModule.idObject(child)
        } }),
        ("_core_exec", { module, args in PyloaderModule.adapt(module, args, count: 2) { a in
            let loader = try PyloaderModule.loaderArg(a[0], module)
            let source = try PyloaderModule.string(a[1], "source")
            return loader.callMovingException(closedErrorOf: module) {
                guard let globals = try? loader.mainNamespace() else { return nil }
                guard let result = PyRun_StringFlags(source, Py_file_input, globals, globals, nil) else { return nil }
                Py_DecRef(result)
                return Py_NewRef(pyl_None())
            }
        } }),
        ("_core_eval", { module, args in PyloaderModule.adapt(module, args, count: 2) { a in
            let loader = try PyloaderModule.loaderArg(a[0], module)
            let source = try PyloaderModule.string(a[1], "expression")
            return loader.callMovingException(closedErrorOf: module) {
                guard let globals = try? loader.mainNamespace() else { return nil }
                return PyRun_StringFlags(source, Py_eval_input, globals, globals, nil)
            }
        } }),
        ("_core_import", { module, args in PyloaderModule.adapt(module, args, count: 2) { a in
            let loader = try PyloaderModule.loaderArg(a[0], module)
            let name = try PyloaderModule.string(a[1], "name")
            return loader.callMovingException(closedErrorOf: module) {
                CrossLoaderImports.importWaitingForOthers(name, in: loader)
            }
        } }),
        ("_core_run_main", { module, args in PyloaderModule.adapt(module, args, count: 3) { a in
            let loader = try PyloaderModule.loaderArg(a[0], module)
            let path = try PyloaderModule.string(a[1], "path")
            let argv = a[2] == pyl_None() ? nil : try PyloaderModule.strings(a[2], "argv")
            let status = try loader.withActivated {
                try MainProgram.run(.script(path: path), arguments: [], argv: argv, in: loader)
            }
            return try Int(status).makePythonReference().pointer
        } }),
        ("_core_which", { module, args in PyloaderModule.adapt(module, args, count: 2) { a in
            guard let found = try PyloaderModule.loaderArg(a[0], module).which(try PyloaderModule.string(a[1], "module_name")) else {
                return Py_NewRef(pyl_None())
            }
            return try PyloaderModule.idObject(found)
        } }),
        ("_core_close", { module, args in PyloaderModule.adapt(module, args, count: 1) { a in
            // Closing a closed loader does nothing, as in Swift.
            guard let loader = Loader.registry.loader(id: try PyloaderModule.int(a[0])) else { return Py_NewRef(pyl_None()) }
            return try loader.closeReportingLeaks().map(\.description).makePythonReference().pointer
        } }),
        ("_core_context_push", { module, args in PyloaderModule.adapt(module, args, count: 1) { a in
            try ContextLoaders.push(try PyloaderModule.loaderArg(a[0], module), on: ThreadRecord.current)
            return Py_NewRef(pyl_None())
        } }),
        ("_core_context_pop", { module, args in PyloaderModule.adapt(module, args, count: 1) { a in
            try ContextLoaders.pop(expectedID: try PyloaderModule.int(a[0]), on: ThreadRecord.current)
            return Py_NewRef(pyl_None())
        } }),
        ("_core_context_id", { module, args in PyloaderModule.adapt(module, args, count: 0) { _ in
            guard let loader = ThreadRecord.current.contextStack.last else { return Py_NewRef(pyl_None()) }
            return try PyloaderModule.idObject(loader)
        } }),
        ("_core_defining", { module, args in PyloaderModule.adapt(module, args, count: 1) { a in
            guard let loader = Resolver.definingLoader(ofObject: a[0]) else { return Py_NewRef(pyl_None()) }
            return try PyloaderModule.idObject(loader)
        } }),
        ("_core_find_spec", { module, args in PyloaderModule.adapt(module, args, count: 2) { a in
            try Resolver.findSpec(fullName: try PyloaderModule.string(a[0], "fullname"), in: try PyloaderModule.loaderArg(a[1], module))
        } }),
        ("_core_load", { module, args in PyloaderModule.adapt(module, args, count: 3) { a in
            try Resolver.loadDelegated(fullName: try PyloaderModule.string(a[0], "fullname"), in: try PyloaderModule.loaderArg(a[1], module),
                                       definer: try PyloaderModule.loaderArg(a[2], module))
        } }),
        // Extension modules in many loaders (ExtensionModules.swift).
        ("_core_extension_location", { module, args in PyloaderModule.adapt(module, args, count: 3) { a in
            makePythonString(try ExtensionModules.location(forLoading: try PyloaderModule.string(a[2], "path"),
                                                           module: try PyloaderModule.string(a[1], "name"),
                                                           in: try PyloaderModule.loaderArg(a[0], module)))
        } }),
        ("_core_extension_failed", { module, args in PyloaderModule.adapt(module, args, count: 4) { a in
            ExtensionModules.failure(a[3], module: try PyloaderModule.string(a[1], "name"),
                                     path: try PyloaderModule.string(a[2], "path"),
                                     in: try PyloaderModule.loaderArg(a[0], module)) ?? Py_NewRef(pyl_None())
        } }),
        ("_core_stop_requested", { module, args in PyloaderModule.adapt(module, args, count: 0) { _ in
            Py_NewRef(GracefulStop.isRequested ? pyl_True() : pyl_False())
        } }),
        ("_core_preload_in_root", { module, args in PyloaderModule.adapt(module, args, count: 1) { a in
            try ExtensionModules.preloadInRoot(try PyloaderModule.string(a[0], "name"))
            return Py_NewRef(pyl_None())
        } }),
        // Package metadata follows delegation (Metadata.swift).
        ("_core_distribution_source", { module, args in PyloaderModule.adapt(module, args, count: 2) { a in
            let names = try PyloaderModule.strings(a[1], "names")
            guard let source = try Metadata.source(forImportNames: names, in: try PyloaderModule.loaderArg(a[0], module)) else {
                return Py_NewRef(pyl_None())
            }
            return try PyloaderModule.idObject(source)
        } }),
        ("_core_distributions", { module, args in PyloaderModule.adapt(module, args, count: 2) { a in
            let name = a[1] == pyl_None() ? nil : try PyloaderModule.string(a[1], "name")
            return Metadata.distributions(named: name, in: try PyloaderModule.loaderArg(a[0], module),
                                         closedErrorOf: module)
        } }),
    ]

    /// `_pyloader`'s exec slot: binds this instance to its interpreter's loader and runs
    /// `errors.py` and `import_system.py` in its namespace.
    fileprivate static func execCore(_ module: PyObjectPointer?) -> Int32 {
        enteredFromPython { _ in
            guard let module, let namespace = PyModule_GetDict(module), let loader = managingLoader() else { return -1 }
            guard let id = PyLong_FromLong(loader.id) else { return -1 }
            PyDict_SetItemString(namespace, "_ID", id)
            Py_DecRef(id)
            // PyEval_EvalCode, unlike exec(), does not add __builtins__ (3.11), and C code
            // that imports while a frame of this module runs (PyImport_Import in an
            // extension's PyInit) reads it from the globals.
            PyDict_SetItemString(namespace, "__builtins__", PyEval_GetBuiltins())
            // PyLoader's own imports ignore the thread's context loader: `_import` is this
            // interpreter's own `_gcd_import`, not the wrapper `importlib.import_module` uses.
            guard let original = pyl_OriginalImportModule() else { return -1 }
            PyDict_SetItemString(namespace, "_import", original)
            Py_DecRef(original)
            return run([.errors, .importSystem], in: namespace)
        }
    }

    /// `pyloader`'s exec slot: copies in the names of this interpreter's `_pyloader` (its
    /// functions, `_ID`, the exception classes, the import machinery, which some tools and
    /// tests reach as `pyloader._DelegatingFinder`) and runs `pyloader.py`.
    fileprivate static func execAPI(_ module: PyObjectPointer?) -> Int32 {
        enteredFromPython { _ in
            guard let module, let namespace = PyModule_GetDict(module), let loader = managingLoader() else { return -1 }
            let core: PyObjectPointer
            do { core = try loader.coreModule() } catch { setPythonException(for: error); return -1 }
            guard let coreNamespace = PyModule_GetDict(core) else { return -1 }
            var position = 0
            var key: PyObjectPointer?, value: PyObjectPointer?
            while PyDict_Next(coreNamespace, &position, &key, &value) != 0 {
                guard let key, let value, let name = String(pythonString: key) else { continue }
                if name.hasPrefix("__") && name != "__builtins__" { continue }
                if PyDict_SetItem(namespace, key, value) != 0 { return -1 }
            }
            return run([.pyloaderModule], in: namespace)
        }
    }

    /// The loader of the current interpreter, or nil with an `ImportError` set: an interpreter
    /// PyLoader did not make, or one with a GIL of its own.
    private static func managingLoader() -> Loader? {
        guard let tstate = pyl_CurrentThreadState(),
              let loader = Loader.registry.loader(interpreter: tstate.pointee.interp) else {
            PyErr_SetString(pyl_ExcImportError(), "pyloader: this interpreter is not managed by PyLoader")
            return nil
        }
        // Every `_core_*` function reads state the root's GIL guards (OwnGIL.swift, rule 2).
        // CPython 3.12+ already refuses the module in an own-GIL interpreter ("does not
        // support loading in subinterpreters"); this keeps the rule should that change.
        guard !loader.ownsGIL else {
            PyErr_SetString(pyl_ExcImportError(), "pyloader cannot be imported in loader '\(loader.name)': it has"
                            + " a GIL of its own, and nothing crosses between GILs; reach it from the other loaders")
            return nil
        }
        return loader
    }

    /// Runs `files` in order in `namespace`: 0, or -1 with the exception set.
    private static func run(_ files: [EmbeddedPython], in namespace: PyObjectPointer) -> Int32 {
        for file in files {
            guard let code = code(of: file) else { return -1 }
            defer { Py_DecRef(code) }
            guard let result = PyEval_EvalCode(code, namespace, namespace) else { return -1 }
            Py_DecRef(result)
        }
        return 0
    }

    /// The marshalled code of the module's files, compiled once per process
    /// (unmarshalling costs far less than compiling in every new interpreter).
    /// Guarded by the root's GIL: the module exists only in loaders that share it.
    private static let marshalledCode = GILGuarded([EmbeddedPython: [CChar]]())

    /// `file`'s code object in the current interpreter (a new reference).
    fileprivate static func code(of file: EmbeddedPython) -> PyObjectPointer? {
        marshalledCode.withValue { marshalled in
            if let bytes = marshalled[file] {
                return bytes.withUnsafeBufferPointer { PyMarshal_ReadObjectFromString($0.baseAddress, $0.count) }
            }
            guard let code = file.compile() else { return nil }
            guard let bytes = PyMarshal_WriteObjectToString(code, Py_MARSHAL_VERSION) else { return code }
            defer { Py_DecRef(bytes) }
            if let start = PyBytes_AsString(bytes) {
                marshalled[file] = Array(UnsafeBufferPointer(start: start, count: PyBytes_Size(bytes)))
            }
            return code
        }
    }

    // MARK: Adapting calls

    /// Runs a `_core_*` function: checks the argument count, and turns a thrown
    /// Swift error into the matching Python exception in the caller's thread state.
    fileprivate static func adapt(_ module: PyObjectPointer?, _ args: PyObjectPointer?, count: Int,
                              _ body: ([PyObjectPointer]) throws -> PyObjectPointer?) -> PyObjectPointer? {
        enteredFromPython { _ in
            guard let args, PyTuple_Size(args) == count else {
                PyErr_SetString(pyl_ExcTypeError(), "pyloader internal call takes \(count) argument(s)")
                return nil
            }
            let arguments = (0..<count).map { PyTuple_GetItem(args, $0)! }
            do {
                return try body(arguments)
            } catch {
                setPythonException(for: error, module: module)
                return nil
            }
        }
    }

    fileprivate static func int(_ object: PyObjectPointer) throws -> Int {
        let value = PyLong_AsLong(object)
        if value == -1, PyErr_Occurred() != nil { PyErr_Clear(); throw LoaderError.invalidArgument("expected an int") }
        return value
    }

    fileprivate static func string(_ object: PyObjectPointer, _ what: String) throws -> String {
        guard let text = String(pythonString: object) else {
            throw LoaderError.invalidArgument("\(what) must be a str, not \(String(cString: pyl_TypeOf(object)!.pointee.tp_name))")
        }
        return text
    }

    fileprivate static func strings(_ object: PyObjectPointer, _ what: String) throws -> [String] {
        if pyl_IsUnicode(object) != 0 { throw LoaderError.invalidArgument("\(what) must be a sequence of str, not a str") }
        guard let items = swiftStrings(object) else { throw LoaderError.invalidArgument("\(what) must be a sequence of str") }
        return items
    }

    fileprivate static func loaderArg(_ object: PyObjectPointer, _ module: PyObjectPointer?) throws -> Loader {
        let id = try int(object)
        guard let loader = Loader.registry.loader(id: id) else {
            throw LoaderError.closed(loader: Loader.registry.closedName(id: id) ?? "#\(id)")
        }
        return loader
    }

    fileprivate static func idObject(_ loader: Loader) throws -> PyObjectPointer {
        try loader.id.makePythonReference().pointer
    }

    /// A loader's settings as a dict keyed by name (what `Loader`'s properties in
    /// `pyloader.py` read): name, parent (an id or None), children (ids), paths,
    /// delegation, shared, local, extensions.
    fileprivate static func info(_ loader: Loader) throws -> PyObjectPointer? {
        let items: [(String, PyObjectPointer?)] = [
            ("name", makePythonString(loader.name)),
            ("parent", try loader.parent.map { try idObject($0) } ?? Py_NewRef(pyl_None())),
            ("children", try loader.children.map(\.id).makePythonReference().pointer),
            ("paths", makePythonStringTuple(loader.paths)),
            ("delegation", makePythonString(loader.delegation.rawValue)),
            ("shared", makePythonStringTuple(loader.shared)),
            ("local", makePythonStringTuple(loader.local)),
            ("extensions", makePythonString(loader.extensions.rawValue)),
        ]
        defer { items.forEach { Py_DecRef($0.1) } }
        guard !items.contains(where: { $0.1 == nil }), let dict = PyDict_New() else { return nil }
        for (key, value) in items {
            if PyDict_SetItemString(dict, key, value) != 0 {
                Py_DecRef(dict)
                return nil
            }
        }
        return dict
    }

    /// A loader's name, also once it is closed.
    fileprivate static func name(_ object: PyObjectPointer) throws -> PyObjectPointer? {
        let id = try int(object)
        return makePythonString(Loader.registry.loader(id: id)?.name ?? Loader.registry.closedName(id: id) ?? "#\(id)")
    }

    fileprivate static func closed(_ object: PyObjectPointer) throws -> PyObjectPointer? {
        Py_NewRef(Loader.registry.loader(id: try int(object)) == nil ? pyl_True() : pyl_False())
    }
}

/// Sets the Python exception that stands for a Swift error in the current thread
/// state: `LoaderError.closed` → `pyloader.LoaderClosedError` (looked up on `module`, the
/// `_pyloader` of the caller's interpreter, when given; else `ImportError`), bad arguments → `ValueError`,
/// other lifecycle errors → `RuntimeError`, a `PythonError` → its own exception object.
/// PRECONDITION: the GIL is held.
func setPythonException(for error: Error, module: PyObjectPointer? = nil) {
    assertHoldingGIL()
    switch error {
    case let error as LoaderError:
        var type = pyl_ExcRuntimeError()
        switch error {
        case .closed:
            if let module, let closedType = PyObject_GetAttrString(module, "LoaderClosedError") {
                PyErr_SetString(closedType, error.description)
                Py_DecRef(closedType)
                return
            }
            PyErr_Clear()
            type = pyl_ExcImportError()
        case .invalidName, .duplicateName, .invalidPath, .invalidArgument:
            type = pyl_ExcValueError()
        default:
            break
        }
        PyErr_SetString(type, error.description)
    case let error as PythonError:
        // The exception object itself only where the caller runs under the same GIL.
        if let exception = error.exception, let pointer = exception.pointer,
           exception.loader.interpreter == pyl_CurrentThreadState()?.pointee.interp
            || (!exception.loader.ownsGIL && ThreadRecord.current.ownGILDepth == 0) {
            PyErr_SetObject(UnsafeMutableRawPointer(pyl_TypeOf(pointer)).assumingMemoryBound(to: PyObject.self), pointer)
        } else if let builtins = PyEval_GetBuiltins(), let type = PyDict_GetItemString(builtins, error.typeName),
                  pyl_IsType(type) != 0, PyObject_IsSubclass(type, pyl_ExcBaseException()) == 1 {
            // From another GIL (OwnGIL.swift, rule 2): the same builtin type, the same message.
            PyErr_SetString(type, error.message)
        } else {
            PyErr_Clear()
            PyErr_SetString(pyl_ExcRuntimeError(), error.description)
        }
    case is PendingPythonException:
        if PyErr_Occurred() == nil {
            PyErr_SetString(pyl_ExcSystemError(), "PyLoader lost a pending exception")
        }
    default:
        PyErr_SetString(pyl_ExcRuntimeError(), String(describing: error))
    }
}
