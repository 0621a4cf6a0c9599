import CPython
import Foundation
import XCTest
@testable import PyLoader

/// The fault matrix of issue 7: one test per row. Every row asserts the exact error
/// (the `LoaderError` case, or the Python exception type of a `PythonError`) and then
/// that the process and the other loaders are still healthy (`assertHealthy`): a
/// bystander sibling made before the fault still has its state and still imports, the
/// root still evaluates, and a fresh loader can still be made and closed.
///
/// Rows that pin a known core bug keep their full body but start with
/// `try knownBug("...")`, which skips them (XCTExpectFailure does not exist on Linux)
/// unless `PYLOADER_RUN_KNOWN_BUGS=1` is set: then they run, and fail until the bug is
/// fixed. Rows whose bug ends the process (a crash, an abort, a deadlock) run their body
/// in a child process (`SubprocessScenarioTests`), so they fail instead of taking the
/// suite down. When a bug is fixed, delete its `knownBug` line.
///
/// The manifest row needs `Manifest.parse`; the `os._exit` row runs the `pyloader` CLI
/// (skipped when it is not built next to the test bundle).
final class FaultMatrixTests: LoaderTestCase {
    /// A sibling made before each fault, with state the fault must not disturb.
    private var bystander: Loader!
    /// Folders made by the test, removed afterwards.
    private var folders: [String] = []

    override func setUpWithError() throws {
        try super.setUpWithError()
        bystander = try makeChild("bystander")
        try bystander.exec("import json\nstate = 41")
    }

    override func tearDownWithError() throws {
        try super.tearDownWithError()
        for folder in folders {
            _ = chmod(folder, 0o755)
            try? FileManager.default.removeItem(atPath: folder)
        }
    }

    // MARK: - Names

    func testEmptyNameIsInvalidName() throws {
        try assertLoaderError(.invalidName("", reason: "empty")) { _ = try Loader.root.child("") }
        try assertPythonError("ValueError", in: bystander, "__import__('pyloader').root().child('')")
        try assertHealthy()
    }

    func testNameWithInvalidCharactersIsInvalidName() throws {
        for bad in ["a b", "-lead", ".lead", "_lead", "a/b", "a:b", "tab\there", "new\nline", "é", "naïve", "a\u{0}b", "😀"] {
            try assertLoaderError(.invalidName(bad, reason: "must match [A-Za-z0-9][A-Za-z0-9_.-]*")) {
                _ = try Loader.root.child(bad)
            }
            XCTAssertNil(Loader.named(bad))
        }
        try assertPythonError("ValueError", in: bystander, "__import__('pyloader').root().child('a b')")
        // A non-str name: PyLoader maps every bad argument to ValueError (Python would say TypeError).
        try assertPythonError("ValueError", in: bystander, "__import__('pyloader').root().child(7)", containing: "must be a str")
        try assertHealthy()
    }

    func testDuplicateNameIsRefusedEvenUnderAnotherParent() throws {
        let first = try makeChild("dup")
        try assertLoaderError(.duplicateName(first.name)) { _ = try Loader.root.child(first.name) }
        try assertLoaderError(.duplicateName(first.name)) { _ = try self.bystander.child(first.name) }
        try assertLoaderError(.duplicateName(bystander.name)) { _ = try first.child(self.bystander.name) }
        try assertPythonError("ValueError", in: bystander, "__import__('pyloader').root().child('\(first.name)')")
        // The refused attempts left nothing behind: the name is free once its owner closes.
        XCTAssertEqual(try Loader.root.children.filter { $0.name == first.name }.count, 1)
        try first.close()
        let reused = try Loader.root.child(first.name)
        XCTAssertEqual(try value(reused, "1 + 1", as: Int.self), 2)
        try reused.close()
        try assertHealthy()
    }

    func testRootIsAReservedName() throws {
        try assertLoaderError(.invalidName("root", reason: "'root' is reserved for the root loader")) {
            _ = try Loader.root.child("root")
        }
        try assertLoaderError(.invalidName("root", reason: "'root' is reserved for the root loader")) {
            _ = try self.bystander.child("root")
        }
        try assertPythonError("ValueError", in: bystander, "__import__('pyloader').current().child('root')")
        try assertHealthy()
    }

    // MARK: - Paths

    func testMissingPathIsInvalidPath() throws {
        let name = uniqueName("missing")
        try assertLoaderError(.invalidPath("/no/such/folder/anywhere", reason: "no such folder")) {
            _ = try Loader.root.child(name, paths: ["/no/such/folder/anywhere"])
        }
        try assertLoaderError(.invalidPath("", reason: "empty")) { _ = try Loader.root.child(name, paths: [""]) }
        try assertNothingMade(named: name)
        try assertPythonError("ValueError", in: bystander,
                              "__import__('pyloader').root().child('\(name)', paths=['/no/such/folder/anywhere'])")
        try assertHealthy()
    }

    func testFileInsteadOfFolderIsInvalidPath() throws {
        let name = uniqueName("file")
        let file = "\(fixtures)/demo/pyloader.toml"
        try assertLoaderError(.invalidPath(file, reason: "not a folder")) {
            _ = try Loader.root.child(name, paths: ["\(fixtures)/demo/host", file])
        }
        try assertNothingMade(named: name)
        try assertHealthy()
    }

    /// chmod 000 does not deny reads to root (CAP_DAC_OVERRIDE), and the tests run as
    /// root in CI. So when the effective user is root, the check runs on a helper thread
    /// whose own credentials are switched to `nobody` with the raw `setresuid` system
    /// call (Linux credentials are per thread; glibc's wrapper would switch every
    /// thread). The saved user id stays 0, so the thread can switch back. Skipped, with
    /// the reason, when even that is not possible (no CAP_SETUID).
    func testUnreadablePathIsInvalidPath() throws {
        let folder = try scratchFolder()
        let locked = folder + "/locked"
        try makeFolder(locked)
        XCTAssertEqual(chmod(locked, 0o000), 0)
        let name = uniqueName("unreadable")
        let result = try runDeniedReads { Result { _ = try Loader.root.child(name, paths: [locked]) } }
        guard case .failure(let error) = result else { return XCTFail("an unreadable folder was accepted") }
        XCTAssertEqual(error as? LoaderError, .invalidPath(locked, reason: "not readable"))
        try assertNothingMade(named: name)
        try assertHealthy()
    }

    // MARK: - Closing

    func testClosingTheRootIsRefused() throws {
        try assertLoaderError(.cannotCloseRoot) { try Loader.root.close() }
        try assertPythonError("RuntimeError", in: bystander, "__import__('pyloader').root().close()")
        try assertPythonError("RuntimeError", in: try Loader.root, "__import__('pyloader').current().close()")
        XCTAssertFalse(try Loader.root.isClosed)
        try assertHealthy()
    }

    func testClosingFromCodeRunningInsideIsRefused() throws {
        let loader = try makeChild("self-close")
        try loader.exec("import pyloader\nkept = [1, 2]")
        try assertPythonError("RuntimeError", in: loader, "pyloader.current().close()",
                              containing: "cannot close loader '\(loader.name)' from code running in '\(loader.name)'")
        // Swift code running inside the loader (a callback under its activation).
        try loader.withActivated {
            try assertLoaderError(.closingFromInside(loader: loader.name, caller: loader.name)) { try loader.close() }
        }
        // Through a crossing: code in the loader calls into the bystander, which closes it.
        try assertPythonError("RuntimeError", in: loader,
                              "pyloader.get('\(bystander.name)').exec(\"__import__('pyloader').get('\(loader.name)').close()\")",
                              containing: "cannot close loader '\(loader.name)'")
        XCTAssertFalse(loader.isClosed)
        XCTAssertEqual(try value(loader, "kept", as: [Int].self), [1, 2])
        try loader.close()
        XCTAssertTrue(loader.isClosed)
        try assertHealthy()
    }

    func testClosingFromInsideADescendantIsRefused() throws {
        let parent = try makeChild("anc")
        let child = try makeChild("anc-c", of: parent)
        let grandchild = try makeChild("anc-g", of: child)
        try grandchild.exec("import pyloader")
        try assertPythonError("RuntimeError", in: grandchild, "pyloader.current().parent.parent.close()",
                              containing: "cannot close loader '\(parent.name)' from code running in '\(grandchild.name)' (a descendant)")
        try grandchild.withActivated {
            try assertLoaderError(.closingFromInside(loader: parent.name, caller: grandchild.name)) { try parent.close() }
            try assertLoaderError(.closingFromInside(loader: child.name, caller: grandchild.name)) { try child.close() }
        }
        for loader in [parent, child, grandchild] {
            XCTAssertFalse(loader.isClosed, loader.name)
            XCTAssertEqual(try value(loader, "6 * 7", as: Int.self), 42)
        }
        try parent.close()
        XCTAssertTrue(parent.isClosed && child.isClosed && grandchild.isClosed)
        try assertHealthy()
    }

