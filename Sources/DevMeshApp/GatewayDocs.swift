import DevMeshCore
import DevMeshProxy
import Foundation

/// The gateway's API docs (`/_devmesh/docs`): each service's OpenAPI file (`openapi:`), read and
/// rendered once the gateway's ports are known, with the routes that reach the service.
enum GatewayDocs {
    struct Loaded {
        var apis: [APIDocsPage.API]
        /// Each documented service's file as written (served at `/_devmesh/docs/<service>/openapi`).
        var documents: [String: String] = [:]
        var sources: [String: String]
        var diagnostics: [Diagnostic]
    }

    static func load(_ config: StackConfig, httpsPort: Int?) -> Loaded {
        var out = Loaded(apis: [], sources: [:], diagnostics: [])
        let table = GatewayRouteTable(gateway: config.gateway, services: config.services.filter { $0.protocol == .http }.map(\.name))
        let host = config.gateway.hosts.first ?? "localhost"
        let port = httpsPort.map { $0 == 443 ? "" : ":\($0)" } ?? ":\(config.gateway.httpsPort ?? GatewayConfig.defaultHTTPSPort)"
        for service in config.services where service.protocol == .http {
            var summary: OpenAPISummary?
            var problem: String?
            if let file = service.openapi {
                let path = file.hasPrefix("/") ? file : config.root + "/" + file
                if let text = try? String(contentsOfFile: path, encoding: .utf8) {
                    out.sources[file] = text
                    do {
                        summary = try OpenAPISummary.parse(text)
                        out.documents[service.name] = text
                    } catch {
                        problem = "\(file): \(error)"
                        out.diagnostics.append(.warning(at: service.origin.openapi, "the OpenAPI file \(file) of `\(service.name)` cannot be used: \(error)",
                                                        hint: "the gateway's docs page shows the problem instead of the API"))
                    }
                } else {
                    problem = "\(file) cannot be read"
                    out.diagnostics.append(.warning(at: service.origin.openapi, "the OpenAPI file \(file) of `\(service.name)` cannot be read",
                                                    hint: "give a path relative to \(config.root)"))
                }
            }
            var entrances: [APIDocsPage.Entrance] = []
            for route in config.gateway.routes where route.to == service.name {
                let prefix = route.path ?? "/"
                let base = "https://\(route.host ?? host)\(port)"
                var notes: [String] = []
                if let auth = route.auth { notes.append("auth: \(auth.kind)") }
                if let limit = route.rateLimit { notes.append("\(limit.requests) per \(DurationParser.format(limit.per)) by \(limit.by.rawValue)") }
                if route.cache { notes.append("cached") }
                let publicPath: @Sendable (String) -> String?
                if let rewrite = route.rewrite {
                    notes.append("the service gets \(rewrite)…")
                    let fixed = !rewrite.contains("{") && !prefix.contains("{")
                    publicPath = { path in
                        guard fixed, path == rewrite || path.hasPrefix(rewrite.hasSuffix("/") ? rewrite : rewrite + "/") else { return nil }
                        return Self.join(prefix, String(path.dropFirst(rewrite.count)))
                    }
                } else if route.stripPrefix {
                    notes.append("prefix removed")
                    publicPath = { path in prefix.contains("{") ? nil : Self.join(prefix, path) }
                } else {
                    publicPath = { path in
                        prefix == "/" || path == prefix || path.hasPrefix(prefix.hasSuffix("/") ? prefix : prefix + "/") ? path : nil
                    }
                }
                entrances.append(.init(url: base + prefix, note: notes.isEmpty ? nil : notes.joined(separator: ", "), publicPath: publicPath))
            }
            for (autoHost, target) in table.autoHosts where target == service.name {
                entrances.append(.init(url: "https://\(autoHost)\(port)/", note: "every path", publicPath: { $0 }))
            }
            out.apis.append(.init(service: service.name, summary: summary, problem: problem, entrances: entrances))
        }
        return out
    }

    static func join(_ prefix: String, _ rest: String) -> String {
        let p = prefix.hasSuffix("/") ? String(prefix.dropLast()) : prefix
        return rest.isEmpty ? (p.isEmpty ? "/" : p) : p + (rest.hasPrefix("/") ? rest : "/" + rest)
    }

    static func pages(_ loaded: Loaded, stack: String) -> [String: StaticPages.Page] {
        let html = "text/html; charset=utf-8"
        var pages: [String: StaticPages.Page] = ["/_devmesh/docs": .init(contentType: html, body: Array(APIDocsPage.index(loaded.apis, stack: stack).utf8))]
        for api in loaded.apis where api.summary != nil {
            pages["/_devmesh/docs/\(api.service)"] = .init(contentType: html, body: Array(APIDocsPage.page(api).utf8))
            if let text = loaded.documents[api.service] {
                let json = text.drop { $0 == " " || $0 == "\n" || $0 == "\r" || $0 == "\t" }.first == "{"
                pages["/_devmesh/docs/\(api.service)/openapi"] = .init(contentType: json ? "application/json" : "application/yaml; charset=utf-8",
                                                                     body: Array(text.utf8))
            }
        }
        return pages
    }
}
