import Foundation

/// A value behind a lock, for the small caches of this module.
///
/// DevMeshTLS does not depend on NIOConcurrencyHelpers (whose `NIOLockedValueBox` this mirrors),
/// and `Synchronization.Mutex` needs macOS 15 while the package targets macOS 14.
///
/// `@unchecked Sendable` is sound here: `value` is private and only ever read or written inside
/// `lock.withLock`, so no two threads touch it at once, and `Value: Sendable` makes handing the
/// value (or parts of it) from one thread to another safe.
final class LockedValue<Value: Sendable>: @unchecked Sendable {
    private let lock = NSLock()
    private var value: Value

    init(_ value: Value) {
        self.value = value
    }

    /// Runs `body` with exclusive access. Keep it short and never block inside: event loops
    /// take this lock.
    func withLock<Result>(_ body: (inout Value) throws -> Result) rethrows -> Result {
        try lock.withLock { try body(&value) }
    }
}
