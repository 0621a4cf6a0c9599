import ArgumentParser
import PyLoader

/// `pyloader run`: like `python`, inside one loader of the tree.
struct RunCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Run a script, a module (-m) or code (-c) inside a loader, like `python`.",
        discussion: """
            Every loader of the manifest is created first, so the code can reach the others \
            through pyloader.get(name). Exit status: the program's own; 1 for an uncaught \
            exception; 2 for usage and manifest errors.
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

    func validate() throws {
        if code != nil && module != nil { throw ValidationError("give only one of -c and -m") }
        if code == nil && module == nil && arguments.isEmpty {
            throw ValidationError("give a SCRIPT, -m MODULE or -c CODE")
        }
    }

    func run() throws {
        let loader = try tree.makeTree().loader(named: loaderName)
        let status: Int32
        if let code {
            status = try loader.runMain(code: code, arguments: arguments)
        } else if let module {
            status = try loader.runMain(module: module, arguments: arguments)
        } else {
            status = try loader.runMain(path: arguments[0], arguments: Array(arguments.dropFirst()))
        }
        // 130: an uncaught KeyboardInterrupt (Loader.runMain's status for it).
        if status == 130 { PyloaderCommand.endsBySIGINT = true }
        throw ExitCode(status)
    }
}
