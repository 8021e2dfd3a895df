"""The HTTP gateway: every HTTP API of every service on one loopback port, `/<service>/...`.

Routes come from the template (AWS::ApiGatewayV2::Route RouteKey, its integration's
function, its authorizer). Requests reach the handler as API Gateway v2 payload 2.0
events; a route with a JWT authorizer refuses a bad token with 401 before the handler.
As API Gateway: the integration timeout is 30 s (504 `{"message":"Service Unavailable"}`, the
function keeps running), a throttled Lambda invocation is 500 `{"message":"Internal Server
Error"}` (proxy integrations do not pass Lambda's 429 on), and requests beyond the gateway's own
in-flight bound are 429 `{"message":"Too Many Requests"}`.
"""

from __future__ import annotations

import base64
import json
import re
import threading
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

from localcloud.authorizer import JwksCache, JwtAuthorizer, Unauthorized, bearer_token, render_claims, verify
from localcloud.faults import FaultSpecError, parse_spec
from localcloud.runner import Invocation, Throttled

# (function arn, event) -> invocation
Invoker = Callable[[str, dict[str, Any]], Invocation]


@dataclass
class Route:
    method: str  # "ANY" or a verb; "$default" routes use method "ANY" and path None
    path: str | None
    function_arn: str
    authorizer: JwtAuthorizer | None
    route_key: str
    pattern: re.Pattern[str] | None = None

    def __post_init__(self) -> None:
        if self.path is not None:
            regex = ""
            for part in re.split(r"(\{[^}]+\})", self.path):
                if part.startswith("{") and part.endswith("+}"):
                    regex += f"(?P<{_group(part[1:-2])}>.+)"
                elif part.startswith("{"):
                    regex += f"(?P<{_group(part[1:-1])}>[^/]+)"
                else:
                    regex += re.escape(part)
            self.pattern = re.compile(f"^{regex}/?$")
            self.names = {_group(n): n for n in re.findall(r"\{([^}+]+)\+?\}", self.path)}


def _group(name: str) -> str:
    return "p_" + re.sub(r"\W", "_", name)


@dataclass
class HttpApi:
    service: str
    api_id: str
    routes: list[Route] = field(default_factory=list)
    cors: dict[str, Any] | None = None

    def match(self, method: str, path: str) -> tuple[Route, dict[str, str]] | None:
        best: tuple[int, Route, dict[str, str]] | None = None
        for route in self.routes:
            if route.pattern is None or route.method not in (method, "ANY"):
                continue
            found = route.pattern.match(path)
            if found:
                params = {route.names[k]: v for k, v in found.groupdict().items()}
                # API Gateway prefers the most specific route: fewer variables, exact method
                score = len(params) * 2 + (1 if route.method == "ANY" else 0)
                if best is None or score < best[0]:
                    best = (score, route, params)
        if best:
            return best[1], best[2]
        default = next((r for r in self.routes if r.path is None), None)
        return (default, {}) if default else None


