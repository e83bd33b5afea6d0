"""An HTTP proxy in front of a local S3 server that answers every Nth request
with 503 SlowDown (S3's throttling answer), so clients' retries are exercised.

Usage: flaky_s3_proxy.py LISTEN_PORT TARGET_PORT EVERY_NTH
Prints "ready" once listening. Headers and bodies pass through unchanged.
"""
import http.client
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

listen_port, target_port, every = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
counter = 0
lock = threading.Lock()
SLOW_DOWN = (b'<?xml version="1.0" encoding="UTF-8"?><Error><Code>SlowDown</Code>'
             b'<Message>Please reduce your request rate.</Message></Error>')


class Proxy(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def relay(self):
        global counter
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        with lock:
            counter += 1
            fail = every > 0 and counter % every == 0
        if fail:
            self.send_response(503)
            self.send_header("Content-Type", "application/xml")
            self.send_header("Content-Length", str(len(SLOW_DOWN)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(SLOW_DOWN)
            return
        connection = http.client.HTTPConnection("127.0.0.1", target_port, timeout=60)
        headers = {k: v for k, v in self.headers.items() if k.lower() not in ("connection", "transfer-encoding")}
        connection.request(self.command, self.path, body=body, headers=headers)
        response = connection.getresponse()
        data = response.read()
        self.send_response(response.status)
        for key, value in response.getheaders():
            if key.lower() not in ("connection", "transfer-encoding", "content-length", "server", "date"):
                self.send_header(key, value)
        # A HEAD's Content-Length is the object's size, with no body.
        size = response.getheader("Content-Length") if self.command == "HEAD" else str(len(data))
        self.send_header("Content-Length", size or "0")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)
        connection.close()

    do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = relay


server = ThreadingHTTPServer(("127.0.0.1", listen_port), Proxy)
print("ready", flush=True)
server.serve_forever()
