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

    public func run(_ jobs: [Job], times: Int = 1, concurrency: Int = 1) async -> [Outcome] {
        // Work items: (job index, repetition); at most `concurrency` in flight.
        let items = jobs.indices.flatMap { j in (0..<max(1, times)).map { (j, $0) } }
        var results = [[ReplayDiff]](repeating: [], count: jobs.count)
        await withTaskGroup(of: (Int, ReplayDiff).self) { group in
            var next = 0
            func launch() {
                guard next < items.count else { return }
                let (j, _) = items[next]
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
                results[j].append(diff)
                launch()
            }
        }
        return jobs.indices.map { j in
            let diffs = results[j]
            let latencies = diffs.compactMap(\.replayed.durationMillis).sorted()
            func pct(_ p: Double) -> Double {
                guard !latencies.isEmpty else { return 0 }
                return latencies[min(latencies.count - 1, Int((Double(latencies.count) * p).rounded(.up)) - 1 < 0 ? 0 : Int((Double(latencies.count) * p).rounded(.up)) - 1)]
            }
            var statuses: [String: Int] = [:]
            for d in diffs { statuses[d.replayed.status.map(String.init) ?? "failed", default: 0] += 1 }
            let shown = diffs.first { !$0.equal } ?? diffs[0]
            return Outcome(name: jobs[j].name, diff: shown, runs: diffs.count, identical: diffs.filter(\.equal).count,
                           statuses: statuses, p50Millis: pct(0.5), p99Millis: pct(0.99))
        }
    }
}
