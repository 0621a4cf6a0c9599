import CPython
import CPyLoader

/// PyLoader's own Python code. It lives as `.py` files in `Sources/PyLoader/Python/`,
/// which `Package.swift` embeds into the library at build time (`.embedInCode`), so what
/// runs is the file as written: `.ci/run` lints it, `Tests/Python/` unit-tests its logic,
/// and a traceback through it names the file.
///
/// Swift and Python exchange data by name: Swift calls a function of a file with its
/// arguments, and Python reads a loader's settings by key (`_core_info(id)["paths"]`).
enum EmbeddedPython: CaseIterable {
    /// `pyloader.py`: the public API of the `pyloader` module.
    case pyloaderModule
    /// `import_system.py`: the delegating finder and the loaders of the import system, run
    /// in the `pyloader` module's namespace after `pyloader.py`.
    case importSystem
    /// `interpreter_setup.py`: set-up and tear-down steps run in a scratch namespace.
    case interpreterSetup
    /// `console.py`: the interactive console of `pyloader run`.
    case console

    /// The file's name under `Sources/PyLoader/Python/`.
    var fileName: String {
        switch self {
        case .pyloaderModule: "pyloader.py"
        case .importSystem: "import_system.py"
        case .interpreterSetup: "interpreter_setup.py"
        case .console: "console.py"
        }
    }

    /// The name tracebacks show: in angle brackets, so that `linecache` does not look
    /// for a file of that name in the user's folders.
    var codeName: String { "<pyloader: Sources/PyLoader/Python/\(fileName)>" }

    /// The file's text.
    var source: String {
        switch self {
        case .pyloaderModule: String(decoding: PackageResources.pyloader_py, as: UTF8.self)
        case .importSystem: String(decoding: PackageResources.import_system_py, as: UTF8.self)
        case .interpreterSetup: String(decoding: PackageResources.interpreter_setup_py, as: UTF8.self)
        case .console: String(decoding: PackageResources.console_py, as: UTF8.self)
        }
    }

    /// The file compiled in the current interpreter (a new reference), or nil with a Python
    /// exception set. PRECONDITION: the GIL of the current interpreter is held.
    func compile() -> PyObjectPointer? {
        assertHoldingGIL()
        return Py_CompileString(source, codeName, Py_file_input)
    }

    /// Runs the file in a new scratch namespace of the current interpreter (`__builtins__`
    /// set, `__name__` the file's stem) and returns that namespace (a new reference), or nil
    /// with a Python exception set. PRECONDITION: the GIL of the current interpreter is held.
    func runInScratchNamespace() -> PyObjectPointer? {
        assertHoldingGIL()
        guard let namespace = PyDict_New() else { return nil }
        PyDict_SetItemString(namespace, "__builtins__", PyEval_GetBuiltins())
        if let name = makePythonString("_pyloader_" + fileName.dropLast(3)) {
            PyDict_SetItemString(namespace, "__name__", name)
            Py_DecRef(name)
        }
        guard let code = compile() else {
            Py_DecRef(namespace)
            return nil
        }
        defer { Py_DecRef(code) }
        guard let result = PyEval_EvalCode(code, namespace, namespace) else {
            Py_DecRef(namespace)
            return nil
        }
        Py_DecRef(result)
        return namespace
    }
}
