#if canImport(Glibc)
import Glibc
#endif
import CPython
import CPyLoader

/// The top-level names a loader's own finders did not find, kept while nothing that
/// decides that answer has changed: the shortcut for the parent-first question.
///
/// Before each import of one of its own modules, a parent-first child asks its parent
/// whether it can provide the name (`Resolver.decide`, step 6), and the parent answers by
/// running its own finders over its paths (`hasOwn`): about 45 µs of importlib's Python for
/// a name it never has, paid again for every own module of every child (BENCHMARKS.md,
/// "plugin start-up"). CPython's `FileFinder` itself lists a folder again only when the
/// folder's modification time changes; a "not found" is kept here under that same
/// condition, and only while the answer cannot come from anywhere else:
/// - `sys.meta_path` holds the same finders, all importlib's own (`BuiltinImporter`,
///   `FrozenImporter`, `PathFinder`, and PyLoader's delegating finder, which `hasOwn` skips):
///   a finder of the user's may answer differently each time it is asked;
/// - `sys.path` holds the same absolute folders, and each one's `sys.path_importer_cache`
///   entry is the same object: a plain `FileFinder`, or None (a folder or zip file that
///   did not exist when it was first searched: importlib skips it until the entry goes);
/// - each `FileFinder` holds the same listing (its `_path_cache`, a new set each time it
///   reads its folder again) with the same `_path_mtime` (-1 once `importlib.invalidate_caches()`
///   asked for a new reading; that call also drops the None entries), and each folder's
///   modification time, read with `stat` as `FileFinder` reads it, is unchanged. Both, as
///   3.13's `invalidate_caches()` resets `_path_mtime` and then imports `importlib.metadata`,
///   whose search reads the folders again and sets it back to the same time, with a new
///   listing;
/// - no listing names an entry the name would be loaded from (`FileFinder` checks such an
///   entry, a dangling link say, on every search).
/// Any other state empties the set, and the next question runs the finders again.
///
/// Guarded by the loader's GIL; used with the loader's thread state current.
final class AbsentNames {
    /// What the answers in `names` were given under.
    private struct Configuration {
        /// `sys.meta_path`'s items, `sys.path`'s items, each folder's importer and each
        /// importer's listing (None for a None importer), as strong references (so that an
        /// identical address is the identical object).
        var metaPath: [PyObjectPointer]
        var folderObjects: [PyObjectPointer]
        var importers: [PyObjectPointer]
        var listings: [PyObjectPointer]
        /// Each importer's `_path_mtime` (nil for None).
        var listingTimes: [Double?]
        /// Each folder's path and modification time before the finders ran.
        var folders: [String]
        var folderTimes: [FolderTime]

        func release() {
            (metaPath + folderObjects + importers + listings).forEach { Py_DecRef($0) }
        }
    }

    /// A folder's modification time, or `missing` when `stat` fails.
    struct FolderTime: Equatable {
        var seconds: Int
        var nanoseconds: Int
        static let missing = FolderTime(seconds: -1, nanoseconds: -1)

        init(seconds: Int, nanoseconds: Int) {
            self.seconds = seconds
            self.nanoseconds = nanoseconds
        }

        init(of folder: String) {
            var status = stat()
            guard stat(folder, &status) == 0 else { self = .missing; return }
            self.init(seconds: status.st_mtim.tv_sec, nanoseconds: status.st_mtim.tv_nsec)
        }
    }

    private var configuration: Configuration?
    private var names: Set<String> = []

    /// Whether `name` is known to be absent. PRECONDITION: the loader's thread state is current.
    func contains(_ name: String) -> Bool {
        assertHoldingGIL()
        guard names.contains(name), let configuration else { return false }
        if isCurrent(configuration) { return true }
        forget()
        return false
    }

    /// The folders on `sys.path` and their modification times, read before the finders run:
    /// a folder changed while they ran then fails the later check.
    func foldersBeforeSearch() -> [FolderTime]? {
        assertHoldingGIL()
        guard let path = PySys_GetObject("path"), pyl_IsList(path) != 0 else { return nil }
        var times: [FolderTime] = []
        for index in 0..<PyList_Size(path) {
            guard let item = PyList_GetItem(path, index), let folder = String(pythonString: item) else { return nil }
            times.append(FolderTime(of: folder))
        }
        return times
    }

