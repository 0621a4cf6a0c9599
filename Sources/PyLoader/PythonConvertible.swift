import CPython
import CPyLoader

/// A Swift value that can become a Python object.
///
/// A type of your own conforms by building on the conversions that exist:
/// `func makePythonReference() throws -> PythonReference { try [name, String(age)].makePythonReference() }`,
/// or by handing over a `PythonObject` it made (`try object.makePythonReference().pointer`).
public protocol PythonConvertible {
    /// A new reference to the Python form of this value.
    /// PRECONDITION: the GIL is held (any loader's thread state current).
    func makePythonReference() throws -> PythonReference
}

/// A new (owned) reference to a Python object, as a `PythonConvertible` value hands it to
/// PyLoader. Opaque outside the package: CPython's pointer types stay out of the public API.
public struct PythonReference {
    /// The owned reference, which the receiver takes over.
    package let pointer: PyObjectPointer

    package init(_ pointer: PyObjectPointer) { self.pointer = pointer }
}

/// A Swift value that can be made from a Python object.
public protocol ConvertibleFromPython {
    /// Converts, or throws `PythonError` (`TypeError`, `OverflowError`, ...) when the object does not fit.
    init(python object: PythonObject) throws
}

/// Python's `None`, for argument lists: `f(1, PythonNone())`.
public struct PythonNone: PythonConvertible, Sendable {
    public init() {}
    public func makePythonReference() throws -> PythonReference { PythonReference(try newReference()) }

    func newReference() throws -> PyObjectPointer { Py_NewRef(pyl_None()) }
}

extension PythonObject: PythonConvertible {
    public func makePythonReference() throws -> PythonReference { PythonReference(try newReference()) }

    func newReference() throws -> PyObjectPointer {
        // Objects of a live interpreter may be used from another of the same GIL; across
        // GILs (an own-GIL loader on either side) the value is copied (OwnGIL.swift).
        guard let pointer else { throw LoaderError.closed(loader: loader.name) }
        if pyl_CurrentThreadState()?.pointee.interp != loader.interpreter,
           loader.ownsGIL || ThreadRecord.current.ownGILDepth > 0 {
            return try OwnGIL.copy(pointer, from: loader)
        }
        return Py_NewRef(pointer)
    }
}

/// Throws the pending exception of the current thread state, attributed to `loader`,
/// when `result` is nil. PRECONDITION: activated in `loader`.
@inline(__always)
private func checked(_ result: PyObjectPointer?, _ loader: Loader) throws -> PyObjectPointer {
    assertHoldingGIL()
    guard let result else { throw PythonError.fetch(in: loader) }
    return result
}

/// Raises a Python `TypeError` in the handle's loader and throws it as `PythonError`.
private func typeError(_ object: PythonObject, expected: String) -> Error {
    (try? object.withPointer { pointer -> Error in
        PyErr_SetString(pyl_ExcTypeError(), "expected \(expected), got \(String(cString: pyl_TypeOf(pointer)!.pointee.tp_name))")
        return PythonError.fetch(in: object.loader)
    }) ?? LoaderError.closed(loader: object.loader.name)
}

private func noMemory() -> Error { LoaderError.runtime("out of memory converting a value to Python") }

// MARK: Int

extension Int: PythonConvertible, ConvertibleFromPython {
    public func makePythonReference() throws -> PythonReference { PythonReference(try newReference()) }

    func newReference() throws -> PyObjectPointer {
        guard let object = PyLong_FromLong(self) else { PyErr_Clear(); throw noMemory() }
        return object
    }

    public init(python object: PythonObject) throws {
        self = try object.withPointer { pointer in
            guard pyl_IsLong(pointer) != 0, pyl_IsBool(pointer) == 0 else { throw typeError(object, expected: "int") }
            let value = PyLong_AsLong(pointer)
            if value == -1, PyErr_Occurred() != nil { throw PythonError.fetch(in: object.loader) }
            return value
        }
    }

