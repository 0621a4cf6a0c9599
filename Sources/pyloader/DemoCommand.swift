import ArgumentParser
import PyLoader
#if canImport(Glibc)
import Glibc
#endif

/// `pyloader demo`: the plugin-host demo on the package's Fixtures, no set-up needed.
struct DemoCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "demo",
        abstract: "The plugin-host demo: two plugins with conflicting versions of one package, side by side."
    )

    func run() throws {
        guard let file = DemoCommand.manifestFile() else {
            throw UsageError("cannot find Fixtures/demo/pyloader.toml; run `pyloader demo` from the PyLoader package folder")
        }
        // The demo imports from the package's Fixtures: leave no __pycache__ there.
        var options = RuntimeOptions(writeBytecode: false)
        options.handlesSignals = true
        try Loader.configure(options)
        let manifest = try Manifest.load(file: file)
        let made = LoaderTree(manifest: manifest, loaders: try manifest.makeLoaders(), isDefault: false)
        let host = try made.loader(named: "host"), alpha = try made.loader(named: "alpha"), beta = try made.loader(named: "beta")

        writeOutput("""
            PyLoader demo: a plugin host whose two plugins need conflicting versions of `greeting`.
            Each loader below is a separate Python interpreter with its own sys.modules.
            Manifest: \(file)

            """)
        for line in TreeCommand.render(made) { writeOutput("  " + line) }

        // 1. Importing each plugin registers it with the host's registry (hostapi is shared).
        let alphaPlugin = try alpha.importModule("alpha").plugin
        let betaPlugin = try beta.importModule("beta").plugin
        writeOutput("\n1. Both versions of `greeting` are alive at once")
        for (loader, plugin) in [(alpha, alphaPlugin), (beta, betaPlugin)] {
            let version = try String(python: try loader.importModule("greeting").__version__)
            let greeting = try String(python: try plugin.greet("world"))
            writeOutput("   \(pad(loader.name + ":", 7)) greeting \(version) -> \(greeting)")
        }

        // 2. One hostapi module object, seen from three interpreters.
        let hostapi = try host.importModule("hostapi")
        let isinstance = try host.importModule("builtins").isinstance
        writeOutput("\n2. `hostapi` is one module, shared by host, alpha and beta")
        for (loader, plugin) in [(alpha, alphaPlugin), (beta, betaPlugin)] {
            let same = try loader.importModule("hostapi").isIdentical(to: hostapi)
            let instance = try isinstance(plugin, hostapi.Plugin).isTruthy()
            writeOutput("   \(pad(loader.name + "'s", 8))hostapi is host's hostapi: \(python(same))"
                  + "    isinstance(\(loader.name).plugin, hostapi.Plugin): \(python(instance))")
        }
        let registered = try [String](python: try host.eval("[p.name for p in __import__('hostapi').plugins()]"))
        writeOutput("   host's plugin registry: \(registered.joined(separator: ", "))")

        // 3. `which`: where an import from each loader would come from (nothing imported).
        writeOutput("\n3. Which loader defines each module, seen from each loader (`pyloader which`)")
        let viewers = [host, alpha, beta]
        writeOutput("   " + pad("module", 10) + viewers.map { pad("from " + $0.name, 12) }.joined().trimmingTrailingSpaces)
        for module in ["greeting", "hostapi", "json"] {
            let definers = try viewers.map { try $0.which(module)?.name ?? "(none)" }
            writeOutput("   " + pad(module, 10) + definers.map { pad($0, 12) }.joined().trimmingTrailingSpaces)
        }
        writeOutput("   (every loader has its own standard library, so json is everyone's own)")

        // 4. Eby's rule: code imports into the loader that defined it, whoever calls it.
        writeOutput("\n4. A cross-loader call: alpha runs `hostapi.describe()`, whose body does `import json`")
        let hostHadJSON = try has(host, "json"), alphaHadJSON = try has(alpha, "json")
        try alpha.exec("import hostapi\nsummary = hostapi.describe()")
        let summary = try String(python: try alpha.eval("summary"))
        let definer = try String(python: try alpha.eval("__import__('pyloader').defining_loader(hostapi.describe).name"))
        writeOutput("   describe() was defined by loader '\(definer)'; it returned \(summary)")
        writeOutput("   'json' in host's sys.modules:  before \(python(hostHadJSON)), after \(python(try has(host, "json")))")
        writeOutput("   'json' in alpha's sys.modules: before \(python(alphaHadJSON)), after \(python(try has(alpha, "json")))")
        writeOutput("   The lazy import ran in '\(definer)', the loader that defined the function, not in the caller.")
    }

    /// Whether `module` is in `loader`'s `sys.modules`.
    private func has(_ loader: Loader, _ module: String) throws -> Bool {
        try loader.importModule("sys").modules.__contains__(module).isTruthy()
    }

    /// `True` / `False`, as Python writes them (the demo shows Python facts).
    private func python(_ flag: Bool) -> String { flag ? "True" : "False" }

    private func pad(_ text: String, _ width: Int) -> String {
        text.count >= width ? text + " " : text + String(repeating: " ", count: width - text.count)
    }

    /// `Fixtures/demo/pyloader.toml` of the package this executable was built from (found
    /// from this source file's path, `<package>/Sources/pyloader/DemoCommand.swift`),
    /// else under the current folder; nil when neither exists.
    static func manifestFile(sourceFile: String = #filePath) -> String? {
        let package = sourceFile.split(separator: "/", omittingEmptySubsequences: false).dropLast(3)
            .joined(separator: "/")
        let candidates = [package + "/Fixtures/demo/pyloader.toml", currentDirectory() + "/Fixtures/demo/pyloader.toml"]
        return candidates.first { access($0, R_OK) == 0 }
    }
}

extension String {
    var trimmingTrailingSpaces: String {
        var text = Substring(self)
        while text.last == " " { text = text.dropLast() }
        return String(text)
    }
}
