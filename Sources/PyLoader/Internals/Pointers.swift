import CPython
import CPyLoader

/// CPython's object pointer, as Swift imports it.
package typealias PyObjectPointer = UnsafeMutablePointer<PyObject>
/// CPython's thread state pointer.
typealias ThreadStatePointer = UnsafeMutablePointer<PyThreadState>
/// `PyInterpreterState` is opaque in the public headers.
typealias InterpreterPointer = OpaquePointer

extension String {
    /// The UTF-8 text of a Python `str`, or nil (with no exception left set) for anything else.
    /// PRECONDITION: the GIL is held.
    init?(pythonString object: PyObjectPointer) {
        guard pyl_IsUnicode(object) != 0 else { return nil }
        var size = 0
        guard let utf8 = PyUnicode_AsUTF8AndSize(object, &size) else {
            PyErr_Clear()
            return nil
        }
        self = utf8.withMemoryRebound(to: UInt8.self, capacity: size) {
            String(decoding: UnsafeBufferPointer(start: $0, count: size), as: UTF8.self)
        }
    }
}

/// `str(object)` as Swift text; a placeholder when `str()` itself fails.
/// PRECONDITION: the GIL is held.
func pythonStr(_ object: PyObjectPointer) -> String {
    assertHoldingGIL()
    guard let text = PyObject_Str(object) else {
        pyl_ClearErrorKeepingInterrupt()   // a __str__ is Python code
        return "<unprintable \(String(cString: pyl_TypeOf(object)!.pointee.tp_name))>"
    }
    defer { Py_DecRef(text) }
    return String(pythonString: text) ?? ""
}

/// A new Python `str`. PRECONDITION: the GIL is held.
func makePythonString(_ text: String) -> PyObjectPointer? {
    assertHoldingGIL()
    var text = text
    return text.withUTF8 { buffer in
        buffer.withMemoryRebound(to: CChar.self) {
            PyUnicode_FromStringAndSize($0.baseAddress, $0.count)
        }
    }
}

/// A new Python tuple of `str`. PRECONDITION: the GIL is held.
func makePythonStringTuple(_ items: [String]) -> PyObjectPointer? {
    assertHoldingGIL()
    guard let tuple = PyTuple_New(items.count) else { return nil }
    for (index, item) in items.enumerated() {
        guard let text = makePythonString(item) else {
            Py_DecRef(tuple)
            return nil
        }
        PyTuple_SetItem(tuple, index, text)   // steals `text`
    }
    return tuple
}

/// The Swift strings of a Python list or tuple of `str`; nil when it is not one.
/// PRECONDITION: the GIL is held.
func swiftStrings(_ sequence: PyObjectPointer) -> [String]? {
    assertHoldingGIL()
    guard let fast = PySequence_Fast(sequence, "expected a sequence of str") else {
        PyErr_Clear()
        return nil
    }
    defer { Py_DecRef(fast) }
    let count = PySequence_Size(fast)
    var result: [String] = []
    result.reserveCapacity(max(count, 0))
    for index in 0..<max(count, 0) {
        guard let item = PySequence_GetItem(fast, index) else {
            PyErr_Clear()
            return nil
        }
        defer { Py_DecRef(item) }
        guard let text = String(pythonString: item) else { return nil }
        result.append(text)
    }
    return result
}

extension String {
    /// The text of a C buffer up to its first NUL (UTF-8, invalid bytes repaired).
    /// `package`: the command-line tool and the benchmarks read C buffers too.
    package init(nulTerminated buffer: [CChar]) {
        self.init(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}
