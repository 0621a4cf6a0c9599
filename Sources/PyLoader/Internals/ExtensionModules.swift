#if canImport(Glibc)
import Glibc
#endif
import CPython
import CPyLoader

/// Extension modules (compiled `.so` files) imported by more than one loader.
///
/// The dynamic linker loads a file once per process (it recognises a file by its
/// device and inode), so a second interpreter that imports an extension file gets
/// the very library the first one initialised, C globals and all. PyO3 modules then
/// refuse ("PyO3 modules do not yet support subinterpreters"), Cython modules refuse
/// ("Interpreter change detected"), others fall back to pure Python, misbehave or
/// crash (measured with CPython 3.11, see issue 5). A real copy of the file is a new
/// inode, hence an independent library with fresh C state.
///
/// Every extension file outside the standard library that a loader imports goes
/// through `pyloader._ExtensionFileLoader`, which asks `location(...)` where to load
/// it from. For file `F` imported in loader `L`:
/// 1. `L` loaded `F` before: the same place again (one copy per (file, loader)).
/// 2. No interpreter of the process loaded `F` yet: in place.
/// 3. Otherwise, by `L.extensions`: `.copy` → a private copy in the cache folder;
///    `.share` → in place (the user takes responsibility); `.error` → an ImportError
///    that names the loader already holding `F` and the setting to change.
///
/// - Files are told apart by device and inode, as the dynamic linker does: a file
///   reached through two links (a symlink, or a hard link such as `uv` makes from
///   its cache) is one file.
/// - Closed loaders still count: the dynamic linker never unloads an extension
///   (CPython does not `dlclose`), so its C state outlives the interpreter.
/// - Copies live in `<cache>/pyloader-<pid>-XXXXXX/<loader>.<id>/<original folder>/<file>`,
///   where `<cache>` is `RuntimeOptions.extensionCacheFolder`, else `$PYLOADER_CACHE`,
///   else `$TMPDIR`, else `/tmp`. A loader's copies are removed when it closes, the
///   whole folder at process exit (a loaded library stays mapped after its file is
///   removed). The folder must allow executable mappings (not a `noexec` mount).
/// - The module still reports its original file (`__file__`, `__spec__.origin`).
/// - The libraries an extension links against (`DT_NEEDED`, found through `$ORIGIN`
///   run paths such as `$ORIGIN/../foo.libs`) are not copied: the original's load
///   already brought them into the process, and the dynamic linker matches the copy's
///   `DT_NEEDED` names against loaded libraries before it searches any path. So they
///   are found, and their own C state (if any) is shared by all copies.
/// - Standard library extensions (`lib-dynload`) are loaded in place by every loader,
///   as CPython itself does for every sub-interpreter.
///
/// State is guarded by `lock`; every entry point runs with the GIL held (the copy is
/// made with the GIL held, as CPython holds it across `dlopen`).
enum ExtensionModules {
    /// A file as the dynamic linker identifies it.
    struct FileID: Hashable {
        let device: UInt64
        let inode: UInt64
    }

    /// One loader's load of a file.
    struct Holder {
        let loaderID: Int
        let loaderName: String
        /// The file this loader's interpreter loads: the original, or its private copy.
        let location: String
        /// The library was fresh for this load (the first load of the file, or a copy),
        /// so a failure cannot be blamed on state left by another interpreter.
        let fresh: Bool
    }

    /// An extension file that some loader of this process has loaded (or tried to).
    struct LoadedFile {
        /// The real path of the file, for messages.
        let realPath: String
        var holders: [Holder] = []
    }

    private static let lock = Lock()
    nonisolated(unsafe) private static var files: [FileID: LoadedFile] = [:]
    /// Every file this process let the dynamic linker load (originals and copies), so
    /// that a new copy that reuses the inode of a removed one is never taken for it.
    nonisolated(unsafe) private static var loadedIDs: Set<FileID> = []
    /// The per-process cache folder, once made.
    nonisolated(unsafe) private static var processFolder: String?
    /// Each loader's folder of copies, by loader id.
    nonisolated(unsafe) private static var loaderFolders: [Int: String] = [:]
    /// `RuntimeOptions.extensionCacheFolder`, set at start-up.
    nonisolated(unsafe) static var cacheParentOption: String?

    // MARK: Set-up

    /// Puts `pyloader._ExtensionFileLoader` in charge of extension modules of every
    /// folder on the loader's path except the standard library's.
    /// PRECONDITION: the GIL is held and `loader`'s thread state is current.
    static func install(in loader: Loader) throws {
        assertHoldingGIL()
        let install = try loader.coreFunction("_install_extension_loader")
        guard let folders = makePythonStringTuple(Runtime.standardLibraryPaths) else { throw PythonError.fetch(in: loader) }
        defer { Py_DecRef(folders) }
        guard let result = PyObject_CallOneArg(install, folders) else { throw PythonError.fetch(in: loader) }
        Py_DecRef(result)
    }

