import XCTest
import CPython
import CPyLoader
@_spi(Measurement) @testable import PyLoader

/// The SPI that `pyloader bench` measures through. Behaviour only: benchmarks are
/// not timed tests, so nothing here asserts a speed.
final class MeasurementTests: LoaderTestCase {
    func testActivatedForMeasurementRunsWithTheLoadersThreadStateAndGivesTheGILBack() throws {
        let child = try makeChild("measure")
        let interpreter = try child.withActivatedForMeasurement { pyl_CurrentThreadState()?.pointee.interp }
        XCTAssertEqual(interpreter, child.interpreter)
        XCTAssertEqual(ThreadRecord.current.gilDepth, 0, "the GIL is given back after the activation")
    }

    func testActivatedForMeasurementRefusesAClosedLoader() throws {
        let child = try makeChild("measure-closed")
        try child.close()
        XCTAssertThrowsError(try child.withActivatedForMeasurement { () }) { error in
            guard case LoaderError.closed = error else { return XCTFail("expected LoaderError.closed, got \(error)") }
        }
    }

    func testRootActivationAllowsARawInterpreterBehindPyLoadersBack() throws {
        let root = try Loader.root
        try Loader.withRootActivated {
            let previous = PyThreadState_Get()
            guard let tstate = Py_NewInterpreter() else { return XCTFail("Py_NewInterpreter failed") }
            Py_EndInterpreter(tstate)
            PyThreadState_Swap(previous)
        }
        // PyLoader's own records are untouched: loaders work as before.
        let child = try makeChild("after-raw")
        XCTAssertEqual(try value(child, "1 + 1", as: Int.self), 2)
        XCTAssertEqual(try value(root, "2 + 2", as: Int.self), 4)
    }

    func testRootActivationRunsInTheRootAndReturnsTheBodysValue() throws {
        let root = try Loader.root
        let interpreter = try Loader.withRootActivated { pyl_CurrentThreadState()?.pointee.interp }
        XCTAssertEqual(interpreter, root.interpreter)
        XCTAssertEqual(try Loader.withRootActivated { 42 }, 42)
    }

    /// The bench's fair process peer (`python-on-libpython`) must run the very library the
    /// loaders run, not the system's `python3` build: the same file mapped, the same version.
    func testPythonOnLibpythonRunsTheLibpythonTheLoadersRun() throws {
        let exe = try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")
        let peer = (exe as NSString).deletingLastPathComponent + "/python-on-libpython"
        guard FileManager.default.isExecutableFile(atPath: peer) else {
            throw XCTSkip("python-on-libpython was not built next to the test bundle (\(peer))")
        }
        let probe = "import sys\n"
            + "maps = [line.split()[-1] for line in open('/proc/self/maps') if '/libpython' in line]\n"
            + "print(sorted(set(maps))); print(sys.version)"
        let outcome = try runProcess(peer, ["-I", "-S", "-c", probe])
        XCTAssertEqual(outcome.status, 0, outcome.stderr)
        let root = try Loader.root
        let ours = try String(python: try root.eval(
            "str(sorted({line.split()[-1] for line in open('/proc/self/maps') if '/libpython' in line}))"))
        let version = try String(python: try root.eval("__import__('sys').version"))
        XCTAssertTrue(ours.contains("libpython"), "this test process maps no libpython: \(ours)")
        XCTAssertEqual(outcome.stdout, ours + "\n" + version + "\n")
    }
}
