#if canImport(Glibc)
import Glibc
#endif

/// The names in a folder (not `.` and `..`); empty when it cannot be read.
func directoryEntries(_ folder: String) -> [String] {
    guard let directory = opendir(folder) else { return [] }
    defer { closedir(directory) }
    var names: [String] = []
    while let entry = readdir(directory) {
        let name = direntName(entry)
        if name != "." && name != ".." { names.append(name) }
    }
    return names
}

/// A directory entry's name, read in place: `entry.pointee` would copy a whole `dirent`,
/// while readdir packs its entries (`d_reclen`), so the last one in its buffer is shorter
/// than `dirent` and the copy read past the buffer (found by AddressSanitizer).
func direntName(_ entry: UnsafeMutablePointer<dirent>) -> String {
    let offset = MemoryLayout<dirent>.offset(of: \dirent.d_name)!
    return String(cString: (UnsafeRawPointer(entry) + offset).assumingMemoryBound(to: CChar.self))
}

/// The top-level module names a standard-library folder holds: also the private ones
/// `sys.stdlib_module_names` leaves out (`_sysconfigdata_*`, Debian's additions), so
/// that every loader loads them for itself like the rest of the standard library.
func topLevelModuleNames(in folder: String) -> [String] {
    var names: [String] = []
    for name in directoryEntries(folder) {
        guard !name.hasPrefix("."), name != "site-packages", name != "dist-packages" else { continue }
        if name.hasSuffix(".py") {
            names.append(String(name.dropLast(3)))
        } else if name.hasSuffix(".so"), let dot = name.firstIndex(of: ".") {
            names.append(String(name[..<dot]))
        } else if access(folder + "/" + name + "/__init__.py", F_OK) == 0 {
            names.append(name)
        }
    }
    return names
}

/// An absolute, normalized path to an existing, readable folder.
func validatedFolder(_ path: String) throws -> String {
    guard !path.isEmpty else { throw LoaderError.invalidPath(path, reason: "empty") }
    var absolute = path
    if !path.hasPrefix("/") {
        guard let folder = currentFolder() else {
            throw LoaderError.invalidPath(path, reason: "the current folder cannot be read")
        }
        absolute = folder + "/" + path
    }
    absolute = normalizedPath(absolute)
    var info = stat()
    guard stat(absolute, &info) == 0 else {
        throw LoaderError.invalidPath(path, reason: "no such folder")
    }
    guard (info.st_mode & S_IFMT) == S_IFDIR else {
        throw LoaderError.invalidPath(path, reason: "not a folder")
    }
    guard access(absolute, R_OK | X_OK) == 0 else {
        throw LoaderError.invalidPath(path, reason: "not readable")
    }
    return absolute
}

/// The process's current folder (`getcwd`), or nil when it cannot be read (it was deleted).
package func currentFolder() -> String? {
    guard let folder = getcwd(nil, 0) else { return nil }
    defer { free(folder) }
    return String(cString: folder)
}

/// `path` made absolute with every symbolic link resolved (`realpath`), or nil when it
/// cannot be (it does not exist).
func resolvedPath(_ path: String) -> String? {
    guard let resolved = realpath(path, nil) else { return nil }
    defer { free(resolved) }
    return String(cString: resolved)
}

/// Removes `.`, `..` and repeated slashes from an absolute path, without touching links.
func normalizedPath(_ path: String) -> String {
    var parts: [Substring] = []
    for part in path.split(separator: "/", omittingEmptySubsequences: true) {
        switch part {
        case ".": continue
        case "..": if !parts.isEmpty { parts.removeLast() }
        default: parts.append(part)
        }
    }
    return "/" + parts.joined(separator: "/")
}