    /// Documented behaviour: refused at once with `.busy` (close does not wait for
    /// code running on other threads), and nothing in the subtree is closed.
    func testClosingWhileAnotherThreadRunsCodeInItIsRefused() throws {
        let parent = try makeChild("busy-p")
        let child = try makeChild("busy-c", of: parent)
        try child.exec("import threading\nstarted = threading.Event()\nrelease = threading.Event()")
        let finished = DispatchSemaphore(value: 0)
        Thread.detachNewThread {
            _ = try? child.exec("started.set()\nrelease.wait(30)")
            finished.signal()
        }
        XCTAssertTrue(try child.eval("started.wait(10)").isTruthy())
        let start = DispatchTime.now()
        for loader in [child, parent] {
            try assertLoaderError(.busy(loader: loader.name, reason: .runningOnAnotherThread(loader: child.name))) {
                try loader.close()
            }
        }
        XCTAssertLessThan(seconds(since: start), 2, "close waited instead of refusing")
        XCTAssertFalse(parent.isClosed || child.isClosed)
        // The running code was not disturbed.
        try child.exec("release.set()")
        XCTAssertEqual(finished.wait(timeout: .now() + 10), .success)
        try parent.close()
        XCTAssertTrue(parent.isClosed && child.isClosed)
        try assertHealthy()
    }

    func testClosingTwiceIsANoOp() throws {
        let loader = try makeChild("twice")
        let child = try makeChild("twice-c", of: loader)
        try loader.close()
        XCTAssertNoThrow(try loader.close())
        XCTAssertNoThrow(try child.close())
        XCTAssertTrue(loader.isClosed && child.isClosed)
        try assertHealthy()
    }

    /// The Python face of closing twice: a no-op, as in Swift (it raised
    /// LoaderClosedError before 650f4f6).
    func testClosingTwiceFromPythonIsANoOp() throws {
        try bystander.exec("import pyloader\ntwice = pyloader.current().child('\(uniqueName("pytwice"))')\ntwice.close()")
        try bystander.exec("twice.close()")
        XCTAssertTrue(try bystander.eval("twice.closed").isTruthy())
        try assertHealthy()
    }

    func testNonDaemonThreadThatFinishesInTimeIsJoined() throws {
        let folder = try scratchFolder()
        let loader = try makeChild("joined")
        try loader.exec("""
            import threading, time
            def work():
                time.sleep(0.5)
                with open(\(pythonLiteral(folder + "/done")), "w") as f:
                    f.write("finished")
            worker = threading.Thread(target=work)
            worker.start()
            del worker
            """)
        let start = DispatchTime.now()
        try loader.close()
        XCTAssertTrue(loader.isClosed)
        XCTAssertLessThan(seconds(since: start), Loader.threadJoinSeconds)
        XCTAssertEqual(try? String(contentsOfFile: folder + "/done", encoding: .utf8), "finished",
                       "close() did not wait for the thread")
        try assertHealthy()
    }

    /// close() from a thread that has an unrelated context loader must still join the
    /// closing loader's threads. It once refused at once: the join code that
    /// `Closing.joinThreads` runs imports `sys` and `time`, which the thread's context
    /// loader sent to the context loader, so it joined the context loader's threads (none)
    /// and then found the closing loader's thread alive.
    func testCloseUnderAContextLoaderJoinsTheLoadersThreads() throws {
        let loader = try makeChild("ctxjoin")
        let context = try makeChild("ctxjoin-x")
        try loader.exec("import threading, time\nworker = threading.Thread(target=time.sleep, args=(0.5,))\nworker.start()")
        try context.withContext { try loader.close() }
        XCTAssertTrue(loader.isClosed)
        try assertHealthy()
    }

    /// Waits `Loader.threadJoinTimeout` (5 s by default) before refusing.
    func testNonDaemonThreadThatOutlivesTheJoinTimeoutRefusesClose() throws {
        let loader = try makeChild("overdue")
        try loader.exec("""
            import threading
            release = threading.Event()
            worker = threading.Thread(target=release.wait, args=(60,))
            worker.start()
            """)
        let start = DispatchTime.now()
        try assertLoaderError(.busy(loader: loader.name, reason: .threadsStillRunning(loader: loader.name, count: 1))) {
            try loader.close()
        }
        let waited = seconds(since: start)
        XCTAssertGreaterThanOrEqual(waited, Loader.threadJoinSeconds - 0.5, "close() did not wait for the thread")
        XCTAssertLessThan(waited, Loader.threadJoinSeconds + 5, "close() waited for longer than its bound")
        // Refused: nothing was closed, the loader still works.
        XCTAssertFalse(loader.isClosed)
        XCTAssertEqual(try value(loader, "worker.is_alive()", as: Bool.self), true)
        try loader.exec("release.set()\nworker.join(10)")
        try loader.close()
        XCTAssertTrue(loader.isClosed)
        try assertHealthy()
    }

    /// Documented behaviour: daemon threads are not joined and not killed; while one
    /// is alive, `close()` refuses at once with `.busy` (ending the interpreter under a
    /// live thread aborts the process). Once it ends, `close()` succeeds.
    func testDaemonThreadRefusesCloseUntilItEnds() throws {
        let parent = try makeChild("daemon-p")
        let loader = try makeChild("daemon", of: parent)
        try loader.exec("""
            import threading
            release = threading.Event()
            worker = threading.Thread(target=release.wait, args=(60,), daemon=True)
            worker.start()
            """)
        let start = DispatchTime.now()
        let refusal = LoaderError.busy(loader: loader.name, reason: .threadsStillRunning(loader: loader.name, count: 1))
        try assertLoaderError(refusal) { try loader.close() }
        try assertLoaderError(refusal) { try parent.close() }   // from above too
        XCTAssertLessThan(seconds(since: start), 2, "close() waited for a daemon thread")
        XCTAssertFalse(loader.isClosed || parent.isClosed)
        XCTAssertEqual(try value(loader, "worker.is_alive()", as: Bool.self), true)
        try loader.exec("release.set()\nworker.join(10)")
        try parent.close()
        XCTAssertTrue(loader.isClosed && parent.isClosed)
        try assertHealthy()
    }

    /// close() gives the GIL up while it joins the loader's Python threads and while its
    /// atexit callbacks run. A thread that enters the loader meanwhile must get `.closed`
    /// (entries are refused while closing) or make close() refuse with `.busy`: no crash,
    /// and the loader ends up closed or usable. Before 650f4f6 close() did not check
    /// again, deleted the entering thread's thread state under it, and the process died
    /// (SIGSEGV); so this runs in a child process.
    func testEnteringALoaderWhileCloseJoinsItsThreadsIsSafe() throws {
        try assertScenarioSucceeds("enter-while-close-joins")
        try assertHealthy()
    }

    /// The thread that started CPython made the main interpreter's initial thread state,
    /// which is static memory in 3.11. Before 650f4f6, PyLoader deleted it when that
    /// thread ended, and the next thread to use PyLoader aborted the process ("Fatal
    /// Python error: init_threadstate: thread state already initialized", SIGABRT): a
    /// host that starts PyLoader on a worker thread hit it as soon as that worker ended.
    func testCPythonSurvivesTheEndOfTheThreadThatStartedIt() throws {
        try assertScenarioSucceeds("starting-thread-ends")
    }

    /// A sub-interpreter's first thread state is static memory in 3.11, handed out again
    /// when the interpreter has no thread state left. Before the fix, the end of the
    /// thread that made a loader deleted it, and the next entry aborted the process
    /// ("init_threadstate: thread state already initialized"): issue 11.
    func testALoaderSurvivesTheEndOfTheThreadThatMadeIt() throws {
        try assertScenarioSucceeds("creating-thread-ends")
    }

    /// Found by more-itertools' upstream suite (Scripts/real-unittest-suites.sh): the process
    /// crashed (SIGSEGV in Py_EndInterpreter) when a child had been the first interpreter to
    /// load `_decimal`. The root now loads each standard-library extension first.
    func testAChildFirstToLoadAStdlibExtensionDoesNotCrashItsParentsClose() throws {
        try assertScenarioSucceeds("stdlib-extension-first-in-child")
    }

