import CPython
import CPyLoader

extension Loader {
    /// Removes from this interpreter's `sys.modules` every module another loader
    /// defines (the modules delegated to it, and any foreign module user code put there).
    ///
    /// Why: `Py_EndInterpreter` clears the dict of every module still in `sys.modules`
    /// (CPython 3.11 `finalize_modules`), and a delegated module is the defining
    /// loader's very object — ending a child would wipe its parent's `hostapi`.
    /// PRECONDITION: the GIL is held and this loader's thread state is current.
    func dropBorrowedModules() {
        guard let modules = PyImport_GetModuleDict(), let items = PyDict_Items(modules) else {
            PyErr_Clear()
            return
        }
        defer { Py_DecRef(items) }
        for index in 0..<PyList_Size(items) {
            guard let pair = PyList_GetItem(items, index),
                  let key = PyTuple_GetItem(pair, 0), let module = PyTuple_GetItem(pair, 1),
                  let name = String(pythonString: key) else { continue }
            if isBorrowed(module, named: name), PyDict_DelItem(modules, key) != 0 { PyErr_Clear() }
        }
    }

    /// Delegated here, or a module whose code ran with another interpreter's builtins.
    /// (A module that ran no Python code, such as an extension, has no `__builtins__`:
    /// only the delegation record tells.) PRECONDITION: `builtinsDictionary` is still set.
    private func isBorrowed(_ module: PyObjectPointer, named name: String) -> Bool {
        if delegatedNames[Resolver.topLevelName(name)] != nil { return true }
        guard pyl_IsModule(module) != 0, let namespace = PyModule_GetDict(module),
              var builtins = PyDict_GetItemString(namespace, "__builtins__") else { return false }
        if pyl_IsModule(builtins) != 0, let dict = PyModule_GetDict(builtins) { builtins = dict }
        return builtins != builtinsDictionary
    }
}
