#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A plain mutex for state read without the GIL (the loader tree, names, states).
/// Lock order: the GIL first, then this lock; never wait for the GIL while holding it.
///
/// A pthread mutex rather than the Synchronization module's `Mutex`: the fork handlers
/// (Forking.swift) take the registry's lock in `pthread_atfork`'s prepare handler and give
/// it back in the parent and child handlers, three functions, which `Mutex`'s scoped
/// `withLock` cannot express. `@unchecked Sendable`: the mutex is the synchronization.
final class Lock: @unchecked Sendable {
    private let mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)

    init() { pthread_mutex_init(mutex, nil) }

    deinit {
        pthread_mutex_destroy(mutex)
        mutex.deallocate()
    }

    /// For `pthread_atfork` handlers only (Forking.swift), which lock and unlock in
    /// different functions; everything else uses `withLock`.
    func lock() { pthread_mutex_lock(mutex) }
    func unlock() { pthread_mutex_unlock(mutex) }

    func withLock<R>(_ body: () throws -> R) rethrows -> R {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        return try body()
    }
}