    /// Records that the finders did not find `name`; `state` is `_own_finder_state()`'s result
    /// after they ran (None when the answer may not be kept), `times` what
    /// `foldersBeforeSearch` read. PRECONDITION: the loader's thread state is current.
    func record(_ name: String, state: PyObjectPointer, times: [FolderTime]) {
        assertHoldingGIL()
        if let configuration, isCurrent(configuration), configuration.folderTimes == times {
            names.insert(name)
            return
        }
        forget()
        guard let configuration = Self.configuration(from: state, times: times) else { return }
        self.configuration = configuration
        names = [name]
    }

    /// Drops every answer and the references they hold. PRECONDITION: the GIL is held.
    func forget() {
        configuration?.release()
        configuration = nil
        names.removeAll()
    }

    private func isCurrent(_ configuration: Configuration) -> Bool {
        guard let metaPath = PySys_GetObject("meta_path"), pyl_IsList(metaPath) != 0,
              PyList_Size(metaPath) == configuration.metaPath.count,
              let path = PySys_GetObject("path"), pyl_IsList(path) != 0,
              PyList_Size(path) == configuration.folderObjects.count,
              let importerCache = PySys_GetObject("path_importer_cache"), pyl_IsDict(importerCache) != 0 else {
            return false
        }
        for (index, finder) in configuration.metaPath.enumerated() where PyList_GetItem(metaPath, index) != finder {
            return false
        }
        for (index, folder) in configuration.folderObjects.enumerated() {
            guard let item = PyList_GetItem(path, index) else { return false }
            if item != folder && PyObject_RichCompareBool(item, folder, Py_EQ) != 1 {
                pyl_ClearErrorKeepingInterrupt()   // a str subclass's __eq__ is Python code
                return false
            }
            let importer = configuration.importers[index]
            guard PyDict_GetItem(importerCache, folder) == importer else { return false }
            if importer != pyl_None() {
                guard let listing = PyObject_GetAttrString(importer, "_path_cache") else {
                    PyErr_Clear()
                    return false
                }
                Py_DecRef(listing)   // still held by the importer and by `listings`
                guard listing == configuration.listings[index],
                      Self.double(PyObject_GetAttrString(importer, "_path_mtime")) == configuration.listingTimes[index] else {
                    return false
                }
            }
            guard FolderTime(of: configuration.folders[index]) == configuration.folderTimes[index] else { return false }
        }
        return true
    }

    /// `(meta_path, path, importers, listings, listing times)` from `_own_finder_state()`, with
    /// `times` for the folders; nil when it is None or does not match `times`.
    private static func configuration(from state: PyObjectPointer, times: [FolderTime]) -> Configuration? {
        guard state != pyl_None(), pyl_IsTuple(state) != 0, PyTuple_Size(state) == 5,
              let metaPath = PyTuple_GetItem(state, 0), let path = PyTuple_GetItem(state, 1),
              let importers = PyTuple_GetItem(state, 2), let listings = PyTuple_GetItem(state, 3),
              let listingTimes = PyTuple_GetItem(state, 4),
              PyTuple_Size(path) == times.count, PyTuple_Size(importers) == times.count,
              PyTuple_Size(listings) == times.count, PyTuple_Size(listingTimes) == times.count else { return nil }
        var folders: [String] = [], readTimes: [Double?] = []
        for index in 0..<times.count {
            guard let folder = String(pythonString: PyTuple_GetItem(path, index)!) else { return nil }
            folders.append(folder)
            let time = PyTuple_GetItem(listingTimes, index)!
            if time == pyl_None() {
                readTimes.append(nil)
            } else {
                guard let value = double(Py_NewRef(time)) else { return nil }
                readTimes.append(value)
            }
        }
        func items(_ tuple: PyObjectPointer) -> [PyObjectPointer] {
            (0..<PyTuple_Size(tuple)).map { Py_NewRef(PyTuple_GetItem(tuple, $0)!) }
        }
        return Configuration(metaPath: items(metaPath), folderObjects: items(path), importers: items(importers),
                             listings: items(listings), listingTimes: readTimes, folders: folders, folderTimes: times)
    }

    /// `float(number)` of a new reference (consumed); nil, with no exception left set, when
    /// it is nil or not a number.
    private static func double(_ number: PyObjectPointer?) -> Double? {
        guard let number else { PyErr_Clear(); return nil }
        defer { Py_DecRef(number) }
        let value = PyFloat_AsDouble(number)
        if value == -1, PyErr_Occurred() != nil { PyErr_Clear(); return nil }
        return value
    }
}