    /// `int(object)` when it is a Python `int`; nil otherwise.
    public init?(_ object: PythonObject) { try? self.init(python: object) }
}

// MARK: Double

extension Double: PythonConvertible, ConvertibleFromPython {
    public func makePythonReference() throws -> PythonReference { PythonReference(try newReference()) }

    func newReference() throws -> PyObjectPointer {
        guard let object = PyFloat_FromDouble(self) else { PyErr_Clear(); throw noMemory() }
        return object
    }

    /// Accepts a Python `float` or `int`.
    public init(python object: PythonObject) throws {
        self = try object.withPointer { pointer in
            guard pyl_IsFloat(pointer) != 0 || pyl_IsLong(pointer) != 0 else { throw typeError(object, expected: "float") }
            let value = PyFloat_AsDouble(pointer)
            if value == -1, PyErr_Occurred() != nil { throw PythonError.fetch(in: object.loader) }
            return value
        }
    }

    public init?(_ object: PythonObject) { try? self.init(python: object) }
}

// MARK: Bool

extension Bool: PythonConvertible, ConvertibleFromPython {
    public func makePythonReference() throws -> PythonReference { PythonReference(try newReference()) }

    func newReference() throws -> PyObjectPointer { Py_NewRef(self ? pyl_True() : pyl_False()) }

    /// Accepts `True` and `False` only (use `PythonObject.isTruthy()` for `bool(x)`).
    public init(python object: PythonObject) throws {
        self = try object.withPointer { pointer in
            guard pyl_IsBool(pointer) != 0 else { throw typeError(object, expected: "bool") }
            return pointer == pyl_True()
        }
    }

    public init?(_ object: PythonObject) { try? self.init(python: object) }
}

// MARK: String

extension String: PythonConvertible, ConvertibleFromPython {
    public func makePythonReference() throws -> PythonReference { PythonReference(try newReference()) }

    func newReference() throws -> PyObjectPointer {
        guard let object = makePythonString(self) else { PyErr_Clear(); throw noMemory() }
        return object
    }

    /// Accepts a Python `str` only (use `description` for `str(x)`).
    public init(python object: PythonObject) throws {
        self = try object.withPointer { pointer in
            guard let text = String(pythonString: pointer) else { throw typeError(object, expected: "str") }
            return text
        }
    }

    public init?(_ object: PythonObject) { try? self.init(python: object) }
}

// MARK: Optional

extension Optional: PythonConvertible where Wrapped: PythonConvertible {
    /// `nil` becomes `None`.
    public func makePythonReference() throws -> PythonReference { PythonReference(try newReference()) }

    func newReference() throws -> PyObjectPointer {
        switch self {
        case .none: return Py_NewRef(pyl_None())
        case .some(let value): return try value.makePythonReference().pointer
        }
    }
}

extension Optional: ConvertibleFromPython where Wrapped: ConvertibleFromPython {
    /// `None` becomes `nil`.
    public init(python object: PythonObject) throws {
        self = object.isNone ? .none : .some(try Wrapped(python: object))
    }
}

// MARK: Array

extension Array: PythonConvertible where Element: PythonConvertible {
    /// Becomes a Python `list`.
    public func makePythonReference() throws -> PythonReference { PythonReference(try newReference()) }

    func newReference() throws -> PyObjectPointer {
        guard let list = PyList_New(count) else { PyErr_Clear(); throw noMemory() }
        for (index, element) in enumerated() {
            let item: PyObjectPointer
            do { item = try element.makePythonReference().pointer } catch { Py_DecRef(list); throw error }
            PyList_SetItem(list, index, item)   // steals `item`
        }
        return list
    }
}

extension Array: ConvertibleFromPython where Element: ConvertibleFromPython {
    /// Accepts a Python `list` or `tuple`.
    public init(python object: PythonObject) throws {
        let items: [PythonObject] = try object.withPointer { pointer in
            guard pyl_IsList(pointer) != 0 || pyl_IsTuple(pointer) != 0 else {
                throw typeError(object, expected: "list or tuple")
            }
            let count = PySequence_Size(pointer)
            return try (0..<Swift.max(count, 0)).map { index in
                try object.wrapResult(PySequence_GetItem(pointer, index))
            }
        }
        self = try items.map { try Element(python: $0) }
    }
}

