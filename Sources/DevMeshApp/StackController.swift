import DevMeshCore
import DevMeshSupervisor
import NIOConcurrencyHelpers
import ServiceLifecycle

/// The running stack as the admin API sees it: status from the supervisor, shutdown through
/// the service group (so every service stops in reverse order).
final class StackController: StackControl {
    let supervisor: Supervisor
    let info: Info
    let telemetry: @Sendable () -> TelemetryCounters?
    let telemetryQueries: (any TelemetryQuerying)?
    let gateway: @Sendable () -> GatewayUsageReport?
    private let group = NIOLockedValueBox<ServiceGroup?>(nil)

    struct Info: Sendable {
        var pid: Int32
        var root: String
        var startedAt: Double
        var adminURL: String
    }

    init(supervisor: Supervisor, info: Info, telemetry: @escaping @Sendable () -> TelemetryCounters? = { nil },
         telemetryQueries: (any TelemetryQuerying)? = nil, gateway: @escaping @Sendable () -> GatewayUsageReport? = { nil }) {
        self.gateway = gateway
        self.supervisor = supervisor
        self.info = info
        self.telemetry = telemetry
        self.telemetryQueries = telemetryQueries
    }

    func attach(_ serviceGroup: ServiceGroup) {
        group.withLockedValue { $0 = serviceGroup }
    }

    func status() async -> StackStatus {
        StackStatus(pid: info.pid, root: info.root, startedAt: info.startedAt, adminURL: info.adminURL,
                    services: await supervisor.status(), telemetry: telemetry(), gateway: gateway())
    }

    func perform(_ command: ServiceCommand, service: String) async throws {
        try await supervisor.perform(command, service: service)
    }

    func shutdown() async {
        if let serviceGroup = group.withLockedValue({ $0 }) {
            await serviceGroup.triggerGracefulShutdown()
        } else {
            supervisor.stopAll()
        }
    }
}
