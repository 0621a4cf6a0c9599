import Foundation
import XCTest
@testable import PyLoader

/// The stress run of issue 7 (run by `Scripts/stress`; skipped unless PYLOADER_STRESS=1).
///
/// 8 threads apply seeded random operations — create, import, call, cross-loader call,
/// Python threads, short-lived OS threads, close — to a tree of 20 permanent loaders
/// plus up to 40 dynamic ones, for a fixed number of operations (bounded in time too),
/// and check after each one:
/// - versions: a loader sees the `greeting` its own paths give it (1.0 or 2.0);
/// - identity: `hostapi` in a plugin is the host's very module object;
/// - no use after close: once `close()` returned, every use throws `LoaderError.closed`;
///   an operation that races a close may fail only with `.closed` / `LoaderClosedError`
///   naming a loader that is closing, or (for close itself) `.busy`;
/// and finishes with every loader closed (CPython is finalized when the process exits,
/// which `Scripts/stress` checks through the exit status).
///
/// The tree: root → host-0…3 (the demo's host: `hostapi`) → plugin-i-0…3 (child-first,
/// `hostapi` shared; even ones have greeting 1.0, odd ones 2.0) → dynamic leaves nested
/// up to 3 deep: half of them parent-first with no paths (they take `greeting` from their
/// parent and `hostapi` from the host, by identity), half child-first with their own
/// copy of their parent's `greeting` version. Closing a delegating leaf must leave the
/// modules it borrowed intact (the fix of 17bfb42), which every later check relies on.
///
/// Environment: PYLOADER_STRESS_OPS (per thread, default 2500), PYLOADER_STRESS_SEED,
/// PYLOADER_STRESS_SECONDS (time bound, default 900).
final class StressTests: LoaderTestCase {
    override func setUpWithError() throws {
        guard ProcessInfo.processInfo.environment["PYLOADER_STRESS"] == "1" else {
            throw XCTSkip("stress and leak runs: set PYLOADER_STRESS=1 (Scripts/stress, Scripts/leaks)")
        }
        try super.setUpWithError()
    }

    func testRandomOperationsOnATreeOfLoadersFromEightThreads() throws {
        let environment = ProcessInfo.processInfo.environment
        let operationsPerThread = Int(environment["PYLOADER_STRESS_OPS"] ?? "") ?? 2500
        let seed = UInt64(environment["PYLOADER_STRESS_SEED"] ?? "") ?? 0x57E5_5007
        let threads = 8
        let deadline = DispatchTime.now() + .seconds(Int(environment["PYLOADER_STRESS_SECONDS"] ?? "") ?? 900)
        let model = try StressModel()
        XCTAssertGreaterThanOrEqual(model.liveCount, 20)

        let started = DispatchTime.now()
        DispatchQueue.concurrentPerform(iterations: threads) { thread in
            var random = SplitMix64(seed: seed &+ UInt64(thread) &* 0x1_0000_0001)
            for _ in 0..<operationsPerThread {
                if DispatchTime.now() > deadline { model.note(timedOut: true); return }
                model.perform(random.operation(), &random)
            }
        }
        let elapsed = Double(DispatchTime.now().uptimeNanoseconds - started.uptimeNanoseconds) / 1e9

        XCTAssertEqual(model.violations, [], "\(model.violations.count) invariant violation(s)")
        XCTAssertFalse(model.timedOut, "the run hit its time bound before its operation count")
        let counts = model.counts.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", ")
        print("stress: \(model.total) operations on \(threads) threads in \(String(format: "%.1f", elapsed)) s"
              + " (\(counts)); \(model.created) loaders created, \(model.closed) closed during the run,"
              + " \(model.raced) operations raced a close")

        // Every loader closed at the end: closing the hosts closes their subtrees.
        try model.closeEverything()
        for loader in model.everyLoader {
            XCTAssertTrue(loader.isClosed, loader.name)
            XCTAssertNil(Loader.named(loader.name), loader.name)
        }
        let every = model.everyLoader
        XCTAssertFalse(try Loader.root.children.contains { child in every.contains { $0 === child } })
        XCTAssertEqual(try value(try Loader.root, "6 * 7", as: Int.self), 42)
    }
}

/// The stress run draws its operations from the seeded generator.
extension SplitMix64 {
    mutating func operation() -> StressModel.Operation {
        switch below(100) {
        case 0..<10: return .create
        case 10..<32: return .importAndCheck
        case 32..<54: return .call
        case 54..<78: return .crossCall
        case 78..<83: return .pythonThread
        case 83..<88: return .shortLivedThread
        case 88..<93: return GIL.isOwnAvailable ? .ownGIL : .call   // own GILs: CPython 3.12+
        default: return .close
        }
    }
}

