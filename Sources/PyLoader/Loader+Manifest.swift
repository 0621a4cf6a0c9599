extension Loader {
    /// Appends folders to the root's `sys.path` after what is already there, and the
    /// system's site-packages when asked: what a manifest's `[root]` section does.
    ///
    /// Why this exists: `RuntimeOptions(rootPaths:systemSitePackages:)` must be fixed
    /// before CPython starts, but a manifest is parsed by `tomllib` in the root
    /// interpreter, so the root is already running when the `[root]` section is known.
    /// The manifest's root settings are applied here instead, the same way start-up
    /// applies them (`site.addsitedir`, so `.pth` files in those folders are processed).
    ///
    /// - A folder already on `sys.path` is not added twice (`site.addsitedir` skips it),
    ///   so options given to `configure(_:)` and the same manifest settings agree.
    /// - The root's `paths` property lists them afterwards, like the folders it was started with.
    /// - Settings only add: a root started with the system site-packages keeps them.
    ///
    /// PRECONDITION: `self` is the root and open; `paths` are absolute folders.
    func appendRootPaths(_ paths: [String], systemSitePackages: Bool) throws {
        precondition(parent == nil, "appendRootPaths is for the root loader")
        guard !paths.isEmpty || systemSitePackages else { return }
        try withActivated { try InterpreterSetup.callSetup("add_site_dirs", paths, systemSitePackages, in: self) }
        recordRootPaths(paths)
    }
}
