import CPython
import CPyLoader

/// A Python exception raised by code running in a loader, as Swift sees it. `Sendable`
/// (as every `Error`): its fields are values, and `exception` is a `PythonObject`, which
/// may cross threads.
public struct PythonError: Error, CustomStringConvertible {
    /// The exception's class name, e.g. `"ValueError"` (qualified for nested classes).
    public let typeName: String
    /// `str(exception)`.
    public let message: String
    /// The formatted traceback, as `traceback.format_exception` prints it.
    public let traceback: String
    /// The name of the loader whose code raised it.
    public let loader: String
    /// The exception object itself (a handle in `loader`); nil once that loader is closed
    /// or when the exception could not be kept.
    public let exception: PythonObject?
    /// The exception's class and its bases in method resolution order, each as
    /// `module.qualname` (`object` left out): `ModuleNotFoundError` gives
    /// `["builtins.ModuleNotFoundError", "builtins.ImportError", "builtins.Exception",
    /// "builtins.BaseException"]`.
    public var typeHierarchy: [String] { classes.map { $0.module + "." + $0.qualname } }

    /// The classes of `typeHierarchy`, their module and qualified name apart.
    let classes: [(module: String, qualname: String)]

    /// Whether the exception is an instance of the class named `typeName` or of one of its
    /// subclasses, as Python's `isinstance` answers (`except ImportError` also catches a
    /// `ModuleNotFoundError`). `typeName` is a class's `module.qualname`
    /// (`"json.decoder.JSONDecodeError"`, `"builtins.ImportError"`) or its bare qualified
    /// name, which matches that class in any module (`"ImportError"`, `"JSONDecodeError"`).
    public func isInstance(of typeName: String) -> Bool {
        classes.contains { $0.qualname == typeName || $0.module + "." + $0.qualname == typeName }
    }

    public var description: String {
        message.isEmpty ? "\(typeName) (in loader '\(loader)')" : "\(typeName): \(message) (in loader '\(loader)')"
    }

    /// Takes the pending exception of the current thread state.
    /// PRECONDITION: the GIL is held, `loader`'s thread state is current, an exception is set.
    static func fetch(in loader: Loader) -> PythonError {
        assertHoldingGIL()
        var type: PyObjectPointer?, value: PyObjectPointer?, traceback: PyObjectPointer?
        PyErr_Fetch(&type, &value, &traceback)
        PyErr_NormalizeException(&type, &value, &traceback)
        defer { Py_DecRef(type); Py_DecRef(traceback) }
        guard let value else {
            return PythonError(typeName: "SystemError", message: "error indicator set without an exception",
                               traceback: "", loader: loader.name, exception: nil,
                               classes: [("builtins", "SystemError"), ("builtins", "Exception"), ("builtins", "BaseException")])
        }
        if let traceback { PyException_SetTraceback(value, traceback) }
        let typeObject = pyl_TypeOf(value)
        let typeName = String(cString: typeObject!.pointee.tp_name).split(separator: ".").last.map(String.init) ?? "Exception"
        let message = pythonStr(value)
        let formatted = formatException(value) ?? "\(typeName): \(message)\n"
        let handle = PythonObject(newReference: value, loader: loader)   // takes `value`
        let classes = classHierarchy(of: UnsafeMutableRawPointer(typeObject!).assumingMemoryBound(to: PyObject.self))
        return PythonError(typeName: typeName, message: message, traceback: formatted,
                           loader: loader.name, exception: handle, classes: classes)
    }

    /// `(cls.__module__, cls.__qualname__)` for each class of `type.__mro__` but `object`.
    private static func classHierarchy(of type: PyObjectPointer) -> [(module: String, qualname: String)] {
        guard let mro = PyObject_GetAttrString(type, "__mro__") else { PyErr_Clear(); return [] }
        defer { Py_DecRef(mro) }
        var classes: [(module: String, qualname: String)] = []
        for index in 0..<max(PyTuple_Size(mro) - 1, 0) {   // the last is `object`
            guard let cls = PyTuple_GetItem(mro, index) else { break }
            let module = PyObject_GetAttrString(cls, "__module__"), qualname = PyObject_GetAttrString(cls, "__qualname__")
            defer { Py_DecRef(module); Py_DecRef(qualname) }
            guard let module, let qualname, let moduleName = String(pythonString: module),
                  let name = String(pythonString: qualname) else {
                PyErr_Clear()
                continue
            }
            classes.append((moduleName, name))
        }
        return classes
    }

    /// `"".join(traceback.format_exception(value))` in the current interpreter; nil if that fails.
    private static func formatException(_ value: PyObjectPointer) -> String? {
        guard let module = Resolver.importInCurrentInterpreter("traceback") else { pyl_ClearErrorKeepingInterrupt(); return nil }
        defer { Py_DecRef(module) }
        guard let function = PyObject_GetAttrString(module, "format_exception") else { PyErr_Clear(); return nil }
        defer { Py_DecRef(function) }
        guard let lines = PyObject_CallOneArg(function, value) else { pyl_ClearErrorKeepingInterrupt(); return nil }
        defer { Py_DecRef(lines) }
        return swiftStrings(lines)?.joined()
    }
}
