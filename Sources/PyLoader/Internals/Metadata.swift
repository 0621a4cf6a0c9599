import CPython
import CPyLoader

/// Package metadata (`importlib.metadata`) follows delegation: a loader asking
/// about a distribution gets the one of the loader that defines the distribution's
/// packages, as seen from it.
///
/// `importlib.metadata` asks every `sys.meta_path` finder's `find_distributions`,
/// in order, and the first answer wins (`version`, `distribution`; `entry_points`
/// keeps the first distribution of each name). Every child has
/// `pyloader._DelegatingFinder` first, which answers with the distributions its
/// loader takes from another loader; its own path finders answer for the rest.
/// For a distribution `D` whose top-level import names are `T…` (from its
/// `top_level.txt`, else its `RECORD`), asked in loader `L`:
/// 1. `L` is the root, or no loader can provide any of `T…`: `L`'s own finders answer.
/// 2. Otherwise the first of `T…` (sorted) that some loader can provide decides:
///    its defining loader seen from `L` (`L.which(T)`) answers when it is not `L`;
///    `L`'s own finders answer when it is `L`.
/// So a plugin without its own copy gets its parent's distribution, a plugin that
/// imports its own copy gets its own. An explicit `path=` asks about those folders
/// only, and is not delegated.
enum Metadata {
    /// The loader whose distribution answers for a distribution with these top-level
    /// import names when `loader` asks; nil when `loader`'s own finders answer.
    /// PRECONDITION: the GIL is held and `loader`'s thread state is current.
    static func source(forImportNames names: [String], in loader: Loader) throws -> Loader? {
        assertHoldingGIL()
        guard loader.parent != nil else { return nil }                                 // 1
        for name in names.sorted() {                                                     // 2
            guard let definer = try Resolver.definingLoader(of: name, seenFrom: loader) else { continue }
            return definer === loader ? nil : definer
        }
        return nil
    }

    /// `list(importlib.metadata.distributions(name=name))` (every distribution when
    /// `name` is nil) as `loader` sees them: run in `loader`, so its own finders and
    /// its own delegation answer. Nil with the exception set in the caller's thread state.
    /// PRECONDITION: the GIL is held.
    static func distributions(named name: String?, in loader: Loader,
                              closedErrorOf pyloaderModule: PyObjectPointer?) -> PyObjectPointer? {
        assertHoldingGIL()
        return loader.callMovingException(closedErrorOf: pyloaderModule) {
            guard let module = Resolver.importInCurrentInterpreter("importlib.metadata") else { return nil }
            defer { Py_DecRef(module) }
            guard let function = PyObject_GetAttrString(module, "distributions") else { return nil }
            defer { Py_DecRef(function) }
            guard let arguments = PyTuple_New(0), let keywords = PyDict_New() else { return nil }
            defer { Py_DecRef(arguments); Py_DecRef(keywords) }
            if let name {
                guard let nameObject = makePythonString(name) else { return nil }
                defer { Py_DecRef(nameObject) }
                guard PyDict_SetItemString(keywords, "name", nameObject) == 0 else { return nil }
            }
            guard let found = PyObject_Call(function, arguments, keywords) else { return nil }
            defer { Py_DecRef(found) }
            return PySequence_List(found)
        }
    }
}
