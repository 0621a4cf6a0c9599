import XCTest
import Foundation
@testable import PyLoader

/// Loaders with a GIL of their own (`gil: .own`, CPython 3.12+; OwnGIL.swift).
final class OwnGILTests: LoaderTestCase {
    private var ownLoaders: [Loader] = []

    override func tearDownWithError() throws {
        for loader in ownLoaders where !loader.isClosed { try loader.close() }
        ownLoaders.removeAll()
        try super.tearDownWithError()
    }

    private func makeOwn(_ prefix: String = "own", paths: [String] = []) throws -> Loader {
        let loader = try Loader.root.child(uniqueName(prefix), paths: paths, gil: .own)
        ownLoaders.append(loader)
        return loader
    }

    private func requirePerInterpreterGIL() throws {
        try XCTSkipUnless(PythonVersion.hasPerInterpreterGIL,
                          "CPython \(PythonVersion.short) has one GIL for the process (own-GIL loaders need 3.12+)")
    }

    func testAskingForAnOwnGILWhereCPythonHasNoneIsAClearError() throws {
        try XCTSkipIf(PythonVersion.hasPerInterpreterGIL, "CPython \(PythonVersion.short) has per-interpreter GILs")
        XCTAssertThrowsError(try Loader.root.child(uniqueName("own"), gil: .own)) { error in
            XCTAssertTrue("\(error)".contains("needs CPython 3.12 or newer"), "\(error)")
        }
    }

    func testSharedNamesAndChildrenAreRefusedNamingTheRule() throws {
        try requirePerInterpreterGIL()
        XCTAssertThrowsError(try Loader.root.child(uniqueName("own"), shared: ["json"], gil: .own)) { error in
            XCTAssertTrue("\(error)".contains("objects cannot be shared across GILs"), "\(error)")
        }
        let own = try makeOwn()
        XCTAssertThrowsError(try own.child(uniqueName("under"))) { error in
            XCTAssertTrue("\(error)".contains("has its own GIL, so it cannot have children"), "\(error)")
        }
        XCTAssertThrowsError(try own.withContext { }) { error in
            XCTAssertTrue("\(error)".contains("cannot be a context loader"), "\(error)")
        }
        XCTAssertEqual(own.gil, .own)
        XCTAssertTrue(try Loader.root.children.contains { $0 === own })
    }

    func testItImportsOnlyFromItsOwnPathsAndItsOwnStandardLibrary() throws {
        try requirePerInterpreterGIL()
        let parentFolder = try temporaryFolder(), ownFolder = try temporaryFolder()
        try write(parentFolder + "/parentonly.py", "X = 1\n")
        try write(ownFolder + "/ownmod.py", "import json\nX = json.dumps([2])\n")
        try Loader.root.exec("import sys\nsys.path.append(\(pythonLiteral(parentFolder)))")
        defer { try? Loader.root.exec("import sys\nsys.path.remove(\(pythonLiteral(parentFolder)))") }
        let own = try makeOwn(paths: [ownFolder])
        XCTAssertEqual(try value(own, "__import__('ownmod').X", as: String.self), "[2]")
        XCTAssertThrowsError(try own.importModule("parentonly")) { error in
            XCTAssertEqual((error as? PythonError)?.typeName, "ModuleNotFoundError")
        }
        XCTAssertFalse(try value(own, "'pyloader' in __import__('sys').modules", as: Bool.self))
        // Its json is its own, not the root's.
        XCTAssertNotEqual(try value(own, "id(__import__('json'))", as: Int.self),
                          try value(Loader.root, "id(__import__('json'))", as: Int.self))
    }

