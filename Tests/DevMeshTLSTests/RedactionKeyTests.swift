@testable import DevMeshTLS
import Foundation
import Testing

/// The redaction key: made once, 0600, the same on every load, refused when others can read it
/// or it is not a key.
@Suite struct RedactionKeyTests {
    func home() throws -> String {
        let path = NSTemporaryDirectory() + "devmesh-key-" + UUID().uuidString + "/home"
        return path
    }

    @Test func madeOnceWithTheRightModeAndKept() throws {
        let home = try home()
        defer { try? FileManager.default.removeItem(atPath: (home as NSString).deletingLastPathComponent) }
        let first = try RedactionKey.loadOrCreate(home: home)
        #expect(first.count == 32)
        let mode = try FileManager.default.attributesOfItem(atPath: RedactionKey.path(home: home))[.posixPermissions] as? Int
        #expect(mode == 0o600)
        #expect(try RedactionKey.loadOrCreate(home: home) == first)
        let other = try self.home()
        defer { try? FileManager.default.removeItem(atPath: (other as NSString).deletingLastPathComponent) }
        #expect(try RedactionKey.loadOrCreate(home: other) != first, "random per user")
    }

    @Test func anOpenOrBrokenKeyIsRefused() throws {
        let home = try home()
        defer { try? FileManager.default.removeItem(atPath: (home as NSString).deletingLastPathComponent) }
        _ = try RedactionKey.loadOrCreate(home: home)
        let path = RedactionKey.path(home: home)
        chmod(path, 0o644)
        #expect(throws: RedactionKey.Failure.tooOpen(path: path, mode: 0o644)) { try RedactionKey.loadOrCreate(home: home) }
        try FileManager.default.removeItem(atPath: path)
        FileManager.default.createFile(atPath: path, contents: Data("short".utf8), attributes: [.posixPermissions: 0o600])
        #expect(throws: RedactionKey.Failure.wrongLength(path: path, bytes: 5)) { try RedactionKey.loadOrCreate(home: home) }
    }

    @Test func twoStacksStartingAtOnceGetOneKey() async throws {
        let home = try home()
        defer { try? FileManager.default.removeItem(atPath: (home as NSString).deletingLastPathComponent) }
        let keys = await withTaskGroup(of: [UInt8]?.self) { group in
            for _ in 0..<8 { group.addTask { try? RedactionKey.loadOrCreate(home: home) } }
            var out: [[UInt8]?] = []
            for await k in group { out.append(k) }
            return out
        }
        #expect(keys.allSatisfy { $0 != nil })
        #expect(Set(keys.compactMap { $0.map { Data($0) } }).count == 1)
    }
}
