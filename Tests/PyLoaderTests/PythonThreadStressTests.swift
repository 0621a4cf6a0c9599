import Foundation
import XCTest
@testable import PyLoader

/// The stress run driven from Python threads (issue 11; run by `Scripts/stress`, skipped
/// unless PYLOADER_STRESS=1). `Fixtures/stress/python_threads.py` runs in the root: 8
/// `threading` threads apply seeded eval / exec / import / cross-loader call / context
/// block / create / close operations to a pool of at least 20 loaders nested up to three
/// deep, closes racing entries, other closes and running descendants, and checks the
/// Python-side invariants itself (exit status 0 when none was violated). Meanwhile this
/// thread enters the same loaders from Swift. Afterwards: no open loader without a
/// thread state list that CPython can extend safely, none half-closed, and RSS bounded.
///
/// Environment: PYLOADER_STRESS_OPS (per Python thread, default 1500; shared with the
/// Swift stress run's variable but scaled down), PYLOADER_STRESS_SEED.
final class PythonThreadStressTests: XCTestCase {
    override func setUpWithError() throws {
        guard ProcessInfo.processInfo.environment["PYLOADER_STRESS"] == "1" else {
            throw XCTSkip("stress runs: set PYLOADER_STRESS=1 (Scripts/stress)")
        }
        try Loader.configure(RuntimeOptions(writeBytecode: false))
    }

    func testSeededOperationsFromEightPythonThreadsWithSwiftEntriesBeside() throws {
        let environment = ProcessInfo.processInfo.environment
        let operations = (Int(environment["PYLOADER_STRESS_OPS"] ?? "") ?? 2500) * 3 / 5
        let seed = UInt64(environment["PYLOADER_STRESS_SEED"] ?? "") ?? 0x57E5_5007
        let root = try Loader.root
        let rssBefore = residentKiB()

        let done = DispatchSemaphore(value: 0)
        nonisolated(unsafe) var status: Int32 = -1
        nonisolated(unsafe) var failure: Error?
        Thread.detachNewThread {
            do {
                status = try root.runMain(path: "\(fixtures)/stress/python_threads.py",
                                          arguments: [String(seed), String(operations), "8", "--with-host"])
            } catch {
                failure = error
            }
            done.signal()
        }
        // Swift-side entries into whatever loaders the Python threads have made.
        var random = SplitMix64(seed: seed ^ 0x5F1F7)
        var entered = 0, raced = 0
        var swiftViolations: [String] = []
        while done.wait(timeout: .now()) == .timedOut {
            // The script's threads are done: stop, so that its checks and final closes
            // see no entry of ours (they would be refused as busy).
            if (try? String(python: try root.eval("getattr(__import__('sys'), '_stress_phase', '')"))) == "checking" {
                try root.exec("import sys\nsys._stress_host_stopped = True")
                break
            }
            let loaders = Array(root.subtree.dropFirst())
            guard !loaders.isEmpty else { usleep(1000); continue }
            let loader = random.pick(loaders)
            do {
                if random.chance(50) {
                    let answer = try Int(python: try loader.eval("6 * 7"))
                    if answer != 42 { swiftViolations.append("\(loader.name): 6 * 7 = \(answer)") }
                } else {
                    _ = try loader.importModule(random.chance(50) ? "json" : "string")
                }
                entered += 1
            } catch LoaderError.closed {
                raced += 1
            } catch {
                swiftViolations.append("\(loader.name): \(error)")
            }
        }
        done.wait()
        XCTAssertNil(failure)
        XCTAssertEqual(status, 0, "the Python side reported violations (its output is above)")
        XCTAssertEqual(swiftViolations, [])
        print("python-thread stress, Swift side: \(entered) entries, \(raced) raced a close")

        // Nothing half-closed: every loader in the registry is open and reachable from the root.
        let reachable = Set(root.subtree.map(\.id))
        for loader in Loader.registry.all {
            XCTAssertEqual(loader.lifecycle, .open, loader.name)
            XCTAssertTrue(reachable.contains(loader.id), "\(loader.name) is registered but not in the tree")
        }
        // The script closed everything it made.
        XCTAssertEqual(root.children.filter { $0.name.hasPrefix("pt-") }.map(\.name), [])
        let grown = residentKiB() - rssBefore
        XCTAssertLessThan(grown, 256 * 1024, "RSS grew \(grown) KiB")
        XCTAssertEqual(try Int(python: try root.eval("6 * 7")), 42)
    }

    private func residentKiB() -> Int {
        guard let text = try? String(contentsOfFile: "/proc/self/statm", encoding: .utf8),
              let pages = text.split(separator: " ").dropFirst().first.flatMap({ Int($0) }) else { return 0 }
        return pages * Int(sysconf(Int32(_SC_PAGESIZE))) / 1024
    }
}
