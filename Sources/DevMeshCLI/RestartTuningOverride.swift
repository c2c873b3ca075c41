import DevMeshCore

/// Test hook: `DEVMESH_TEST_RESTART_TUNING=initial_ms,max_ms,stable_ms,count,window_ms,grace_ms`
/// shortens restart timings so integration tests need not wait for production back-offs.
/// Not a user setting (PRODUCT.md has none); ignored unless the variable is set.
enum RestartTuningOverride {
    static func fromEnvironment(_ environment: [String: String]) -> RestartTuning? {
        guard let text = environment["DEVMESH_TEST_RESTART_TUNING"] else { return nil }
        let n = text.split(separator: ",").compactMap { Int($0) }
        guard n.count == 6 else { return nil }
        var t = RestartTuning()
        t.initialBackoff = .milliseconds(n[0])
        t.maxBackoff = .milliseconds(n[1])
        t.stableAfter = .milliseconds(n[2])
        t.crashLoopCount = n[3]
        t.crashLoopWindow = .milliseconds(n[4])
        t.stopGrace = .milliseconds(n[5])
        return t
    }
}
