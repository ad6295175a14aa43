"""Download limits and cache safety against a loopback HTTP server (127.0.0.1 only, no outside network)."""

from __future__ import annotations

import hashlib
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from codec.hub import registry, sources, transfer
from codec.hub.sources import DownloadError, resolve
from tests.conftest import make_model

pytestmark = pytest.mark.filterwarnings("ignore:.*recorded sha256:UserWarning")


class Loopback:
    """path -> handler(request_handler) callables; every request path is logged."""

    def __init__(self) -> None:
        self.routes: dict[str, object] = {}
        self.requests: list[str] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            timeout = 10

            def log_message(self, *args) -> None:
                pass

            def do_GET(self) -> None:
                server.requests.append(self.path)
                route = server.routes.get(self.path)
                if route is None:
                    self.send_error(404, "Not Found")
                else:
                    route(self)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()

    @property
    def port(self) -> int:
        return self.httpd.server_address[1]

    def url(self, host: str = "127.0.0.1") -> str:
        return f"http://{host}:{self.port}"

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(timeout=5)


def body(data: bytes, length: int | None = None, chunk: int = 0, delay: float = 0.0):
    """A route answering 200 with `data` (Content-Length `length` if given), optionally slowly."""

    def route(handler: BaseHTTPRequestHandler) -> None:
        handler.send_response(200)
        handler.send_header("Content-Length", str(len(data) if length is None else length))
        handler.end_headers()
        step = chunk or len(data) or 1
        for start in range(0, len(data), step):
            handler.wfile.write(data[start : start + step])
            handler.wfile.flush()
            time.sleep(delay)

    return route


def redirect(location: str):
    def route(handler: BaseHTTPRequestHandler) -> None:
        handler.send_response(302)
        handler.send_header("Location", location)
        handler.send_header("Content-Length", "0")
        handler.end_headers()

    return route


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory) -> dict[str, bytes]:
    directory = make_model().save_pretrained(tmp_path_factory.mktemp("ckpt"))
    return {name: (directory / name).read_bytes() for name in ("config.json", "model.safetensors")}


@pytest.fixture
def server():
    srv = Loopback()
    yield srv
    srv.close()