    func testValuesCrossByCopyBothWays() throws {
        try requirePerInterpreterGIL()
        let own = try makeOwn()
        try own.exec("data = [1, 'two', (3.0, None, True), {b'k': [4]}]")
        let fromOwn = try own.eval("data")
        // Handed to a function of the root: a copy, equal and separate.
        try Loader.root.exec("def _keep(x):\n    global _kept\n    _kept = x\n    x.append('root')\n    return len(x)\n")
        XCTAssertEqual(try Loader.root.eval("_keep").call([fromOwn]).converted(to: Int.self), 5)
        XCTAssertEqual(try value(own, "len(data)", as: Int.self), 4, "the root changed its copy only")
        XCTAssertEqual(try value(Loader.root, "_kept[:4] == [1, 'two', (3.0, None, True), {b'k': [4]}]", as: Bool.self), true)
        // And into it: a root object arrives as a copy.
        let fromRoot = try Loader.root.eval("_kept")
        XCTAssertEqual(try own.eval("lambda x: str((len(x), x[-1]))").call([fromRoot]).converted(to: String.self),
                       "(5, 'root')")
        try Loader.root.exec("del _keep, _kept")
    }

    /// The `pyloader` module's functions read state the root's GIL guards: an own-GIL
    /// loader cannot import it (CPython refuses it there, and PyLoader's exec slot would too).
    func testPyloaderCannotBeImportedUnderAGILOfItsOwn() throws {
        try requirePerInterpreterGIL()
        let own = try makeOwn()
        XCTAssertThrowsError(try own.exec("import pyloader")) { error in
            guard let error = error as? PythonError else { return XCTFail("\(error)") }
            XCTAssertTrue(error.isInstance(of: "ImportError"), error.description)
            XCTAssertTrue(error.message.contains("pyloader"), error.message)
        }
        XCTAssertEqual(try value(own, "6 * 7", as: Int.self), 42)
    }

    func testAValueThatDoesNotPickleIsAClearErrorAndExceptionsCrossByName() throws {
        try requirePerInterpreterGIL()
        let own = try makeOwn()
        try Loader.root.exec("""
            import pyloader
            _own = pyloader.get(\(pythonLiteral(own.name)))
            _results = [_own.eval("6 * 7")]
            try:
                _own.eval("1 / 0")
            except ZeroDivisionError as e:
                _results.append("ZeroDivisionError: " + str(e))
            try:
                _own.eval("__import__('sys')")
            except TypeError as e:
                _results.append("TypeError: " + str(e))
            """)
        XCTAssertEqual(try value(Loader.root, "len(_results)", as: Int.self), 3)
        XCTAssertEqual(try value(Loader.root, "_results[0]", as: Int.self), 42)
        XCTAssertEqual(try value(Loader.root, "_results[1]", as: String.self), "ZeroDivisionError: division by zero")
        XCTAssertEqual(try value(Loader.root, "_results[2]", as: String.self), "TypeError: cannot pickle 'module' object")
        try Loader.root.exec("del _own, _results")
    }

    func testTwoThreadsInTwoOwnGILLoadersRunPythonAtTheSameTime() throws {
        try requirePerInterpreterGIL()
        // A waits, without ever giving its GIL up (a pure-Python loop over shared memory,
        // a switch interval of 100 s), for B to write a byte. Under one GIL B could not run
        // until A gave up after 20 s; with two GILs it runs at once.
        let folder = try temporaryFolder()
        let flag = folder + "/flag"
        _ = FileManager.default.createFile(atPath: flag, contents: Data([0]))
        let a = try makeOwn("own-a"), b = try makeOwn("own-b")
        let open = "import mmap, sys, time\nf = open(\(pythonLiteral(flag)), 'r+b')\nm = mmap.mmap(f.fileno(), 1)\n"
        try a.exec(open + "sys.setswitchinterval(100)\n")
        try b.exec(open)
        let started = DispatchSemaphore(value: 0)
        let result = ResultBox()
        let waiter = Thread {
            started.signal()
            result.text = (try? a.eval("""
                (lambda t0: next((('saw it' if m[0] == 1 else 'gave up') for _ in iter(int, 1)
                                  if m[0] == 1 or time.monotonic() - t0 > 20), None))(time.monotonic())
                """).converted(to: String.self)) ?? "error"
        }
        waiter.start()
        started.wait()
        Thread.sleep(forTimeInterval: 0.2)   // let A start its loop
        try b.exec("m[0] = 1\nm.flush()")
        while waiter.isExecuting || !waiter.isFinished { Thread.sleep(forTimeInterval: 0.01) }
        XCTAssertEqual(result.text, "saw it")
        try a.exec("m.close(); f.close()")
        try b.exec("m.close(); f.close()")
    }

