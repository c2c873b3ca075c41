import DevMeshCore
import DevMeshRecord
import Foundation

/// One `devmesh replay` run: exchanges (from recordings, a suite or a HAR file) sent to their
/// targets — each `times` times, `concurrency` at once — and compared with what was recorded.
public struct ReplaySession: Sendable {
    public struct Job: Sendable {
        public var exchange: RecordedExchange
        public var name: String
        public var target: Replayer.Target
        public var rules: [JSONDiff.IgnoreRule]
        public var ignoredHeaders: [String]

        public init(exchange: RecordedExchange, name: String, target: Replayer.Target, rules: [JSONDiff.IgnoreRule] = [],
                    ignoredHeaders: [String] = []) {
            self.exchange = exchange
            self.name = name
            self.target = target
            self.rules = rules
            self.ignoredHeaders = ignoredHeaders
        }
    }

    /// Every replay of one job, and how they went.
    public struct Outcome: Encodable, Sendable {
        public var name: String
        /// The first replay's full diff (or the first that differed, with `--times`).
        public var diff: ReplayDiff
        public var runs: Int
        public var identical: Int
        public var statuses: [String: Int]
        public var p50Millis: Double
        public var p99Millis: Double

        enum CodingKeys: String, CodingKey {
            case name, diff, runs, identical, statuses
            case p50Millis = "p50_ms", p99Millis = "p99_ms"
        }

        public var equal: Bool { identical == runs }
    }

    public let replayer: Replayer

    public init(replayer: Replayer) {
        self.replayer = replayer
    }

    /// What is kept of one job's replays while they run: counts and latencies, and one diff
    /// (the first that differed, else the first) — not every answer (`--times 100000`).
    struct Tally {
        var shown: ReplayDiff?
        var runs = 0
        var identical = 0
        var statuses: [String: Int] = [:]
        var latencies: [Double] = []

        mutating func add(_ diff: ReplayDiff) {
            runs += 1
            if diff.equal { identical += 1 }
            statuses[diff.replayed.status.map(String.init) ?? "failed", default: 0] += 1
            if let ms = diff.replayed.durationMillis { latencies.append(ms) }
            if shown == nil || (shown!.equal && !diff.equal) { shown = diff }
        }
    }

    public func run(_ jobs: [Job], times: Int = 1, concurrency: Int = 1) async -> [Outcome] {
        let times = max(1, times)
        let total = jobs.count * times
        var tallies = [Tally](repeating: Tally(), count: jobs.count)
        await withTaskGroup(of: (Int, ReplayDiff).self) { group in
            // Work item n is job n / times; at most `concurrency` in flight, made as they go.
            var next = 0
            func launch() {
                guard next < total else { return }
                let j = next / times
                next += 1
                let job = jobs[j]
                group.addTask {
                    var diff = await replayer.replay(job.exchange, to: job.target, extraRules: job.rules, extraIgnoredHeaders: job.ignoredHeaders)
                    diff.name = job.name
                    return (j, diff)
                }
            }
            for _ in 0..<max(1, concurrency) { launch() }
            while let (j, diff) = await group.next() {
                tallies[j].add(diff)
                launch()
            }
        }
        return jobs.indices.compactMap { j in
            let t = tallies[j]
            guard let shown = t.shown else { return nil }
            let sorted = t.latencies.sorted()
            func percentile(_ p: Double) -> Double {
                guard !sorted.isEmpty else { return 0 }
                return sorted[min(sorted.count - 1, max(0, Int((Double(sorted.count) * p).rounded(.up)) - 1))]
            }
            return Outcome(name: jobs[j].name, diff: shown, runs: t.runs, identical: t.identical, statuses: t.statuses,
                           p50Millis: percentile(0.5), p99Millis: percentile(0.99))
        }
    }
}
