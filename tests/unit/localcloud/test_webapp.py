"""The web app server of the local cloud: config.json from the deployment, cache rules, app routes, headers."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from werkzeug.test import Client

from localcloud.webapp import IMMUTABLE, REVALIDATE, WebApp, app_config


@pytest.fixture
def dist(tmp_path: Path) -> Path:
    (tmp_path / "assets").mkdir()
    (tmp_path / "index.html").write_text("<html>app</html>")
    (tmp_path / "assets" / "index-abc123.js").write_text("console.log(1)")
    (tmp_path.parent / "secret.txt").write_text("outside dist")
    return tmp_path


def config() -> dict[str, Any]:
    return app_config(
        edge_url="http://127.0.0.1:4566",
        pool_id="eu-west-1_pool",
        client_id="client",
        apis={"catalog": "http://127.0.0.1:4567/catalog", "booking": "http://127.0.0.1:4567/booking"},
    )


def test_config_json_names_the_pool_the_edge_and_the_apis(dist: Path) -> None:
    answer = Client(WebApp(config, dist=dist).wsgi).get("/config.json")
    assert answer.status_code == 200
    assert answer.headers["Cache-Control"] == REVALIDATE
    body = json.loads(answer.data)
    assert body["userPoolId"] == "eu-west-1_pool"
    assert body["cognitoEndpoint"] == "http://127.0.0.1:4566"
    assert body["apis"]["catalog"] == "http://127.0.0.1:4567/catalog"
    assert body["rum"] is None


def test_hashed_assets_are_immutable_and_app_routes_get_index_html(dist: Path) -> None:
    client = Client(WebApp(config, dist=dist).wsgi)
    asset = client.get("/assets/index-abc123.js")
    assert asset.headers["Cache-Control"] == IMMUTABLE
    assert asset.headers["Content-Type"].startswith("text/javascript")
    route = client.get("/bookings/b-1")
    assert route.status_code == 200
    assert route.data == b"<html>app</html>"
    assert route.headers["Cache-Control"] == REVALIDATE
    assert client.get("/assets/missing-123.js").status_code == 404


def test_security_headers_allow_calls_only_to_the_edge_and_the_gateway(dist: Path) -> None:
    headers = Client(WebApp(config, dist=dist).wsgi).get("/").headers
    csp = headers["Content-Security-Policy"]
    assert "connect-src 'self' http://127.0.0.1:4566 http://127.0.0.1:4567;" in csp
    assert "frame-ancestors 'none'" in csp
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["X-Frame-Options"] == "DENY"


def test_nothing_outside_dist_is_served_and_only_reads_are_allowed(dist: Path) -> None:
    client = Client(WebApp(config, dist=dist).wsgi)
    assert b"outside dist" not in client.get("/../secret.txt").data
    assert client.post("/config.json").status_code == 405


def test_an_unbuilt_app_says_how_to_build_it(tmp_path: Path) -> None:
    answer = Client(WebApp(config, dist=tmp_path / "nothing").wsgi).get("/")
    assert answer.status_code == 503
    assert b"make app" in answer.data


def test_it_serves_on_a_free_port(dist: Path) -> None:
    import requests

    webapp = WebApp(config, dist=dist, port=0)
    webapp.start()
    try:
        assert webapp.port > 0
        assert requests.get(f"{webapp.url}/config.json", timeout=10).json()["userPoolClientId"] == "client"
    finally:
        webapp.stop()
