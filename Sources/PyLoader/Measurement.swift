import CPython
import CPyLoader

// Entry points for `pyloader bench` (SPI `Measurement`): they expose the one
// activation primitive without making it public API. Not for other uses: the
// bodies run with the GIL held and must return it as they found it.

extension Loader {
    /// Runs `body` inside this loader's activation (`withActivated`): the GIL held and
    /// this loader's thread state current, then exactly the previous thread state
    /// restored. For measuring calls made with the thread state already current.
    /// - Throws: `LoaderError.closed`; whatever `body` throws.
    @_spi(Measurement)
    public func withActivatedForMeasurement<R>(_ body: () throws -> R) throws -> R {
        try withActivated(body)
    }

    /// Runs `body` with the GIL held and the root's thread state current, for raw C
    /// API calls (the `Py_NewInterpreter` floor) that PyLoader must not see.
    ///
    /// - `body` may make and end interpreters of its own, and must leave the thread
    ///   state it found current (swap back to it: `Py_EndInterpreter` leaves none).
    /// - It must not touch loaders' interpreters or thread states.
    ///
    /// PRECONDITION (checked): the current thread state is the same on return.
    /// - Throws: what `Loader.root` throws; whatever `body` throws.
    @_spi(Measurement)
    public static func withRootActivated<R>(_ body: () throws -> R) throws -> R {
        try root.withActivated {
            let before = pyl_CurrentThreadState()
            defer {
                precondition(pyl_CurrentThreadState() == before,
                             "withRootActivated: the body must restore the thread state it found")
            }
            return try body()
        }
    }
}

extension Loader {
    /// Whether `close()` runs the leak scan (`LeakScan`); on by default. For measuring
    /// what the scan costs a close.
    @_spi(Measurement)
    public static var leakScanEnabled: Bool {
        get { LeakScan.isEnabled }
        set { LeakScan.isEnabled = newValue }
    }
}
