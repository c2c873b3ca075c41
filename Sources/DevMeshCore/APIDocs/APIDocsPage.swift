/// The gateway's API docs as HTML: an index of every service's API with the routes that reach it
/// (the ambassador pattern's "unified interface"), and one page per API. Plain HTML and CSS,
/// no script and nothing from a CDN; every text from a document is escaped.
public enum APIDocsPage {
    /// One service as the index and its page show it.
    public struct API: Sendable {
        public var service: String
        /// Nil when the service declares no `openapi`, or its file could not be read (`problem`).
        public var summary: OpenAPISummary?
        public var problem: String?
        /// The gateway's ways in, e.g. `https://localhost:8443/api/orders` (with what it does to the path).
        public var entrances: [Entrance]

        public init(service: String, summary: OpenAPISummary?, problem: String?, entrances: [Entrance]) {
            self.service = service
            self.summary = summary
            self.problem = problem
            self.entrances = entrances
        }
    }

    /// A gateway route (or automatic host) reaching the service, and how its paths map.
    public struct Entrance: Sendable {
        public var url: String
        public var note: String?
        /// The public path of a service path, when the mapping is plain (nil: not reachable this way).
        public var publicPath: @Sendable (String) -> String?

        public init(url: String, note: String?, publicPath: @escaping @Sendable (String) -> String?) {
            self.url = url
            self.note = note
            self.publicPath = publicPath
        }
    }

    public static let contentSecurityPolicy = "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

    public static func index(_ apis: [API], stack: String) -> String {
        var body = "<h1>APIs of \(escape(stack))</h1><p class=lead>Every service of the stack, the gateway's ways in, and the OpenAPI documents they declare (<code>openapi:</code> in devmesh.yaml).</p>"
        body += "<table><thead><tr><th>service</th><th>API</th><th>operations</th><th>through the gateway</th></tr></thead><tbody>"
        for api in apis {
            let name: String
            if api.summary != nil {
                name = "<a href=\"/_devmesh/docs/\(escape(api.service))\">\(escape(api.summary!.title))</a>" + (api.summary!.version.map { " <span class=muted>\(escape($0))</span>" } ?? "")
            } else if let problem = api.problem {
                name = "<span class=bad>\(escape(problem))</span>"
            } else {
                name = "<span class=muted>no <code>openapi:</code> declared</span>"
            }
            let ops = api.summary.map { String($0.operations.count) } ?? "–"
            let ways = api.entrances.isEmpty ? "<span class=muted>none (not routed)</span>"
                : api.entrances.map { "<code>\(escape($0.url))</code>" + ($0.note.map { " <span class=muted>\(escape($0))</span>" } ?? "") }.joined(separator: "<br>")
            body += "<tr><td><b>\(escape(api.service))</b></td><td>\(name)</td><td class=num>\(ops)</td><td>\(ways)</td></tr>"
        }
        body += "</tbody></table>"
        return html(title: "APIs — \(stack)", body: body)
    }

    public static func page(_ api: API) -> String {
        guard let s = api.summary else { return index([api], stack: api.service) }
        var body = "<p><a href=\"/_devmesh/docs\">← all APIs</a></p><h1>\(escape(s.title))" + (s.version.map { " <span class=muted>\(escape($0))</span>" } ?? "") + "</h1>"
        body += "<p class=muted>service <b>\(escape(api.service))</b> · \(escape(s.openapiVersion)) · <a href=\"/_devmesh/docs/\(escape(api.service))/openapi\">the document</a></p>"
        if let d = s.description { body += "<p class=desc>\(escape(d))</p>" }
        body += "<h2>Through the gateway</h2>"
        body += api.entrances.isEmpty ? "<p class=muted>No route reaches this service.</p>"
            : "<ul>" + api.entrances.map { "<li><code>\(escape($0.url))</code>" + ($0.note.map { " — \(escape($0))" } ?? "") + "</li>" }.joined() + "</ul>"
        body += "<h2>Operations</h2>"
        for op in s.operations {
            let publicURLs = api.entrances.compactMap { e in e.publicPath(op.path).map { origin(e.url) + $0 } }
            body += "<details\(s.operations.count <= 8 ? " open" : "")><summary><span class=\"m m-\(escape(op.method.lowercased()))\">\(escape(op.method))</span> <code>\(escape(op.path))</code>"
            body += (op.summary.map { " <span class=sum>\(escape($0))</span>" } ?? "") + (op.deprecated ? " <span class=bad>deprecated</span>" : "") + "</summary><div class=op>"
            if let d = op.description { body += "<p class=desc>\(escape(d))</p>" }
            if !publicURLs.isEmpty { body += "<p>at " + publicURLs.map { "<code>\(escape($0))</code>" }.joined(separator: ", ") + "</p>" }
            if let id = op.operationID { body += "<p class=muted>operationId <code>\(escape(id))</code>" + (op.tags.isEmpty ? "" : " · tags " + escape(op.tags.joined(separator: ", "))) + "</p>" }
            if !op.parameters.isEmpty {
                body += "<table><thead><tr><th>parameter</th><th>in</th><th>type</th><th>description</th></tr></thead><tbody>"
                for p in op.parameters {
                    body += "<tr><td><code>\(escape(p.name))</code>\(p.required ? " <span class=req>required</span>" : "")</td><td>\(escape(p.location))</td><td>\(escape(p.type ?? ""))</td><td>\(escape(p.description ?? ""))</td></tr>"
                }
                body += "</tbody></table>"
            }
            if let schema = op.requestSchema {
                body += "<h3>Request body <span class=muted>\(escape(op.requestMediaTypes.joined(separator: ", ")))</span></h3><pre>\(escape(schema))</pre>"
            }
            for a in op.answers {
                body += "<h3><span class=\"st st-\(escape(String(a.status.prefix(1))))\">\(escape(a.status))</span> \(escape(a.description ?? ""))"
                body += (a.mediaTypes.isEmpty ? "" : " <span class=muted>\(escape(a.mediaTypes.joined(separator: ", ")))</span>") + "</h3>"
                if let schema = a.schema { body += "<pre>\(escape(schema))</pre>" }
            }
            body += "</div></details>"
        }
        if s.operations.isEmpty { body += "<p class=muted>The document lists no operations.</p>" }
        return html(title: s.title, body: body)
    }

