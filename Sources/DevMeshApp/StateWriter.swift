import DevMeshCore
import NIOConcurrencyHelpers

/// Keeps `.devmesh/state.json` current as children come and go. Writes are tiny and serialised
/// under the lock, so the file always holds one complete state.
final class StateWriter: Sendable {
    private let directory: StateDirectory
    private let state: NIOLockedValueBox<StackState>

    init(directory: StateDirectory, initial: StackState) {
        self.directory = directory
        state = NIOLockedValueBox(initial)
    }

    func write() throws {
        try state.withLockedValue { try directory.writeState($0) }
    }

    /// The ports as bound now (a replay from the UI sends to them).
    var ports: StackState.Ports { state.withLockedValue { $0.ports } }

    func update(gatewayPorts: [String: Int]) {
        state.withLockedValue { s in
            s.ports.gateway = gatewayPorts
            try? directory.writeState(s)
        }
    }

    func update(children: [StackState.Child]) {
        state.withLockedValue { s in
            s.children = children
            try? directory.writeState(s)
        }
    }
}
