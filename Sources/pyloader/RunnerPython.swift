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

    /// The file: its path in the repository and its bytes.
    var file: EmbeddedPythonFile {
        let folder = "Sources/pyloader/Python"
        switch self {
        case .unittestRunner: return EmbeddedPythonFile(folder, "unittest_runner.py", PackageResources.unittest_runner_py)
        case .pytestController: return EmbeddedPythonFile(folder, "pytest_controller.py", PackageResources.pytest_controller_py)
        case .pytestWorker: return EmbeddedPythonFile(folder, "pytest_worker.py", PackageResources.pytest_worker_py)
        }
    }

    var source: String { file.source }
}

extension RunnerPython {
    /// A new module made from this file inside `loader` (its own module object, not put
    /// into `sys.modules`).
    func makeModule(in loader: Loader) throws -> PythonObject {
        let builtins = try loader.importModule("builtins")
        let module = try loader.importModule("types").ModuleType(file.moduleName)
        let code = try builtins.compile(file.source, file.codeName, "exec")
        try builtins.exec(code, module.__dict__)
        return module
    }
}
