/// The engine's answer for one request at one workload, with the reason a user can act on.
public struct PolicyDecision: Sendable, Equatable, Codable {
    public enum Verdict: String, Sendable, Codable {
        case allow, deny
    }

    /// Names a policy's rule: `default/orders-read` rule 0.
    public struct RuleRef: Sendable, Equatable, Codable, CustomStringConvertible {
        public var policy: String
        public var rule: Int
        public var description: String { "\(policy) rule \(rule)" }
    }

    /// How each policy in scope fared (`policy explain` prints these).
    public struct Consideration: Sendable, Equatable, Codable {
        public var policy: String
        public var action: String
        public var dryRun: Bool
        /// The first rule that matched, if any.
        public var matchedRule: Int?
        /// Why it matched or why each rule did not.
        public var why: [String]
    }

    public var verdict: Verdict
    /// The policy and rule that decided; nil when no policy did (no ALLOW policy in scope).
    public var decidedBy: RuleRef?
    /// One sentence: "denied by DENY policy default/block-admin rule 0", "allowed: no ALLOW
    /// policy applies to users", "denied: no ALLOW policy matched".
    public var reason: String
    /// AUDIT policies that matched (they never change the verdict).
    public var audited: [RuleRef]
    /// What dry-run policies would have done: `would deny by …`.
    public var dryRun: [String]
    /// CUSTOM policies in scope: not evaluated locally (warned).
    public var unsupported: [String]
    public var considered: [Consideration]
}
