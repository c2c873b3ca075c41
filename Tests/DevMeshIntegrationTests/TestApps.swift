/// Apps the integration tests run as services.

/// A tiny HTTP app (Python standard library) with `/healthz`, used as a service in tests.
let httpAppPy = """
import os, sys
from http.server import BaseHTTPRequestHandler, HTTPServer
class H(BaseHTTPRequestHandler):
    def do_GET(self):
        body = ("%s %s" % (os.environ.get("DEVMESH_SERVICE"), self.path)).encode()
        self.send_response(200); self.send_header("Content-Length", str(len(body))); self.end_headers(); self.wfile.write(body)
    def log_message(self, *a): pass
print("listening on", os.environ["PORT"], flush=True)
HTTPServer(("127.0.0.1", int(os.environ["PORT"])), H).serve_forever()
"""
