@testable import DevMeshSupervisor
import Testing

/// Automatic ports come from below the kernel's ephemeral range, where no client connection
/// takes its local port, and they are free when handed out.
@Suite struct PortAllocatorTests {
    @Test func automaticPortsAreFreeAndBelowTheEphemeralRange() throws {
        let ports = try PortAllocator.freePorts(20, excluding: [])
        #expect(Set(ports).count == 20)
        for port in ports {
            #expect(PortAllocator.automaticRange.contains(port), "\(port)")
            #expect(PortAllocator.isFree(port))
        }
        let excluded = Set(ports)
        #expect(try PortAllocator.freePorts(5, excluding: excluded).allSatisfy { !excluded.contains($0) })
    }
}
