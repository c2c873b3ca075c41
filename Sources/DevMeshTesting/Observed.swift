import NIOConcurrencyHelpers

/// A growing list of items (log lines, output lines, exit codes) that tests can wait on:
/// `first(where:)` returns an item already seen or the first one appended later, or `nil` after
/// the timeout. Event-driven: no polling, no sleeping.
///
/// Predicates run under the lock: they must not call back into the same `Observed`.
public final class Observed<Item: Sendable>: Sendable {
    private struct Waiter {
        var predicate: @Sendable (Item) -> Bool
        var continuation: CheckedContinuation<Item?, Never>
    }

    private struct State {
        var items: [Item] = []
        var waiters: [Int: Waiter] = [:]
        var nextID = 0
    }

    private enum Registration { case hit(Item), cancelled, wait }

    private let state = NIOLockedValueBox(State())

    public init() {}

    public var items: [Item] { state.withLockedValue { $0.items } }

    public func append(_ item: Item) {
        let matched = state.withLockedValue { s -> [CheckedContinuation<Item?, Never>] in
            s.items.append(item)
            var hits: [CheckedContinuation<Item?, Never>] = []
            for (id, waiter) in s.waiters where waiter.predicate(item) {
                hits.append(waiter.continuation)
                s.waiters[id] = nil
            }
            return hits
        }
        for c in matched { c.resume(returning: item) }
    }

    public func append(contentsOf items: [Item]) {
        for item in items { append(item) }
    }

    /// The first matching item, waiting up to `timeout` for it to arrive.
    public func first(timeout: Duration = .seconds(30), where predicate: @escaping @Sendable (Item) -> Bool) async -> Item? {
        await withTaskGroup(of: Item?.self) { group in
            group.addTask { await self.firstUntilCancelled(where: predicate) }
            group.addTask {
                try? await Task.sleep(for: timeout)
                return nil
            }
            let result = await group.next() ?? nil
            group.cancelAll()
            _ = await group.next()
            return result
        }
    }

    private func firstUntilCancelled(where predicate: @escaping @Sendable (Item) -> Bool) async -> Item? {
        let id = state.withLockedValue { s -> Int in
            s.nextID += 1
            return s.nextID
        }
        return await withTaskCancellationHandler {
            await withCheckedContinuation { (c: CheckedContinuation<Item?, Never>) in
                let now = state.withLockedValue { s -> Registration in
                    if let hit = s.items.first(where: predicate) { return .hit(hit) }
                    // Cancelled before we registered: the handler found nothing to resume.
                    if Task.isCancelled { return .cancelled }
                    s.waiters[id] = Waiter(predicate: predicate, continuation: c)
                    return .wait
                }
                switch now {
                case .hit(let item): c.resume(returning: item)
                case .cancelled: c.resume(returning: nil)
                case .wait: break
                }
            }
        } onCancel: {
            let waiter = state.withLockedValue { $0.waiters.removeValue(forKey: id) }
            waiter?.continuation.resume(returning: nil)
        }
    }
}