/// The loaders of a stress run and what each must see; every mutation under `lock`.
final class StressModel: @unchecked Sendable {
    enum Operation: String { case create, importAndCheck, call, crossCall, pythonThread, shortLivedThread, ownGIL, close }

    final class Node {
        let loader: Loader
        let version: String
        let host: Loader?            // nil for a host
        let parent: Node?
        let dynamic: Bool
        /// A parent-first leaf without paths: `greeting` and `hostapi` are borrowed.
        let delegating: Bool
        var children: [Node] = []
        /// How many close() calls that cover this node are under way: a refused close of a
        /// subtree must not unmark what an ancestor's close, still running, marked too.
        var closes = 0
        var closing: Bool { closes > 0 }
        var closed = false
        var isPlugin: Bool { host != nil && !dynamic }

        init(loader: Loader, version: String, host: Loader?, parent: Node?, dynamic: Bool, delegating: Bool = false) {
            self.loader = loader
            self.delegating = delegating
            self.version = version
            self.host = host
            self.parent = parent
            self.dynamic = dynamic
        }

        var depth: Int { (parent?.depth ?? 0) + 1 }
        var subtree: [Node] { [self] + children.flatMap(\.subtree) }
    }

    private let lock = Lock()
    private var nodes: [Node] = []
    private var hostAPI: [ObjectIdentifier: PythonObject] = [:]
    private let demo = "\(fixtures)/demo"
    private(set) var violations: [String] = []
    private(set) var counts: [String: Int] = [:]
    private(set) var timedOut = false
    private(set) var created = 0
    private(set) var closed = 0
    private(set) var raced = 0
    /// Own-GIL loaders (CPython 3.12+), replaced now and then; every one made, for the end.
    private var ownLoaders: [Loader] = []
    private var ownMade: [Loader] = []
    var total: Int { lock.withLock { counts.values.reduce(0, +) } }
    var liveCount: Int { lock.withLock { nodes.filter { !$0.closed }.count } }
    var everyLoader: [Loader] { lock.withLock { nodes.map(\.loader) } }

    init() throws {
        let root = try Loader.root
        for hostIndex in 0..<4 {
            let host = try root.child(uniqueName("stress-host\(hostIndex)"), paths: ["\(demo)/host"])
            let hostNode = Node(loader: host, version: "", host: nil, parent: nil, dynamic: false)
            nodes.append(hostNode)
            hostAPI[ObjectIdentifier(host)] = try host.importModule("hostapi")
            for pluginIndex in 0..<4 {
                let plugin = pluginIndex % 2 == 0 ? "alpha" : "beta"
                let loader = try host.child(uniqueName("stress-plugin\(hostIndex)\(pluginIndex)"),
                                            paths: ["\(demo)/plugins/\(plugin)/site-packages"],
                                            delegation: .childFirst, shared: ["hostapi"])
                let node = Node(loader: loader, version: plugin == "alpha" ? "1.0" : "2.0", host: host,
                                parent: hostNode, dynamic: false)
                hostNode.children.append(node)
                nodes.append(node)
            }
        }
        if GIL.isOwnAvailable {
            ownLoaders = try (0..<3).map { try root.child(uniqueName("stress-own\($0)"), gil: .own) }
            ownMade = ownLoaders
        }
    }

    func note(timedOut: Bool) { lock.withLock { self.timedOut = self.timedOut || timedOut } }

    private func violation(_ text: String) { lock.withLock { violations.append(text) } }

    private func randomNode(_ random: inout SplitMix64, where accept: (Node) -> Bool = { _ in true }) -> Node? {
        lock.withLock {
            let candidates = nodes.filter { !$0.closed && accept($0) }
            return candidates.isEmpty ? nil : candidates[random.below(candidates.count)]
        }
    }

    private func expectedGreeting(_ version: String, _ who: String) -> String {
        version == "1.0" ? "Hello, \(who)!" : "Hi there, \(who)! (greeting 2)"
    }

    // MARK: Operations

    func perform(_ operation: Operation, _ random: inout SplitMix64) {
        lock.withLock { counts[operation.rawValue, default: 0] += 1 }
        switch operation {
        case .create: create(&random)
        case .importAndCheck: checkImports(&random)
        case .call: call(&random)
        case .crossCall: crossCall(&random)
        case .pythonThread: pythonThread(&random)
        case .shortLivedThread: shortLivedThread(&random)
        case .ownGIL: ownGIL(&random)
        case .close: close(&random)
        }
    }