    // MARK: Loading

    /// Where `loader` loads the extension file `path` (module `module`) from: `path`
    /// itself or a private copy (see the rule in the type's comment).
    /// - Throws: `PendingPythonException` with an `ImportError` set, for the `.error`
    ///   policy or when the copy cannot be made.
    /// PRECONDITION: the GIL is held and `loader`'s thread state is current.
    static func location(forLoading path: String, module: String, in loader: Loader) throws -> String {
        assertHoldingGIL()
        var info = stat()
        // A file that cannot be read is left to CPython, which reports it.
        guard stat(path, &info) == 0 else { return path }
        let id = FileID(device: UInt64(info.st_dev), inode: UInt64(info.st_ino))
        enum Plan { case known(String), inPlace(fresh: Bool), copy(LoadedFile), refuse(LoadedFile) }
        let plan: Plan = lock.withLock {
            let file = files[id] ?? LoadedFile(realPath: realPath(path))
            if let mine = file.holders.first(where: { $0.loaderID == loader.id }) { return .known(mine.location) }  // 1
            if file.holders.isEmpty { return .inPlace(fresh: true) }                                               // 2
            switch loader.extensions {                                                                             // 3
            case .share: return .inPlace(fresh: false)
            case .copy: return .copy(file)
            case .error: return .refuse(file)
            }
        }
        switch plan {
        case .known(let location):
            return location
        case .inPlace(let fresh):
            record(id, path: path, in: loader, location: path, locationID: id, fresh: fresh)
            return path
        case .refuse(let file):
            throw importError(module: module, path: path, message: refusal(module, file, loader))
        case .copy(let file):
            let (copy, copyID) = try makeCopy(of: file.realPath, module: module, originalPath: path, for: loader)
            record(id, path: path, in: loader, location: copy, locationID: copyID, fresh: true)
            return copy
        }
    }

    private static func record(_ id: FileID, path: String, in loader: Loader, location: String,
                               locationID: FileID, fresh: Bool) {
        lock.withLock {
            var file = files[id] ?? LoadedFile(realPath: realPath(path))
            file.holders.append(Holder(loaderID: loader.id, loaderName: loader.name, location: location, fresh: fresh))
            files[id] = file
            loadedIDs.insert(locationID)
        }
    }

    /// What replaces an exception raised while `loader` loaded (created or executed)
    /// the extension module `module` from `path`: a new exception to raise instead,
    /// or nil to re-raise the original (possibly with a note added).
    ///
    /// - Loaded in place although another loader already held the file (`.share`):
    ///   a note says so and that `.copy` gives each loader its own library.
    /// - A sub-interpreter got a fresh library (the first load, or a copy) and the
    ///   module still refused with an `ImportError` of its own (not a missing module or
    ///   file) or a `SystemError`: copying cannot fix that, the module does not support
    ///   sub-interpreters. The replacement names the loader and suggests `shared`, so
    ///   the module is loaded once, in the root (the main interpreter).
    /// PRECONDITION: the GIL is held and `loader`'s thread state is current.
    static func failure(_ error: PyObjectPointer, module: String, path: String, in loader: Loader) -> PyObjectPointer? {
        assertHoldingGIL()
        var info = stat()
        guard stat(path, &info) == 0 else { return nil }
        let id = FileID(device: UInt64(info.st_dev), inode: UInt64(info.st_ino))
        let (holder, others): (Holder?, [Holder]) = lock.withLock {
            let holders = files[id]?.holders ?? []
            return (holders.first { $0.loaderID == loader.id }, holders.filter { $0.loaderID != loader.id })
        }
        guard let holder else { return nil }
        if !holder.fresh {
            addNote(to: error, "loader '\(loader.name)' loaded \(path) in place although \(describe(others)) had already"
                    + " loaded it (extensions = \"share\"); with extensions = \"copy\" (the default) each loader"
                    + " gets a private copy of the file, with its own C state")
            return nil
        }
        guard loader.parent != nil, isSubInterpreterRefusal(error) else { return nil }
        let top = Resolver.topLevelName(module)
        var chain: [String] = []
        var next: Loader? = loader
        while let current = next, current.parent != nil { chain.append("'\(current.name)'"); next = current.parent }
        let message = "extension module '\(module)' cannot be loaded in loader '\(loader.name)', a sub-interpreter,"
            + " although it got a fresh copy of its library (\(pythonStr(error))). It does not support sub-interpreters"
            + (PythonVersion.singlePhaseInitRunsInMainInterpreterFirst
               ? " (CPython \(PythonVersion.short) runs a single-phase module's init in the main interpreter before"
                 + " any sub-interpreter's, so a module that accepts only its first interpreter, as PyO3's do,"
                 + " refuses every sub-interpreter)" : "")
            + ":"
            + " list '\(top)' in `shared` of loader \(chain.joined(separator: ", ")) and put it on the root's"
            + " paths, so that it is loaded once, in the root (the main interpreter)"
        guard let messageObject = makePythonString(message), let nameObject = makePythonString(module),
              let pathObject = makePythonString(path) else { return nil }
        defer { Py_DecRef(messageObject); Py_DecRef(nameObject); Py_DecRef(pathObject) }
        // PyErr_SetImportError builds the exception with name= and path= set.
        PyErr_SetImportError(messageObject, nameObject, pathObject)
        var type: PyObjectPointer?, value: PyObjectPointer?, traceback: PyObjectPointer?
        PyErr_Fetch(&type, &value, &traceback)
        PyErr_NormalizeException(&type, &value, &traceback)
        Py_DecRef(type)
        Py_DecRef(traceback)
        return value
    }

