import CPython
import CPyLoader

/// The per-thread context loader (Java's `Thread.setContextClassLoader`): while
/// one is set, absolute imports on that thread run in it. PRECONDITION for all:
/// the GIL is held.
enum ContextLoaders {
    static func push(_ loader: Loader, on thread: ThreadRecord) throws {
        guard loader.lifecycle == .open else { throw LoaderError.closed(loader: loader.name) }
        thread.contextStack.append(loader)
        loader.contextUses += 1
        pyl_SetContextLoader(Unmanaged.passUnretained(loader).toOpaque(), loader.interpreter)
        pyl_ContextCountChanged(1)
    }

    static func pop(expectedID: Int, on thread: ThreadRecord) throws {
        guard let top = thread.contextStack.last, top.id == expectedID else {
            throw LoaderError.invalidArgument("pyloader.context exited out of order")
        }
        thread.contextStack.removeLast()
        top.contextUses -= 1
        if let next = thread.contextStack.last {
            pyl_SetContextLoader(Unmanaged.passUnretained(next).toOpaque(), next.interpreter)
        } else {
            pyl_SetContextLoader(nil, nil)
        }
        pyl_ContextCountChanged(-1)
    }
}

extension ContextLoaders {
    /// Runs `body` with the calling thread's context loader set aside, for PyLoader's
    /// own imports. PRECONDITION: the GIL is held.
    static func suspended<R>(_ body: () throws -> R) rethrows -> R {
        guard let top = ThreadRecord.current.contextStack.last else { return try body() }
        pyl_SetContextLoader(nil, nil)
        defer { pyl_SetContextLoader(Unmanaged.passUnretained(top).toOpaque(), top.interpreter) }
        return try body()
    }
}

extension Loader {
    /// Runs `body` with this loader as the calling thread's context loader: absolute
    /// imports executed on this thread meanwhile (in any loader) run in this loader
    /// and leave the importing loader's `sys.modules` untouched. Nestable.
    public func withContext<R>(_ body: () throws -> R) throws -> R {
        let root = try Loader.root
        let thread = ThreadRecord.current
        try root.withActivated { try ContextLoaders.push(self, on: thread) }
        defer { try? root.withActivated { try ContextLoaders.pop(expectedID: id, on: thread) } }
        return try body()
    }
}

/// The callback Eby's hook (C) makes when an import must run in another loader
/// than the current one: enter that loader, import, come back, and move the
/// result or the exception across.
let crossImport: pyl_CrossImport = { owner, name, globals, locals, fromlist, level in
    enteredFromPython { _ in
        let loader = Unmanaged<Loader>.fromOpaque(owner!).takeUnretainedValue()
        return loader.callMovingException {
            PyImport_ImportModuleLevelObject(name, globals, locals, fromlist, level)
        }
    }
}
