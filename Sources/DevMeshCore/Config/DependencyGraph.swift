/// The `needs` graph: start order, stop order, selection closure and cycles.
public struct DependencyGraph: Sendable {
    public let names: [String]
    public let needs: [String: [String]]

    public init(_ services: [ServiceConfig]) {
        names = services.map(\.name)
        var n: [String: [String]] = [:]
        let known = Set(names)
        for s in services { n[s.name] = s.needs.filter { known.contains($0) && $0 != s.name } }
        needs = n
    }

    /// Each elementary cycle once, starting at its first-declared member.
    public func cycles() -> [[String]] {
        var found: [[String]] = []
        var seen = Set<[String]>()
        var state: [String: Int] = [:]  // 1 = on stack, 2 = done
        var stack: [String] = []
        func visit(_ node: String) {
            state[node] = 1
            stack.append(node)
            for next in needs[node] ?? [] {
                if state[next] == 1, let start = stack.firstIndex(of: next) {
                    var cycle = Array(stack[start...])
                    let minIndex = cycle.indices.min { names.firstIndex(of: cycle[$0])! < names.firstIndex(of: cycle[$1])! }!
                    cycle = Array(cycle[minIndex...] + cycle[..<minIndex])
                    if seen.insert(cycle).inserted { found.append(cycle) }
                } else if state[next] == nil {
                    visit(next)
                }
            }
            stack.removeLast()
            state[node] = 2
        }
        for name in names where state[name] == nil { visit(name) }
        return found
    }

    /// Dependencies first, ties in declaration order. Members of cycles come last, in declaration order.
    public func startOrder() -> [String] {
        var order: [String] = []
        var placed = Set<String>()
        var progress = true
        while progress {
            progress = false
            for name in names where !placed.contains(name) {
                if (needs[name] ?? []).allSatisfy(placed.contains) {
                    order.append(name)
                    placed.insert(name)
                    progress = true
                }
            }
        }
        order += names.filter { !placed.contains($0) }
        return order
    }

    /// `selected` plus everything they transitively need (and, via `extra`, call).
    public func closure(of selected: [String], extra: [String: [String]] = [:]) -> Set<String> {
        var result = Set<String>()
        var queue = selected
        while let name = queue.popLast() {
            guard result.insert(name).inserted else { continue }
            queue += needs[name] ?? []
            queue += extra[name] ?? []
        }
        return result
    }
}
