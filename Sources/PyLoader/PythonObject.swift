import CPython
import CPyLoader

/// A handle to a Python object that owns one reference and remembers its loader.
///
/// In the manner of PythonKit: members by `@dynamicMemberLookup`, calls by
/// `@dynamicCallable`, conversions to and from Swift values. Unlike PythonKit,
/// everything that can fail throws instead of trapping, and every use enters the
/// handle's loader (taking the GIL and swapping the thread state as needed), so a
/// handle may be used and released on any thread.
///
/// Lifetime rules:
/// - A handle never outlives its loader's interpreter: `close()` releases the
///   loader's live handles first, and any later use throws `LoaderError.closed`.
/// - Releasing the last Swift reference decrements the Python reference count in
///   the handle's loader: at once on a thread that is inside the loader (its GIL held, its
///   thread state current); else, without taking the GIL, when a thread next enters that
///   loader from outside every loader, or at its `close()`.
///
/// `Sendable` because of the second sentence above: the handle's reference is read and
/// written only under the GIL of the handle's loader, which every use takes first (checked
/// in debug builds by `assertHoldingGIL`), and a drop without that GIL only hands its slot
/// to the loader (HandleTable.swift), so a handle may cross threads and tasks. The
/// compiler cannot see a lock it does not manage, hence `@unchecked`.
@dynamicMemberLookup
@dynamicCallable
public final class PythonObject: @unchecked Sendable {
    /// The loader whose interpreter this handle's reference is counted in.
    public let loader: Loader
    /// The owned reference, in the loader's table of handles (HandleTable.swift).
    private let slot: HandleTable.SlotPointer

    /// The owned reference; nil once released by the loader's `close()`.
    /// PRECONDITION: the GIL is held.
    var pointer: PyObjectPointer? {
        slot.pointee.state == .live ? slot.pointee.reference : nil
    }

    /// Takes ownership of a new reference (CPython's term: the caller's reference
    /// is transferred to the handle). Runs no Python code. PRECONDITION: the GIL is held.
    init(newReference pointer: PyObjectPointer, loader: Loader) {
        assertHoldingGIL()
        self.loader = loader
        self.slot = loader.handles.insert(pointer)
    }

    /// Adds a reference to a borrowed one. PRECONDITION: as `init(newReference:loader:)`.
    convenience init(borrowedReference pointer: PyObjectPointer, loader: Loader) {
        assertHoldingGIL()
        Py_IncRef(pointer)
        self.init(newReference: pointer, loader: loader)
    }

    /// Releases the reference at once when this thread is inside the loader (its GIL held,
    /// its thread state current); otherwise hands it to the loader, which releases it when
    /// a handle is next made there or when it closes: no GIL is taken for a drop.
    deinit {
        // A thread with no record yet holds no GIL through PyLoader (and making one would
        // make a thread state, which must not happen after CPython finalized).
        guard let thread = ThreadRecord.existing else {
            loader.handles.deferRemoval(slot)
            return
        }
        let holdsLoadersGIL = loader.ownsGIL ? thread.ownGILDepth > 0 : thread.gilDepth > 0 && thread.ownGILDepth == 0
        if holdsLoadersGIL, let tstate = pyl_CurrentThreadState(), tstate.pointee.interp == loader.interpreter {
            Py_DecRef(loader.handles.remove(slot))
        } else {
            loader.handles.deferRemoval(slot)
        }
    }

    /// The live pointer. PRECONDITION: the GIL is held.
    func livePointer() throws -> PyObjectPointer {
        assertHoldingGIL()
        guard let pointer else { throw LoaderError.closed(loader: loader.name) }
        return pointer
    }

    /// Runs `body` with the loader entered and the live pointer.
    @inline(__always)
    func withPointer<R>(_ body: (PyObjectPointer) throws -> R) throws -> R {
        try loader.withActivated { try body(try livePointer()) }
    }

    /// Wraps a new reference produced while this handle's loader is active, or
    /// throws the pending Python exception.
    @inline(__always)
    func wrapResult(_ result: PyObjectPointer?) throws -> PythonObject {
        guard let result else { throw PythonError.fetch(in: loader) }
        return PythonObject(newReference: result, loader: loader)
    }

    // MARK: Attributes, items, calls

    /// `getattr(self, name)`.
    public subscript(dynamicMember name: String) -> PythonObject {
        get throws { try attribute(name) }
    }

    /// `getattr(self, name)`.
    public func attribute(_ name: String) throws -> PythonObject {
        try withPointer { object in try wrapResult(PyObject_GetAttrString(object, name)) }
    }