    /// Issue 11 as reported: Python threads close and re-create loaders while others run in them.
    func testPythonThreadsClosingAndCreatingLoadersWhileOthersRunInThem() throws {
        for _ in 0..<3 { try assertScenarioSucceeds("python-threads-close-race") }
    }

    // MARK: - After close

    func testSwiftHandlesOfAClosedLoaderThrowClosed() throws {
        let loader = try makeChild("handles")
        try loader.exec("class Box:\n    value = 3\nbox = Box()\nitems = [1, 2]\ndef f(x):\n    return x")
        let box = try loader.eval("box")
        let items = try loader.eval("items")
        let function = try loader.eval("f")
        let module = try loader.importModule("json")
        let survivor = try bystander.eval("[1, 2, 3]")
        try loader.close()
        let closed = LoaderError.closed(loader: loader.name)
        let attempts: [(String, () throws -> Void)] = [
            ("exec", { try loader.exec("pass") }),
            ("eval", { _ = try loader.eval("1") }),
            ("importModule", { _ = try loader.importModule("json") }),
            ("child", { _ = try loader.child(uniqueName("orphan")) }),
            ("runMain(code:)", { _ = try loader.runMain(code: "pass") }),
            ("runMain(path:)", { _ = try loader.runMain(path: "\(fixtures)/scripts/exit_code.py", arguments: ["0"]) }),
            ("which", { _ = try loader.which("json") }),
            ("withContext", { try loader.withContext {} }),
            ("attribute", { _ = try box.value }),
            ("setAttribute", { try box.setAttribute("value", 4) }),
            ("subscript", { _ = try items[0] }),
            ("setItem", { try items.setItem(0, 5) }),
            ("call", { _ = try function(1) }),
            ("module attribute", { _ = try module.dumps }),
            ("repr", { _ = try box.repr() }),
            ("isTruthy", { _ = try box.isTruthy() }),
            ("isIdentical", { _ = try survivor.isIdentical(to: box) }),
            ("conversion", { _ = try [Int](python: items) }),
        ]
        for (label, attempt) in attempts {
            XCTAssertThrowsError(try attempt(), label) { error in
                XCTAssertEqual(error as? LoaderError, closed, label)
            }
        }
        XCTAssertFalse(box.isNone)
        XCTAssertEqual(box.typeName, "<released>")
        XCTAssertTrue(box.description.contains("released"), box.description)
        XCTAssertNil(Loader.named(loader.name))
        XCTAssertFalse(try Loader.root.children.contains { $0 === loader })
        // Handles of other loaders are untouched.
        XCTAssertEqual(try [Int](python: survivor), [1, 2, 3])
        try assertHealthy()
    }

    func testPythonLoaderObjectsOfAClosedLoaderRaiseLoaderClosedError() throws {
        let loader = try makeChild("pyobj")
        try bystander.exec("import pyloader\ngone = pyloader.get('\(loader.name)')")
        try loader.close()
        let message = "loader '\(loader.name)' is closed"
        for call in ["gone.name", "gone.parent", "gone.children", "gone.paths", "gone.delegation", "gone.shared",
                     "gone.local", "gone.exec('pass')", "gone.eval('1')", "gone.import_module('json')",
                     "gone.child('orphan-of-closed')", "gone.run_main('/dev/null')", "gone.which('json')",
                     "pyloader.context(gone).__enter__()"] {
            try assertPythonError("LoaderClosedError", in: bystander, call, containing: message)
        }
        XCTAssertEqual(try value(bystander, "gone.closed", as: Bool.self), true)
        XCTAssertTrue(try value(bystander, "repr(gone)", as: String.self).contains("(closed)"))
        XCTAssertEqual(try value(bystander, "gone == pyloader.get('\(bystander.name)')", as: Bool.self), false)
        XCTAssertEqual(try value(bystander, "isinstance(hash(gone), int)", as: Bool.self), true)
        try assertPythonError("KeyError", in: bystander, "pyloader.get('\(loader.name)')")
        XCTAssertEqual(try value(bystander, "'\(loader.name)' in [l.name for l in pyloader.loaders()]", as: Bool.self), false)
        XCTAssertNil(Loader.named("orphan-of-closed"))
        try assertHealthy()
    }

    /// A loader that closes after the caller found it (here: its own atexit handler, run
    /// by close()) is still a LoaderClosedError, not the ImportError of an import into a
    /// closed loader (3.13's stress run saw that when a close raced `pyloader.get(...).eval`).
    func testPyloaderCallsIntoALoaderThatIsClosingRaiseLoaderClosedError() throws {
        let loader = try makeChild("closing")
        try bystander.exec("seen = []")
        try loader.exec("""
            import atexit, pyloader
            def probe(this=pyloader.get('\(loader.name)'), seen=pyloader.get('\(bystander.name)').eval('seen')):
                for call in (lambda: this.eval('1'), lambda: this.exec('pass'),
                             lambda: this.import_module('json')):
                    try:
                        call()
                        seen.append('no error')
                    except Exception as e:
                        seen.append(f'{type(e).__name__}: {e}')
            atexit.register(probe)
            """)
        try loader.close()
        let seen = try [String](python: try bystander.eval("seen"))
        XCTAssertEqual(seen, Array(repeating: "LoaderClosedError: loader '\(loader.name)' is closed", count: 3))
        try assertHealthy()
    }

    /// After its loader closed, a function still held by another loader is a zombie:
    /// CPython cleared the interpreter's modules and builtins. Calling it must raise
    /// a Python exception in the caller, never crash.
    func testFunctionsOfAClosedLoaderHeldByTheHostDoNotCrash() throws {
        let loader = try makeChild("zombie")
        try loader.exec("""
            import json
            def plain():
                return 42
            def uses_module():
                return json.dumps([1])
            def uses_builtin():
                return len([1, 2])
            def lazy():
                import decimal
                return decimal.__name__
            class Thing:
                def method(self):
                    return len('abc')
            def generator():
                yield len('ab')
            """)
        try bystander.exec("""
            import pyloader
            source = pyloader.get('\(loader.name)')
            held = {name: source.eval(name) for name in ['plain', 'uses_module', 'uses_builtin', 'lazy', 'Thing', 'generator']}
            thing = held['Thing']()
            gen = held['generator']()
            outcomes = {}
            def attempt(label, call):
                try:
                    outcomes[label] = ('ok', repr(call()))
                except BaseException as e:
                    outcomes[label] = (type(e).__name__, str(e))
            """)
        try loader.close()
        try bystander.exec("""
            for name in ['plain', 'uses_module', 'uses_builtin', 'lazy']:
                attempt(name, held[name])
            attempt('method', thing.method)
            attempt('instance', lambda: held['Thing']())
            attempt('generator', lambda: next(gen))
            """)
        let outcomes = try bystander.eval("outcomes")
        XCTAssertEqual(try Int(python: try bystander.eval("len(outcomes)")), 7)
        // Whatever each call did, it came back as a value or a Python exception, in the caller.
        XCTAssertEqual(try value(bystander, "outcomes['plain']", as: [String].self), ["ok", "42"])
        XCTAssertEqual(try value(bystander, "outcomes['lazy'][0]", as: String.self), "ImportError", "\(outcomes)")
        XCTAssertFalse(try value(bystander, "'decimal' in __import__('sys').modules", as: Bool.self),
                       "the zombie's lazy import landed in the caller")
        try assertHealthy()
    }

    /// The issue's contract for lazy imports of a closed loader's function: ImportError
    /// naming the loader (what its disarmed hook raises). Py_EndInterpreter clears the
    /// builtins dict the function keeps; before 650f4f6 the import statement then found
    /// no `__import__` at all ("ImportError: __import__ not found").
    func testLazyImportOfAClosedLoadersFunctionNamesTheLoader() throws {
        let loader = try makeChild("lazyzombie")
        try loader.exec("def lazy():\n    import decimal\n    return decimal")
        try bystander.exec("import pyloader\nlazy = pyloader.get('\(loader.name)').eval('lazy')")
        try loader.close()
        try assertPythonError("ImportError", in: bystander, "lazy()", containing: "loader '\(loader.name)' is closed")
        try assertHealthy()
    }

