import CPython
import Foundation
import XCTest
@testable import PyLoader

/// Runs `PyLoaderTests.SubprocessScenarioTests/testScenario` with PYLOADER_SCENARIO=`name`
/// in a new process of this test bundle (`/proc/self/exe`), for faults that end a process.
func runScenario(_ name: String, timeout: TimeInterval = 120) throws -> (reason: Process.TerminationReason, status: Int32, output: String) {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe"))
    process.arguments = ["PyLoaderTests.SubprocessScenarioTests/testScenario"]
    var environment = ProcessInfo.processInfo.environment
    environment["PYLOADER_SCENARIO"] = name
    process.environment = environment
    let output = Pipe()
    process.standardOutput = output
    process.standardError = output
    try process.run()
    let finished = DispatchSemaphore(value: 0)
    nonisolated(unsafe) var data = Data()
    DispatchQueue.global().async {
        data = output.fileHandleForReading.readDataToEndOfFile()
        finished.signal()
    }
    if finished.wait(timeout: .now() + timeout) == .timedOut {
        process.terminate()
        _ = finished.wait(timeout: .now() + 10)
    }
    process.waitUntilExit()
    return (process.terminationReason, process.terminationStatus, String(decoding: data, as: UTF8.self))
}

/// Faults that end the process when they go wrong, each run alone in a child process by
/// `runScenario` (skipped in a normal run). Each must end with exit status 0.
final class SubprocessScenarioTests: XCTestCase {
    func testScenario() throws {
        guard let scenario = ProcessInfo.processInfo.environment["PYLOADER_SCENARIO"] else {
            throw XCTSkip("runs only in a child process started by runScenario(_:)")
        }
        try Loader.configure(RuntimeOptions(writeBytecode: false))
        switch scenario {
        case "ring-recursion": try ringRecursion()
        case "enter-while-close-joins": try enterWhileCloseJoins()
        case "starting-thread-ends": try startingThreadEnds()
        case "manifest-small-stack": try manifestOnSmallStack()
        case "two-thread-import-cycle": try twoThreadImportCycle()
        case "creating-thread-ends": try creatingThreadEnds()
        case "stdlib-extension-first-in-child": try stdlibExtensionFirstInChild()
        case "two-thread-context-cycle": try twoThreadContextCycle()
        case "python-threads-close-race": try pythonThreadsCloseRace()
        default: XCTFail("unknown scenario \(scenario)")
        }
    }

    private func ringRecursion() throws {
        let root = try Loader.root
        let ring = try (0..<16).map { _ in try root.child(uniqueName("ring")) }
        for (index, loader) in ring.enumerated() {
            try loader.exec("import pyloader\nNEXT = pyloader.get('\(ring[(index + 1) % ring.count].name)')\n"
                            + "def f(n):\n    return NEXT.eval(f'f({n + 1})')")
        }
        XCTAssertThrowsError(try ring[0].exec("f(0)")) { error in
            XCTAssertEqual((error as? PythonError)?.typeName, "RecursionError")
        }
        for loader in ring { try loader.close() }
    }

    private func enterWhileCloseJoins() throws {
        let root = try Loader.root
        func makeChild(_ prefix: String) throws -> Loader { try root.child(uniqueName(prefix)) }
        func value<T: ConvertibleFromPython>(_ loader: Loader, _ expression: String, as type: T.Type) throws -> T {
            try loader.eval(expression).converted(to: T.self)
        }
        for variant in ["thread", "atexit"] {
            let loader = try makeChild("enter-\(variant)")
            if variant == "thread" {
                try loader.exec("import threading, time\nworker = threading.Thread(target=time.sleep, args=(1,))\nworker.start()")
            } else {
                try loader.exec("import atexit, time\natexit.register(time.sleep, 1)")
            }
            let closed = DispatchSemaphore(value: 0)
            nonisolated(unsafe) var closeOutcome: Error?
            Thread.detachNewThread {
                do { try loader.close() } catch { closeOutcome = error }
                closed.signal()
            }
            usleep(300_000)   // close() is now waiting, without the GIL
            var enterOutcome: Error?
            do { try loader.exec("import time\ntime.sleep(1.5)") } catch { enterOutcome = error }
            XCTAssertEqual(closed.wait(timeout: .now() + 20), .success)
            if let enterOutcome {
                XCTAssertEqual(enterOutcome as? LoaderError, .closed(loader: loader.name), variant)
                XCTAssertTrue(loader.isClosed, variant)
            } else if let closeOutcome {
                guard case LoaderError.busy? = closeOutcome as? LoaderError else { return XCTFail("\(variant): \(closeOutcome)") }
                XCTAssertEqual(try value(loader, "6 * 7", as: Int.self), 42, variant)
            } else {
                XCTFail("\(variant): both the close and the code running in the loader succeeded")
            }
        }
    }

