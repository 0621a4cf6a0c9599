/// A lifecycle or misuse error: something about loaders themselves, not an
/// exception raised by Python code (that is `PythonError`).
public enum LoaderError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The loader was closed; its handles, objects and methods can no longer be used.
    case closed(loader: String)
    /// A loader name that does not match `[A-Za-z0-9][A-Za-z0-9_.-]*`.
    case invalidName(String, reason: String)
    /// Another live loader already has this name.
    case duplicateName(String)
    /// A path given to a loader that is missing, not a folder or not readable.
    case invalidPath(String, reason: String)
    /// An argument that is not valid for the operation (for example a module name in
    /// both `shared` and `local`).
    case invalidArgument(String)
    /// The loader is in use on another thread (code running in it, a thread it
    /// started still alive, or it is a thread's context loader): `close()` refused.
    case busy(loader: String, reason: BusyReason)
    /// `close()` was called from code running inside that loader or a descendant.
    case closingFromInside(loader: String, caller: String)
    /// The root loader owns the main interpreter and lives as long as the process.
    case cannotCloseRoot
    /// CPython could not be started, or the runtime was already finalized or configured.
    case runtime(String)

    public var description: String {
        switch self {
        case .closed(let loader):
            return "loader '\(loader)' is closed"
        case .invalidName(let name, let reason):
            return "invalid loader name \(quoted(name)): \(reason)"
        case .duplicateName(let name):
            return "a live loader is already named '\(name)'"
        case .invalidPath(let path, let reason):
            return "invalid path \(quoted(path)): \(reason)"
        case .invalidArgument(let message):
            return message
        case .busy(let loader, let reason):
            return "loader '\(loader)' is busy: \(reason)"
        case .closingFromInside(let loader, let caller):
            return "cannot close loader '\(loader)' from code running in '\(caller)'"
                + (loader == caller ? "" : " (a descendant)")
        case .cannotCloseRoot:
            return "the root loader cannot be closed while the process runs"
        case .runtime(let message):
            return "CPython runtime: \(message)"
        }
    }
}

/// Why `close()` refused a loader in use (`LoaderError.busy`). Each names the loader of
/// the closing subtree it is about.
public enum BusyReason: Equatable, Sendable, CustomStringConvertible {
    /// Another thread is closing it.
    case beingClosed(loader: String)
    /// Another thread is running code in it.
    case runningOnAnotherThread(loader: String)
    /// It is the context loader of a running thread (`withContext`, `pyloader.context`).
    case contextLoader(loader: String)
    /// Threads that Python code started in it are still alive after the join timeout
    /// (daemon threads are not joined: any alive one refuses the close).
    case threadsStillRunning(loader: String, count: Int)
    /// Its `atexit` callbacks started threads that are still alive.
    case atexitLeftThreadsRunning(count: Int)

    public var description: String {
        switch self {
        case .beingClosed(let loader):
            return "'\(loader)' is being closed on another thread"
        case .runningOnAnotherThread(let loader):
            return "code is running in '\(loader)' on another thread"
        case .contextLoader(let loader):
            return "'\(loader)' is the context loader of a running thread"
        case .threadsStillRunning(let loader, let count):
            return "\(count) thread(s) started in '\(loader)' are still running (daemon threads are not stopped by close)"
        case .atexitLeftThreadsRunning(let count):
            return "its atexit callbacks left \(count) thread(s) running"
        }
    }
}

private func quoted(_ text: String) -> String {
    "\"" + text.replacingOccurrences("\"", with: "\\\"") + "\""
}

extension String {
    /// `replacingOccurrences` without Foundation.
    func replacingOccurrences(_ target: String, with replacement: String) -> String {
        guard !target.isEmpty else { return self }
        return split(separator: target, omittingEmptySubsequences: false).joined(separator: replacement)
    }
}
