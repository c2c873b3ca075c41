import DevMeshAPI
import DevMeshCore
import DevMeshRecord
import DevMeshStore
import Foundation
import NIOCore
import NIOSSL

/// The ambassadors of a running stack, one per declared external (docs/externals.md), and what
/// the admin API shows and changes of them (mode, breaker, counts).
final class ExternalMesh: Sendable {
    let ambassadors: [ExternalAmbassador]

    init(ambassadors: [ExternalAmbassador]) {
        self.ambassadors = ambassadors
    }

    /// Headers expanded, `ca` files loaded and checked, clients made: everything that can be
    /// wrong is found here, before any app starts.
    static func make(config: StackConfig, plan: MeshPlan, secrets: @escaping (String) -> String?, telemetry: any TelemetrySink,
                     database: TelemetryDatabase?, finisher: RecordingFinisher) throws -> ExternalMesh {
        var made: [ExternalAmbassador] = []
        do {
            for external in config.externals {
                guard let planned = plan.externals.first(where: { $0.name == external.name }) else { continue }
                var injected: [(name: String, value: String)] = []
                for header in external.headers {
                    switch SecretExpansion.expand(header.value, lookup: secrets) {
                    case .success(let value): injected.append((header.name, value))
                    case .failure(let errors):
                        let names = errors.failures.compactMap { if case .unset(let n) = $0 { n } else { nil } }
                        throw StackRunner.Refusal(
                            message: "header `\(header.name)` of external `\(external.name)` cannot be expanded"
                                + (names.isEmpty ? "" : ": \(names.map { "`${\($0)}`" }.joined(separator: ", ")) not set"),
                            hint: "export the variable before `devmesh up`, or put it in the top-level `env_file`")
                    }
                }
                var caFile: String?
                if let ca = external.ca {
                    let path = ca.hasPrefix("/") ? ca : config.root + "/" + ca
                    let certificates: [NIOSSLCertificate]
                    do {
                        certificates = try NIOSSLCertificate.fromPEMFile(path)
                    } catch {
                        throw StackRunner.Refusal(message: "`ca` of external `\(external.name)`: \(path) is not a readable PEM file of certificates (\(error))",
                                                  hint: "point `ca:` at the CA certificate (PEM, `-----BEGIN CERTIFICATE-----`) the external's server chains to")
                    }
                    guard !certificates.isEmpty else {
                        throw StackRunner.Refusal(message: "`ca` of external `\(external.name)`: \(path) holds no certificate",
                                                  hint: "point `ca:` at a PEM file with `-----BEGIN CERTIFICATE-----` blocks")
                    }
                    caFile = path
                }
                let client = try ExternalClient(config: external, injected: injected, caFile: caFile)
                made.append(ExternalAmbassador(config: external, client: client, port: planned.ambassadorPort, telemetry: telemetry,
                                               recordings: ExternalRecordings(database: database, finisher: finisher)))
            }
        } catch {
            for ambassador in made { Task { await ambassador.client.shutdown() } }
            throw error
        }
        return ExternalMesh(ambassadors: made)
    }

    /// The values every external's headers expand to (unset variables skipped; `make` reports
    /// them), and their credentials without a scheme (`Bearer x` → `x`).
    static func injectedValues(_ externals: [ExternalConfig], secrets: (String) -> String?) -> [String] {
        externals.flatMap { $0.headers }.flatMap { header -> [String] in
            guard case .success(let value) = SecretExpansion.expand(header.value, lookup: secrets) else { return [] }
            return ExternalClient.credentialForms(of: value)
        }
    }

    func start(group: any EventLoopGroup) async throws {
        for ambassador in ambassadors {
            do {
                try await ambassador.start(group: group)
            } catch {
                await stop()
                throw StackRunner.Refusal(message: "cannot listen for the ambassador of external `\(ambassador.config.name)`: \(error)",
                                          hint: "another process took the port at the last moment; run `devmesh up` again")
            }
        }
    }

    func stop() async {
        for ambassador in ambassadors { await ambassador.stop() }
    }

    func ambassador(_ name: String) -> ExternalAmbassador? {
        ambassadors.first { $0.config.name == name }
    }
}

/// The admin API's view of the ambassadors.
struct ExternalsInspector: ExternalsInspecting {
    let mesh: ExternalMesh
    let callers: [String: [String]]

    init(mesh: ExternalMesh, config: StackConfig) {
        self.mesh = mesh
        var callers: [String: [String]] = [:]
        for service in config.services {
            for upstream in service.upstreams where config.externals.contains(where: { $0.name == upstream }) {
                callers[upstream, default: []].append(service.name)
            }
        }
        self.callers = callers
    }

    func externals() -> [ExternalReport] {
        mesh.ambassadors.map(report)
    }

    func setMode(_ mode: ExternalConfig.Mode, of name: String) -> ExternalReport? {
        guard let ambassador = mesh.ambassador(name) else { return nil }
        ambassador.setMode(mode)
        return report(ambassador)
    }

    func report(_ a: ExternalAmbassador) -> ExternalReport {
        let breaker = a.client.breakerState
        let counts = a.counts
        return ExternalReport(
            name: a.config.name, workload: a.config.workload, url: a.config.url, mode: a.currentMode, configuredMode: a.config.mode,
            callers: callers[a.config.name] ?? [], breaker: breaker.state, consecutiveFailures: breaker.consecutiveFailures,
            breakerOpenings: breaker.openings, calls: counts.calls, live: counts.live, replayed: counts.replayed, recorded: counts.recorded,
            misses: counts.misses, failures: counts.failures)
    }
}