class Gateway:
    def __init__(
        self,
        invoker: Invoker,
        keys: JwksCache,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        region: str = "eu-west-1",
        account: str = "123456789012",
        integration_timeout: float = 30.0,
        max_in_flight: int = 400,
    ) -> None:
        self.invoker = invoker
        self.integration_timeout = integration_timeout
        self.max_in_flight = max_in_flight
        self._in_flight = 0
        self._flight_lock = threading.Lock()
        self.answered: dict[int, int] = {}  # status -> count, for /_localcloud/stats
        self.keys = keys
        self.host = host
        self.port = port
        self.region = region
        self.account = account
        self.apis: dict[str, HttpApi] = {}  # service (or "<stage>/<service>" for a colour stage) -> api
        # The router's live colour (blue/green): public path prefix -> the api served there, as API
        # Gateway's API mappings on a custom domain; each colour stays at its own /<stage>/<service>.
        self.live: dict[str, str] = {}
        self._server: Any = None
        self.stats: Callable[[], Any] | None = None
        self.redeploy: Callable[..., Any] | None = None
        self.faults: Any = None  # localcloud.faults.Faults, served at /_localcloud/faults

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def endpoint(self, service: str) -> str:
        return f"{self.url}/{service}"

    def set_api(self, api: HttpApi) -> None:
        self.apis[api.service] = api

    def remove_api(self, service: str) -> None:
        self.apis.pop(service, None)

    def set_live(self, live: dict[str, str]) -> None:
        """Serve these apis at the public prefixes ({"booking": "local-green/booking"}); {}: each stack's own."""
        self.live = dict(live)

    def _find_api(self, path: str) -> tuple[HttpApi | None, str]:
        """The api a path reaches and the rest of the path: the live colour's at a public prefix, a
        colour stage's at /<stage>/<service>/, else the stack's own at /<service>/."""
        service, _, rest = path.lstrip("/").partition("/")
        if service in self.live and self.live[service] in self.apis:
            return self.apis[self.live[service]], "/" + rest
        if service in self.apis:
            return self.apis[service], "/" + rest
        inner, _, rest = rest.partition("/")
        return self.apis.get(f"{service}/{inner}"), "/" + rest

    # -- WSGI ---------------------------------------------------------------------------------
    def __call__(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        status, headers, body = self.handle(environ)
        with self._flight_lock:
            self.answered[status] = self.answered.get(status, 0) + 1
        start_response(f"{status} {'OK' if status < 400 else 'Error'}", headers)
        return [body]

    def handle(self, environ: dict[str, Any]) -> tuple[int, list[tuple[str, str]], bytes]:  # noqa: PLR0911
        path = environ.get("PATH_INFO", "/")
        method = environ.get("REQUEST_METHOD", "GET").upper()
        if path.startswith("/_localcloud/"):
            return self._control(path, method, environ)
        api, rest = self._find_api(path)
        if api is None:
            return _json(404, {"message": "Not Found"})
        headers = _headers(environ)
        if method == "OPTIONS" and api.cors and "access-control-request-method" in headers:
            return 204, _cors_headers(api.cors, headers, preflight=True), b""
        matched = api.match(method, rest)
        if matched is None:
            return _json(404, {"message": "Not Found"})
        route, params = matched
        claims = None
        if route.authorizer is not None:
            try:
                claims = render_claims(verify(bearer_token(headers), route.authorizer, self.keys))
            except Unauthorized:
                status, out, body = _json(401, {"message": "Unauthorized"})
                out.append(("www-authenticate", 'Bearer error="invalid_token"'))
                return status, out + _cors_headers(api.cors, headers), body
        length = int(environ.get("CONTENT_LENGTH") or 0)
        raw_body = environ["wsgi.input"].read(length) if length else b""
        event = self._event(api, route, params, method, rest, environ, headers, raw_body, claims)
        with self._flight_lock:
            if self._in_flight >= self.max_in_flight:
                return _json(429, {"message": "Too Many Requests"})
            self._in_flight += 1
        try:
            status, out, body = self._integrate(route.function_arn, event)
        finally:
            with self._flight_lock:
                self._in_flight -= 1
        return status, out + _cors_headers(api.cors, headers), body

    def _integrate(self, function_arn: str, event: dict[str, Any]) -> tuple[int, list[tuple[str, str]], bytes]:
        """Invoke the route's function within the integration timeout; the function runs on past it."""
        outcome: dict[str, Any] = {}
        done = threading.Event()

        def run() -> None:
            try:
                outcome["invocation"] = self.invoker(function_arn, event)
            except Throttled:
                outcome["throttled"] = True
            except Exception as exc:  # the gateway answers; the cloud keeps serving
                outcome["error"] = exc
            finally:
                done.set()

        threading.Thread(target=run, name="gateway-integration", daemon=True).start()
        if not done.wait(self.integration_timeout):
            return _json(504, {"message": "Service Unavailable"})
        if "invocation" in outcome:
            return _response(outcome["invocation"])
        return _json(500, {"message": "Internal Server Error"})

    def _control(self, path: str, method: str, environ: dict[str, Any]) -> tuple[int, list[tuple[str, str]], bytes]:
        """Local control routes: figures, fault rules, and re-deploying one stack in place."""
        if path == "/_localcloud/stats" and self.stats is not None:
            stats = dict(self.stats())
            stats["_gateway"] = {str(k): v for k, v in sorted(self.answered.items())}
            if self.faults is not None:
                stats["_faults"] = self.faults.describe()
            return _json(200, stats)
        if path == "/_localcloud/faults" and self.faults is not None:
            return self._faults_route(method, environ)
        if path == "/_localcloud/clock":
            return _clock_route(method, environ)
        if path.startswith("/_localcloud/deploy/") and method == "POST" and self.redeploy is not None:
            return self._deploy_route(path, environ)
        return _json(404, {"message": "Not Found"})

    def _deploy_route(self, path: str, environ: dict[str, Any]) -> tuple[int, list[tuple[str, str]], bytes]:
        """POST /_localcloud/deploy/<stack>: ?stage=local-green deploys a stack of a colour stage, ?previous=1
        with what it runs; a JSON body may give the template's parameters (the router's LiveColour) and a
        release's options (packageDir, minuteSeconds, versionFaults)."""
        assert self.redeploy is not None
        query = dict(parse_qsl(environ.get("QUERY_STRING", "")))
        length = int(environ.get("CONTENT_LENGTH") or 0)
        try:
            options = json.loads(environ["wsgi.input"].read(length) or b"{}") if length else {}
            parameters = {str(k): str(v) for k, v in (options.pop("parameters", None) or {}).items()}
            stack = path.rsplit("/", 1)[1]
            answer = self.redeploy(
                stack, stage=query.get("stage"), parameters=parameters, previous=query.get("previous") == "1", **options
            )
            return _json(200, answer)
        except Exception as exc:  # the caller gets the reason; the cloud keeps serving
            return _json(400, {"message": f"{type(exc).__name__}: {exc}"})

    def _event(  # noqa: PLR0917 - the pieces of one request
        self,
        api: HttpApi,
        route: Route,
        params: dict[str, str],
        method: str,
        path: str,
        environ: dict[str, Any],
        headers: dict[str, str],
        raw_body: bytes,
        claims: dict[str, str] | None,
    ) -> dict[str, Any]:
        query = environ.get("QUERY_STRING", "")
        query_params: dict[str, list[str]] = {}
        for key, value in parse_qsl(query, keep_blank_values=True):
            query_params.setdefault(key, []).append(value)
        now = time.time()
        text_body: str | None = None
        is_base64 = False
        if raw_body:
            try:
                text_body = raw_body.decode("utf-8")
            except UnicodeDecodeError:
                text_body, is_base64 = base64.b64encode(raw_body).decode(), True
        cookies = [c.strip() for c in headers.pop("cookie", "").split(";") if c.strip()]
        context: dict[str, Any] = {
            "accountId": self.account,
            "apiId": api.api_id,
            "domainName": f"{self.host}:{self.port}",
            "domainPrefix": api.api_id,
            "http": {
                "method": method,
                "path": path,
                "protocol": environ.get("SERVER_PROTOCOL", "HTTP/1.1"),
                "sourceIp": environ.get("REMOTE_ADDR", "127.0.0.1"),
                "userAgent": headers.get("user-agent", ""),
            },
            "requestId": uuid.uuid4().hex[:16],
            "routeKey": route.route_key,
            "stage": "$default",
            "time": time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(now)),
            "timeEpoch": int(now * 1000),
        }
        if claims is not None:
            context["authorizer"] = {"jwt": {"claims": claims, "scopes": None}}
        event: dict[str, Any] = {
            "version": "2.0",
            "routeKey": route.route_key,
            "rawPath": path,
            "rawQueryString": query,
            "headers": headers,
            "requestContext": context,
            "isBase64Encoded": is_base64,
        }
        if cookies:
            event["cookies"] = cookies
        if query_params:
            event["queryStringParameters"] = {k: ",".join(v) for k, v in query_params.items()}
        if params:
            event["pathParameters"] = params
        if text_body is not None:
            event["body"] = text_body
        return event

    def _faults_route(self, method: str, environ: dict[str, Any]) -> tuple[int, list[tuple[str, str]], bytes]:
        if method == "DELETE":
            self.faults.set([])
        elif method == "PUT":
            length = int(environ.get("CONTENT_LENGTH") or 0)
            text = environ["wsgi.input"].read(length).decode() if length else ""
            try:
                self.faults.set(parse_spec(text if not text.lstrip().startswith('"') else json.loads(text)))
            except (FaultSpecError, ValueError) as exc:
                return _json(400, {"message": f"faults: {exc}"})
        elif method != "GET":
            return _json(405, {"message": "Method Not Allowed"})
        return _json(200, self.faults.describe())

    # -- server -------------------------------------------------------------------------------
    def start(self) -> None:
        from werkzeug.serving import make_server

        self._server = make_server(self.host, self.port, self, threaded=True)
        self.port = int(self._server.server_port)
        threading.Thread(target=self._server.serve_forever, name="localcloud-gateway", daemon=True).start()

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None