    /// The contract for modules a closed loader defined and its children took by
    /// delegation: `close()` closes the children first (deepest first), so when the
    /// defining loader's interpreter ends, no live loader holds its modules in
    /// `sys.modules`. A reference kept elsewhere (here: the bystander holds the module
    /// object) is a zombie module — attribute access and calls do not crash. A new
    /// loader with the same paths imports a fresh copy.
    func testModulesOfAClosedLoaderDelegatedToChildren() throws {
        let base = "\(fixtures)/delegation"
        let parent = try makeChild("definer", paths: ["\(base)/grandparent", "\(base)/lazy"])
        let child = try makeChild("taker", of: parent)
        let delegated = try child.importModule("common")
        XCTAssertTrue(try delegated.isIdentical(to: try parent.importModule("common")))
        XCTAssertEqual(try child.which("lazyimp")?.name, parent.name)
        try bystander.exec("import pyloader\nkept = pyloader.get('\(child.name)').import_module('lazyimp')")
        try parent.close()
        XCTAssertTrue(child.isClosed && parent.isClosed)
        XCTAssertThrowsError(try delegated.WHO) { XCTAssertEqual($0 as? LoaderError, .closed(loader: child.name)) }
        try bystander.exec("""
            try:
                zombie = (kept.__name__, kept.load_json())
            except BaseException as e:
                zombie = type(e).__name__
            """)
        _ = try bystander.eval("zombie")   // a value or an exception name: no crash
        let fresh = try makeChild("definer2", paths: ["\(base)/grandparent"])
        XCTAssertEqual(try value(fresh, "__import__('common').WHO", as: String.self), "grandparent")
        try assertHealthy()
    }

    /// Closing a child must not touch the modules it took from its parent by delegation:
    /// they are the parent's objects (Py_EndInterpreter's finalize_modules clears the
    /// globals of every module left in the child's `sys.modules`; fixed in 17bfb42).
    func testClosingAChildLeavesTheModulesItTookFromItsParentIntact() throws {
        let demo = "\(fixtures)/demo"
        let host = try makeChild("khost", paths: ["\(demo)/host"])
        let plugin = try makeChild("kplugin", of: host, paths: ["\(demo)/plugins/alpha", "\(demo)/plugins/alpha/site-packages"],
                                   delegation: .childFirst, shared: ["hostapi"])
        try host.exec("import hostapi")
        try plugin.exec("import alpha, hostapi")
        XCTAssertTrue(try host.eval("hostapi").isIdentical(to: try plugin.eval("hostapi")))
        try plugin.close()
        XCTAssertEqual(try value(host, "hostapi.Plugin.__name__", as: String.self), "Plugin")
        XCTAssertEqual(try value(host, "callable(hostapi.register)", as: Bool.self), true)
        try assertHealthy()
    }

    // MARK: - Code that tries to end things

    func testSysExitInRunMainGivesTheExitStatus() throws {
        let loader = try makeChild("exits")
        XCTAssertEqual(try loader.runMain(code: "import sys; sys.exit(3)"), 3)
        XCTAssertEqual(try loader.runMain(code: "import sys; sys.exit()"), 0)
        XCTAssertEqual(try loader.runMain(code: "raise SystemExit(None)"), 0)
        XCTAssertEqual(try loader.runMain(code: "import sys; sys.exit('bye')"), 1)
        XCTAssertEqual(try loader.runMain(path: "\(fixtures)/scripts/exit_code.py", arguments: ["7"]), 7)
        XCTAssertEqual(try Loader.root.runMain(code: "import sys; sys.exit(4)"), 4)
        XCTAssertEqual(try value(bystander, "__import__('pyloader').get('\(loader.name)').run_main(\(pythonLiteral("\(fixtures)/scripts/exit_code.py")), ['x', '9'])", as: Int.self), 9)
        XCTAssertEqual(try value(loader, "6 * 7", as: Int.self), 42)
        try assertHealthy()
    }

    func testSysExitInExecIsAPythonErrorNotAProcessExit() throws {
        let loader = try makeChild("exits-exec")
        XCTAssertThrowsError(try loader.exec("import sys\nsys.exit(4)")) { error in
            guard let error = error as? PythonError else { return XCTFail("\(error)") }
            XCTAssertEqual(error.typeName, "SystemExit")
            XCTAssertEqual(error.loader, loader.name)
            XCTAssertEqual(try? error.exception.map { try Int(python: try $0.code) }, 4)
        }
        try assertPythonError("SystemExit", in: loader, "raise SystemExit(5)")
        // Crossing loaders, it stays the same exception object, catchable by the caller.
        try bystander.exec("""
            import pyloader
            try:
                pyloader.get('\(loader.name)').exec('import sys; sys.exit(6)')
            except SystemExit as e:
                exit_code = e.code
            """)
        XCTAssertEqual(try value(bystander, "exit_code", as: Int.self), 6)
        XCTAssertEqual(try value(loader, "6 * 7", as: Int.self), 42)
        try assertHealthy()
    }

    func testKeyboardInterruptIsAPythonError() throws {
        let loader = try makeChild("interrupt")
        try assertPythonError("KeyboardInterrupt", in: loader, "raise KeyboardInterrupt")
        XCTAssertEqual(try loader.runMain(code: "raise KeyboardInterrupt"), 130)
        try bystander.exec("""
            import pyloader
            try:
                pyloader.get('\(loader.name)').exec('raise KeyboardInterrupt')
            except KeyboardInterrupt:
                interrupted = True
            """)
        XCTAssertEqual(try value(bystander, "interrupted", as: Bool.self), true)
        XCTAssertEqual(try value(loader, "6 * 7", as: Int.self), 42)
        try assertHealthy()
    }

    func testRecursionErrorAtDepth() throws {
        let loader = try makeChild("recurse")
        try loader.exec("def down(n):\n    return down(n + 1)")
        try assertPythonError("RecursionError", in: loader, "down(0)")
        // Again: the recursion counter came back to zero.
        try assertPythonError("RecursionError", in: loader, "down(0)")
        // Deep but legal recursion still works afterwards.
        try loader.exec("def sum_to(n):\n    return 0 if n == 0 else n + sum_to(n - 1)")
        XCTAssertEqual(try value(loader, "sum_to(500)", as: Int.self), 125_250)
        // Recursion that crosses a loader boundary on each level (Swift frames between).
        try loader.exec("import pyloader\nSELF = pyloader.current()\ndef cross(n):\n    return SELF.eval(f'cross({n + 1})')")
        try assertPythonError("RecursionError", in: loader, "cross(0)")
        XCTAssertEqual(try value(loader, "6 * 7", as: Int.self), 42)
        try assertHealthy()
    }

    /// Each (thread, loader) thread state has its own recursion counter in CPython
    /// 3.11, so recursion that goes round a ring of loaders got `recursion_limit` levels
    /// per loader before 650f4f6: 16 loaders overflowed the 8 MB main-thread stack
    /// (SIGSEGV) long before any RecursionError (two loaders, a 1 MB thread stack).
    /// Runs in a child process.
    func testRecursionAcrossARingOfLoadersRaisesRecursionError() throws {
        try assertScenarioSucceeds("ring-recursion")
        try assertHealthy()
    }

    /// Needs ASAN_OPTIONS=allocator_may_return_null=1 under AddressSanitizer, which
    /// otherwise reports the (deliberately) impossible allocation as an error.
    func testMemoryErrorFromAHugeAllocation() throws {
        let loader = try makeChild("hungry")
        try assertPythonError("MemoryError", in: loader, "bytearray(1 << 60)")
        try assertPythonError("MemoryError", in: loader, "b'x' * (1 << 60)")
        try assertPythonError("MemoryError", in: bystander,
                              "__import__('pyloader').get('\(loader.name)').eval('[0] * (1 << 60)')")
        XCTAssertEqual(try value(loader, "len(bytearray(1 << 20))", as: Int.self), 1 << 20)
        try assertHealthy()
    }

