import CPython
import CPyLoader

// The GIL is the lock for most of PyLoader's shared state, and Swift's checker cannot see
// it. These make the rule checkable: `assertHoldingGIL()` stands beside every
// "PRECONDITION: the GIL is held", and `GILGuarded` boxes state only code holding the GIL
// may touch (as swift-nio's `NIOLoopBound` checks its event loop). Both check in debug
// builds and cost nothing in release builds.

/// Debug builds: stops the process when the calling thread does not hold a GIL through
/// PyLoader (an activation, a Python-to-Swift call, runtime start-up or an own-GIL entry),
/// naming the caller. Release builds: nothing.
@inline(__always)
func assertHoldingGIL(file: StaticString = #fileID, line: UInt = #line) {
    assert(ThreadRecord.callerHoldsGIL, "PyLoader: the GIL is not held here", file: file, line: line)
}

extension ThreadRecord {
    /// Whether this thread holds a GIL through PyLoader: the root's (`gilDepth`) or an
    /// own-GIL loader's (`ownGILDepth`).
    var holdsGIL: Bool { gilDepth > 0 || ownGILDepth > 0 }

    /// Whether the calling thread holds a GIL, as far as PyLoader can tell without making
    /// a record (which would make a thread state): by its record, or, for a thread with
    /// none (an ending thread's record is already taken down), by a current thread state.
    static var callerHoldsGIL: Bool {
        guard let raw = pyl_GetThreadRecord() else { return pyl_CurrentThreadState() != nil }
        return Unmanaged<ThreadRecord>.fromOpaque(raw).takeUnretainedValue().holdsGIL
    }
}

/// A value only code holding the GIL may read or write. `Sendable` for that reason: the
/// GIL, which the compiler does not know, is its lock; `withValue` checks it in debug builds.
final class GILGuarded<Value>: @unchecked Sendable {
    private var value: Value

    init(_ value: Value) { self.value = value }

    /// Runs `body` on the value. PRECONDITION: the GIL is held (asserted).
    func withValue<R>(file: StaticString = #fileID, line: UInt = #line, _ body: (inout Value) throws -> R) rethrows -> R {
        assertHoldingGIL(file: file, line: line)
        return try body(&value)
    }
}
