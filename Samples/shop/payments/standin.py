"""A stand-in for an external payments API (the shop's `external: payments`), so the sample runs
offline: HTTPS on $PORT with a demo certificate (payments/server.pem, issued by payments/ca.pem —
a demo CA whose key was thrown away). It insists on the API key the ambassador injects; the shop's
apps never hold it. Standard library only."""
import json
import os
import ssl
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

HERE = os.path.dirname(os.path.abspath(__file__))
EXPECTED = "Bearer " + os.environ["EXPECTED_KEY"]
CHARGES = {"1": {"amount": 1250, "currency": "EUR"}, "2": {"amount": 899, "currency": "EUR"}}


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def reply(self, status, body):
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        if self.headers.get("authorization") != EXPECTED:
            return self.reply(401, {"error": "a valid API key is required"})
        prefix = "/v1/charges/"
        charge = CHARGES.get(self.path[len(prefix):]) if self.path.startswith(prefix) else None
        if charge is None:
            return self.reply(404, {"error": "no such charge"})
        self.reply(200, dict(charge, id="ch_" + self.path[len(prefix):], status="paid"))

    def log_message(self, *args):
        pass


server = ThreadingHTTPServer(("127.0.0.1", int(os.environ["PORT"])), Handler)
context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
context.load_cert_chain(os.path.join(HERE, "server.pem"), os.path.join(HERE, "server.key"))
server.socket = context.wrap_socket(server.socket, server_side=True)
print("payments stand-in on https://localhost:%s" % os.environ["PORT"], flush=True)
server.serve_forever()
