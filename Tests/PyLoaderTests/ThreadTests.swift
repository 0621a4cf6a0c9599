import XCTest
import Dispatch
@testable import PyLoader

final class ThreadTests: LoaderTestCase {
    func testEightThreadsCallIntoFourLoadersConcurrently() throws {
        let loaders = try (0..<4).map { index -> Loader in
            let loader = try makeChild("thr\(index)")
            try loader.exec("""
                import threading
                lock = threading.Lock()
                count = 0
                def bump(n):
                    global count
                    with lock:
                        count += n
                    return n * 2
                """)
            return loader
        }
        let iterations = 300
        let failures = Lock()
        nonisolated(unsafe) var errors: [String] = []
        DispatchQueue.concurrentPerform(iterations: 8) { thread in
            for iteration in 0..<iterations {
                let loader = loaders[(thread + iteration) % loaders.count]
                do {
                    let doubled = try loader.eval("bump(\(thread))")
                    guard Int(doubled) == thread * 2 else { throw LoaderError.invalidArgument("wrong result \(doubled)") }
                    // A crossing from Python on this thread too.
                    let other = loaders[(thread + iteration + 1) % loaders.count]
                    let name = try loader.eval("__import__('pyloader').get('\(other.name)').eval('__import__(\"pyloader\").current().name')")
                    guard String(name) == other.name else { throw LoaderError.invalidArgument("wrong loader \(name)") }
                } catch {
                    failures.withLock { errors.append("\(error)") }
                }
            }
        }
        XCTAssertEqual(errors, [])
        // Each thread t bumped by t, iterations times in all, spread over the loaders.
        let total = try loaders.map { try value($0, "count", as: Int.self) }.reduce(0, +)
        XCTAssertEqual(total, (0..<8).reduce(0, +) * iterations)
    }

    func testPythonThreadStartedInAChildRunsAndIsJoined() throws {
        let child = try makeChild("pythread")
        try child.exec("""
            import threading
            results = []
            def work():
                import json
                results.append(json.dumps({"from": threading.current_thread().name}))
            t = threading.Thread(target=work, name="worker")
            t.start()
            t.join()
            """)
        XCTAssertEqual(try value(child, "results", as: [String].self), ["{\"from\": \"worker\"}"])
    }

    /// The cross-loader deadlock check follows a thread that waits for a module lock in
    /// some loader's importlib to the lock's owner (`pyloader._blocked_on_owner`). 3.12+
    /// keeps a list of locks per waiting thread where 3.11 kept one lock; read as 3.11's,
    /// every such wait looked like no wait, and a cycle through one could not be seen.
    func testAThreadWaitingForAModuleLockIsTracedToItsOwner() throws {
        let folder = try temporaryFolder()
        try "import threading\nentered = threading.Event()\nrelease = threading.Event()\n"
            .write(toFile: folder + "/gates.py", atomically: true, encoding: .utf8)
        try "import gates\ngates.entered.set()\ngates.release.wait(20)\n"
            .write(toFile: folder + "/slowmod.py", atomically: true, encoding: .utf8)
        let child = try makeChild("lockwait", paths: [folder])
        try child.exec("""
            import threading, time, gates, pyloader
            first = threading.Thread(target=__import__, args=("slowmod",))
            first.start()
            gates.entered.wait(20)
            second = threading.Thread(target=__import__, args=("slowmod",))
            second.start()
            owner = None
            try:
                deadline = time.monotonic() + 20
                while owner is None and time.monotonic() < deadline:
                    owner = pyloader._blocked_on_owner(second.ident)
                    time.sleep(0.005)
            finally:
                gates.release.set()
                first.join()
                second.join()
            traced = owner == first.ident
            """)
        XCTAssertTrue(try value(child, "traced", as: Bool.self))
        XCTAssertEqual(try value(child, "pyloader._blocked_on_owner(first.ident)", as: Int?.self), nil)
    }

    func testPythonThreadCanCallIntoAnotherLoader() throws {
        let a = try makeChild("pyth-a")
        let b = try makeChild("pyth-b")
        try a.exec("""
            import threading, pyloader
            seen = []
            def work():
                seen.append(pyloader.get('\(b.name)').eval('__import__("pyloader").current().name'))
            t = threading.Thread(target=work)
            t.start()
            t.join()
            """)
        XCTAssertEqual(try value(a, "seen", as: [String].self), [b.name])
    }

