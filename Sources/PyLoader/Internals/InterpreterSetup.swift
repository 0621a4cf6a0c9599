#if canImport(Glibc)
import Glibc
#endif
import CPython
import CPyLoader

/// What every loader's interpreter gets when it is made, and what it goes through
/// when it is closed. PRECONDITION for all: the GIL is held and the loader's
/// thread state is current.
enum InterpreterSetup {
    /// `sys.path` = standard library + the loader's paths; the import hook; the
    /// extension-module path hook (every loader, the root included: any loader may be
    /// the first or a later one to load an extension file); in children, the
    /// delegating finder first on `sys.meta_path`; then `.pth` files processed.
    static func configure(_ loader: Loader, systemSitePackages: Bool) throws {
        let sysPath = Runtime.standardLibraryPaths + loader.paths
        guard let list = try sysPath.makePythonReference().pointer as PyObjectPointer?,
              PySys_SetObject("path", list) == 0 else {
            throw PythonError.fetch(in: loader)
        }
        Py_DecRef(list)

        loader.builtinsDictionary = PyEval_GetBuiltins()
        try ImportHook.install(in: loader)
        try ExtensionModules.install(in: loader)
        if loader.parent != nil {
            try Resolver.installFinder(in: loader)
        }
        for name in PythonVersion.modulesEveryInterpreterImports {
            guard let module = Resolver.importInCurrentInterpreter(name) else { throw PythonError.fetch(in: loader) }
            Py_DecRef(module)
        }

        // `.pth` files last: the imports their `import` lines run then follow the
        // loader's delegation and extension rules like any other import. The
        // loader's own paths always have theirs processed, the system's
        // site-packages (root only, when asked) as well.
        let siteDirectories = loader.paths.filter(holdsPthFiles)
        if !siteDirectories.isEmpty || systemSitePackages {
            try callSetup("add_site_dirs", siteDirectories, systemSitePackages, in: loader)
        }
    }

    /// Runs `configure` for a new loader that shares the root's GIL, so that objects can
    /// pass between it and the other loaders as on 3.11: on 3.12+ the loader takes its
    /// class versions from a range of its own first, and the root's dictionaries of static
    /// types once it is set up (why: the "Objects shared between interpreters" block of
    /// CPyLoader.c). PRECONDITION: the GIL is held and the loader's thread state is current.
    static func shareObjectsWithOtherInterpreters(_ loader: Loader, configure: () throws -> Void) throws {
        assertHoldingGIL()
        guard pyl_GiveTypeVersionRange(loader.interpreter, UInt32(truncatingIfNeeded: loader.id)) == 0 else {
            throw PythonError.fetch(in: loader)
        }
        try configure()
        guard let replaced = pyl_ShareStaticTypeDictionaries(loader.interpreter, Runtime.mainInterpreter) else {
            throw LoaderError.runtime("out of memory while setting up '\(loader.name)'")
        }
        loader.replacedTypeDictionaries = replaced
    }

    /// Calls `function` of `interpreter_setup.py` with `arguments` in the current
    /// interpreter. Its imports are PyLoader's own: the thread's context loader does not
    /// apply to them. The file is compiled on each call: these steps are rare (a loader
    /// with `.pth` files, a close with threads left), and own-GIL loaders call it too, so
    /// a cache would need a lock.
    static func callSetup(_ function: String, _ arguments: any PythonConvertible..., in loader: Loader) throws {
        try ContextLoaders.suspended {
            guard let namespace = EmbeddedPython.interpreterSetup.runInScratchNamespace() else {
                throw PythonError.fetch(in: loader)
            }
            defer { Py_DecRef(namespace) }
            guard let callable = PyDict_GetItemString(namespace, function) else {
                throw LoaderError.runtime("interpreter_setup.py has no function \(function)")
            }
            var references: [PyObjectPointer?] = []
            defer { references.forEach { Py_DecRef($0) } }
            for argument in arguments { references.append(try argument.makePythonReference().pointer) }
            let result = references.withUnsafeBufferPointer { PyObject_Vectorcall(callable, $0.baseAddress, $0.count, nil) }
            guard let result else { throw PythonError.fetch(in: loader) }
            Py_DecRef(result)
        }
    }

    /// Whether a folder directly holds a `.pth` file.
    static func holdsPthFiles(_ folder: String) -> Bool {
        directoryEntries(folder).contains { $0.hasSuffix(".pth") }
    }
}

/// A Python literal for a list of strings (repr-style, escaping quotes and backslashes).
func pythonLiteral(_ strings: [String]) -> String {
    "[" + strings.map { pythonLiteral($0) }.joined(separator: ", ") + "]"
}

/// A Python string literal.
func pythonLiteral(_ string: String) -> String {
    var escaped = ""
    for scalar in string.unicodeScalars {
        switch scalar {
        case "\\": escaped += "\\\\"
        case "\"": escaped += "\\\""
        case "\n": escaped += "\\n"
        case "\r": escaped += "\\r"
        case "\t": escaped += "\\t"
        default:
            if scalar.value < 0x20 || scalar.value == 0x7F {
                escaped += "\\x" + String(scalar.value, radix: 16).leftPadded(to: 2)
            } else {
                escaped.unicodeScalars.append(scalar)
            }
        }
    }
    return "\"" + escaped + "\""
}

extension String {
    func leftPadded(to width: Int, with pad: Character = "0") -> String {
        count >= width ? self : String(repeating: pad, count: width - count) + self
    }
}