@pytest.fixture(autouse=True)
def isolated(tmp_path, monkeypatch) -> Path:
    monkeypatch.setenv("CODEC_CACHE", str(tmp_path / "cache"))
    for name in (
        "CODEC_REGISTRY",
        "CODEC_OFFLINE",
        "CODEC_REDIRECT_HOSTS",
        "CODEC_MAX_DOWNLOAD_BYTES",
        "HF_HUB_OFFLINE",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(transfer, "RETRY_DELAY_S", 0.0)
    return tmp_path / "cache"


def serve(server: Loopback, checkpoint: dict[str, bytes], prefix: str = "/m/", **routes) -> str:
    for name, data in checkpoint.items():
        server.routes[prefix + name] = routes.get(name) or body(data)
    return server.url() + prefix


def test_cross_host_redirect_is_refused_unless_allowed(server, checkpoint, monkeypatch):
    serve(server, checkpoint, "/real/")
    elsewhere = server.url("localhost") + "/real/"  # same machine, another host name
    for name in checkpoint:
        server.routes["/m/" + name] = redirect(elsewhere + name)
    with pytest.raises(DownloadError, match="another host; refused"):
        resolve(server.url() + "/m/")
    assert not any(p.startswith("/real/") for p in server.requests), "the redirect must not be followed"
    monkeypatch.setenv("CODEC_REDIRECT_HOSTS", "localhost")
    directory = resolve(server.url() + "/m/")
    assert (directory / "model.safetensors").read_bytes() == checkpoint["model.safetensors"]


def test_same_host_redirect_is_followed(server, checkpoint):
    serve(server, checkpoint, "/real/")
    for name in checkpoint:
        server.routes["/m/" + name] = redirect("/real/" + name)
    assert (resolve(server.url() + "/m/") / "config.json").read_bytes() == checkpoint["config.json"]


def test_huge_content_length_is_refused_before_writing(server, checkpoint, isolated):
    url = serve(server, checkpoint, **{"model.safetensors": body(b"x" * 4096, length=10**12)})
    started = time.perf_counter()
    with pytest.raises(DownloadError, match="exceeds the limit"):
        resolve(url)
    assert time.perf_counter() - started < 5
    assert server.requests.count("/m/model.safetensors") == 1, "a refused size is not retried"
    assert not [p for p in isolated.rglob("*") if p.is_file() and p.stat().st_size > 4096]


def test_body_past_the_cap_is_stopped(server, checkpoint, isolated, monkeypatch):
    monkeypatch.setenv("CODEC_MAX_DOWNLOAD_BYTES", "1000")

    def no_length(handler: BaseHTTPRequestHandler) -> None:
        handler.send_response(200)
        handler.end_headers()  # no Content-Length: the body ends when the connection closes
        handler.wfile.write(checkpoint["model.safetensors"])
        handler.close_connection = True

    url = serve(server, checkpoint, **{"model.safetensors": no_length})
    with pytest.raises(DownloadError, match="more than 1000 bytes"):
        resolve(url)
    assert not list(isolated.rglob("model.safetensors*"))


def test_registry_size_caps_the_file(server, checkpoint, tmp_path):
    url = serve(server, checkpoint)
    files = {n: hashlib.sha256(d).hexdigest() for n, d in checkpoint.items()}
    reg = tmp_path / "r.json"
    reg.write_text(
        json.dumps(
            {
                "format": "codec.registry",
                "format_version": 1,
                "models": {"m": {"source": url, "files": files, "sizes": {"model.safetensors": 100}}},
            }
        )
    )
    with pytest.raises(DownloadError, match="exceeds the limit of 100 bytes"):
        resolve("m", registry=reg)


@pytest.mark.parametrize("name,cut", [("model.safetensors", 500), ("config.json", 10)])
def test_short_body_is_not_installed_and_no_hash_recorded(server, checkpoint, isolated, name, cut):
    url = serve(server, checkpoint, **{name: body(checkpoint[name][:cut])})  # consistent length, short file
    with pytest.raises(ValueError, match="no hash recorded"):
        resolve(url)
    directory = sources.url_cache_dir(url)
    assert not (directory / name).exists() and not (directory / (name + ".part")).exists()
    assert not (directory / sources.MANIFEST).exists()
    server.routes["/m/" + name] = body(checkpoint[name])  # the server is fixed: the next run works
    assert (resolve(url) / name).read_bytes() == checkpoint[name]


def test_concurrent_first_downloads_both_succeed(server, checkpoint):
    url = serve(
        server, checkpoint, **{"model.safetensors": body(checkpoint["model.safetensors"], chunk=2048, delay=0.01)}
    )
    results, errors = [], []

    def work() -> None:
        try:
            results.append(resolve(url))
        except Exception as err:  # recorded for the assertion below
            errors.append(err)

    threads = [threading.Thread(target=work) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not errors, errors
    assert len(results) == 2 and results[0] == results[1]
    assert (results[0] / "model.safetensors").read_bytes() == checkpoint["model.safetensors"]


def test_crafted_cache_manifest_cannot_delete_outside_the_cache(server, checkpoint, isolated, tmp_path):
    url = serve(server, checkpoint)
    directory = sources.url_cache_dir(url)
    directory.mkdir(parents=True)
    victim = isolated / "victim.txt"
    victim.write_text("keep me")
    outside = tmp_path / "outside.txt"
    outside.write_text("keep me too")
    wrong = "0" * 64
    (directory / sources.MANIFEST).write_text(
        json.dumps(
            {
                "format": "codec.download",
                "format_version": 1,
                "url": url,
                "files": {"../victim.txt": wrong, str(outside): wrong, "config.json": wrong},
            }
        )
    )
    with pytest.warns(UserWarning):
        resolve(url)
    assert victim.read_text() == "keep me" and outside.read_text() == "keep me too"
    assert (directory / "model.safetensors").read_bytes() == checkpoint["model.safetensors"]


@pytest.mark.parametrize("source", ["package:../../../../x", "package:/abs/path", "package:a/b", "package:.."])
def test_package_sources_are_confined(tmp_path, checkpoint, source):
    files = {n: hashlib.sha256(d).hexdigest() for n, d in checkpoint.items()}
    with pytest.raises(ValueError, match="inside codec/pretrained"):
        registry.parse_entry("m", {"source": source, "files": files}, tmp_path / "r.json")
    entry = registry.RegistryEntry("m", source, files, tmp_path / "r.json")  # built directly, unchecked
    with pytest.raises(ValueError, match="inside codec/pretrained"):
        sources.resolve_entry(entry)


def test_hf_without_network_says_so(monkeypatch, capsys):
    """A Hub that cannot be reached is a network failure, not 'offline', when no offline flag is set."""
    import types

    def snapshot_download(repo_id, **kwargs):
        assert kwargs["local_files_only"] is False
        raise FileNotFoundError("An error happened while trying to locate the files on the Hub ...")

    monkeypatch.setitem(
        __import__("sys").modules, "huggingface_hub", types.SimpleNamespace(snapshot_download=snapshot_download)
    )
    with pytest.raises(DownloadError, match="no network") as err:
        resolve("hf://org/repo@v1")
    assert "CODEC_OFFLINE" not in str(err.value)
    from codec.cli import main

    assert main(["download", "hf://org/repo@v1"]) == 2
    line = capsys.readouterr().err.strip()
    assert "no network" in line and "offline" not in line.split("(")[0] and len(line.splitlines()) == 1
