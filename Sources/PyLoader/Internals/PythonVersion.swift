#if canImport(Glibc)
import Glibc
#endif
import CPython
import CPyLoader

/// The CPython version PyLoader was compiled against, and what PyLoader does
/// differently because of it: the Swift side of the version seam (the C side is the
/// "CPython versions" block at the top of CPyLoader.c). Every difference names the
/// version and the change that caused it; nothing else in the Swift code tests versions.
enum PythonVersion {
    /// `PY_VERSION_HEX` of the headers PyLoader was compiled against.
    static let hex = Int(pyl_PythonVersionHex())
    /// "3.13" and the like.
    static let short = "\(hex >> 24).\((hex >> 16) & 0xFF)"

    /// 3.12 (PEP 684) gives a sub-interpreter its own GIL when asked
    /// (`Py_NewInterpreterFromConfig`); 3.11 has one GIL for the process.
    static let hasPerInterpreterGIL = hex >= 0x030C_0000

    /// Modules every interpreter imports while it is set up.
    ///
    /// 3.13 (gh-117398, `_datetime` made multi-phase) keeps the dictionaries of `_datetime`'s
    /// static types per interpreter, made when an interpreter imports the module: a
    /// `datetime` object reaching an interpreter that had not imported it (a parent's
    /// function run from a child, a value handed across) crashed the process on its
    /// first attribute lookup (a NULL type dictionary). Importing it everywhere first
    /// keeps every interpreter able to use the objects of the others.
    static let modulesEveryInterpreterImports: [String] = hex >= 0x030D_0000 ? ["_datetime"] : []

    /// 3.13 (gh-117953) runs the init function of a single-phase extension module in the
    /// main interpreter first, whichever interpreter imports it, then repeats it (or copies
    /// the module's dict) in the importing one. A module that accepts only the first
    /// interpreter that initialized it (PyO3's check) then refuses every sub-interpreter,
    /// even with a fresh copy of its library.
    static let singlePhaseInitRunsInMainInterpreterFirst = hex >= 0x030D_0000

    /// `bin/python3.X` of the installation whose libpython this process linked: the
    /// folders above the library (`/usr/lib/x86_64-linux-gnu` → `/usr`) are searched for it.
    /// `/usr/bin/python3` when none has one.
    static let executableOfLinkedLibrary: String = {
        if let file = pyl_LinkedLibraryPath() {
            var folder = String(cString: file)
            while let slash = folder.lastIndex(of: "/"), slash != folder.startIndex {
                folder = String(folder[..<slash])
                let candidate = "\(folder)/bin/python\(short)"
                if access(candidate, X_OK) == 0 { return candidate }
            }
        }
        return "/usr/bin/python3"
    }()
}