    /// `os._exit` ends the whole process by design (README says so): checked in a
    /// subprocess of the CLI, never in the test process.
    func testOsExitEndsTheProcessByDesign() throws {
        guard let cli = cliExecutable() else {
            throw XCTSkip("the pyloader CLI is not built next to the test bundle (set PYLOADER_EXECUTABLE)")
        }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: cli)
        process.arguments = ["run", "-c", "import os, pyloader\npyloader.root().child('doomed')\nos._exit(3)"]
        process.currentDirectoryURL = URL(fileURLWithPath: try scratchFolder())
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        process.waitUntilExit()
        XCTAssertEqual(process.terminationReason, .exit)
        XCTAssertEqual(process.terminationStatus, 3)
        try assertHealthy()
    }

    // MARK: - Import faults

    /// P's `cyca` imports C's `cycb` (through `pyloader.get(C).import_module`), and
    /// `cycb` imports `cyca`, which C takes from P (parent-first) while P is still
    /// executing it. It behaves like a cycle inside one interpreter: `cycb` sees the
    /// partly initialized module, nothing deadlocks, and both modules end up complete
    /// and shared by identity.
    func testImportCycleAcrossTwoLoaders() throws {
        let (parent, child) = try makeCycle(crossing: "cycb = pyloader.get(CHILD).import_module('cycb')")
        defer { try? parent.close() }
        try parent.exec("import cyca")
        try assertCycleCompleted(parent, child)
        try parent.close()
        XCTAssertTrue(child.isClosed)
        try assertHealthy()
    }

    /// A context loader set inside a module body does not redirect the body's own imports
    /// (the context rule, issue 10): `with pyloader.context(C): import cycb` in P's `cyca`
    /// looks for `cycb` in P, which cannot provide it. (Before the rule it crossed to C.)
    func testAContextLoaderInsideAModuleBodyDoesNotRedirectItsImports() throws {
        let (parent, child) = try makeCycle(crossing: "with pyloader.context(pyloader.get(CHILD)):\n    import cycb")
        defer { try? parent.close() }
        try assertPythonError("ModuleNotFoundError", in: parent, "import cyca")
        XCTAssertFalse(try value(child, "'cyca' in __import__('sys').modules", as: Bool.self))
        try assertHealthy()
    }

    /// The cycle with its crossing made by a context loader at call time, on two threads
    /// at once: P's `cyca` imports C's `cycb` explicitly while another thread's
    /// `importlib.import_module('cycb')` under C's context starts `cycb`, which imports
    /// `cyca`. Must complete, not deadlock (issue 10, item 3).
    func testImportCycleThroughAContextLoaderOnTwoThreadsDoesNotDeadlock() throws {
        try assertScenarioSucceeds("two-thread-context-cycle")
        try assertHealthy()
    }

    /// Under a context loader that is a parent-first child, looking up a name that is not
    /// in the standard library must end in ModuleNotFoundError (or the module), not
    /// RecursionError (before 650f4f6 PyLoader's own imports followed the context).
    func testContextLoaderImportThatAsksTheParentChain() throws {
        let parent = try makeChild("ctx-p")
        let child = try makeChild("ctx-c", of: parent)
        try parent.exec("import pyloader\nCHILD = pyloader.get('\(child.name)')")
        try assertPythonError("ModuleNotFoundError", in: parent,
                              "with pyloader.context(CHILD):\n    __import__('importlib').import_module('no_such_module_anywhere')")
        try assertHealthy()
    }

    /// Swift's `importModule` under `withContext`: CPython's PyImport_ImportModule calls
    /// `builtins.__import__` (the hook, which honours the context and imports into the
    /// context loader) and then reads the *importing* loader's `sys.modules`, so before
    /// 650f4f6 it threw KeyError. `importModule` names its loader: the context does not apply.
    func testSwiftImportModuleUnderAContextLoader() throws {
        let parent = try makeChild("ctximp-p")
        let context = try makeChild("ctximp-x")
        let module = try context.withContext { try parent.importModule("colorsys") }
        XCTAssertEqual(try String(python: try module.__name__), "colorsys")
        try assertHealthy()
    }

    /// The same cycle imported from both ends at once on two threads. In one
    /// interpreter importlib detects the deadlock (`_blocking_on`) and hands one side
    /// the partial module; across interpreters each has its own `_blocking_on`, so
    /// today the two threads wait for each other forever.
    func testImportCycleAcrossTwoLoadersOnTwoThreadsDoesNotDeadlock() throws {
        try assertScenarioSucceeds("two-thread-import-cycle")
        try assertHealthy()
    }

    /// A module that raises while it is imported is removed by importlib; delegation
    /// must not leave it (or a delegation record) anywhere either: not in the defining
    /// loader, not in the importing child, not in the root. Importing again raises again.
    func testModuleRaisingDuringImportLeavesNoHalfRegisteredModule() throws {
        let folder = try scratchFolder()
        try makePackage(folder + "/p", "boom", "import sys\nsys.modules.setdefault('boom_ran', sys)\nraise RuntimeError('boom during import')")
        try makePackage(folder + "/p", "okpkg", "VALUE = 1")
        try write(folder + "/p/okpkg/bad.py", "raise ValueError('bad submodule')\n")
        try makePackage(folder + "/c", "cboom", "raise LookupError('local boom')")
        let parent = try makeChild("raise-p", paths: [folder + "/p"])
        let child = try makeChild("raise-c", of: parent, paths: [folder + "/c"])
        let everywhere = [try Loader.root, parent, child, bystander!]
        func assertNowhere(_ name: String, line: UInt = #line) throws {
            for loader in everywhere {
                XCTAssertFalse(try value(loader, "\(pythonLiteral(name)) in __import__('sys').modules", as: Bool.self),
                               "\(name) left in \(loader.name)", line: line)
            }
        }
        for attempt in 0..<2 {
            try assertPythonError("RuntimeError", in: child, "import boom", containing: "boom during import")
            try assertNowhere("boom")
            XCTAssertTrue(try child.withActivated { child.delegatedNames["boom"] == nil }, "attempt \(attempt)")
            try assertPythonError("ValueError", in: child, "import okpkg.bad", containing: "bad submodule")
            try assertNowhere("okpkg.bad")
            XCTAssertEqual(try value(child, "hasattr(__import__('okpkg'), 'bad')", as: Bool.self), false)
            try assertPythonError("LookupError", in: child, "import cboom", containing: "local boom")
            try assertNowhere("cboom")
        }
        // The package itself imported fine and is the parent's, by identity.
        XCTAssertTrue(try child.importModule("okpkg").isIdentical(to: try parent.importModule("okpkg")))
        try assertPythonError("RuntimeError", in: parent, "import boom")
        XCTAssertEqual(try child.which("boom")?.name, parent.name)
        try assertHealthy()
    }

    /// `del sys.modules[__name__]` during import makes CPython 3.11's importlib raise
    /// KeyError (`_load_unlocked` pops the name); a module that replaces itself in
    /// `sys.modules` (a legal idiom) is what every importer gets, delegated or not.
    func testModuleThatDeletesItselfFromSysModules() throws {
        let folder = try scratchFolder()
        try makePackage(folder + "/p", "selfdel", "import sys\nRAN = True\ndel sys.modules[__name__]")
        try makePackage(folder + "/p", "selfrep", "import sys\nsys.modules[__name__] = ('replacement', 42)")
        let parent = try makeChild("selfdel-p", paths: [folder + "/p"])
        let child = try makeChild("selfdel-c", of: parent)
        let localError = try pythonErrorType(in: parent, "import selfdel")
        let delegatedError = try pythonErrorType(in: child, "import selfdel")
        XCTAssertEqual(localError, "KeyError")
        XCTAssertEqual(delegatedError, localError, "delegation changed the error")
        for loader in [parent, child] {
            XCTAssertFalse(try value(loader, "'selfdel' in __import__('sys').modules", as: Bool.self), loader.name)
        }
        XCTAssertEqual(try value(child, "__import__('selfrep')[1]", as: Int.self), 42)
        XCTAssertTrue(try child.eval("__import__('selfrep')").isIdentical(to: try parent.eval("__import__('selfrep')")))
        try child.close()
        XCTAssertEqual(try value(parent, "__import__('selfrep')[1]", as: Int.self), 42)
        try assertHealthy()
    }

    /// `which` for a delegated module that replaced itself in `sys.modules` by a
    /// non-module object: the child's `sys.modules` entry has no globals to tell its
    /// definer by, so the answer must come from the delegation record (it named the
    /// importing child before cbcfc3e).
    func testWhichOfADelegatedModuleThatReplacedItself() throws {
        let folder = try scratchFolder()
        try makePackage(folder + "/p", "selfrep", "import sys\nsys.modules[__name__] = ('replacement', 42)")
        let parent = try makeChild("selfrep-p", paths: [folder + "/p"])
        let child = try makeChild("selfrep-c", of: parent)
        XCTAssertEqual(try child.which("selfrep")?.name, parent.name, "before the import")
        _ = try child.importModule("selfrep")
        XCTAssertEqual(try child.which("selfrep")?.name, parent.name, "after the import")
    }

    /// Documented behaviour: `sys.meta_path` is the user's. Emptying it breaks imports of
    /// anything not yet imported (ModuleNotFoundError), removing PyLoader's finder turns
    /// delegation off for that loader, `None` gives ImportError; restoring it restores
    /// both. The Swift side (`which`, close) never depends on it.
    func testUserReplacedMetaPath() throws {
        let base = "\(fixtures)/delegation"
        let parent = try makeChild("meta-p", paths: ["\(base)/parent"])
        let child = try makeChild("meta-c", of: parent)
        try child.exec("import sys\nsaved = list(sys.meta_path)\nsys.meta_path = []")
        try assertPythonError("ModuleNotFoundError", in: child, "import parentonly")
        try assertPythonError("ModuleNotFoundError", in: child, "import decimal")
        XCTAssertEqual(try child.which("parentonly")?.name, parent.name)
        try child.exec("sys.meta_path = [f for f in saved if getattr(f, '__name__', '') != '_DelegatingFinder']")
        try assertPythonError("ModuleNotFoundError", in: child, "import parentonly")
        XCTAssertEqual(try value(child, "__import__('fractions').__name__", as: String.self), "fractions")
        try child.exec("sys.meta_path = None")
        try assertPythonError("ImportError", in: child, "import parentonly")
        try child.exec("sys.meta_path = saved")
        XCTAssertTrue(try child.importModule("parentonly").isIdentical(to: try parent.importModule("parentonly")))
        try child.exec("sys.meta_path = 'not a list'")
        _ = try? child.exec("import calendar")   // whatever CPython makes of it: an exception, no crash
        try child.exec("sys.meta_path = saved")
        try child.close()
        try assertHealthy()
    }

    /// Documented behaviour: `builtins.__import__` is the user's too. A replacement is
    /// called for every import statement in that loader (Eby's hook is bypassed, as
    /// CPython bypasses any hook it replaces); deleting it gives
    /// "ImportError: __import__ not found"; a wrapper around PyLoader's hook keeps
    /// the delegation and crossing rules; the Swift API still imports normally.
    func testUserReplacedBuiltinsImport() throws {
        let base = "\(fixtures)/delegation"
        let parent = try makeChild("imp-p", paths: ["\(base)/parent", "\(base)/lazy"])
        let child = try makeChild("imp-c", of: parent)
        try child.exec("""
            import builtins
            original = builtins.__import__
            builtins.__import__ = lambda name, *args, **kwargs: ('fake', name)
            import fractions as fake
            """)
        XCTAssertEqual(try value(child, "fake", as: [String].self), ["fake", "fractions"])
        // importModule does not go through builtins.__import__ (the loader is named
        // explicitly), but the module's own import statements do: fractions' own
        // `from decimal import Decimal` gets the replacement's tuple.
        XCTAssertThrowsError(try child.importModule("fractions")) { error in
            XCTAssertEqual((error as? PythonError)?.typeName, "ImportError")
        }
        try child.exec("del builtins.__import__")
        try assertPythonError("ImportError", in: child, "import fractions", containing: "__import__ not found")
        // A wrapper keeps the rules: delegation and Eby's crossing.
        try child.exec("""
            calls = []
            def wrapper(name, *args, **kwargs):
                calls.append(name)
                return original(name, *args, **kwargs)
            builtins.__import__ = wrapper
            import parentonly, lazyimp
            """)
        XCTAssertTrue(try child.eval("parentonly").isIdentical(to: try parent.importModule("parentonly")))
        XCTAssertEqual(try value(child, "lazyimp.load_decimal()", as: String.self), "decimal")
        XCTAssertEqual(try value(parent, "'decimal' in __import__('sys').modules", as: Bool.self), true)
        XCTAssertEqual(try value(child, "'decimal' in __import__('sys').modules", as: Bool.self), false)
        XCTAssertEqual(try value(child, "calls[:2]", as: [String].self), ["parentonly", "lazyimp"])
        // Another loader's hook installed by hand: imports run there, and once that
        // loader closes its disarmed hook raises ImportError naming it.
        let other = try makeChild("imp-o")
        try child.exec("builtins.__import__ = __import__('pyloader').get('\(other.name)').eval('__import__')")
        try child.exec("import colorsys")
        XCTAssertEqual(try value(other, "'colorsys' in __import__('sys').modules", as: Bool.self), true)
        try other.close()
        try assertPythonError("ImportError", in: child, "import textwrap", containing: "loader '\(other.name)' is closed")
        // Contexts switch every live hook off the fast path and back: replaced ones are left alone.
        try parent.withContext {
            XCTAssertEqual(try value(parent, "__import__('fractions').__name__", as: String.self), "fractions")
        }
        try child.exec("builtins.__import__ = original")
        XCTAssertEqual(try value(child, "__import__('textwrap').__name__", as: String.self), "textwrap")
        try parent.close()
        try assertHealthy()
    }

    // MARK: - Manifest

    /// A few hundred manifests — the demo manifest mutated, random structures, and a
    /// handful of adversarial texts — through the real parse path (`Manifest.parse`,
    /// which runs `tomllib` in the root). Each must end in a `Manifest` or a
    /// `ManifestError` (the CLI's exit 2), never another error, a crash or a hang.
    /// Manifests that parse are also built (`makeLoaders`) and closed again, unless they
    /// touch the root's `sys.path`, which would leak into the other tests.
    func testManifestFuzzEndsInSuccessOrManifestError() throws {
        let demo = "\(fixtures)/demo"
        let texts = ManifestFuzz.texts(count: 400, seed: 0x5EED_7007,
                                       base: try String(contentsOfFile: demo + "/pyloader.toml", encoding: .utf8))
        let state = Lock()
        nonisolated(unsafe) var current = ""
        nonisolated(unsafe) var failures: [String] = []
        nonisolated(unsafe) var parsed = 0, rejected = 0, built = 0
        let finished = DispatchSemaphore(value: 0)
        let worker = Thread {
            for (index, text) in texts.enumerated() {
                state.withLock { current = text }
                let file = "\(demo)/fuzz-\(index).toml"
                do {
                    let manifest = try Manifest.parse(file: file, source: text)
                    state.withLock { parsed += 1 }
                    guard manifest.root.paths.isEmpty, !manifest.root.systemSitePackages else { continue }
                    do {
                        let made = try manifest.makeLoaders()
                        for spec in manifest.loaders.reversed() { try made[spec.name]?.close() }
                        state.withLock { built += 1 }
                    } catch is ManifestError {
                    }
                } catch let error as ManifestError {
                    state.withLock { rejected += 1 }
                    if "\(error)".contains("\n") {
                        state.withLock { failures.append("#\(index) a ManifestError of more than one line: \(error)") }
                    }
                } catch {
                    state.withLock { failures.append("#\(index) \(type(of: error)) \(error)\n--- text ---\n\(text.prefix(300))") }
                }
            }
            finished.signal()
        }
        worker.stackSize = 8 << 20
        worker.start()
        guard finished.wait(timeout: .now() + 600) == .success else {
            return XCTFail("the manifest fuzz hung on:\n" + state.withLock { current }.prefix(600))
        }
        XCTAssertEqual(failures, [], "\(failures.count) manifest(s) ended in an error that is not a ManifestError")
        XCTAssertEqual(parsed + rejected + failures.count, texts.count)
        XCTAssertGreaterThan(parsed, 20, "the generator hardly ever produced a valid manifest")
        XCTAssertGreaterThan(rejected, 100)
        print("manifest fuzz: \(texts.count) texts, \(parsed) parsed (\(built) built and closed), \(rejected) ManifestError")
        XCTAssertEqual(try Loader.root.children.filter { !$0.name.contains("-") }.map(\.name), [],
                       "a fuzzed loader was left open")
        try assertHealthy()
    }

    /// `tomllib` parses nested arrays and inline tables recursively: a few hundred
    /// levels raise RecursionError, which `TOMLParser.parse` let through as a
    /// PythonError before 650f4f6 (the CLI would not exit 2).
    func testManifestWithDeeplyNestedValuesIsAManifestError() throws {
        for text in ["a = " + String(repeating: "[", count: 5000) + String(repeating: "]", count: 5000) + "\n",
                     "a = " + String(repeating: "{ b = ", count: 3000) + "1" + String(repeating: " }", count: 3000) + "\n"] {
            XCTAssertThrowsError(try Manifest.parse(file: "\(fixtures)/demo/deep.toml", source: text)) { error in
                XCTAssertTrue(error is ManifestError, "\(type(of: error)): \(error)")
            }
        }
        try assertHealthy()
    }

    /// `TOMLParser.value(of:)` converts nested tables and arrays recursively; before
    /// 650f4f6 it had no depth limit. tomllib builds dotted table headers without
    /// recursion, so `[a.a.a…b]` with 20,000 levels overflowed even the 8 MB main-thread
    /// stack (SIGSEGV); 250 levels of inline tables overflowed a 512 KB thread stack, and
    /// 3,000 dotted levels did under AddressSanitizer. Runs in a child process.
    func testManifestParseOnASmallStackDoesNotOverflow() throws {
        try assertScenarioSucceeds("manifest-small-stack")
    }

    // MARK: - Helpers

    /// The process is healthy: the bystander kept its state and still imports, the root
    /// evaluates, a new loader can be made, used and closed, and every live loader of
    /// the registry answers.
    private func assertHealthy(file: StaticString = #filePath, line: UInt = #line) throws {
        XCTAssertFalse(bystander.isClosed, "the bystander was closed", file: file, line: line)
        XCTAssertEqual(try value(bystander, "state + 1", as: Int.self), 42, file: file, line: line)
        XCTAssertEqual(try value(bystander, "json.dumps([1])", as: String.self), "[1]", file: file, line: line)
        XCTAssertEqual(try value(bystander, "__import__('fractions').Fraction(1, 2).denominator", as: Int.self), 2,
                       file: file, line: line)
        XCTAssertEqual(try value(try Loader.root, "6 * 7", as: Int.self), 42, file: file, line: line)
        let fresh = try Loader.root.child(uniqueName("fresh"))
        XCTAssertEqual(try value(fresh, "__import__('pyloader').current().name", as: String.self), fresh.name,
                       file: file, line: line)
        try fresh.close()
        let names = try value(bystander, "[l.name for l in __import__('pyloader').loaders()]", as: [String].self)
        XCTAssertEqual(names.first, "root", file: file, line: line)
        XCTAssertTrue(names.contains(bystander.name), file: file, line: line)
    }

    private func assertLoaderError(_ expected: LoaderError, file: StaticString = #filePath, line: UInt = #line,
                                   _ body: () throws -> Void) throws {
        XCTAssertThrowsError(try body(), file: file, line: line) { error in
            XCTAssertEqual(error as? LoaderError, expected, "\(error)", file: file, line: line)
        }
    }

    /// Runs `source` (statements) in `loader` and checks that it raises `type`.
    private func assertPythonError(_ type: String, in loader: Loader, _ source: String, containing text: String? = nil,
                                   file: StaticString = #filePath, line: UInt = #line) throws {
        XCTAssertThrowsError(try loader.exec(source), source, file: file, line: line) { error in
            guard let error = error as? PythonError else {
                return XCTFail("expected a PythonError \(type), got \(error)", file: file, line: line)
            }
            XCTAssertEqual(error.typeName, type, "\(source): \(error)", file: file, line: line)
            if let text {
                XCTAssertTrue(error.message.contains(text), "\(error.message) lacks \(text)", file: file, line: line)
            }
        }
    }

    /// Runs a scenario of `SubprocessScenarioTests` in a fresh test process and checks it
    /// ended normally with status 0 (a crash there cannot take this process down).
    private func assertScenarioSucceeds(_ name: String, file: StaticString = #filePath, line: UInt = #line) throws {
        let outcome = try runScenario(name)
        XCTAssertEqual(outcome.reason, .exit, "scenario \(name) was killed by a signal:\n\(outcome.output.suffix(3000))",
                       file: file, line: line)
        XCTAssertEqual(outcome.status, 0, "scenario \(name) failed:\n\(outcome.output.suffix(3000))", file: file, line: line)
    }

    /// The type name of the Python exception `source` raises in `loader` (nil if none).
    private func pythonErrorType(in loader: Loader, _ source: String) throws -> String? {
        do {
            try loader.exec(source)
            return nil
        } catch let error as PythonError {
            return error.typeName
        }
    }

    /// No loader of that name exists and the root has no such child.
    private func assertNothingMade(named name: String, file: StaticString = #filePath, line: UInt = #line) throws {
        XCTAssertNil(Loader.named(name), file: file, line: line)
        XCTAssertFalse(try Loader.root.children.contains { $0.name == name }, file: file, line: line)
    }

    private func scratchFolder() throws -> String {
        let folder = try temporaryFolder()
        _ = chmod(folder, 0o755)   // searchable by `nobody` (see testUnreadablePathIsInvalidPath)
        folders.append(folder)
        return folder
    }

    /// P (child of the root) with package `cyca`, and its child C with package `cycb`:
    /// `cyca` sets BEFORE, runs `crossing` (which must make `cycb` reachable as
    /// `cyca.cycb`), sets AFTER; `cycb` imports `cyca` and records what it saw.
    private func makeCycle(crossing: String, childPrefix: String = "") throws -> (Loader, Loader) {
        let folder = try scratchFolder()
        let parentName = uniqueName("cyc-p"), childName = uniqueName("cyc-c")
        try makePackage(folder + "/p", "cyca", "import pyloader, time\nCHILD = \(pythonLiteral(childName))\nBEFORE = 1\n"
                        + crossing + "\nAFTER = 2")
        try makePackage(folder + "/c", "cycb", childPrefix + """

            import cyca
            SAW_BEFORE = cyca.BEFORE
            SAW_AFTER = getattr(cyca, 'AFTER', 'partial')
            """)
        let parent = try Loader.root.child(parentName, paths: [folder + "/p"])
        do {
            return (parent, try parent.child(childName, paths: [folder + "/c"]))
        } catch {
            try? parent.close()
            throw error
        }
    }

    private func assertCycleCompleted(_ parent: Loader, _ child: Loader, line: UInt = #line) throws {
        XCTAssertEqual(try value(parent, "cyca.AFTER", as: Int.self), 2, line: line)
        XCTAssertEqual(try value(parent, "cyca.cycb.SAW_BEFORE", as: Int.self), 1, line: line)
        XCTAssertEqual(try value(parent, "cyca.cycb.SAW_AFTER", as: String.self), "partial", line: line)
        XCTAssertTrue(try child.eval("__import__('sys').modules['cyca']").isIdentical(to: try parent.eval("cyca")), line: line)
        XCTAssertTrue(try child.eval("__import__('cycb')").isIdentical(to: try parent.eval("cyca.cycb")), line: line)
        XCTAssertFalse(try value(parent, "'cycb' in __import__('sys').modules", as: Bool.self), line: line)
    }

    /// `folder/name/__init__.py` with `source`, making `folder` when needed.
    private func makePackage(_ folder: String, _ name: String, _ source: String) throws {
        if access(folder, F_OK) != 0 { try makeFolder(folder) }
        try makeFolder(folder + "/" + name)
        try write(folder + "/" + name + "/__init__.py", source + "\n")
    }

    private func seconds(since start: DispatchTime) -> Double {
        Double(DispatchTime.now().uptimeNanoseconds - start.uptimeNanoseconds) / 1e9
    }

    /// Runs `body` where reading a mode-000 folder is denied: directly when not root;
    /// as root, on a helper thread whose own credentials are `nobody` (see above).
    private func runDeniedReads<T>(_ body: @escaping () -> T) throws -> T {
        guard geteuid() == 0 else { return body() }
        guard let setresuid = rawSetresuid() else {
            throw XCTSkip("running as root and the raw setresuid system call is unavailable: chmod 000 cannot deny reads")
        }
        let done = DispatchSemaphore(value: 0)
        nonisolated(unsafe) var outcome: T?
        nonisolated(unsafe) var switched = false
        Thread.detachNewThread {
            let nobody = 65_534
            if setresuid(nobody, nobody, 0) == 0 {
                switched = true
                outcome = body()
                _ = setresuid(0, 0, 0)
            }
            done.signal()
        }
        done.wait()
        guard switched, let outcome else {
            throw XCTSkip("running as root without CAP_SETUID: chmod 000 cannot deny reads to root")
        }
        return outcome
    }
}

