"""A real HTTP server on 127.0.0.1 for the download tests (no mocks), shared by test files."""
import contextlib
import http.server
import threading


def clear_proxies(monkeypatch):
    """Requests must reach 127.0.0.1 directly, whatever proxy the machine has set."""
    for name in ("http_proxy", "HTTP_PROXY", "all_proxy", "ALL_PROXY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")


@contextlib.contextmanager
def serve(handler_class):
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
