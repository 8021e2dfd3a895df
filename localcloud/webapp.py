"""The web app on the local cloud: the built `frontend/dist` on its own port, configured by the deployment.

On AWS the app sits in a private S3 bucket behind CloudFront and `config.json` is written from the
stacks' outputs at deploy. Here the same files are served from `frontend/dist` with the same cache
rules (hashed assets immutable, `index.html` and `config.json` revalidated) and security headers,
and `config.json` is made from the running deployment: the user pool, its client, the edge as the
Cognito endpoint and the HTTP API of every service. Unknown paths answer `index.html` (the app's
router owns them), as CloudFront's error response does.
"""

from __future__ import annotations

import json
import mimetypes
import threading
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from localcloud import REGION

ROOT = Path(__file__).resolve().parents[1]
DIST = ROOT / "frontend" / "dist"
DEFAULT_PORT = 4568
HASHED_ASSETS = "/assets/"
IMMUTABLE = "public, max-age=31536000, immutable"
REVALIDATE = "no-cache"

AppConfig = Callable[[], dict[str, Any]]


def app_config(*, edge_url: str, pool_id: str, client_id: str, apis: dict[str, str]) -> dict[str, Any]:
    """What the app reads at start: the same keys the AWS deploy writes from the stacks' outputs."""
    return {
        "region": REGION,
        "userPoolId": pool_id,
        "userPoolClientId": client_id,
        "cognitoEndpoint": edge_url,
        "apis": dict(sorted(apis.items())),
        "rum": None,  # CloudWatch RUM is not emulated locally
    }


def security_headers(connect_src: Iterable[str]) -> list[tuple[str, str]]:
    """The headers CloudFront's response headers policy adds on AWS (services/frontend), for this origin."""
    csp = "; ".join(
        [
            "default-src 'self'",
            "script-src 'self'",
            "style-src 'self' 'unsafe-inline'",  # Quasar sets inline styles on components
            "img-src 'self' data:",
            "font-src 'self' data:",
            "connect-src 'self' " + " ".join(sorted(set(connect_src))),
            "frame-ancestors 'none'",
            "base-uri 'self'",
            "form-action 'self'",
        ]
    )
    return [
        ("Content-Security-Policy", csp),
        ("X-Content-Type-Options", "nosniff"),
        ("X-Frame-Options", "DENY"),
        ("Referrer-Policy", "strict-origin-when-cross-origin"),
    ]


class WebApp:
    """A WSGI server for the built app; `config` is called per request so a redeploy shows at once."""

    def __init__(self, config: AppConfig, *, dist: Path = DIST, host: str = "127.0.0.1", port: int = 0) -> None:
        self.config = config
        self.dist = dist.resolve()
        self.host = host
        self.port = port
        self._server: Any = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def built(self) -> bool:
        return (self.dist / "index.html").is_file()

    def start(self) -> None:
        from werkzeug.serving import make_server

        self._server = make_server(self.host, self.port, self.wsgi, threaded=True)
        self.port = int(self._server.server_port)
        self._thread = threading.Thread(target=self._server.serve_forever, name="localcloud-webapp", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def wsgi(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        method = environ.get("REQUEST_METHOD", "GET")
        path = environ.get("PATH_INFO") or "/"
        if method not in ("GET", "HEAD"):
            return self._answer(
                start_response, 405, b"method not allowed", kind="text/plain", cache=REVALIDATE, method=method
            )
        if path == "/config.json":
            config = self.config()
            body = json.dumps(config).encode()
            return self._answer(start_response, 200, body, kind="application/json", cache=REVALIDATE, method=method)
        file = self._file(path)
        if file is None:
            if path.startswith(HASHED_ASSETS):  # a missing asset is a 404, not the app
                return self._answer(
                    start_response, 404, b"not found", kind="text/plain", cache=REVALIDATE, method=method
                )
            file = self.dist / "index.html"
            if not file.is_file():
                body = b"the web app is not built: run `make app`"
                return self._answer(start_response, 503, body, kind="text/plain", cache=REVALIDATE, method=method)
        kind = mimetypes.guess_type(file.name)[0] or "application/octet-stream"
        cache = IMMUTABLE if path.startswith(HASHED_ASSETS) else REVALIDATE
        return self._answer(start_response, 200, file.read_bytes(), kind=kind, cache=cache, method=method)

    def _file(self, path: str) -> Path | None:
        relative = path.lstrip("/") or "index.html"
        candidate = (self.dist / relative).resolve()
        if not candidate.is_relative_to(self.dist) or not candidate.is_file():
            return None
        return candidate

    def _answer(
        self, start_response: Any, status: int, body: bytes, *, kind: str, cache: str, method: str
    ) -> Iterable[bytes]:
        config = self.config()
        origins = [config.get("cognitoEndpoint") or "", *(config.get("apis") or {}).values()]
        connect = {_origin(url) for url in origins if url}
        headers = [
            ("Content-Type", kind + ("; charset=utf-8" if kind.startswith(("text/", "application/j")) else "")),
            ("Content-Length", str(len(body))),
            ("Cache-Control", cache),
            *security_headers(connect),
        ]
        start_response(f"{status} {_REASONS.get(status, 'OK')}", headers)
        return [b"" if method == "HEAD" else body]


def _origin(url: str) -> str:
    scheme, _, rest = url.partition("://")
    return f"{scheme}://{rest.split('/', 1)[0]}"


_REASONS = {200: "OK", 404: "Not Found", 405: "Method Not Allowed", 503: "Service Unavailable"}


def serve(cloud: Any, port: int, host: str = "127.0.0.1") -> WebApp:
    """Start the app for a deployed `LocalCloud` (its pool, client, edge and APIs)."""

    def config() -> dict[str, Any]:
        pool_id, client_id = cloud.user_pool()
        return app_config(edge_url=cloud.edge.url, pool_id=pool_id, client_id=client_id, apis=cloud.endpoints())

    webapp = WebApp(config, host=host, port=port)
    webapp.start()
    return webapp
