import CPython
import CPyLoader

/// Eby's import hook, the Swift side: its installation in every interpreter and the
/// callbacks its C half (`CPyLoader.c`: `hook_import`, `hook_gcd_import`,
/// `hook_find_and_load`, `hook_build_class`) makes when a decision or a crossing is needed.
/// The rules it applies live where they are stated: the context rule in `ContextLoaders`
/// (whose `contextImport` is the `_gcd_import` wrapper's callback), delegation in `Resolver`.
enum ImportHook {
    /// Makes the loader's hook and installs it: `builtins.__import__` (and the interpreter's
    /// import function), the `_gcd_import` wrapper (`importlib.import_module`), the
    /// `__build_class__` wrapper (class records), and in a child the `_find_and_load`
    /// wrapper (the delegated-import fast path). PRECONDITION: the loader's thread state is
    /// current, its `builtinsDictionary` set.
    static func install(in loader: Loader) throws {
        assertHoldingGIL()
        let owner = Unmanaged.passUnretained(loader).toOpaque()
        guard let hook = pyl_MakeImportHook(loader.interpreter, owner, loader.name) else {
            throw PythonError.fetch(in: loader)
        }
        guard pyl_InstallImportHook(hook) == 0 else {
            Py_DecRef(hook)
            throw PythonError.fetch(in: loader)
        }
        loader.importHook = hook
        guard pyl_WrapImportModule(hook) == 0, pyl_WrapBuildClass(hook) == 0 else { throw PythonError.fetch(in: loader) }
        if loader.parent != nil {
            guard pyl_WrapFindAndLoad(hook) == 0 else { throw PythonError.fetch(in: loader) }
        }
    }

    /// Gives the C half its callbacks. Called once, at start-up.
    static func registerCallbacks() {
        pyl_SetCrossImport(crossImport)
        pyl_SetContextImport(contextImport)
        pyl_SetCrossCall(crossCall)
        pyl_SetHandOver(handOver)
    }
}

/// The callback Eby's hook (C) makes when an import must run in another loader
/// than the current one: enter that loader, import, come back, and move the
/// result or the exception across.
///
/// Except for C code importing by name (rule 5): `PyImport_Import` (`PyImport_ImportModuleNoBlock`,
/// an extension's lazy import) calls `__import__(name, globals, globals, [], 0)` with the
/// calling frame's globals and then reads the *current* interpreter's `sys.modules`, so
/// crossing to the frame's loader made it raise KeyError (`datetime.strptime` called by a
/// function of another loader: KeyError: '_strptime'). That call shape imports where it runs.
let crossImport: pyl_CrossImport = { owner, name, globals, locals, fromlist, level in
    enteredFromPython { _ in
        if level == 0, let globals, globals == locals, let fromlist, pyl_IsListExact(fromlist) != 0,
           PyList_Size(fromlist) == 0 {
            return PyImport_ImportModuleLevelObject(name, globals, locals, fromlist, 0)
        }
        let loader = Unmanaged<Loader>.fromOpaque(owner!).takeUnretainedValue()
        return loader.callMovingException {
            PyImport_ImportModuleLevelObject(name, globals, locals, fromlist, level)
        }
    }
}

/// The callback of `importlib.import_module`'s wrapper when the importlib called belongs to
/// another loader than the current one: runs its own `_gcd_import` there (Eby's rule).
let crossCall: pyl_CrossCall = { owner, callable, args, count, keywords in
    enteredFromPython { _ in
        let loader = Unmanaged<Loader>.fromOpaque(owner!).takeUnretainedValue()
        return loader.callMovingException {
            PyObject_Vectorcall(callable, args, count, keywords)
        }
    }
}

/// The callback of a child's `_find_and_load` wrapper: the delegated-import fast path
/// (`Resolver.handOver`).
let handOver: pyl_HandOver = { owner, name in
    enteredFromPython { _ in
        guard let owner, let name else { return nil }
        return Resolver.handOver(name, in: Unmanaged<Loader>.fromOpaque(owner).takeUnretainedValue())
    }
}
