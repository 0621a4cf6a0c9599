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
    /// `errors.py`: the exception and warning the core raises, run first in `_pyloader`.
    case errors
    /// `import_system.py`: the delegating finder and the loaders of the import system, run
    /// in the internal `_pyloader` module's namespace after `errors.py`.
    case importSystem
    /// `interpreter_setup.py`: set-up and tear-down steps run in a scratch namespace.
    case interpreterSetup
    /// `console.py`: the interactive console of `pyloader run`.
    case console

    /// The file: its path in the repository and its bytes.
    var file: EmbeddedPythonFile {
        switch self {
        case .pyloaderModule: EmbeddedPythonFile(folder, "pyloader.py", PackageResources.pyloader_py)
        case .errors: EmbeddedPythonFile(folder, "errors.py", PackageResources.errors_py)
        case .importSystem: EmbeddedPythonFile(folder, "import_system.py", PackageResources.import_system_py)
        case .interpreterSetup: EmbeddedPythonFile(folder, "interpreter_setup.py", PackageResources.interpreter_setup_py)
        case .console: EmbeddedPythonFile(folder, "console.py", PackageResources.console_py)
        }
    }

    private var folder: String { "Sources/PyLoader/Python" }

    /// The file compiled in the current interpreter (a new reference), or nil with a Python
    /// exception set. PRECONDITION: the GIL of the current interpreter is held.
    func compile() -> PyObjectPointer? {
        assertHoldingGIL()
        return Py_CompileString(file.source, file.codeName, Py_file_input)
    }

    /// Runs the file in a new scratch namespace of the current interpreter (`__builtins__`
    /// set, `__name__` the file's stem) and returns that namespace (a new reference), or nil
    /// with a Python exception set. PRECONDITION: the GIL of the current interpreter is held.
    func runInScratchNamespace() -> PyObjectPointer? {
        assertHoldingGIL()
        guard let namespace = PyDict_New() else { return nil }
        PyDict_SetItemString(namespace, "__builtins__", PyEval_GetBuiltins())
        if let name = makePythonString(file.moduleName) {
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

/// A `.py` file embedded at build time (`.embedInCode` in Package.swift). `package`: the
/// command-line tool embeds its own Python the same way (`RunnerPython`).
package struct EmbeddedPythonFile {
    /// The folder it lives in, from the repository's root.
    package let folder: String
    /// Its name, `.py` included.
    package let name: String
    /// Its bytes as built.
    package let bytes: [UInt8]

    package init(_ folder: String, _ name: String, _ bytes: [UInt8]) {
        self.folder = folder
        self.name = name
        self.bytes = bytes
    }

    /// The file's text.
    package var source: String { String(decoding: bytes, as: UTF8.self) }

    /// The name tracebacks show: in angle brackets, so that `linecache` does not look for a
    /// file of that name in the user's folders.
    package var codeName: String { "<pyloader: \(folder)/\(name)>" }

    /// The name of a module made from it: `_pyloader_` and the file's stem.
    package var moduleName: String { "_pyloader_" + name.dropLast(3) }
}