    static func origin(_ url: String) -> String {
        guard let scheme = url.range(of: "://") else { return "" }
        let rest = url[scheme.upperBound...]
        return String(url[..<scheme.upperBound]) + String(rest.prefix { $0 != "/" })
    }

    public static func escape(_ s: String) -> String {
        var out = ""
        out.reserveCapacity(s.utf8.count)
        for c in s.unicodeScalars {
            switch c {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&#39;"
            default: out.unicodeScalars.append(c)
            }
        }
        return out
    }

    static func html(title: String, body: String) -> String {
        """
        <!doctype html><html lang=en><head><meta charset=utf-8><meta name=viewport content="width=device-width, initial-scale=1">
        <title>\(escape(title))</title><style>
        :root{color-scheme:light dark;--fg:#1d2330;--muted:#5d6778;--bg:#fff;--line:#dde2ea;--code:#f3f5f8;--acc:#2f6fdb}
        @media (prefers-color-scheme:dark){:root{--fg:#e4e8ef;--muted:#98a2b3;--bg:#14171c;--line:#2b313b;--code:#1d2128;--acc:#6ea0ff}}
        body{font:15px/1.5 system-ui,-apple-system,"Segoe UI",sans-serif;color:var(--fg);background:var(--bg);max-width:1100px;margin:2rem auto;padding:0 1rem}
        a{color:var(--acc)}code,pre{font:13px/1.45 ui-monospace,"SF Mono",Menlo,Consolas,monospace;background:var(--code);border-radius:4px}
        code{padding:.1em .3em}pre{padding:.7rem;overflow:auto;border:1px solid var(--line)}
        table{border-collapse:collapse;width:100%;margin:.6rem 0}th,td{text-align:left;padding:.35rem .5rem;border-bottom:1px solid var(--line);vertical-align:top}
        th{font-weight:600;color:var(--muted);font-size:13px}.num{text-align:right}.muted{color:var(--muted)}.lead{color:var(--muted)}
        .bad{color:#c23a3a}.req{color:#c2702a;font-size:12px}details{border:1px solid var(--line);border-radius:6px;margin:.5rem 0}
        summary{cursor:pointer;padding:.5rem .7rem}.op{padding:0 .9rem .6rem}.sum{color:var(--muted)}
        .m{display:inline-block;min-width:4.2em;text-align:center;font:600 12px ui-monospace,monospace;color:#fff;border-radius:4px;padding:.15em .4em;background:#6b7280}
        .m-get{background:#2f7d4f}.m-post{background:#2f6fdb}.m-put{background:#b7791f}.m-patch{background:#8a5cd6}.m-delete{background:#c23a3a}
        .st{font:600 13px ui-monospace,monospace}.st-2{color:#2f7d4f}.st-3{color:#2f6fdb}.st-4{color:#b7791f}.st-5{color:#c23a3a}
        h3{font-size:14px;margin:.8rem 0 .3rem}.desc{white-space:pre-wrap}
        </style></head><body>
        \(body)
        <p class=muted style="margin-top:2rem">served by devmesh's gateway at <code>/_devmesh/docs</code></p></body></html>
        """
    }
}
