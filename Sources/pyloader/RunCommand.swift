import ArgumentParser
import PyLoader
#if canImport(Glibc)
import Glibc
#endif

/// `pyloader run`: like `python`, inside one loader of the tree.
struct RunCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Run a script, a module (-m) or code (-c) inside a loader, like `python`.",
        discussion: """
            Every loader of the manifest is created first, so the code can reach the others \
            through pyloader.get(name). SCRIPT "-" reads the program from standard input, as \
            does no program while standard input is not a terminal; with no program on a \
            terminal, an interactive prompt runs inside --in. Exit status: the program's own; \
            1 for an uncaught exception; 2 for usage and manifest errors.
            """
    )

    @OptionGroup var tree: TreeOptions

    @Option(name: .customLong("in"), help: "The loader to run in.")
    var loaderName = "root"

    @Option(name: .customShort("c"), help: "Program passed in as a string.")
    var code: String?

    @Option(name: .customShort("m"), help: "Run a library module as a script.")
    var module: String?

    @Argument(parsing: .captureForPassthrough, help: "SCRIPT [ARGS...], or the ARGS for -c / -m.")
    var arguments: [String] = []

    @Flag(name: .customShort("i"), help: "Inspect interactively after running the program, as `python -i`.")
    var inspect = false

    func validate() throws {
        if code != nil && module != nil { throw ValidationError("give only one of -c and -m") }
    }

    func run() throws {
        let loader = try tree.makeTree().loader(named: loaderName)
        var status: Int32
        var argv: [String]? = nil
        if let code {
            status = try loader.runMain(code: code, arguments: arguments)
            argv = ["-c"] + arguments
        } else if let module {
            status = try loader.runMain(module: module, arguments: arguments)
            argv = ["-m"] + arguments
        } else if arguments.first == "-" || (arguments.isEmpty && isatty(STDIN_FILENO) == 0) {
            // Like python3: `-`, or no program while standard input is not a terminal.
            status = try loader.runMainFromStandardInput(arguments: Array(arguments.dropFirst()))
            argv = ["-"] + arguments.dropFirst()
        } else if arguments.isEmpty {
            status = try loader.runInteractivePrompt()
        } else {
            status = try loader.runMain(path: arguments[0], arguments: Array(arguments.dropFirst()))
            argv = arguments
        }
        // -i: the prompt after the program, whatever its status (a SystemExit included), as python3 -i.
        if inspect, argv != nil {
            status = try loader.runInteractivePrompt(argv: argv)
        }
        // 130: an uncaught KeyboardInterrupt (Loader.runMain's status for it).
        if status == 130 { PyloaderCommand.endsBySIGINT = true }
        throw ExitCode(status)
    }
}
