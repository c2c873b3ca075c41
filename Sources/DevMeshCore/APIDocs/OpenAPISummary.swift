import Yams

/// What the gateway's API docs show of a service's OpenAPI document (3.x; Swagger 2.0 is read
/// for its paths too): its title and version, and every operation with its parameters, request
/// body and answers. Schemas are kept as their YAML text, `$ref`s named, not expanded.
public struct OpenAPISummary: Sendable, Equatable {
    public struct Parameter: Sendable, Equatable {
        public var name: String
        public var location: String
        public var required: Bool
        public var description: String?
        public var type: String?
    }

    public struct Answer: Sendable, Equatable {
        public var status: String
        public var description: String?
        public var mediaTypes: [String]
        public var schema: String?
    }

    public struct Operation: Sendable, Equatable {
        public var method: String
        public var path: String
        public var summary: String?
        public var description: String?
        public var operationID: String?
        public var tags: [String]
        public var deprecated: Bool
        public var parameters: [Parameter]
        public var requestMediaTypes: [String]
        public var requestSchema: String?
        public var answers: [Answer]
    }

    public var title: String
    public var version: String?
    public var description: String?
    public var openapiVersion: String
    public var operations: [Operation]

    public struct Invalid: Error, CustomStringConvertible, Sendable {
        public var description: String
    }

    static let methods = ["get", "put", "post", "delete", "options", "head", "patch", "trace"]
    public static let maxBytes = 4 << 20

    public static func parse(_ document: String) throws -> OpenAPISummary {
        guard document.utf8.count <= maxBytes else { throw Invalid(description: "it is larger than 4 MiB") }
        let loaded: Any?
        do {
            loaded = try Yams.load(yaml: document)
        } catch {
            throw Invalid(description: "it is neither YAML nor JSON: \(error)")
        }
        guard let root = loaded as? [String: Any] else { throw Invalid(description: "its top level is not a mapping") }
        let version = (root["openapi"] as? String) ?? (root["swagger"] as? String).map { "swagger " + $0 }
        guard let version else { throw Invalid(description: "it has no `openapi:` (or `swagger:`) version: not an OpenAPI document") }
        let info = root["info"] as? [String: Any] ?? [:]
        var operations: [Operation] = []
        let paths = root["paths"] as? [String: Any] ?? [:]
        for path in paths.keys.sorted() {
            guard let item = paths[path] as? [String: Any] else { continue }
            let shared = (item["parameters"] as? [Any] ?? []).compactMap(parameter)
            for method in methods {
                guard let op = item[method] as? [String: Any] else { continue }
                var parameters = shared
                for p in (op["parameters"] as? [Any] ?? []).compactMap(parameter) {
                    parameters.removeAll { $0.name == p.name && $0.location == p.location }
                    parameters.append(p)
                }
                var requestTypes: [String] = []
                var requestSchema: String?
                if let body = op["requestBody"] as? [String: Any] {
                    let content = body["content"] as? [String: Any] ?? [:]
                    requestTypes = content.keys.sorted()
                    requestSchema = requestTypes.first.flatMap { (content[$0] as? [String: Any])?["schema"] }.map(schemaText)
                } else if let bodyParam = (op["parameters"] as? [Any] ?? []).compactMap({ $0 as? [String: Any] }).first(where: { $0["in"] as? String == "body" }) {
                    requestSchema = bodyParam["schema"].map(schemaText)  // Swagger 2.0
                }
                var answers: [Answer] = []
                let responses = op["responses"] as? [String: Any] ?? [:]
                for status in responses.keys.map({ "\($0)" }).sorted() {
                    let r = responses[status] as? [String: Any] ?? [:]
                    let content = r["content"] as? [String: Any] ?? [:]
                    let types = content.keys.sorted()
                    let schema = types.first.flatMap { (content[$0] as? [String: Any])?["schema"] } ?? r["schema"]
                    answers.append(Answer(status: status, description: text(r["description"]), mediaTypes: types, schema: schema.map(schemaText)))
                }
                operations.append(Operation(
                    method: method.uppercased(), path: path, summary: text(op["summary"]), description: text(op["description"]),
                    operationID: text(op["operationId"]), tags: (op["tags"] as? [Any] ?? []).compactMap(text),
                    deprecated: op["deprecated"] as? Bool ?? false, parameters: parameters,
                    requestMediaTypes: requestTypes, requestSchema: requestSchema, answers: answers))
            }
        }
        return OpenAPISummary(title: text(info["title"]) ?? "(untitled API)", version: text(info["version"]),
                              description: text(info["description"]), openapiVersion: version, operations: operations)
    }

    static func text(_ value: Any?) -> String? {
        switch value {
        case let s as String: return s
        case let n as Int: return String(n)
        case let d as Double: return String(d)
        default: return nil
        }
    }

    static func parameter(_ value: Any) -> Parameter? {
        guard let p = value as? [String: Any] else { return nil }
        if let ref = p["$ref"] as? String { return Parameter(name: ref, location: "ref", required: false, description: nil, type: nil) }
        guard let name = text(p["name"]), let location = text(p["in"]), location != "body" else { return nil }
        let schema = p["schema"] as? [String: Any]
        let type = text(schema?["type"]) ?? (schema?["$ref"] as? String) ?? text(p["type"])
        return Parameter(name: name, location: location, required: p["required"] as? Bool ?? (location == "path"),
                         description: text(p["description"]), type: type)
    }

    /// A schema as readable YAML (at most 200 lines: a page, not a dump).
    static func schemaText(_ schema: Any) -> String {
        let text = (try? Yams.dump(object: schema, indent: 2, width: 100, sortKeys: false)) ?? "\(schema)"
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
        return lines.count > 200 ? lines.prefix(200).joined(separator: "\n") + "\n…" : text
    }
}