    func testASinglePhaseExtensionModuleIsRefusedWithCPythonsError() throws {
        try requirePerInterpreterGIL()
        let folder = try temporaryFolder()
        let name = uniqueName("single").replacingOccurrences(of: "-", with: "_")
        try write("\(folder)/\(name).c", counterSource)
        try shell("cc -shared -fPIC $(pkg-config --cflags python3-embed) -DEXT_NAME=\(name)"
                  + " '\(folder)/\(name).c' -o '\(folder)/\(name)\(extensionSuffix)'")
        let own = try makeOwn(paths: [folder])
        XCTAssertThrowsError(try own.importModule(name)) { error in
            XCTAssertEqual((error as? PythonError)?.typeName, "ImportError")
            XCTAssertTrue("\(error)".contains("does not support loading in subinterpreters"), "\(error)")
        }
        // Standard-library modules that declare support load as usual.
        XCTAssertEqual(try value(own, "__import__('math').floor(2.5)", as: Int.self), 2)
    }

    func testCloseRefusesWhileAnotherThreadRunsInItAndClosesOnceItLeft() throws {
        try requirePerInterpreterGIL()
        let own = try makeOwn()
        let flag = try temporaryFolder() + "/inside"
        let worker = Thread {
            // The flag is written from inside the loader, so the close below runs while
            // this thread is in it.
            _ = try? own.exec("import time\nopen(\(pythonLiteral(flag)), 'w').close()\ntime.sleep(1.5)")
        }
        worker.start()
        while !FileManager.default.fileExists(atPath: flag) { Thread.sleep(forTimeInterval: 0.01) }
        XCTAssertThrowsError(try own.close()) { error in
            XCTAssertTrue("\(error)".contains("on another thread"), "\(error)")
        }
        XCTAssertFalse(own.isClosed)
        while !worker.isFinished { Thread.sleep(forTimeInterval: 0.02) }
        try own.close()
        XCTAssertTrue(own.isClosed)
        XCTAssertThrowsError(try own.eval("1")) { error in
            guard case LoaderError.closed = error else { return XCTFail("\(error)") }
        }
    }

    /// A handle of an own-GIL loader dropped on another thread while the loader closes
    /// neither waits nor touches what the close walks: it hands its slot over (HandleTable
    /// rule 1), and the close releases it with the others under the loader's own GIL. (Once,
    /// the drop unlinked it and queued the reference under the root's GIL at once, while the
    /// close could be walking the same list under the other GIL.)
    func testAHandleDroppedWhileItsOwnGILLoaderClosesIsHandedToTheClose() throws {
        try requirePerInterpreterGIL()
        let own = try makeOwn()
        let marker = try temporaryFolder() + "/closing"
        // The close runs atexit callbacks while the loader is closing: this one says so and
        // keeps it closing for a while.
        try own.exec("""
            import atexit, time
            def _slow_exit():
                open(\(pythonLiteral(marker)), 'w').close()
                time.sleep(0.5)
            atexit.register(_slow_exit)
            """)
        final class Box: @unchecked Sendable {
            var handles: [PythonObject] = []
            var droppedWhileClosing = false
        }
        let box = Box()
        box.handles = [try own.eval("object()")]
        let dropper = Thread {
            while !FileManager.default.fileExists(atPath: marker) { usleep(1_000) }
            box.handles.removeAll()   // the handle's deinit runs here, during the close
            box.droppedWhileClosing = !own.isClosed
        }
        dropper.start()
        try own.close()
        let deadline = Date().addingTimeInterval(30)
        while !dropper.isFinished, Date() < deadline { Thread.sleep(forTimeInterval: 0.01) }
        XCTAssertTrue(dropper.isFinished, "the drop hung")
        XCTAssertTrue(box.droppedWhileClosing, "the drop waited for the close")
        XCTAssertTrue(own.handles.isEmpty)
    }

