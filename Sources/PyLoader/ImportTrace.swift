#if canImport(Glibc)
import Glibc
#endif
import Logging

/// An opt-in trace of import resolution, one line per decision in a child loader
/// (the equivalent of Java's `-verbose:class`): the importing loader, the name, the
/// decision (local, delegated to X, context) and the file.
///
/// On when the environment has `PYLOADER_TRACE=1` at start-up, or when set here.
/// Lines go to `logger` (swift-log) at `.info`; bootstrap `LoggingSystem` to route them.
public enum ImportTrace {
    private static let lock = Lock()
    nonisolated(unsafe) private static var enabled = getenv("PYLOADER_TRACE").map { String(cString: $0) == "1" } ?? false
    nonisolated(unsafe) private static var _logger = Logger(label: "pyloader.import")

    /// Whether import decisions are logged.
    public static var isEnabled: Bool {
        get { lock.withLock { enabled } }
        set { lock.withLock { enabled = newValue } }
    }

    /// Where the lines go.
    public static var logger: Logger {
        get { lock.withLock { _logger } }
        set { lock.withLock { _logger = newValue } }
    }
}

/// Logs one resolution when tracing is on.
@inline(__always)
func trace(_ loader: Loader, _ name: String, _ decision: @autoclosure () -> String, file: String? = nil) {
    guard ImportTrace.isEnabled else { return }
    let where_ = file.map { " (\($0))" } ?? ""
    ImportTrace.logger.info("[\(loader.name)] import \(name): \(decision())\(where_)")
}
