import XCTest
@testable import PyLoader

/// PyLoader's own Python (`Sources/*/Python/*.py`, embedded at build time): its unit
/// tests (`Tests/Python/`) run in a loader, the Swift and Python halves of the `pyloader`
/// module agree on the functions between them, and tracebacks name the files.
final class PythonSourceTests: LoaderTestCase {
    private let repository = String(fixtures.dropLast("/Fixtures".count))

    /// `Tests/Python/test_*.py`, run by unittest in a fresh child loader.
    func testThePythonUnitTestsPass() throws {
        let child = try makeChild("python-unit", paths: [repository + "/Tests/Python"])
        try child.exec("""
            import io, unittest
            _stream = io.StringIO()
            _suite = unittest.defaultTestLoader.discover(\(pythonLiteral(repository + "/Tests/Python")), pattern="test_*.py")
            _result = unittest.TextTestRunner(stream=_stream, verbosity=2).run(_suite)
            """)
        let report = try value(child, "_stream.getvalue()", as: String.self)
        XCTAssertTrue(try value(child, "_result.wasSuccessful()", as: Bool.self), report)
        // Every test file ran (a file that fails to import shows as one error above).
        XCTAssertGreaterThanOrEqual(try value(child, "_result.testsRun", as: Int.self), 18, report)
        XCTAssertEqual(try value(child, "len(_result.skipped)", as: Int.self), 0, report)
    }

    /// The `_core_*` functions: those Swift registers, those the Python files (library and CLI) call, and the
    /// `builtins` that `ruff.toml` declares for the linter are the same names.
    func testTheSwiftAndPythonHalvesAgreeOnTheCoreFunctions() throws {
        let registered = Set(PyloaderModule.coreFunctionNames)
        var used = Set<String>()
        for folder in ["/Sources/PyLoader/Python", "/Sources/pyloader/Python"] {
            for file in try FileManager.default.contentsOfDirectory(atPath: repository + folder) where file.hasSuffix(".py") {
                used.formUnion(coreNames(in: try String(contentsOfFile: repository + folder + "/" + file, encoding: .utf8)))
            }
        }
        XCTAssertTrue(used.contains("_core_stop_requested"), "the CLI's files were read")
        XCTAssertEqual(registered.subtracting(used), [], "registered in Swift, called by no Python file")
        XCTAssertEqual(used.subtracting(registered), [], "called by Python, not registered in Swift")
        let ruff = try String(contentsOfFile: repository + "/ruff.toml", encoding: .utf8)
        XCTAssertEqual(coreNames(in: ruff), registered, "ruff.toml's builtins list")
        XCTAssertEqual(registered.count, PyloaderModule.coreFunctionNames.count, "a name registered twice")
    }

    /// A traceback through the `pyloader` module names the file it came from.
    func testATracebackNamesTheEmbeddedFile() throws {
        let child = try makeChild("python-traceback")
        try child.exec("""
            import pyloader, traceback
            try:
                pyloader.get("no loader has this name")
            except KeyError as error:
                _files = [frame.filename for frame in traceback.extract_tb(error.__traceback__)]
            """)
        let files = try value(child, "_files", as: [String].self)
        XCTAssertEqual(files.last, "<pyloader: Sources/PyLoader/Python/pyloader.py>")
    }

    private func coreNames(in text: String) -> Set<String> {
        var names = Set<String>()
        var rest = Substring(text)
        while let range = rest.range(of: "_core_") {
            let tail = rest[range.lowerBound...]
            let name = tail.prefix { $0.isLetter || $0.isNumber || $0 == "_" }
            names.insert(String(name))
            rest = rest[name.endIndex...]
        }
        return names
    }
}
