"""Running the app: gunicorn in production (`serve`), werkzeug for `--dev` and for tests on loopback."""
from __future__ import annotations

import threading
from typing import Any, Callable

from flask import Flask
from werkzeug.serving import BaseWSGIServer, make_server


class GunicornApplication:
    """Builds a `gunicorn.app.base.BaseApplication` around an app factory (imported lazily: gunicorn is POSIX
    only and not needed by tests). The factory runs in each worker, after the fork, so every worker opens
    its own database connections."""

    def __init__(self, factory: Callable[[], Flask], options: dict[str, Any]) -> None:
        from gunicorn.app.base import BaseApplication

        outer_factory, outer_options = factory, options

        class _App(BaseApplication):  # type: ignore[misc]
            def load_config(self) -> None:
                for key, value in outer_options.items():
                    if key in self.cfg.settings and value is not None:
                        self.cfg.set(key.lower(), value)

            def load(self) -> Flask:
                return outer_factory()

        self._app = _App()

    def run(self) -> None:
        self._app.run()


class LoopbackServer:
    """A real HTTP server on 127.0.0.1 (port 0 = any free port) in a daemon thread."""

    def __init__(self, app: Flask, host: str = "127.0.0.1", port: int = 0) -> None:
        self.server: BaseWSGIServer = make_server(host, port, app, threaded=True)
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05},
                                       daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://{self.server.host}:{self.server.port}/fhir"

    def __enter__(self) -> "LoopbackServer":
        self.thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.server.shutdown()
        self.thread.join(5)
        self.server.server_close()
