import CPython
import Foundation
import XCTest
@testable import PyLoader

/// Rows of the fault matrix (see `FaultMatrixTestCase`): closing, and everything used after a close.
final class FaultMatrixCloseTests: FaultMatrixTestCase {
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
}
