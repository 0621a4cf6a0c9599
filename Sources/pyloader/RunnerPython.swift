import PyLoader

/// The Python halves of `pyloader test`. They live as `.py` files in
/// `Sources/pyloader/Python/`, which `Package.swift` embeds into the executable at build
/// time (`.embedInCode`), so nothing needs installing; `.ci/run` lints them and
/// `Tests/Python/` unit-tests their logic. Each file's docstring says what it does.
enum RunnerPython {
    /// `unittest_runner.py`: runs one test module, or one test, in a fresh loader.
    case unittestRunner
    /// `pytest_controller.py`: the pytest session whose tests run in fresh loaders.
    case pytestController
    /// `pytest_worker.py`: runs pytest inside one fresh loader for the controller.
    case pytestWorker

    /// The file's name under `Sources/pyloader/Python/`.
    var fileName: String {
        switch self {
        case .unittestRunner: "unittest_runner.py"
        case .pytestController: "pytest_controller.py"
        case .pytestWorker: "pytest_worker.py"
        }
    }

    /// The name of the module made from it (`__name__`).
    var moduleName: String { "_pyloader_" + fileName.dropLast(3) }

    /// The name tracebacks show: in angle brackets, so that `linecache` does not look for
    /// a file of that name in the user's folders.
    var codeName: String { "<pyloader: Sources/pyloader/Python/\(fileName)>" }

    /// The file's text.
    var source: String {
        switch self {
        case .unittestRunner: String(decoding: PackageResources.unittest_runner_py, as: UTF8.self)
        case .pytestController: String(decoding: PackageResources.pytest_controller_py, as: UTF8.self)
        case .pytestWorker: String(decoding: PackageResources.pytest_worker_py, as: UTF8.self)
        }
    }
}

extension RunnerPython {
    /// A new module made from this file inside `loader` (its own module object, not put
    /// into `sys.modules`).
    func makeModule(in loader: Loader) throws -> PythonObject {
        let builtins = try loader.importModule("builtins")
        let module = try loader.importModule("types").ModuleType(moduleName)
        let code = try builtins.compile(source, codeName, "exec")
        try builtins.exec(code, module.__dict__)
        return module
    }
}