    func testThreadStatesOfEndedThreadsAreDeletedByTheNextEntry() throws {
        try requirePerInterpreterGIL()
        let own = try makeOwn()
        // One thread at a time: each ending thread leaves its thread state behind (it does
        // not wait for the GIL), and the next one in deletes it.
        for _ in 0..<5 {
            let thread = Thread { _ = try? own.eval("1 + 1") }
            thread.start()
            let deadline = Date().addingTimeInterval(10)
            while Loader.registry.lock.withLock({ own.abandonedThreadStates.count }) < 1, Date() < deadline {
                Thread.sleep(forTimeInterval: 0.01)
            }
            XCTAssertEqual(Loader.registry.lock.withLock { own.abandonedThreadStates.count }, 1)
            XCTAssertEqual(try own.withActivated { own.threadStates.count }, 1, "only this thread's is left")
        }
        XCTAssertEqual(try own.withActivated { own.threadStates.count }, 1, "only this thread's is left")
        XCTAssertEqual(Loader.registry.lock.withLock { own.abandonedThreadStates.count }, 0)
    }

    func testManyThreadsEnterAndLeaveAndTheLoaderClosesCleanly() throws {
        try requirePerInterpreterGIL()
        let a = try makeOwn("own-a"), b = try makeOwn("own-b")
        let group = DispatchGroup()
        let failures = ManagedAtomicCounter()
        for index in 0..<8 {
            group.enter()
            Thread {
                defer { group.leave() }
                let loader = index % 2 == 0 ? a : b
                for round in 0..<20 {
                    let got = try? loader.eval("sum(range(\(round * 100)))").converted(to: Int.self)
                    if got != (0..<(round * 100)).reduce(0, +) { failures.add() }
                    if round % 5 == 0, (try? Loader.root.eval("1 + 1").converted(to: Int.self)) != 2 { failures.add() }
                }
            }.start()
        }
        group.wait()
        XCTAssertEqual(failures.value, 0)
        try a.close()
        try b.close()
    }

    /// Closed with its parent, refused while busy (naming the loader being closed), and at
    /// exit, each after a thread that used it has ended: all three aborted the process before
    /// own-GIL descendants were routed to `OwnGIL.close`. In a `pyloader run` process.
    func testAnOwnGILChildClosesWithItsParentAndAtExit() throws {
        try requirePerInterpreterGIL()
        let (status, lines, errors) = try runCLI(["run", "\(fixtures)/owngil/descendant.py"])
        XCTAssertEqual(status, 0, errors)
        XCTAssertEqual(lines, [
            "closed with its parent: True",
            "refused while busy: True True",
            "closed afterwards: True",
            "exiting with both open",
        ], errors)
    }

    func testManifestKeyGil() throws {
        let manifest = try Manifest.parse(file: "m.toml", source: """
            [loaders.worker]
            gil = "own"
            [loaders.plain]
            """)
        XCTAssertEqual(manifest.loaders.first { $0.name == "worker" }?.gil, .own)
        XCTAssertEqual(manifest.loaders.first { $0.name == "plain" }?.gil, .shared)
        XCTAssertThrowsError(try Manifest.parse(file: "m.toml", source: "[loaders.w]\ngil = \"mine\"\n")) { error in
            XCTAssertTrue("\(error)".contains("\"shared\" or \"own\""), "\(error)")
        }
    }
}

/// A string one thread writes before it ends and another reads after.
final class ResultBox: @unchecked Sendable { var text = "" }

/// A counter several threads add to.
final class ManagedAtomicCounter: @unchecked Sendable {
    private let lock = NSLock()
    private var count = 0
    func add() { lock.lock(); count += 1; lock.unlock() }
    var value: Int { lock.lock(); defer { lock.unlock() }; return count }
}
