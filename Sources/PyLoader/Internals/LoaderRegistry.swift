/// Every live loader, by name, id and interpreter. The lock guards these tables
/// and the loaders' `children` and `lifecycle`, which are read without the GIL.
/// `@unchecked Sendable`: every field is guarded by `lock`.
final class LoaderRegistry: @unchecked Sendable {
    let lock = Lock()
    private var nextID = 0
    private var byName: [String: Loader] = [:]
    private var byID: [Int: Loader] = [:]
    private var byInterpreter: [InterpreterPointer: Loader] = [:]
    /// Names taken by loaders being created (not yet registered).
    private var reservedNames: Set<String> = []
    /// Names of recently closed loaders, for error messages about stale ids.
    private var closedNames: [Int: String] = [:]

    func makeID() -> Int {
        lock.withLock {
            defer { nextID += 1 }
            return nextID
        }
    }

    /// Claims `name` for a loader about to be made; throws if a live loader has it.
    func reserve(_ name: String) throws {
        try lock.withLock {
            guard byName[name] == nil, !reservedNames.contains(name) else {
                throw LoaderError.duplicateName(name)
            }
            reservedNames.insert(name)
        }
    }

    func unreserve(_ name: String) {
        _ = lock.withLock { reservedNames.remove(name) }
    }

    func add(_ loader: Loader) {
        lock.withLock {
            reservedNames.remove(loader.name)
            byName[loader.name] = loader
            byID[loader.id] = loader
            byInterpreter[loader.interpreter] = loader
        }
    }

    func remove(_ loader: Loader) {
        lock.withLock {
            closedNames[loader.id] = loader.name
            if closedNames.count > 4096 { closedNames.removeAll(keepingCapacity: true) }
            if byName[loader.name] === loader { byName[loader.name] = nil }
            byID[loader.id] = nil
            if byInterpreter[loader.interpreter] === loader { byInterpreter[loader.interpreter] = nil }
        }
    }

    /// In a forked process (Forking.swift), with `lock` already held: drops every loader but
    /// the root from the tables; returns the root (nil if none is registered) and the others.
    func forgetAllButRootAfterFork() -> (root: Loader?, lost: [Loader]) {
        let root = byID.values.first { $0.parent == nil }
        let lost = byID.values.filter { $0.parent != nil }
        for loader in lost { closedNames[loader.id] = loader.name }
        byName = byName.filter { $0.value.parent == nil }
        byID = byID.filter { $0.value.parent == nil }
        byInterpreter = byInterpreter.filter { $0.value.parent == nil }
        reservedNames.removeAll()
        return (root, lost)
    }

    func closedName(id: Int) -> String? { lock.withLock { closedNames[id] } }
    func loader(named name: String) -> Loader? { lock.withLock { byName[name] } }
    func loader(id: Int) -> Loader? { lock.withLock { byID[id] } }
    func loader(interpreter: InterpreterPointer) -> Loader? { lock.withLock { byInterpreter[interpreter] } }
    /// Every live loader (no particular order).
    var all: [Loader] { lock.withLock { Array(byID.values) } }
    /// Every live loader under the shared GIL: those whose objects code holding that GIL
    /// may touch (no particular order).
    var sharingGIL: [Loader] { lock.withLock { byID.values.filter { !$0.ownsGIL } } }
}