def _headers(environ: dict[str, Any]) -> dict[str, str]:
    out: dict[str, str] = {}
    for key, value in environ.items():
        if key.startswith("HTTP_"):
            out[key[5:].replace("_", "-").lower()] = value
    if environ.get("CONTENT_TYPE"):
        out["content-type"] = environ["CONTENT_TYPE"]
    if environ.get("CONTENT_LENGTH"):
        out["content-length"] = environ["CONTENT_LENGTH"]
    return out


def _json(status: int, body: Any) -> tuple[int, list[tuple[str, str]], bytes]:
    data = json.dumps(body).encode()
    return status, [("Content-Type", "application/json"), ("Content-Length", str(len(data)))], data


def _response(invocation: Invocation) -> tuple[int, list[tuple[str, str]], bytes]:
    """API Gateway's mapping of a payload 2.0 Lambda answer to HTTP."""
    if invocation.function_error:
        return _json(500, {"message": "Internal Server Error"})
    try:
        result = invocation.json()
    except ValueError:
        return _json(500, {"message": "Internal Server Error"})
    if not (isinstance(result, dict) and "statusCode" in result):
        return _json(200, result)  # a plain value is the JSON body
    body = result.get("body") or ""
    data = base64.b64decode(body) if result.get("isBase64Encoded") else str(body).encode()
    headers = [(k, str(v)) for k, v in (result.get("headers") or {}).items() if k.lower() != "content-length"]
    for name, values in (result.get("multiValueHeaders") or {}).items():
        headers += [(name, str(v)) for v in values]
    headers += [("Set-Cookie", c) for c in result.get("cookies") or []]
    if not any(k.lower() == "content-type" for k, _ in headers):
        headers.append(("Content-Type", "application/json"))
    headers.append(("Content-Length", str(len(data))))
    return int(result["statusCode"]), headers, data