    /// An `ImportError` of the module's own making (not a missing module, and not a
    /// file the dynamic linker could not load: those carry `path`), or a `SystemError`.
    private static func isSubInterpreterRefusal(_ error: PyObjectPointer) -> Bool {
        if PyObject_IsInstance(error, pyl_ExcSystemError()) == 1 { return true }
        guard PyObject_IsInstance(error, pyl_ExcImportError()) == 1,
              PyObject_IsInstance(error, pyl_ExcModuleNotFoundError()) != 1 else { PyErr_Clear(); return false }
        guard let path = PyObject_GetAttrString(error, "path") else { PyErr_Clear(); return false }
        defer { Py_DecRef(path) }
        return path == pyl_None()
    }

    /// Imports a standard-library extension module in the root before a child loads it
    /// (`_StdlibExtensionLoader`): CPython 3.11 initializes a single-phase module once per
    /// process and keeps objects of that first interpreter in C statics, so the first must
    /// be an interpreter that never ends. A failure is left to the child's own load to report.
    /// PRECONDITION: the GIL is held (called from a child's import).
    static func preloadInRoot(_ name: String) throws {
        assertHoldingGIL()
        let root = try Loader.root
        try root.withActivated {
            if let present = Resolver.moduleInSysModules(name) { Py_DecRef(present); return }
            if let module = ContextLoaders.suspended({ Resolver.importInCurrentInterpreter(name) }) {
                Py_DecRef(module)
            } else {
                PyErr_Clear()
            }
        }
    }

    // MARK: Closing

    /// Removes the copies a closing loader made. Its files stay recorded as loaded:
    /// their libraries stay in the process.
    static func loaderClosed(_ loader: Loader) {
        let folder = lock.withLock { loaderFolders.removeValue(forKey: loader.id) }
        if let folder { removeTree(folder) }
    }

    /// Removes the per-process cache folder (at process exit).
    static func removeCacheFolder() {
        let folder: String? = lock.withLock {
            defer { processFolder = nil; loaderFolders.removeAll() }
            return processFolder
        }
        if let folder { removeTree(folder) }
    }

    /// In a forked process: the cache folder and the copies belong to the parent, which
    /// removes them; this process must not (the root's mapped copies stay valid).
    /// PRECONDITION: `lockForFork()` was called before the fork.
    static func forgetAfterFork() {
        processFolder = nil
        loaderFolders.removeAll()
        lock.unlock()
    }

    /// Taken before fork() and released on both sides (Forking.swift).
    static func lockForFork() { lock.lock() }
    static func unlockInParent() { lock.unlock() }