    /// P (child of the root) with package `cyca`, which sleeps 0.5 s and then imports C's
    /// `cycb` explicitly; its child C with `cycb`, which sleeps 0.5 s and imports `cyca`.
    private func slowCyclePackages(prefix: String) throws -> (Loader, Loader) {
        let folder = try temporaryFolder()
        let parentName = uniqueName("\(prefix)-p"), childName = uniqueName("\(prefix)-c")
        for (sub, name, source) in [("p", "cyca", "import pyloader, time\nBEFORE = 1\ntime.sleep(0.5)\n"
                                          + "cycb = pyloader.get('\(childName)').import_module('cycb')\nAFTER = 2\n"),
                                    ("c", "cycb", "import time\ntime.sleep(0.5)\nimport cyca\nSAW_AFTER = getattr(cyca, 'AFTER', 'partial')\n")] {
            try makeFolder("\(folder)/\(sub)")
            try makeFolder("\(folder)/\(sub)/\(name)")
            try write("\(folder)/\(sub)/\(name)/__init__.py", source)
        }
        let parent = try Loader.root.child(parentName, paths: [folder + "/p"])
        return (parent, try parent.child(childName, paths: [folder + "/c"]))
    }

    /// FaultMatrixTests.makeCycle's packages, imported from both ends at once.
    private func twoThreadImportCycle() throws {
        let (parent, child) = try slowCyclePackages(prefix: "cyc")
        let group = DispatchGroup()
        for (loader, module) in [(parent, "cyca"), (child, "cycb")] {
            group.enter()
            Thread.detachNewThread {
                _ = try? loader.importModule(module)
                group.leave()
            }
        }
        guard group.wait(timeout: .now() + 20) == .success else {
            print("two-thread import cycle: deadlock (both imports still waiting after 20 s)")
            exit(3)
        }
        XCTAssertEqual(try Int(python: try parent.eval("__import__('cyca').AFTER")), 2)
        try parent.close()
    }

    /// P's `cyca` (0.5 s in) imports C's `cycb` explicitly; meanwhile another thread, in the
    /// root under C's context, looks `cycb` up by name, and `cycb` imports `cyca`.
    private func twoThreadContextCycle() throws {
        let (parent, child) = try slowCyclePackages(prefix: "ccyc")
        let group = DispatchGroup()
        group.enter()
        Thread.detachNewThread {
            _ = try? parent.importModule("cyca")
            group.leave()
        }
        group.enter()
        Thread.detachNewThread {
            usleep(100_000)
            _ = try? child.withContext { try Loader.root.exec("import importlib\n_m = importlib.import_module('cycb')") }
            group.leave()
        }
        guard group.wait(timeout: .now() + 20) == .success else {
            print("context-loader import cycle: deadlock (both imports still waiting after 20 s)")
            exit(3)
        }
        XCTAssertEqual(try Int(python: try parent.eval("__import__('cyca').AFTER")), 2)
        XCTAssertTrue(try Loader.root.eval("_m").isIdentical(to: try child.importModule("cycb")))
        try Loader.root.exec("del _m")
        try parent.close()
    }

