#if canImport(Glibc)
import Glibc
#endif

// The command's own output goes straight to file descriptors 1 and 2 (`write`), unbuffered
// like Python's in a loader (Runtime.startCPython), so that the two reach a pipe in the
// order they were written. (C's `stdout`, which Swift's `print` buffers through, is a
// global that Swift 6 will not touch.)

/// Writes `text` and `terminator` to standard output.
func writeOutput(_ text: String = "", terminator: String = "\n") {
    writeAll(STDOUT_FILENO, text + terminator)
}

/// Writes one message to stderr, with a newline unless it has one.
func printError(_ message: String) {
    writeAll(STDERR_FILENO, message.hasSuffix("\n") ? message : message + "\n")
}

/// `write(2)` until every byte is written (or the stream is gone).
private func writeAll(_ descriptor: Int32, _ text: String) {
    var bytes = Array(text.utf8)[...]
    while !bytes.isEmpty {
        let written = bytes.withUnsafeBytes { write(descriptor, $0.baseAddress, $0.count) }
        if written < 0 && errno == EINTR { continue }
        guard written > 0 else { return }
        bytes = bytes.dropFirst(written)
    }
}
