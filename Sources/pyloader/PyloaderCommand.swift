import ArgumentParser
import PyLoader
#if canImport(Glibc)
import Glibc
#endif

/// `pyloader`: run Python code in a tree of loaders described by a manifest.
@main
struct PyloaderCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "pyloader",
        abstract: "Java's class-loader model for CPython: run code in a tree of isolated interpreters.",
        discussion: """
            The tree comes from --manifest FILE, else ./pyloader.toml when it exists, else the root alone. \
            Exit status 2 for usage and manifest errors.
            """,
        subcommands: [DemoCommand.self, RunCommand.self, TreeCommand.self, WhichCommand.self, TestCommand.self, BenchCommand.self]
    )

    static func main() {
        // Registered before CPython starts, so it runs after CPython's finalization (atexit
        // handlers run in reverse order): a program ended by an uncaught KeyboardInterrupt
        // ends the process through SIGINT, as python3 does, so that a shell sees it.
        atexit {
            guard PyloaderCommand.endsBySIGINT else { return }
            signal(SIGINT, SIG_DFL)
            kill(getpid(), SIGINT)
        }
        do {
            var command = try parseAsRoot()
            try command.run()
        } catch {
            Glibc.exit(status(for: error))
        }
    }

    /// Set when the program's exit status is the one of an uncaught KeyboardInterrupt.
    nonisolated(unsafe) static var endsBySIGINT = false

    /// Prints what went wrong (nothing for a plain exit status; help on stdout) and
    /// returns the process's exit status: 2 for usage and manifest errors, 1 for
    /// other failures.
    static func status(for error: Error) -> Int32 {
        switch error {
        case let exit as ExitCode:
            return exit.rawValue
        case let manifest as ManifestError:
            // Already one line that names the file, the line, the loader and the key.
            printError(manifest.description)
            return 2
        case let usage as UsageError:
            printError("pyloader: " + usage.message)
            return 2
        case let python as PythonError where python.typeName == "KeyboardInterrupt":
            // Ctrl-C reached Python code run by the command itself (pyloader bench, say):
            // stop quietly and end through SIGINT, as python3 does.
            printError("pyloader: interrupted")
            endsBySIGINT = true
            return 130
        case is LoaderError, is PythonError:
            printError("pyloader: \(error)")
            return 1
        default:
            // ArgumentParser's own errors and requests (usage errors, --help).
            let code = exitCode(for: error)
            let message = fullMessage(for: error)
            if code == .success {
                if !message.isEmpty { writeOutput(message) }
                return 0
            }
            printError(message)
            // ArgumentParser's status for usage errors is 64 (EX_USAGE); usage errors exit
            // with 2, as Python's argparse gives (docs/ARCHITECTURE.md, "CLI exit statuses").
            return code == .validationFailure ? 2 : code.rawValue
        }
    }
}

/// A usage error found after parsing (an unknown loader for `--in`, a missing PATH):
/// one line on stderr, exit status 2.
struct UsageError: Error {
    let message: String
    init(_ message: String) { self.message = message }
}