    /// A child is the first to import `decimal` (a single-phase C extension that keeps objects
    /// of its first interpreter in C statics) and checks a class of its parent against its own
    /// `collections.abc`; then the child closes, then the parent (where the class dies).
    private func stdlibExtensionFirstInChild() throws {
        let folder = try temporaryFolder()
        try write(folder + "/rlib.py", """
            from collections import abc
            class R(abc.Sequence):
                def __len__(self): return 0
                def __getitem__(self, i): raise IndexError
            """)
        let parent = try Loader.root.child(uniqueName("ext-p"), paths: [folder])
        let child = try parent.child(uniqueName("ext-c"))
        try child.exec("import decimal\nimport rlib, collections.abc as abc\nassert isinstance(rlib.R(), abc.Iterable)")
        try child.close()
        try parent.close()
        let again = try Loader.root.child(uniqueName("ext-again"))
        XCTAssertEqual(try String(python: try again.eval("str(__import__('decimal').Decimal('1.5') * 2)")), "3.0")
        try again.close()
    }

    /// A loader made on a thread that then ends, used afterwards by other threads.
    private func creatingThreadEnds() throws {
        let handedOver = Lock()
        nonisolated(unsafe) var made: Loader?
        for round in 0..<3 {
            let thread = Thread {
                do {
                    let loader = try Loader.root.child("made-by-ended-\(round)")
                    handedOver.withLock { made = loader }
                } catch {
                    XCTFail("\(error)")
                }
            }
            thread.start()
            while !thread.isFinished { usleep(10_000) }
            usleep(100_000)   // the thread's pthread-key destructor has run
            guard let loader = handedOver.withLock({ made }) else { return XCTFail("round \(round): no loader") }
            // The loader has no thread state of a live thread left: the next entry makes one.
            XCTAssertEqual(try Int(python: try loader.eval("6 * 7")), 42)
            let other = Thread { _ = try? loader.exec("import json") }
            other.start()
            while !other.isFinished { usleep(10_000) }
            usleep(100_000)
            XCTAssertEqual(try Int(python: try loader.eval("len(__import__('json').dumps([1]))")), 3)
            try loader.close()
        }
    }

    /// Issue 11's reproduction (Fixtures/stress/close_race.py) under runMain.
    private func pythonThreadsCloseRace() throws {
        let status = try Loader.root.runMain(path: "\(fixtures)/stress/close_race.py")
        XCTAssertEqual(status, 0)
    }

    /// PyLoader first used on a thread that then ends; then on another thread.
    private func startingThreadEnds() throws {
        XCTAssertEqual(Py_IsInitialized(), 0, "CPython was started before the scenario")
        for round in 0..<2 {
            let thread = Thread {
                do {
                    let root = try Loader.root
                    _ = try root.eval("sum(range(\(round + 3)))")
                    let child = try root.child("starter-\(round)")
                    try child.close()
                } catch {
                    XCTFail("round \(round): \(error)")
                }
            }
            thread.start()
            while !thread.isFinished { usleep(10_000) }
            usleep(100_000)   // the thread's pthread-key destructor has run
        }
        XCTAssertEqual(try Int(python: try Loader.root.eval("6 * 7")), 42)
    }

    private func manifestOnSmallStack() throws {
        _ = try Loader.root
        let cases = [
            ("a = " + String(repeating: "{ b = ", count: 250) + "1" + String(repeating: " }", count: 250) + "\n", 512 * 1024),
            ("[" + String(repeating: "a.", count: 20_000) + "b]\n", 8 << 20),
        ]
        for (text, stack) in cases {
            let done = DispatchSemaphore(value: 0)
            nonisolated(unsafe) var outcome: Error?
            let thread = Thread {
                do { _ = try Manifest.parse(file: "\(fixtures)/demo/deep.toml", source: text) } catch { outcome = error }
                done.signal()
            }
            thread.stackSize = stack
            thread.start()
            done.wait()
            XCTAssertTrue(outcome is ManifestError, "\(String(describing: outcome))")
        }
    }
}
