"""A real HTTP server on 127.0.0.1 for the download tests (no mocks), and its fixtures.

Test files import the fixtures they use (`from local_http import no_proxy, server, ...`);
a route is a callable(handler), a (status, body, headers) tuple, or a list of such tuples
answered in turn (the last one repeats).
"""
import contextlib
import http.server
import socket
import threading
import time

import pytest


def clear_proxies(monkeypatch):
    """Requests must reach 127.0.0.1 directly, whatever proxy the machine has set."""
    for name in ("http_proxy", "HTTP_PROXY", "all_proxy", "ALL_PROXY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")


def answer(body, status=200, headers=None):
    """A route: this status, these headers (Content-Length added) and this body."""
    def respond(handler):
        handler.send_response(status)
        for key, value in {"Content-Length": str(len(body)), **(headers or {})}.items():
            handler.send_header(key, value)
        handler.end_headers()
        handler.wfile.write(body)
    return respond


def trickle(body, every, length=True, chunk=1):
    """A route that sends `body` `chunk` bytes at a time, one chunk every `every` seconds."""
    def respond(handler):
        handler.send_response(200)
        if length:
            handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        try:
            for start in range(0, len(body), chunk):
                if handler.server.stopping.is_set():
                    return
                handler.wfile.write(body[start:start + chunk])
                handler.wfile.flush()
                time.sleep(every)
        except (BrokenPipeError, ConnectionResetError):
            pass
    return respond


class Handler(http.server.BaseHTTPRequestHandler):
    """Answers self.server.routes[path] (see the module's docstring), or 404."""
    protocol_version = "HTTP/1.0"  # the body ends when the connection closes

    def do_GET(self):
        self.server.hits.append(self.path)
        route = self.server.routes.get(self.path, (404, b"no such file", {}))
        if isinstance(route, list):
            route = route.pop(0) if len(route) > 1 else route[0]
        if not callable(route):
            status, body, headers = route
            route = answer(body, status, headers)
        route(self)

    def log_message(self, *args):
        pass


@contextlib.contextmanager
def serve(handler_class=Handler):
    """Serve `handler_class` on a free port in a thread; yields the server, with `url`,
    an empty `routes` dict, a `hits` list and a `stopping` event set before shutdown."""
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler_class)
    httpd.block_on_close = False
    httpd.routes, httpd.hits, httpd.stopping = {}, [], threading.Event()
    httpd.url = "http://127.0.0.1:%d" % httpd.server_address[1]
    thread = threading.Thread(target=httpd.serve_forever, args=(0.02,), daemon=True)
    thread.start()
    try:
        yield httpd
    finally:
        httpd.stopping.set()
        httpd.shutdown()
        httpd.server_close()
        thread.join(5)


@pytest.fixture(autouse=True)
def no_proxy(monkeypatch):
    clear_proxies(monkeypatch)


@pytest.fixture
def server():
    with serve(Handler) as httpd:
        yield httpd


@pytest.fixture
def dead_url():
    """http://127.0.0.1:PORT on a port that nothing listens on: connecting is refused."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return "http://127.0.0.1:%d" % port


@pytest.fixture
def silent_url():
    """A server that accepts connections (the kernel does) and never says a word."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(8)
        yield "http://127.0.0.1:%d/traindata.txt.gz" % sock.getsockname()[1]
