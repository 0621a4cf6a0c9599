/// The naming rules, in one place for `Loader.child` and the manifest.
enum Names {
    /// `[A-Za-z0-9][A-Za-z0-9_.-]*`, the rule for loader names (docs/ARCHITECTURE.md, "Loader names").
    static func isValidLoaderName(_ name: String) -> Bool {
        func isAlphanumeric(_ c: Unicode.Scalar) -> Bool {
            ("a"..."z").contains(c) || ("A"..."Z").contains(c) || ("0"..."9").contains(c)
        }
        guard let first = name.unicodeScalars.first, isAlphanumeric(first) else { return false }
        return name.unicodeScalars.dropFirst().allSatisfy { isAlphanumeric($0) || $0 == "_" || $0 == "." || $0 == "-" }
    }

    /// A Python identifier (PEP 3131: XID_Start or `_`, then XID_Continue), which is what
    /// a top-level module name must be to be imported with an `import` statement.
    static func isTopLevelModuleName(_ name: String) -> Bool {
        guard let first = name.unicodeScalars.first, first == "_" || first.properties.isXIDStart else { return false }
        return name.unicodeScalars.dropFirst().allSatisfy { $0.properties.isXIDContinue }
    }
}
