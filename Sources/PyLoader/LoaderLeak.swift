import CPython
import CPyLoader

/// A reference that outlives a closing loader, as Tomcat reports a web application that
/// leaves a thread or a ThreadLocal behind: a module of a loader that stays open holds an
/// object of the closing loader (its module, class, function or an instance of its class).
/// Such an object keeps working only as far as it can without its interpreter (its
/// functions' globals are cleared), and its memory is not reclaimed.
///
/// `Loader.close()` returns the list, logs each one through `ImportTrace.logger` at warning
/// level, and Python's `Loader.close()` issues a `pyloader.LoaderLeakWarning` (a
/// `ResourceWarning`, so shown under `-X dev` or `-W default`) per leak.
public struct LoaderLeak: Sendable, Equatable, CustomStringConvertible {
    /// The loader whose object is held (the closing one or one of its descendants).
    public let closingLoader: String
    /// The loader that stays open and holds it.
    public let holderLoader: String
    /// The holder's module, by its `sys.modules` name.
    public let holderModule: String
    /// Where in that module: a global's name, then `[index]` or `[key]` one level into a
    /// list, tuple, set or dict (`registry[0]`, `handlers['x']`).
    public let path: String
    /// What is held: `module alpha`, `class alpha.Plugin`, `function alpha.make`,
    /// `alpha.Plugin instance`.
    public let object: String

    public var description: String {
        "\(holderModule).\(path) in loader '\(holderLoader)' holds \(object) of closing loader '\(closingLoader)'"
    }
}

/// Finds `LoaderLeak`s. Scans the modules of every loader that stays open (not their
/// standard library, not modules they took from other loaders), their globals and one
/// level into containers. Runs no Python code: only type checks and dict reads.
/// PRECONDITION: the GIL is held; the closing loaders are not yet ended.
enum LeakScan {
    /// How many items of one container are looked at (a bound on the scan's cost).
    static let containerLimit = 1000

    /// Off only for measuring (`Loader.leakScanEnabled`). Guarded by the GIL.
    nonisolated(unsafe) static var isEnabled = true

    static func scan(closing: [Loader]) -> [LoaderLeak] {
        guard isEnabled else { return [] }
        var byBuiltins: [PyObjectPointer: Loader] = [:]
        for loader in closing {
            if let builtins = loader.builtinsDictionary { byBuiltins[builtins] = loader }
        }
        guard !byBuiltins.isEmpty else { return [] }
        let closingIDs = Set(closing.map(\.id))
        var leaks: [LoaderLeak] = []
        for survivor in Loader.registry.sharingGIL where survivor.lifecycleHoldingGIL == .open && !closingIDs.contains(survivor.id) {
            guard let own = survivor.builtinsDictionary, let modules = pyl_InterpreterModules(survivor.interpreter) else { continue }
            var position = 0
            var key: PyObjectPointer?, value: PyObjectPointer?
            while PyDict_Next(modules, &position, &key, &value) != 0 {
                guard let key, let module = value, pyl_IsModule(module) != 0,
                      let moduleName = String(pythonString: key),
                      !Runtime.standardLibraryNames.contains(Resolver.topLevelName(moduleName)),
                      let globals = PyModule_GetDict(module), builtins(ofGlobals: globals) == own else { continue }
                scanNamespace(globals) { path, object, definer in
                    leaks.append(LoaderLeak(closingLoader: definer.name, holderLoader: survivor.name,
                                            holderModule: moduleName, path: path, object: object))
                }
            }
        }
        return leaks

        func scanNamespace(_ globals: PyObjectPointer, _ report: @escaping (String, String, Loader) -> Void) {
            // The loop runs in C (pyl_ScanNamespace); only candidates come back here.
            let visitor = NamespaceVisitor { name, innerKey, index, value in
                guard let (what, definer) = owner(of: value) else { return }
                var path = String(pythonString: name) ?? "?"
                if let innerKey {
                    path += "[" + (String(pythonString: innerKey).map { "'\($0)'" } ?? "…") + "]"
                } else if index >= 0 {
                    path += "[\(index)]"
                }
                report(path, what, definer)
            }
            withExtendedLifetime(visitor) {
                pyl_ScanNamespace(globals, containerLimit, { context, name, innerKey, index, value in
                    let visitor = Unmanaged<NamespaceVisitor>.fromOpaque(context!).takeUnretainedValue()
                    visitor.visit(name!, innerKey, index, value!)
                }, Unmanaged.passUnretained(visitor).toOpaque())
            }
        }

        /// The closing loader that defined `object`, and how to name it; nil when none did.
        func owner(of object: PyObjectPointer) -> (String, Loader)? {
            if pyl_IsModule(object) != 0 {
                guard let globals = PyModule_GetDict(object), let builtins = builtins(ofGlobals: globals),
                      let definer = byBuiltins[builtins] else { return nil }
                return ("module \(qualifiedName(object))", definer)
            }
            if pyl_IsType(object) != 0 {
                guard let definer = classDefiner(object) else { return nil }
                return ("class \(qualifiedName(object))", definer)
            }
            if pyl_IsFunction(object) != 0 {
                guard let globals = pyl_FunctionGlobals(object), let builtins = builtins(ofGlobals: globals),
                      let definer = byBuiltins[builtins] else { return nil }
                return ("function \(qualifiedName(object))", definer)
            }
            let type = UnsafeMutableRawPointer(pyl_TypeOf(object)).assumingMemoryBound(to: PyObject.self)
            guard let definer = classDefiner(type) else { return nil }
            return ("\(qualifiedName(type)) instance", definer)
        }

        func classDefiner(_ type: PyObjectPointer) -> Loader? {
            guard pyl_IsHeapType(type) != 0 else { return nil }
            return closing.first { $0.importHook.map { pyl_HookDefinedClass($0, type) == 1 } ?? false }
        }

        func builtins(ofGlobals globals: PyObjectPointer) -> PyObjectPointer? {
            pyl_GlobalsBuiltins(globals)
        }

        /// `module.name` from `__module__`/`__qualname__` (or a module's `__name__`), read
        /// from the object's dict or C fields only.
        func qualifiedName(_ object: PyObjectPointer) -> String {
            String(cString: pyl_QualifiedName(object))
        }
    }
}

/// The Swift side of one `pyl_ScanNamespace` call.
private final class NamespaceVisitor {
    let visit: (PyObjectPointer, PyObjectPointer?, Int, PyObjectPointer) -> Void
    init(_ visit: @escaping (PyObjectPointer, PyObjectPointer?, Int, PyObjectPointer) -> Void) { self.visit = visit }
}
