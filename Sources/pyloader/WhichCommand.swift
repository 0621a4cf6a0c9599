import ArgumentParser
import PyLoader

/// `pyloader which`: the loader that defines a module, seen from a loader, and its file.
struct WhichCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "which",
        abstract: "Show which loader defines MODULE when it is imported from --in, and its file.",
        discussion: "Imports nothing when it can (a submodule's package is imported to find its file). Exit status 1 when no loader provides MODULE."
    )

    @OptionGroup var tree: TreeOptions

    @Option(name: .customLong("in"), help: "The loader the import is made from.")
    var loaderName = "root"

    @Argument(help: "A module name, dotted names allowed.")
    var module: String

    func run() throws {
        let loader = try tree.makeTree().loader(named: loaderName)
        guard let definer = try loader.which(module) else {
            writeOutput("\(module): not found (no loader provides it, seen from '\(loader.name)')")
            throw ExitCode(1)
        }
        writeOutput("\(module): loader '\(definer.name)'" + (definer === loader ? "" : " (seen from '\(loader.name)')"))
        writeOutput("  file: \(WhichCommand.location(of: module, in: definer))")
    }

    /// Where `module` comes from in its defining loader: the file of the module already
    /// imported there, else what `importlib.util.find_spec` says (which imports nothing
    /// for a top-level name).
    static func location(of module: String, in definer: Loader) -> String {
        do {
            let loaded = try definer.importModule("sys").modules.get(module)
            let spec = loaded.isNone
                ? try definer.importModule("importlib.util").find_spec(module)
                : try loaded.attribute("__spec__")
            guard !spec.isNone else { return "unknown (the module has no spec)" }
            let origin = try spec.origin
            if try spec.has_location.isTruthy(), let file = String(origin) { return file }
            if !origin.isNone { return "(\(origin))" }                   // "built-in", "frozen"
            let locations = try [String](python: try definer.importModule("builtins").list(spec.submodule_search_locations))
            return "namespace package in " + locations.joined(separator: ", ")
        } catch {
            return "unknown (\(error))"
        }
    }
}