    /// Removes the copy folders (`pyloader-<pid>-XXXXXX`) that processes which no longer
    /// exist left in `parent`: a process killed by SIGKILL, or that crashed, never removed
    /// its own. A folder whose process is alive is kept, and so is any folder of another
    /// user. The cleaners of two processes take turns on `parent/pyloader.lock`.
    static func removeFoldersOfEndedProcesses(in parent: String) {
        let lockFile = open(parent + "/pyloader.lock", O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        guard lockFile >= 0 else { return }
        defer { close(lockFile) }
        guard flock(lockFile, LOCK_EX) == 0 else { return }
        defer { flock(lockFile, LOCK_UN) }
        for name in directoryEntries(parent) where name.hasPrefix("pyloader-") {
            let parts = name.split(separator: "-")
            guard parts.count == 3, let pid = pid_t(parts[1]), pid > 0, pid != getpid() else { continue }
            var info = stat()
            let path = parent + "/" + name
            guard lstat(path, &info) == 0, (info.st_mode & S_IFMT) == S_IFDIR, info.st_uid == getuid() else { continue }
            if kill(pid, 0) == -1 && errno == ESRCH { removeTree(path) }
        }
    }

    /// The per-process cache folder, if one was made (for tests and diagnostics).
    static var cacheFolder: String? { lock.withLock { processFolder } }

    /// The private copy `loader` loads `path` from, if it made one (for tests).
    static func copy(of path: String, in loader: Loader) -> String? {
        var info = stat()
        guard stat(path, &info) == 0 else { return nil }
        let id = FileID(device: UInt64(info.st_dev), inode: UInt64(info.st_ino))
        return lock.withLock {
            files[id]?.holders.first { $0.loaderID == loader.id && $0.location != path }?.location
        }
    }

    // MARK: Copies

    /// Copies `original` into `loader`'s folder, mirroring its folder's path there,
    /// and returns the copy's path and identity.
    private static func makeCopy(of original: String, module: String, originalPath: String,
                                 for loader: Loader) throws -> (String, FileID) {
        func failed(_ what: String, _ code: Int32) -> Error {
            importError(module: module, path: originalPath, message:
                "cannot make loader '\(loader.name)' a private copy of extension module '\(module)'"
                + " (\(original)): \(what): \(String(cString: strerror(code))); set PYLOADER_CACHE to a writable folder,"
                + " or extensions = \"share\" to load the file in place")
        }
        let folder = try loaderFolder(for: loader, failed: failed)
        let slash = original.lastIndex(of: "/") ?? original.startIndex
        let directory = folder + original[..<slash]
        guard makeDirectories(directory) else { throw failed("cannot make \(directory)", errno) }
        let target = folder + original
        let id: FileID
        do {
            id = try freshCopy(of: original, at: target) { id in lock.withLock { loadedIDs.contains(id) } }
        } catch let error as CopyError {
            throw failed(error.what, error.code)
        }
        return (target, id)
    }

    struct CopyError: Error {
        let what: String
        let code: Int32
    }

    /// Copies `source` to `target`, making sure the copy's identity is not one that
    /// `isTaken` reports: a new file may reuse the inode of a removed copy whose
    /// library is still loaded (ext4 does, at once), and the dynamic linker would hand
    /// back that library. Such a file is kept (so the next one cannot get its inode
    /// again) and the copy retried under another name; the last copy is renamed to
    /// `target` and the kept files dropped.
    static func freshCopy(of source: String, at target: String, isTaken: (FileID) -> Bool) throws -> FileID {
        var placeholders: [String] = []
        defer { placeholders.forEach { unlink($0) } }
        for attempt in 0..<64 {
            let path = attempt == 0 ? target : "\(target).\(attempt)"
            unlink(path)
            let code = copyFile(from: source, to: path)
            guard code == 0 else { throw CopyError(what: "cannot write \(path)", code: code) }
            var info = stat()
            guard stat(path, &info) == 0 else { throw CopyError(what: "cannot read \(path)", code: errno) }
            let id = FileID(device: UInt64(info.st_dev), inode: UInt64(info.st_ino))
            if isTaken(id) {
                placeholders.append(path)
                continue
            }
            if path != target {
                // The placeholder at `target` keeps its inode until after the rename.
                guard rename(path, target) == 0 else { throw CopyError(what: "cannot rename \(path)", code: errno) }
                placeholders.removeAll { $0 == target }
            }
            return id
        }
        throw CopyError(what: "every new file reused the inode of a loaded one", code: EEXIST)
    }

    /// `loader`'s folder of copies (made on first use), in the per-process folder.
    private static func loaderFolder(for loader: Loader, failed: (String, Int32) -> Error) throws -> String {
        try lock.withLock {
            if let folder = loaderFolders[loader.id] { return folder }
            if processFolder == nil {
                var parent = cacheParentOption ?? environment("PYLOADER_CACHE") ?? environment("TMPDIR") ?? "/tmp"
                if !parent.hasPrefix("/") {
                    guard let folder = currentFolder() else { throw failed("cannot read the current folder", errno) }
                    parent = normalizedPath(folder + "/" + parent)
                }
                guard makeDirectories(parent) else { throw failed("cannot make \(parent)", errno) }
                var template = Array("\(parent)/pyloader-\(getpid())-XXXXXX".utf8CString)
                guard let made = mkdtemp(&template) else { throw failed("cannot make a folder in \(parent)", errno) }
                processFolder = String(cString: made)
                removeFoldersOfEndedProcesses(in: parent)
            }
            let folder = "\(processFolder!)/\(loader.name).\(loader.id)"
            guard mkdir(folder, 0o700) == 0 || errno == EEXIST else { throw failed("cannot make \(folder)", errno) }
            loaderFolders[loader.id] = folder
            return folder
        }
    }

    /// A byte-for-byte copy (never a link: the dynamic linker would see the same inode).
    /// Returns 0 or an errno value.
    private static func copyFile(from source: String, to destination: String) -> Int32 {
        let input = open(source, O_RDONLY | O_CLOEXEC)
        guard input >= 0 else { return errno }
        defer { close(input) }
        let output = open(destination, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o700)
        guard output >= 0 else { return errno }
        var code: Int32 = 0
        let size = 1 << 20
        let buffer = UnsafeMutableRawPointer.allocate(byteCount: size, alignment: 16)
        defer { buffer.deallocate() }
        copying: while true {
            let count = read(input, buffer, size)
            if count == 0 { break }
            if count < 0 {
                if errno == EINTR { continue }
                code = errno
                break
            }
            var written = 0
            while written < count {
                let result = write(output, buffer + written, count - written)
                if result < 0 {
                    if errno == EINTR { continue }
                    code = errno
                    break copying
                }
                written += result
            }
        }
        if close(output) != 0, code == 0 { code = errno }
        if code != 0 { unlink(destination) }
        return code
    }

    // MARK: Helpers

    private static func refusal(_ module: String, _ file: LoadedFile, _ loader: Loader) -> String {
        "cannot load extension module '\(module)' in loader '\(loader.name)': its file \(file.realPath)"
            + " is already loaded by \(describe(file.holders)), and loader '\(loader.name)' has extensions = \"error\";"
            + " set extensions = \"copy\" (the default) to give loader '\(loader.name)' a private copy of the file,"
            + " or \"share\" to load it in place"
    }

    /// "loader 'a'" / "loaders 'a' (closed), 'b'".
    private static func describe(_ holders: [Holder]) -> String {
        var seen = Set<Int>()
        let names = holders.filter { seen.insert($0.loaderID).inserted }.map { holder in
            "'\(holder.loaderName)'" + (Loader.registry.loader(id: holder.loaderID) == nil ? " (closed)" : "")
        }
        return (names.count == 1 ? "loader " : "loaders ") + names.joined(separator: ", ")
    }

    /// Sets an `ImportError(message, name=module, path=path)` and returns the error to throw.
    private static func importError(module: String, path: String, message: String) -> Error {
        let messageObject = makePythonString(message), nameObject = makePythonString(module), pathObject = makePythonString(path)
        PyErr_SetImportError(messageObject, nameObject, pathObject)
        Py_DecRef(messageObject); Py_DecRef(nameObject); Py_DecRef(pathObject)
        return PendingPythonException()
    }

    /// `error.add_note(note)` (PEP 678, 3.11); a failure to add it is ignored.
    private static func addNote(to error: PyObjectPointer, _ note: String) {
        guard let noteObject = makePythonString(note) else { PyErr_Clear(); return }
        defer { Py_DecRef(noteObject) }
        if let addNote = PyObject_GetAttrString(error, "add_note") {
            if let result = PyObject_CallOneArg(addNote, noteObject) { Py_DecRef(result) }
            Py_DecRef(addNote)
        }
        PyErr_Clear()
    }

    private static func environment(_ name: String) -> String? {
        guard let value = getenv(name), value.pointee != 0 else { return nil }
        return String(cString: value)
    }

    private static func realPath(_ path: String) -> String {
        resolvedPath(path) ?? path
    }

    /// `mkdir -p` with mode 0700; true when the folder exists afterwards.
    private static func makeDirectories(_ path: String) -> Bool {
        var prefix = ""
        for part in path.split(separator: "/") {
            prefix += "/" + part
            if mkdir(prefix, 0o700) != 0 && errno != EEXIST { return false }
        }
        var info = stat()
        return stat(path, &info) == 0 && (info.st_mode & S_IFMT) == S_IFDIR
    }

    /// `rm -r`, never following symbolic links.
    private static func removeTree(_ path: String) {
        var info = stat()
        guard lstat(path, &info) == 0 else { return }
        if (info.st_mode & S_IFMT) == S_IFDIR {
            for name in directoryEntries(path) { removeTree(path + "/" + name) }
            rmdir(path)
        } else {
            unlink(path)
        }
    }
}