def _cors_headers(
    cors: dict[str, Any] | None, headers: dict[str, str], *, preflight: bool = False
) -> list[tuple[str, str]]:
    origin = headers.get("origin")
    if not cors or not origin:
        return []
    allowed = cors.get("AllowOrigins") or []
    if "*" not in allowed and origin not in allowed:
        return []
    out = [("Access-Control-Allow-Origin", "*" if "*" in allowed else origin)]
    if preflight:
        out += [
            ("Access-Control-Allow-Methods", ",".join(cors.get("AllowMethods") or [])),
            ("Access-Control-Allow-Headers", ",".join(cors.get("AllowHeaders") or [])),
        ]
        if cors.get("MaxAge") is not None:
            out.append(("Access-Control-Max-Age", str(cors["MaxAge"])))
    return out


def _clock_route(method: str, environ: dict[str, Any]) -> tuple[int, list[tuple[str, str]], bytes]:
    """GET/PUT `{"stepfunctions_retry_scale": x}` (0 < x <= 1): how fast Step Functions retry waits pass."""
    from localcloud.stepfunctions import CLOCK

    if method == "PUT":
        length = int(environ.get("CONTENT_LENGTH") or 0)
        try:
            scale = float(json.loads(environ["wsgi.input"].read(length) or b"{}")["stepfunctions_retry_scale"])
        except (ValueError, KeyError, TypeError) as exc:
            return _json(400, {"message": f"clock: {exc!r}"})
        if not 0 < scale <= 1:
            return _json(400, {"message": "clock: stepfunctions_retry_scale in (0, 1]"})
        CLOCK.scale = scale
    elif method != "GET":
        return _json(405, {"message": "Method Not Allowed"})
    return _json(200, CLOCK.describe())