    private func create(_ random: inout SplitMix64) {
        let liveDynamic = lock.withLock { nodes.filter { $0.dynamic && !$0.closed }.count }
        guard liveDynamic < 40, let parent = randomNode(&random, where: { $0.host != nil && $0.depth < 5 && !$0.closing })
        else { return }
        let version = parent.version
        let folder = "\(demo)/plugins/\(version == "1.0" ? "alpha" : "beta")/site-packages"
        let delegating = random.chance(50) && (parent.isPlugin || parent.delegating)
        attempt("create under \(parent.loader.name)", involving: [parent]) {
            let leaf = try delegating
                ? parent.loader.child(uniqueName("stress-leaf"))
                : parent.loader.child(uniqueName("stress-leaf"), paths: [folder], delegation: .childFirst)
            let node = Node(loader: leaf, version: version, host: parent.host, parent: parent, dynamic: true,
                            delegating: delegating)
            // Always tracked: if the parent closed meanwhile, it closed the new leaf with
            // it (the leaf was its child before child() returned).
            self.lock.withLock {
                node.closed = parent.closed
                node.closes = parent.closes
                parent.children.append(node)
                self.nodes.append(node)
                self.created += 1
            }
        }
    }

    private func checkImports(_ random: inout SplitMix64) {
        guard let node = randomNode(&random, where: { $0.host != nil }) else { return }
        attempt("imports in \(node.loader.name)", involving: [node]) {
            let greeting = try node.loader.importModule("greeting")
            let version = try String(python: try greeting.__version__)
            if version != node.version { self.violation("\(node.loader.name) saw greeting \(version), expected \(node.version)") }
            if node.isPlugin || node.delegating, let host = node.host,
               let expected = self.lock.withLock({ self.hostAPI[ObjectIdentifier(host)] }) {
                let hostapi = try node.loader.importModule("hostapi")
                if try !hostapi.isIdentical(to: expected) {
                    self.violation("\(node.loader.name): hostapi is not \(host.name)'s module")
                }
                if node.delegating,
                   try !greeting.isIdentical(to: try node.parent!.loader.importModule("greeting")) {
                    self.violation("\(node.loader.name): greeting is not its parent's module")
                }
            }
        }
    }

    private func call(_ random: inout SplitMix64) {
        guard let node = randomNode(&random, where: { $0.host != nil }) else { return }
        let who = "w\(random.below(1000))"
        attempt("call in \(node.loader.name)", involving: [node]) {
            let text = try String(python: try node.loader.eval("__import__('greeting').hello('\(who)')"))
            if text != self.expectedGreeting(node.version, who) {
                self.violation("\(node.loader.name): hello gave \(text) for greeting \(node.version)")
            }
            // A Swift call of a Python function handle (a swap into the loader).
            let hello = try node.loader.importModule("greeting").hello
            let again = try String(python: try hello(who))
            if again != text { self.violation("\(node.loader.name): handle call gave \(again)") }
        }
    }

    private func crossCall(_ random: inout SplitMix64) {
        guard let caller = randomNode(&random), let callee = randomNode(&random, where: { $0.host != nil }) else { return }
        let who = "x\(random.below(1000))"
        attempt("cross call \(caller.loader.name) -> \(callee.loader.name)", involving: [caller, callee]) {
            let result = try caller.loader.eval("""
                (lambda target: (target.eval("__import__('greeting').__version__"),
                                 target.import_module('greeting').hello('\(who)'),
                                 target.eval("__import__('pyloader').current().name")))(
                    __import__('pyloader').get('\(callee.loader.name)'))
                """)
            let seen = try [String](python: result)
            let expected = [callee.version, self.expectedGreeting(callee.version, who), callee.loader.name]
            if seen != expected { self.violation("cross call into \(callee.loader.name) saw \(seen), expected \(expected)") }
        }
    }

    /// A Python thread in the loader that crosses into another loader, joined before returning.
    private func pythonThread(_ random: inout SplitMix64) {
        guard let node = randomNode(&random), let other = randomNode(&random, where: { $0.host != nil }) else { return }
        let source = """
            import threading, pyloader
            out = []
            def work():
                try:
                    out.append(pyloader.get('\(other.loader.name)').eval("__import__('greeting').__version__"))
                except Exception as e:
                    out.append(f'{type(e).__name__}: {e}')
            worker = threading.Thread(target=work)
            worker.start()
            worker.join()
            result = out[0]
            """
        attempt("python thread in \(node.loader.name)", involving: [node, other]) {
            let seen = try String(python: try node.loader.eval("(lambda ns: (exec(\(pythonLiteral(source)), ns), ns['result'])[1])({})"))
            if seen == other.version { return }
            let names = self.lock.withLock { Set(self.nodes.filter { $0.closing || $0.closed }.map(\.loader.name)) }
            let raced = (seen.hasPrefix("LoaderClosedError") || seen.hasPrefix("KeyError")) && names.contains { seen.contains("'\($0)'") }
            if raced {
                self.lock.withLock { self.raced += 1 }
            } else {
                self.violation("python thread in \(node.loader.name) saw \(seen) from \(other.loader.name)")
            }
        }
    }