    /// A thread keeps no record of the loaders another thread closed after it entered them:
    /// the pytest runner's main thread runs every fresh loader, its session thread closes
    /// them, and each closed one stayed in the main thread's records before.
    func testAThreadForgetsTheLoadersOtherThreadsClosed() throws {
        final class Box: @unchecked Sendable { var loader: Loader? }
        for round in 0..<10 {
            let box = Box()
            box.loader = try makeChild("closed-elsewhere-\(round)")
            XCTAssertEqual(try value(box.loader!, "6 * 7", as: Int.self), 42)   // this thread enters it
            let done = DispatchSemaphore(value: 0)
            Thread.detachNewThread {
                try? box.loader!.close()
                done.signal()
            }
            done.wait()
            XCTAssertTrue(box.loader!.isClosed)
        }
        _ = try makeChild("entered-after").eval("1")   // a new entry drops the dead ones
        let dead = ThreadRecord.current.states.values.filter { $0.tstate == nil }
        XCTAssertEqual(dead.count, 0, "records of closed loaders: \(dead.map(\.loader.name))")
    }

    /// A handle dropped without the GIL hands its reference to the loader (HandleTable.swift):
    /// `close()` releases it, in the loader, when nothing entered the loader after the drop.
    func testAHandleDroppedWithoutTheGILIsReleasedByClose() throws {
        let child = try makeChild("release-at-close")
        let marker = try temporaryFolder() + "/deleted"
        try child.exec("""
            class Noted:
                def __del__(self):
                    open(\(pythonLiteral(marker)), 'w').close()
            """)
        final class Holder: @unchecked Sendable { var handle: PythonObject? }
        let holder = Holder()
        holder.handle = try child.eval("Noted()")
        let done = DispatchSemaphore(value: 0)
        Thread.detachNewThread {
            holder.handle = nil
            done.signal()
        }
        done.wait()
        XCTAssertFalse(FileManager.default.fileExists(atPath: marker), "released without entering the loader")
        try child.close()
        XCTAssertTrue(FileManager.default.fileExists(atPath: marker))
    }

    /// Threads without the GIL drop handles while this one makes handles in the same loader
    /// (each made one releases what was dropped): every object is released exactly once.
    func testHandlesDroppedOnManyThreadsAreEachReleasedOnce() throws {
        let child = try makeChild("release-many")
        try child.exec("""
            deleted = []
            class Counted:
                def __init__(self, n):
                    self.n = n
                def __del__(self):
                    deleted.append(self.n)
            """)
        let perThread = 500, threads = 4
        final class Batch: @unchecked Sendable { var handles: [PythonObject] = [] }
        let batches = try (0..<threads).map { index in
            let batch = Batch()
            batch.handles = try (0..<perThread).map { try child.eval("Counted(\(index * perThread + $0))") }
            return batch
        }
        let group = DispatchGroup()
        for batch in batches {
            group.enter()
            Thread.detachNewThread {
                while !batch.handles.isEmpty { batch.handles.removeLast() }
                group.leave()
            }
        }
        var made: [PythonObject] = []
        while group.wait(timeout: .now()) == .timedOut {
            made.append(try child.eval("len(deleted)"))
            if made.count > 100 { made.removeFirst(50) }
        }
        made.removeAll()
        XCTAssertEqual(try value(child, "sorted(deleted) == list(range(\(threads * perThread)))", as: Bool.self), true)
    }

    func testHandleReleasedOnAnotherThreadIsSafe() throws {
        let child = try makeChild("release")
        try child.exec("import weakref\nclass Box: pass\nbox = Box()\nref = weakref.ref(box)")
        // The only Swift reference lives in a holder that the other thread empties, so the
        // handle is released there (its deinit enters the child on that thread).
        final class Holder: @unchecked Sendable { var handle: PythonObject? }
        let holder = Holder()
        holder.handle = try child.eval("box")
        try child.exec("del box")
        XCTAssertFalse(try child.eval("ref() is None").isTruthy())
        let done = DispatchSemaphore(value: 0)
        nonisolated(unsafe) var releasedOn: pthread_t?
        Thread.detachNewThread {
            holder.handle = nil
            releasedOn = pthread_self()
            done.signal()
        }
        done.wait()
        XCTAssertNotEqual(releasedOn.map { pthread_equal($0, pthread_self()) }, 1)
        XCTAssertTrue(try child.eval("ref() is None").isTruthy())
    }
}
