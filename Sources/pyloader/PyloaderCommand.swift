import ArgumentParser
#if canImport(Glibc)
import Glibc
#endif

/// `pyloader`: run Python code in a tree of loaders described by a manifest.
@main
struct PyloaderCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "pyloader",
        abstract: "Java's class-loader model for CPython: run code in a tree of isolated interpreters.",
        subcommands: [RunCommand.self]
    )

    static func main() {
        // Swift's stdout is block-buffered when piped, Python's is unbuffered:
        // line buffering keeps their output in order.
        setvbuf(stdout, nil, _IOLBF, 0)
        do {
            var command = try parseAsRoot()
            try command.run()
        } catch {
            exit(withError: error)
        }
    }
}