// MARK: Dictionary

extension Dictionary: PythonConvertible where Key: PythonConvertible, Value: PythonConvertible {
    /// Becomes a Python `dict`.
    public func makePythonReference() throws -> PythonReference { PythonReference(try newReference()) }

    func newReference() throws -> PyObjectPointer {
        guard let dict = PyDict_New() else { PyErr_Clear(); throw noMemory() }
        do {
            for (key, value) in self {
                let keyObject = try key.makePythonReference().pointer
                defer { Py_DecRef(keyObject) }
                let valueObject = try value.makePythonReference().pointer
                defer { Py_DecRef(valueObject) }
                guard PyDict_SetItem(dict, keyObject, valueObject) == 0 else {
                    let message = "dictionary key is not hashable in Python"
                    PyErr_Clear()
                    throw LoaderError.invalidArgument(message)
                }
            }
        } catch {
            Py_DecRef(dict)
            throw error
        }
        return dict
    }
}

extension Dictionary: ConvertibleFromPython where Key: ConvertibleFromPython, Value: ConvertibleFromPython {
    /// Accepts a Python `dict`.
    public init(python object: PythonObject) throws {
        let pairs: [(PythonObject, PythonObject)] = try object.withPointer { pointer in
            guard pyl_IsDict(pointer) != 0 else { throw typeError(object, expected: "dict") }
            var position = 0
            var key: PyObjectPointer?, value: PyObjectPointer?
            var pairs: [(PythonObject, PythonObject)] = []
            while PyDict_Next(pointer, &position, &key, &value) != 0 {
                pairs.append((PythonObject(borrowedReference: key!, loader: object.loader),
                              PythonObject(borrowedReference: value!, loader: object.loader)))
            }
            return pairs
        }
        var result: [Key: Value] = [:]
        for (key, value) in pairs {
            result[try Key(python: key)] = try Value(python: value)
        }
        self = result
    }
}

extension PythonObject {
    /// Converts to any `ConvertibleFromPython` type: `try object.converted(to: [String: Int].self)`.
    public func converted<T: ConvertibleFromPython>(to type: T.Type = T.self) throws -> T {
        try T(python: self)
    }
}

// MARK: Containers of handles

extension Array where Element == PythonObject {
    /// The items of a Python `list` or `tuple` (or any sequence), as handles in its loader.
    public init(python object: PythonObject) throws {
        self = try object.withPointer { pointer in
            guard let fast = PySequence_Fast(pointer, "expected a sequence") else { throw PythonError.fetch(in: object.loader) }
            defer { Py_DecRef(fast) }
            return try (0..<Swift.max(PySequence_Size(fast), 0)).map { index in
                try object.wrapResult(PySequence_GetItem(fast, index))
            }
        }
    }
}

extension Dictionary where Key == String, Value == PythonObject {
    /// The items of a Python `dict` with `str` keys, values as handles in its loader.
    public init(python object: PythonObject) throws {
        self = try object.withPointer { pointer in
            guard pyl_IsDict(pointer) != 0 else {
                PyErr_SetString(pyl_ExcTypeError(), "expected dict, got \(String(cString: pyl_TypeOf(pointer)!.pointee.tp_name))")
                throw PythonError.fetch(in: object.loader)
            }
            var position = 0
            var key: PyObjectPointer?, value: PyObjectPointer?
            var result: [String: PythonObject] = [:]
            while PyDict_Next(pointer, &position, &key, &value) != 0 {
                guard let text = String(pythonString: key!) else {
                    PyErr_SetString(pyl_ExcTypeError(), "expected str keys")
                    throw PythonError.fetch(in: object.loader)
                }
                result[text] = PythonObject(borrowedReference: value!, loader: object.loader)
            }
            return result
        }
    }
}
