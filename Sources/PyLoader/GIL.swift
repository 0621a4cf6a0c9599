/// Which GIL a child loader's interpreter runs under. Set per loader with `gil = "..."`
/// in the manifest.
public enum GIL: String, Sendable, CaseIterable {
    /// The GIL of the whole loader tree (the default): objects pass freely between loaders,
    /// imports are delegated, and one thread at a time runs Python in the tree.
    case shared
    /// A GIL of its own (CPython 3.12+, PEP 684): the loader runs Python in parallel with
    /// every other loader. Nothing can be shared across GILs, so such a loader delegates
    /// nothing (its own paths and its own standard library only, no `shared` names, no
    /// children, never a context loader), only extension modules that declare
    /// per-interpreter-GIL support load in it, and values cross into and out of it by copy
    /// (see `Loader.child(_:paths:delegation:shared:local:extensions:gil:)`).
    case own
}

extension GIL {
    /// Whether the CPython PyLoader was built against gives sub-interpreters GILs of their
    /// own (3.12+): whether `.own` can be asked for.
    public static var isOwnAvailable: Bool { PythonVersion.hasPerInterpreterGIL }
}
