import CPython
import CPyLoader

/// A Python exception raised by code running in a loader, as Swift sees it.
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

    public var description: String {
        message.isEmpty ? "\(typeName) (in loader '\(loader)')" : "\(typeName): \(message) (in loader '\(loader)')"
    }

    /// Takes the pending exception of the current thread state.
    /// PRECONDITION: the GIL is held, `loader`'s thread state is current, an exception is set.
    static func fetch(in loader: Loader) -> PythonError {
        var type: PyObjectPointer?, value: PyObjectPointer?, traceback: PyObjectPointer?
        PyErr_Fetch(&type, &value, &traceback)
        PyErr_NormalizeException(&type, &value, &traceback)
        defer { Py_DecRef(type); Py_DecRef(traceback) }
        guard let value else {
            return PythonError(typeName: "SystemError", message: "error indicator set without an exception",
                               traceback: "", loader: loader.name, exception: nil)
        }
        if let traceback { PyException_SetTraceback(value, traceback) }
        let typeObject = pyl_TypeOf(value)
        let typeName = String(cString: typeObject!.pointee.tp_name).split(separator: ".").last.map(String.init) ?? "Exception"
        let message = pythonStr(value)
        let formatted = formatException(value) ?? "\(typeName): \(message)\n"
        let handle = PythonObject(newReference: value, loader: loader)   // takes `value`
        return PythonError(typeName: typeName, message: message, traceback: formatted,
                           loader: loader.name, exception: handle)
    }

    /// `"".join(traceback.format_exception(value))` in the current interpreter; nil if that fails.
    private static func formatException(_ value: PyObjectPointer) -> String? {
        guard let module = Resolver.importInCurrentInterpreter("traceback") else { PyErr_Clear(); return nil }
        defer { Py_DecRef(module) }
        guard let function = PyObject_GetAttrString(module, "format_exception") else { PyErr_Clear(); return nil }
        defer { Py_DecRef(function) }
        guard let lines = PyObject_CallOneArg(function, value) else { PyErr_Clear(); return nil }
        defer { Py_DecRef(lines) }
        return swiftStrings(lines)?.joined()
    }
}
