import CPython
@_spi(Measurement) import PyLoader

/// The figure a plugin host feels (the start-up issue): make a child that imports a host
/// API of 200 modules (shared: the root already holds them) and 50 modules of its own,
/// call into it once, close it. Against the same work in a fresh `python3 -I -S` process
/// (which must import all 250) and against the floor: a raw sub-interpreter that imports
/// only the 50 own modules. The three are interleaved cycle by cycle.
enum PluginStartupBenchmark {
    static let figure = "plugin start-up: 200 host modules shared, 50 own, one call, close"

    static let hostModules = 200
    static let ownModules = 50

    static func run(_ context: BenchContext) throws -> [BenchRow] {
        let plan = context.plan
        let root = try Loader.root
        let pluginFolder = context.folder + "/plugin"
        try writeFiles(host: context.hostFolder, plugin: pluginFolder)
        // The host holds its API, as a host does before it loads plugins.
        try root.exec("import " + (0..<hostModules).map { "hostlib.m\($0)" }.joined(separator: ", "))
        let processCommand = [context.python, "-I", "-S", "-c",
                              "import sys; sys.path[:0] = \(pythonList([context.hostFolder, pluginFolder]))\n"
                                + "import plugin_main; plugin_main.run()"]
        // The same process on the loaders' libpython (nil: not built, the row is left out).
        let libpythonCommand = context.pythonOnLibpython.map { [$0] + processCommand.dropFirst() }
        // After the standard library, as a loader's own paths are (InterpreterSetup.configure).
        let floorSource = "import sys; sys.path.append(\(pythonString(pluginFolder)))\n"
            + "import " + (0..<ownModules).map { "own\($0)" }.joined(separator: ", ") + "\n"

        func plugin() throws {
            let child = try root.child("bench-plugin", paths: [pluginFolder])
            guard try Int(python: try child.importModule("plugin_main").run()) == hostModules + ownModules else {
                throw BenchProcess.Failure(description: "the plugin did not see its 250 modules")
            }
            try child.close()
        }
        func floor() throws {
            try Loader.withRootActivated {
                let tstate = try RawInterpreters.make()
                let previous = PyThreadState_Get()
                PyThreadState_Swap(tstate)
                let status = PyRun_SimpleString(floorSource)
                PyThreadState_Swap(previous)
                RawInterpreters.end(tstate)
                guard status == 0 else { throw BenchProcess.Failure(description: "the floor's imports failed") }
            }
        }
        // Warm-up: bytecode written, files cached, one-time costs paid.
        for _ in 0..<2 {
            try plugin()
            try floor()
            _ = try BenchProcess.timed(processCommand)
            if let command = libpythonCommand { _ = try BenchProcess.timed(command) }
        }
        let cycles = max(plan.lifecycleCycles / 2, 3)
        let means = try interleavedRuns(plan.lifecycleRuns, cycles: cycles, [
            { try secondsTaken { try plugin() } },
            { try secondsTaken { try floor() } },
            { try BenchProcess.timed(processCommand) },
        ] + (libpythonCommand.map { command in [{ try BenchProcess.timed(command) }] } ?? []))
        // The figures after this one measure a root of their own making: the host API leaves
        // (the close() leak-scan figure walks every module the root holds).
        try root.exec("import sys\nfor _name in [n for n in sys.modules if n == 'hostlib' or n.startswith('hostlib.')]:\n"
                      + "    del sys.modules[_name]\ndel _name, hostlib")
        let (ours, floors, processes) = (means[0], means[1], means[2])
        let value = SampleStats(ours)
        let subject = "child: create, import plugin_main (250 modules), call, close"
        return [
            BenchRow(figure: figure, subject: subject, value: value,
                     peer: "python3 -I -S process importing all 250 (a process)", peerValue: SampleStats(processes),
                     goal: .fasterBy(5),
                     note: "per cycle; \(cycles) cycles of each a run, interleaved, \(plan.lifecycleRuns) runs. The host API is "
                        + "a package of \(hostModules) modules the root holds (the child, parent-first, takes them from it); the "
                        + "plugin's \(ownModules) modules are its own. Bytecode is cached for all three."),
            BenchRow(figure: figure, subject: subject, value: value,
                     peer: "raw Py_NewInterpreter + the 50 own imports + Py_EndInterpreter (floor)",
                     peerValue: SampleStats(floors), goal: .ratioAtMost(1.2)),
        ] + (means.count > 3 ? [
            BenchRow(figure: figure, subject: subject, value: value,
                     peer: "the same process on PyLoader's libpython (python-on-libpython)",
                     peerValue: SampleStats(means[3])),
        ] : [])
    }

    /// `host/hostlib/m0..m199.py` (each a function and a class, as an API module has) and
    /// `plugin/own0..own49.py` plus `plugin/plugin_main.py`, which imports all 250.
    private static func writeFiles(host: String, plugin: String) throws {
        try BenchFiles.makeDirectory(host + "/hostlib")
        try BenchFiles.write("", to: host + "/hostlib/__init__.py")
        for index in 0..<hostModules {
            try BenchFiles.write("VALUE = \(index)\n\ndef api(x):\n    return x + VALUE\n\nclass Handle:\n    pass\n",
                                 to: host + "/hostlib/m\(index).py")
        }
        try BenchFiles.makeDirectory(plugin)
        for index in 0..<ownModules {
            try BenchFiles.write("VALUE = \(index)\n\ndef work():\n    return VALUE\n", to: plugin + "/own\(index).py")
        }
        let imports = (0..<hostModules).map { "import hostlib.m\($0)" } + (0..<ownModules).map { "import own\($0)" }
        try BenchFiles.write(imports.joined(separator: "\n") + """


            import sys


            def run():
                return sum(1 for name in sys.modules if name.startswith(("hostlib.m", "own")))
            """, to: plugin + "/plugin_main.py")
    }

    private static func pythonString(_ text: String) -> String { jsonString(text) }
    private static func pythonList(_ items: [String]) -> String { "[" + items.map(jsonString).joined(separator: ", ") + "]" }
}