    /// An OS thread that exists for one operation: its thread states are made and
    /// deleted again when it ends (the pthread-key clean-up).
    private func shortLivedThread(_ random: inout SplitMix64) {
        let seed = random.next()
        let done = DispatchSemaphore(value: 0)
        let thread = Thread { [self] in
            var inner = SplitMix64(seed: seed)
            self.call(&inner)
            self.crossCall(&inner)
            done.signal()
        }
        thread.stackSize = 4 << 20
        thread.start()
        done.wait()
    }

    /// An own-GIL loader: computes under its own GIL, takes a value of a shared-GIL loader by
    /// copy, or is closed and replaced (racing the other threads' entries). Allowed errors:
    /// `.closed` for a loader just replaced, `.busy` for a close that other entries held up.
    private func ownGIL(_ random: inout SplitMix64) {
        let index = random.below(3)
        let loader = lock.withLock { ownLoaders[index] }
        let n = random.below(1000)
        let source = randomNode(&random)
        do {
            if random.below(10) == 0 {
                try loader.close()
                let fresh = try Loader.root.child(uniqueName("stress-own\(index)"), gil: .own)
                lock.withLock {
                    ownMade.append(fresh)
                    if ownLoaders[index] === loader { ownLoaders[index] = fresh }
                }
                return
            }
            let sum = try Int(python: try loader.eval("sum(range(\(n)))"))
            if sum != (0..<n).reduce(0, +) { violation("\(loader.name) computed \(sum) for sum(range(\(n)))") }
            if let source, let list = try? source.loader.eval("list(range(\(n % 10)))") {
                let length = try Int(python: try loader.eval("len").call([list]))
                if length != n % 10 { violation("\(loader.name) got a copy of length \(length), expected \(n % 10)") }
            }
        } catch LoaderError.closed(let name) where name == loader.name
                    || lock.withLock({ nodes.contains { ($0.closing || $0.closed) && $0.loader.name == name } }) {
            lock.withLock { self.raced += 1 }   // this loader was replaced, or the value's loader closed
        } catch LoaderError.busy {
            lock.withLock { self.raced += 1 }
        } catch {
            violation("own-GIL loader \(loader.name): \(error)")
        }
    }

    private func close(_ random: inout SplitMix64) {
        // Mostly dynamic leaves; now and then a whole plugin subtree's dynamic part.
        guard let node = randomNode(&random, where: { $0.dynamic && !$0.closing }) else { return }
        lock.withLock { node.subtree.forEach { $0.closes += 1 } }
        do {
            try node.loader.close()
            // The subtree as it is now: a leaf added while the close ran was closed too.
            let members: [Node] = lock.withLock {
                let members = node.subtree.filter { !$0.closed }
                for member in members { member.closed = true; member.closes = 0 }
                node.parent?.children.removeAll { $0 === node }
                closed += members.count
                return members
            }
            for member in members {
                if !member.loader.isClosed { violation("\(member.loader.name) not closed after its ancestor's close()") }
                do {
                    _ = try member.loader.eval("1")
                    violation("\(member.loader.name) still ran code after close()")
                } catch let error as LoaderError where error == .closed(loader: member.loader.name) {
                } catch {
                    violation("\(member.loader.name) after close threw \(error), not .closed")
                }
            }
        } catch LoaderError.busy {
            lock.withLock { node.subtree.forEach { $0.closes = max(0, $0.closes - 1) } }
        } catch {
            lock.withLock { node.subtree.forEach { $0.closes = max(0, $0.closes - 1) } }
            violation("close of \(node.loader.name) threw \(error)")
        }
    }

    /// Runs an operation; an error is fine only when it names a loader that is
    /// closing or closed (the operation raced a close).
    private func attempt(_ label: String, involving involved: [Node], _ body: () throws -> Void) {
        do {
            try body()
        } catch {
            let names = lock.withLock { Set(nodes.filter { $0.closing || $0.closed }.map(\.loader.name)) }
            let raced: Bool
            switch error {
            case LoaderError.closed(let name):
                raced = names.contains(name)
            case let error as PythonError:
                raced = ["LoaderClosedError", "ImportError", "KeyError"].contains(error.typeName)
                    && names.contains { error.message.contains("'\($0)'") }
            default:
                raced = false
            }
            if raced {
                lock.withLock { self.raced += 1 }
            } else {
                violation("\(label): \(error)")
            }
        }
    }

    /// Closes the hosts (and so every loader). PRECONDITION: no operation is running.
    func closeEverything() throws {
        let hosts = lock.withLock { nodes.filter { $0.host == nil } }
        for host in hosts { try host.loader.close() }
        for loader in lock.withLock({ ownMade }) { try loader.close() }
        lock.withLock {
            hostAPI.removeAll()
            nodes.forEach { $0.closed = true }
        }
    }
}