/// Skips a test that pins a known core bug, unless PYLOADER_RUN_KNOWN_BUGS=1.
func knownBug(_ summary: String) throws {
    guard ProcessInfo.processInfo.environment["PYLOADER_RUN_KNOWN_BUGS"] == "1" else {
        throw XCTSkip("known bug: " + summary)
    }
}

/// `syscall(SYS_setresuid, r, e, s)` for the calling thread only. glibc's `syscall` is
/// variadic, which Swift cannot call: it is called through a fixed-arity pointer,
/// which the x86-64 and AArch64 Linux calling conventions make equivalent for
/// integer arguments.
private func rawSetresuid() -> ((Int, Int, Int) -> Int)? {
    #if arch(x86_64)
    let number = 117
    #elseif arch(arm64)
    let number = 147
    #else
    return nil
    #endif
    guard let handle = dlopen(nil, RTLD_NOW), let symbol = dlsym(handle, "syscall") else { return nil }
    typealias Syscall = @convention(c) (Int, Int, Int, Int) -> Int
    let syscall = unsafeBitCast(symbol, to: Syscall.self)
    return { syscall(number, $0, $1, $2) }
}

/// The built `pyloader` executable: `$PYLOADER_EXECUTABLE`, else next to the test bundle.
func cliExecutable() -> String? {
    var candidates: [String] = []
    if let explicit = ProcessInfo.processInfo.environment["PYLOADER_EXECUTABLE"] { candidates.append(explicit) }
    if let bundle = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe") {
        candidates.append((bundle as NSString).deletingLastPathComponent + "/pyloader")
    }
    return candidates.first { FileManager.default.isExecutableFile(atPath: $0) }
}