    /// `setattr(self, name, value)`.
    public func setAttribute(_ name: String, _ value: any PythonConvertible) throws {
        try withPointer { object in
            let converted = try value.makePythonReference().pointer
            defer { Py_DecRef(converted) }
            guard PyObject_SetAttrString(object, name, converted) == 0 else { throw PythonError.fetch(in: loader) }
        }
    }

    /// `hasattr(self, name)`.
    public func hasAttribute(_ name: String) throws -> Bool {
        try withPointer { PyObject_HasAttrString($0, name) != 0 }
    }

    /// `self[key]`.
    public subscript(key: any PythonConvertible) -> PythonObject {
        get throws {
            try withPointer { object in
                let converted = try key.makePythonReference().pointer
                defer { Py_DecRef(converted) }
                return try wrapResult(PyObject_GetItem(object, converted))
            }
        }
    }

    /// `self[key] = value`.
    public func setItem(_ key: any PythonConvertible, _ value: any PythonConvertible) throws {
        try withPointer { object in
            let convertedKey = try key.makePythonReference().pointer
            defer { Py_DecRef(convertedKey) }
            let convertedValue = try value.makePythonReference().pointer
            defer { Py_DecRef(convertedValue) }
            guard PyObject_SetItem(object, convertedKey, convertedValue) == 0 else { throw PythonError.fetch(in: loader) }
        }
    }

    /// `self(*arguments)`.
    @discardableResult
    public func dynamicallyCall(withArguments arguments: [any PythonConvertible]) throws -> PythonObject {
        try call(arguments, keywords: [])
    }

    /// `self(*positional, **keywords)`; an empty label passes an argument by position.
    @discardableResult
    public func dynamicallyCall(withKeywordArguments arguments: KeyValuePairs<String, any PythonConvertible>) throws -> PythonObject {
        var positional: [any PythonConvertible] = []
        var keywords: [(String, any PythonConvertible)] = []
        for (label, value) in arguments {
            if label.isEmpty {
                guard keywords.isEmpty else {
                    throw LoaderError.invalidArgument("positional argument follows keyword argument")
                }
                positional.append(value)
            } else {
                keywords.append((label, value))
            }
        }
        return try call(positional, keywords: keywords)
    }

    /// `self(*positional, **keywords)`.
    @discardableResult
    public func call(_ positional: [any PythonConvertible] = [], keywords: [(String, any PythonConvertible)] = []) throws -> PythonObject {
        try withPointer { callable in
            var references: [PyObjectPointer?] = []
            references.reserveCapacity(positional.count + keywords.count)
            defer { references.forEach { Py_DecRef($0) } }
            for argument in positional { references.append(try argument.makePythonReference().pointer) }
            for (_, argument) in keywords { references.append(try argument.makePythonReference().pointer) }
            var names: PyObjectPointer?
            if !keywords.isEmpty {
                guard let tuple = makePythonStringTuple(keywords.map(\.0)) else { throw PythonError.fetch(in: loader) }
                names = tuple
            }
            defer { Py_DecRef(names) }
            let result = references.withUnsafeBufferPointer { buffer in
                PyObject_Vectorcall(callable, buffer.baseAddress, positional.count, names)
            }
            return try wrapResult(result)
        }
    }

    // MARK: Inspection

    /// `self is other` (the same Python object, whatever the handles' loaders).
    public func isIdentical(to other: PythonObject) throws -> Bool {
        try withPointer { mine in try other.withPointer { $0 == mine } }
    }

    /// `self is None`.
    public var isNone: Bool {
        (try? withPointer { $0 == pyl_None() }) ?? false
    }

    /// `bool(self)`.
    public func isTruthy() throws -> Bool {
        try withPointer { object in
            let truth = PyObject_IsTrue(object)
            guard truth >= 0 else { throw PythonError.fetch(in: loader) }
            return truth == 1
        }
    }

    /// `type(self).__name__`.
    public var typeName: String {
        (try? withPointer { String(cString: pyl_TypeOf($0)!.pointee.tp_name) }) ?? "<released>"
    }

    /// `repr(self)`.
    public func repr() throws -> String {
        try withPointer { object in
            guard let text = PyObject_Repr(object) else { throw PythonError.fetch(in: loader) }
            defer { Py_DecRef(text) }
            return String(pythonString: text) ?? ""
        }
    }
}

extension PythonObject: CustomStringConvertible {
    /// `str(self)`; a placeholder when the handle is released or `str()` fails.
    public var description: String {
        (try? withPointer { pythonStr($0) }) ?? "<released PythonObject of loader '\(loader.name)'>"
    }
}
