"""Tiny helpers shared by the sample services (Python standard library only).

Each service serves HTTP on $PORT and, when it calls another service, forwards the W3C trace
context headers it received (traceparent, tracestate), as a mesh expects apps to do.
"""
import json
import os
import sys
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

TRACE_HEADERS = ("traceparent", "tracestate", "baggage")


def call(base_url, path, incoming_headers, timeout=5):
    """GET base_url + path, forwarding the trace context; returns (status, parsed JSON or text)."""
    request = urllib.request.Request(base_url.rstrip("/") + path)
    for name in TRACE_HEADERS:
        value = incoming_headers.get(name)
        if value:
            request.add_header(name, value)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            body = response.read()
            status = response.status
    except urllib.error.HTTPError as error:
        body = error.read()
        status = error.code
    try:
        return status, json.loads(body)
    except ValueError:
        return status, body.decode("utf-8", "replace")


def serve(routes):
    """Serve `routes` ({prefix: handler(request, rest) -> (status, body[, headers])}) on $PORT."""
    name = os.environ.get("DEVMESH_SERVICE", os.path.basename(sys.argv[0]))

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self):
            if self.path == "/healthz":
                return self.reply(200, {"status": "ok", "service": name})
            for prefix, handler in routes.items():
                if self.path == prefix or self.path.startswith(prefix.rstrip("/") + "/"):
                    answer = handler(self, self.path[len(prefix):].lstrip("/"))
                    return self.reply(*answer)
            self.reply(404, {"error": "no route for " + self.path, "service": name})

        def reply(self, status, body, headers=None):
            data = (json.dumps(body) if not isinstance(body, (bytes, str)) else body)
            data = data.encode() if isinstance(data, str) else data
            self.send_response(status)
            self.send_header("Content-Type", "application/json" if not isinstance(body, (bytes, str)) else "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, fmt, *args):
            if self.path != "/healthz":
                trace = self.headers.get("traceparent", "-")
                print("%s %s traceparent=%s" % (self.command, self.path, trace), flush=True)

    port = int(os.environ["PORT"])
    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    server.daemon_threads = True
    print("%s listening on 127.0.0.1:%d" % (name, port), flush=True)
    server.serve_forever()