/// Manifest texts for the fuzz row, from a seeded generator (SplitMix64), so that a
/// failure names a text that can be produced again.
enum ManifestFuzz {
    typealias Generator = SplitMix64

    static let names = ["host", "alpha", "beta", "a", "plugin-a", "x.y", "root", "", "a b", "-x", "é", "host2", "B_1"]
    static let paths = ["host", "plugins/alpha", "plugins/alpha/site-packages", "plugins/beta", "nope", "pyloader.toml",
                        "../demo/host", "/tmp", "", ".", "host/../host", "plugins/*"]
    static let modules = ["hostapi", "greeting", "json", "a.b", "1x", "", "_ok", "héllo", "os"]
    static let values = [#""child-first""#, #""parent-first""#, #""sideways""#, "1", "-0", "3.5", "inf", "nan", "true",
                         "false", "[]", #"["host"]"#, "[1, 2]", #"[["x"]]"#, "{}", "{ a = 1 }", "1979-05-27T07:32:00Z",
                         #""""#, #""copy""#, #""share""#, #""error""#, #""root""#, #""nowhere""#, "99999999999999999999999",
                         "'''multi\nline'''", #""\u00e9""#, #""tab\there""#]
    static let keys = ["paths", "parent", "delegation", "shared", "local", "extensions", "system_site_packages",
                       "colour", "Paths", #""paths""#, "paths.x", "parent = \"host\"\nparent"]
    static let fragments = ["[", "]", "=", "\"", "'", "#", "\n", "{", "}", ",", "\\", "\u{0}", "\r\n", "\t", "é", "\u{FEFF}",
                            "[[loaders.x]]\n", "[loaders]\n", "[loaders.root]\n", "[loaders.\"a b\"]\n", "[root]\n",
                            "[loaders.alpha]\n", "parent = \"beta\"\n", "paths = [\"nope\"]\n", "delegation = 5\n",
                            "shared = [\"greeting\"]\nlocal = [\"greeting\"]\n", "unknown = 1\n", "[other]\n",
                            "system_site_packages = \"yes\"\n", #"x = "\q""# + "\n"]

    static func texts(count: Int, seed: UInt64, base: String) -> [String] {
        var random = Generator(seed: seed)
        var texts = adversarial()
        while texts.count < count {
            texts.append(random.chance(60) ? mutated(base, &random) : generated(&random))
        }
        return Array(texts.prefix(count))
    }

    /// Fixed texts aimed at the parser's and the converter's limits.
    static func adversarial() -> [String] {
        [
            "",
            "\u{FEFF}[root]\n",
            "[root]\r\npaths = []\r\n",
            // Deeper nesting has rows of its own (testManifestWithDeeplyNestedValuesIs-
            // AManifestError, testManifestParseOnASmallStackDoesNotOverflow); 16 levels parse.
            "a = " + String(repeating: "[", count: 16) + String(repeating: "]", count: 16) + "\n",
            "a = " + String(repeating: "{ b = ", count: 16) + "1" + String(repeating: " }", count: 16) + "\n",
            "[" + String(repeating: "a.", count: 16) + "b]\n",
            "[loaders.\(String(repeating: "x", count: 100_000))]\n",
            "[loaders.a]\npaths = [" + Array(repeating: "\"host\"", count: 5000).joined(separator: ", ") + "]\n",
            "[loaders.a]\nparent = \"a\"\n",
            "[loaders.a]\nparent = \"b\"\n[loaders.b]\nparent = \"c\"\n[loaders.c]\nparent = \"a\"\n",
            "[loaders.a]\nx = 99999999999999999999999999\n",
            #"[loaders.a]"# + "\n" + #"x = "\uD800""# + "\n",
            "[loaders.a]\nnul = \"\u{0}\"\n",
            #"[loaders."new\nline"]"# + "\n",
            "[loaders.a]\nshared = [\"json\"]\nlocal = [\"json\"]\n",
            "loaders = 3\n",
            "root = []\n",
            "[[loaders]]\n",
            "[loaders.a.b]\n",
            "[loaders.a]\npaths = \"host\"\n",
        ]
    }

    static func mutated(_ base: String, _ random: inout Generator) -> String {
        var text = Array(base)
        for _ in 0..<(1 + random.below(4)) {
            let lines = String(text).split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
            switch random.below(8) {
            case 0 where !text.isEmpty:   // delete a span
                let start = random.below(text.count)
                text.removeSubrange(start..<min(text.count, start + 1 + random.below(12)))
            case 1:   // insert a fragment
                text.insert(contentsOf: random.pick(fragments), at: random.below(text.count + 1))
            case 2 where !lines.isEmpty:   // duplicate a line
                var copy = lines
                let index = random.below(copy.count)
                copy.insert(copy[index], at: random.below(copy.count + 1))
                text = Array(copy.joined(separator: "\n"))
            case 3 where lines.count > 1:   // swap two lines
                var copy = lines
                copy.swapAt(random.below(copy.count), random.below(copy.count))
                text = Array(copy.joined(separator: "\n"))
            case 4:   // truncate
                text = Array(text.prefix(random.below(text.count + 1)))
            case 5:   // replace a value
                var copy = lines
                let assignments = copy.indices.filter { copy[$0].contains("=") }
                if !assignments.isEmpty {
                    let index = random.pick(assignments)
                    copy[index] = copy[index].split(separator: "=", maxSplits: 1)[0] + "= " + random.pick(values)
                }
                text = Array(copy.joined(separator: "\n"))
            case 6 where !text.isEmpty:   // replace a character
                text[random.below(text.count)] = random.pick(Array("[]=\"'#{},.\\ \nxé0-_"))
            default:   // append a section
                text += Array("\n[loaders.\(random.pick(names))]\n\(random.pick(keys)) = \(random.pick(values))\n")
            }
        }
        return String(text)
    }

    static func generated(_ random: inout Generator) -> String {
        var text = ""
        if random.chance(30) {
            text += "[root]\n"
            if random.chance(50) { text += "paths = \(list(paths, &random))\n" }
            if random.chance(30) { text += "system_site_packages = \(random.pick(["false", "true", "\"no\"", "0"]))\n" }
        }
        for _ in 0..<random.below(5) {
            text += "\n[loaders.\(tomlKey(random.pick(names)))]\n"
            if random.chance(50) { text += "parent = \"\(random.pick(names))\"\n" }
            if random.chance(60) { text += "paths = \(list(paths, &random))\n" }
            if random.chance(40) { text += "delegation = \(random.pick(["\"child-first\"", "\"parent-first\"", "\"up\"", "1"]))\n" }
            if random.chance(40) { text += "shared = \(list(modules, &random))\n" }
            if random.chance(30) { text += "local = \(list(modules, &random))\n" }
            if random.chance(20) { text += "extensions = \(random.pick(values))\n" }
            if random.chance(10) { text += "\(random.pick(keys)) = \(random.pick(values))\n" }
        }
        return text
    }

    static func list(_ items: [String], _ random: inout Generator) -> String {
        "[" + (0..<random.below(4)).map { _ in "\"\(random.pick(items))\"" }.joined(separator: ", ") + "]"
    }
}

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
