"""Registry, resolve and safe downloads against a real HTTP server on 127.0.0.1 (no outside network)."""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import torch

from codec.commands import download as download_cmd
from codec.hub import registry, sources, transfer
from codec.hub.sources import ChecksumError, DownloadError, resolve
from codec.models.codec import Codec
from tests.conftest import make_model, speechlike

pytestmark = pytest.mark.filterwarnings("ignore:.*recorded sha256:UserWarning")


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


class Server:
    """Files by URL path; per-test faults; every request logged as (path, Range header)."""

    def __init__(self) -> None:
        self.files: dict[str, bytes] = {}
        self.requests: list[tuple[str, str | None]] = []
        self.drop_after: dict[str, int] = {}  # path -> bytes sent before the connection drops (once)
        self.fail: set[str] = set()  # paths answered with HTTP 500
        self.ignore_range = False
        handler = self._handler()
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def gets(self, suffix: str = "") -> list[tuple[str, str | None]]:
        return [r for r in self.requests if r[0].endswith(suffix)]

    def _handler(self):
        server = self

        class Handler(BaseHTTPRequestHandler):
            timeout = 5

            def log_message(self, *args) -> None:
                pass

            def do_GET(self) -> None:
                rng = self.headers.get("Range")
                server.requests.append((self.path, rng))
                rng = None if server.ignore_range else rng
                if self.path in server.fail:
                    self.send_error(500, "Internal Server Error")
                    return
                data = server.files.get(self.path)
                if data is None:
                    self.send_error(404, "Not Found")
                    return
                start = int(rng.split("=")[1].split("-")[0]) if rng else 0
                if start >= len(data) and rng:
                    self.send_response(416)
                    self.send_header("Content-Range", f"bytes */{len(data)}")
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                self.send_response(206 if rng else 200)
                if rng:
                    self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
                self.send_header("Content-Length", str(len(data) - start))
                self.end_headers()
                body = data[start:]
                if self.path in server.drop_after:
                    body = body[: server.drop_after.pop(self.path)]
                self.wfile.write(body)

        return Handler


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory) -> dict[str, bytes]:
    directory = make_model().save_pretrained(tmp_path_factory.mktemp("ckpt"))
    return {name: (directory / name).read_bytes() for name in ("config.json", "model.safetensors")}


@pytest.fixture
def server(checkpoint):
    srv = Server()
    srv.files = {f"/m/{name}": data for name, data in checkpoint.items()}
    srv.thread.start()
    try:
        yield srv
    finally:
        srv.httpd.shutdown()
        srv.httpd.server_close()
        srv.thread.join(timeout=5)


@pytest.fixture(autouse=True)
def isolated(tmp_path, monkeypatch) -> Path:
    """Each test: its own cache, no user registry, no offline flag, no retry delay."""
    monkeypatch.setenv("CODEC_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv("CODEC_REGISTRY", raising=False)
    monkeypatch.delenv("CODEC_OFFLINE", raising=False)
    monkeypatch.setattr(transfer, "RETRY_DELAY_S", 0.0)
    return tmp_path / "cache"


def write_registry(path: Path, models: dict) -> Path:
    path.write_text(json.dumps({"format": "codec.registry", "format_version": 1, "models": models}))
    return path


def entry(source: str, checkpoint: dict[str, bytes], **overrides) -> dict:
    files = {name: sha(data) for name, data in checkpoint.items()}
    files.update(overrides)
    return {
        "source": source,
        "files": files,
        "sample_rate": 16000,
        "frame_rate": 50.0,
        "num_codebooks": 4,
        "num_semantic_codebooks": 1,
        "codebook_size": 64,
        "license": "MIT",
    }


def test_download_load_tokenize_then_cache_only(server, checkpoint):
    server.files["/m/checksums.json"] = json.dumps({n: sha(d) for n, d in checkpoint.items()}).encode()
    model = Codec.from_pretrained(server.url + "/m/")
    tokens = model.tokenize(speechlike(0.5), 16000)
    assert tokens.codes.shape == (1, 4, 25)
    expected = make_model().tokenize(speechlike(0.5), 16000)
    assert torch.equal(tokens.codes, expected.codes)
    count = len(server.requests)
    assert Codec.from_pretrained(server.url + "/m/model.safetensors").model_id == model.model_id
    assert len(server.requests) == count  # served from the cache, no requests


def test_bare_url_records_hash_and_warns(server, checkpoint, isolated):
    with pytest.warns(UserWarning, match="recorded sha256"):
        directory = resolve(server.url + "/m")
    manifest = json.loads((directory / sources.MANIFEST).read_text())
    assert manifest["files"]["model.safetensors"] == sha(checkpoint["model.safetensors"])
    assert directory.parent == isolated


def test_sha256_sidecar_files_verify(server, checkpoint):
    for name, data in checkpoint.items():
        server.files[f"/m/{name}.sha256"] = f"{sha(data)}  {name}\n".encode()
    directory = resolve(server.url + "/m/")
    checked = json.loads((directory / sources.MANIFEST).read_text())["checked_against"]
    assert checked["config.json"] == "config.json.sha256"


def test_dropped_connection_resumes_with_range(server, checkpoint):
    size = len(checkpoint["model.safetensors"])
    server.drop_after["/m/model.safetensors"] = size // 3
    directory = resolve(server.url + "/m/")
    gets = server.gets("/m/model.safetensors")
    assert gets[0][1] is None and gets[1][1] == f"bytes={size // 3}-"
    assert (directory / "model.safetensors").read_bytes() == checkpoint["model.safetensors"]


def test_partial_file_from_an_earlier_run_is_resumed(server, checkpoint):
    directory = sources.url_cache_dir(server.url + "/m/")
    directory.mkdir(parents=True)
    (directory / "model.safetensors.part").write_bytes(checkpoint["model.safetensors"][:1000])
    registry_file = write_registry(directory.parent / "r.json", {"tiny": entry(server.url + "/m/", checkpoint)})
    assert resolve("tiny", registry=registry_file) == directory
    assert server.gets("/m/model.safetensors") == [("/m/model.safetensors", "bytes=1000-")]
    assert (directory / "model.safetensors").read_bytes() == checkpoint["model.safetensors"]


@pytest.mark.parametrize("kept", ["all", "some"])
def test_partial_file_edge_cases(server, checkpoint, kept):
    data = checkpoint["model.safetensors"]
    directory = sources.url_cache_dir(server.url + "/m/")
    directory.mkdir(parents=True)
    (directory / "model.safetensors.part").write_bytes(data if kept == "all" else b"junk" * 10)
    server.ignore_range = kept == "some"  # a server without Range support sends everything again
    reg = write_registry(directory.parent / "r.json", {"tiny": entry(server.url + "/m/", checkpoint)})
    assert (resolve("tiny", registry=reg) / "model.safetensors").read_bytes() == data
    assert not (directory / "model.safetensors.part").exists()


def test_stale_partial_file_is_restarted_once(server, checkpoint):
    data = checkpoint["model.safetensors"]
    directory = sources.url_cache_dir(server.url + "/m/")
    directory.mkdir(parents=True)
    (directory / "model.safetensors.part").write_bytes(b"stale" * 20)
    reg = write_registry(directory.parent / "r.json", {"tiny": entry(server.url + "/m/", checkpoint)})
    assert (resolve("tiny", registry=reg) / "model.safetensors").read_bytes() == data
    expected = [("/m/model.safetensors", "bytes=100-"), ("/m/model.safetensors", None)]
    assert server.gets("/m/model.safetensors") == expected


def test_wrong_hash_is_refused_and_nothing_complete_remains(server, checkpoint, tmp_path):
    bad = "0" * 64
    reg = write_registry(
        tmp_path / "r.json", {"tiny": entry(server.url + "/m/", checkpoint, **{"model.safetensors": bad})}
    )
    good = sha(checkpoint["model.safetensors"])
    with pytest.raises(ChecksumError, match=rf"model\.safetensors.*expected {bad}, got {good}"):
        resolve("tiny", registry=reg)
    directory = sources.url_cache_dir(server.url + "/m/")
    assert not (directory / "model.safetensors").exists() and not (directory / sources.MANIFEST).exists()
    assert not list(directory.glob("*.part"))


def test_server_error_then_retry_later_succeeds(server):
    server.fail.add("/m/model.safetensors")
    with pytest.raises(DownloadError, match=r"HTTP 500.*gave up after 3 attempts"):
        resolve(server.url + "/m/")
    assert len(server.gets("/m/model.safetensors")) == transfer.ATTEMPTS
    server.fail.clear()
    directory = resolve(server.url + "/m/")
    assert Codec.from_pretrained(directory).num_codebooks == 4


def test_offline(server, monkeypatch):
    with pytest.raises(FileNotFoundError, match=r"offline: .* not .*in the cache"):
        resolve(server.url + "/m/", offline=True)
    directory = resolve(server.url + "/m/")
    count = len(server.requests)
    monkeypatch.setenv("CODEC_OFFLINE", "1")
    assert resolve(server.url + "/m/") == directory
    assert len(server.requests) == count


def test_tampered_cache_is_downloaded_again(server, checkpoint, tmp_path):
    reg = write_registry(tmp_path / "r.json", {"tiny": entry(server.url + "/m/", checkpoint)})
    directory = resolve("tiny", registry=reg)
    weights = directory / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:-1] + b"x")
    with pytest.raises(ChecksumError, match=r"model\.safetensors: sha256 mismatch.*offline"):
        resolve("tiny", registry=reg, offline=True)
    with pytest.warns(UserWarning, match="deleting it and downloading it again"):
        assert resolve("tiny", registry=reg) == directory
    assert weights.read_bytes() == checkpoint["model.safetensors"]
    weights.write_bytes(b"tampered")  # and now the server serves a tampered file too
    server.files["/m/model.safetensors"] = b"tampered!"
    expected = sha(checkpoint["model.safetensors"])
    with pytest.warns(UserWarning), pytest.raises(ChecksumError, match=f"expected {expected}"):
        resolve("tiny", registry=reg)
    assert not weights.exists()


def test_registry_name_from_env_and_cli(server, checkpoint, tmp_path, monkeypatch, capsys):
    reg = write_registry(tmp_path / "r.json", {"tiny-speech": entry(server.url + "/m/", checkpoint)})
    monkeypatch.setenv("CODEC_REGISTRY", str(reg))
    assert download_cmd.run(parse(["download", "tiny-speech"])) == 0
    directory = Path(capsys.readouterr().out.strip())
    assert Codec.from_pretrained("tiny-speech").model_id.startswith("tiny-frame-vocoder@")
    assert directory == sources.url_cache_dir(server.url + "/m/")
    assert download_cmd.run(parse(["download", "--list"])) == 0
    listing = capsys.readouterr().out
    assert "tiny-speech" in listing and "speechcodec-16k-50hz" in listing and "MIT" in listing
    with pytest.raises(FileNotFoundError, match=r"registered: .*tiny-speech"):
        resolve("no-such-model")


def test_cli_offline_error_exit_code(server, capsys):
    server.fail.add("/m/checksums.json")
    assert download_cmd.run(parse(["download", server.url + "/m/"])) == 2
    assert "HTTP 500" in capsys.readouterr().err
    with pytest.raises(FileNotFoundError, match="offline"):
        download_cmd.run(parse(["download", server.url + "/m/", "--offline"]))


def test_pickle_weights_are_refused(server, checkpoint, tmp_path):
    torch.save({"w": torch.zeros(2)}, tmp_path / "w.pt")
    server.files["/p/config.json"] = checkpoint["config.json"]
    server.files["/p/model.safetensors"] = (tmp_path / "w.pt").read_bytes()
    with pytest.warns(UserWarning), pytest.raises(ValueError, match="pickle"):
        Codec.from_pretrained(server.url + "/p/")


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    download_cmd.add_parser(parser.add_subparsers(dest="command"))
    return parser.parse_args(argv)


# ---- registry files --------------------------------------------------------------------------
def test_packaged_registry_is_valid():
    assert registry.PACKAGED_REGISTRY.is_file()
    assert isinstance(registry.read_registry(registry.PACKAGED_REGISTRY), dict)


@pytest.mark.parametrize(
    "models, message",
    [
        ({"a": {"source": "ftp://x/", "files": {}}}, "expected hf://"),
        ({"a": {"source": "https://x/", "files": {"config.json": "0" * 64}}}, "missing \\['model.safetensors'\\]"),
        (
            {"a": {"source": "https://x/", "files": {"config.json": "0" * 64, "model.safetensors": "xyz"}}},
            "64 lowercase hex",
        ),
        (
            {
                "a": {
                    "source": "https://x/",
                    "files": {"config.json": "0" * 64, "model.safetensors": "0" * 64, "../evil": "0" * 64},
                }
            },
            "plain name",
        ),
        ({"a": {"source": "hf://org/repo", "files": {}}}, "pin a revision"),
        ({"a": {"source": "package:", "files": {}, "colour": "red"}}, "unknown keys \\['colour'\\]"),
        ({"a/b": {"source": "package:", "files": {}}}, "names use"),
        (
            {
                "a": {
                    "source": "package:",
                    "files": {"config.json": "0" * 64, "model.safetensors": "0" * 64},
                    "sample_rate": "16k",
                }
            },
            "'sample_rate' has the wrong type",
        ),
    ],
)
def test_bad_registry_entries_name_the_file(tmp_path, models, message):
    path = write_registry(tmp_path / "bad.json", models)
    with pytest.raises(ValueError, match=message) as info:
        registry.read_registry(path)
    assert str(path) in str(info.value)


def test_bad_registry_files(tmp_path):
    (tmp_path / "a.json").write_text("{not json")
    with pytest.raises(ValueError, match="not valid JSON"):
        registry.read_registry(tmp_path / "a.json")
    (tmp_path / "b.json").write_text(json.dumps({"format": "other", "models": {}}))
    with pytest.raises(ValueError, match="not a codec registry"):
        registry.read_registry(tmp_path / "b.json")
    with pytest.raises(FileNotFoundError, match="registry file not found"):
        registry.load_registry(tmp_path / "missing.json")


def test_user_entries_override_packaged_and_package_source(tmp_path, checkpoint, monkeypatch):
    package = tmp_path / "pretrained"
    (package / "tiny").mkdir(parents=True)
    for name, data in checkpoint.items():
        (package / "tiny" / name).write_bytes(data)
    monkeypatch.setattr(
        registry,
        "PACKAGED_REGISTRY",
        write_registry(
            tmp_path / "p.json", {"tiny": entry("package:", checkpoint), "other": entry("package:tiny", checkpoint)}
        ),
    )
    monkeypatch.setattr(registry, "PACKAGE_DIR", package)
    user = write_registry(tmp_path / "u.json", {"tiny": entry("https://example.invalid/x/", checkpoint)})
    monkeypatch.setenv("CODEC_REGISTRY", f"{tmp_path / 'nothing-here.json'}")
    with pytest.raises(FileNotFoundError, match=r"nothing-here\.json"):
        registry.load_registry()
    monkeypatch.setenv("CODEC_REGISTRY", str(user))
    assert registry.lookup("tiny").source == "https://example.invalid/x/"
    assert resolve("other") == package / "tiny"
    (package / "tiny" / "model.safetensors").write_bytes(b"changed")
    with pytest.raises(ChecksumError, match=r"model\.safetensors: sha256 mismatch.*reinstall"):
        resolve("other")


def test_local_directories_resolve_as_before(tmp_path, checkpoint):
    (tmp_path / "c").mkdir()
    (tmp_path / "c" / "config.json").write_bytes(checkpoint["config.json"])
    assert resolve(tmp_path / "c") == tmp_path / "c"
    assert resolve(tmp_path / "c" / "config.json") == tmp_path / "c"
    with pytest.raises(FileNotFoundError, match=r"no config\.json"):
        resolve(tmp_path)
    with pytest.raises(FileNotFoundError, match="no checkpoint directory at this path"):
        resolve(tmp_path / "missing")


# ---- hf:// ------------------------------------------------------------------------------------
def test_parse_hf():
    assert registry.parse_hf("hf://org/repo@v1.0") == ("org/repo", "v1.0")
    assert registry.parse_hf("hf://org/repo") == ("org/repo", None)
    for bad in ("hf://org", "hf://org/repo/extra", "hf://org/repo@", "hf:///repo", "hf://org/../x"):
        with pytest.raises(ValueError, match="hf://org/repo"):
            registry.parse_hf(bad)


def test_hf_snapshot_arguments_and_offline(tmp_path, checkpoint, monkeypatch):
    calls = []
    snap = tmp_path / "snap"
    snap.mkdir()
    for name, data in checkpoint.items():
        (snap / name).write_bytes(data)

    def fake_snapshot_download(repo_id, **kwargs):
        calls.append((repo_id, kwargs))
        if kwargs["local_files_only"] and not kwargs.get("force_download"):
            raise FileNotFoundError("not cached")
        return str(snap)

    import huggingface_hub

    monkeypatch.setattr(huggingface_hub, "snapshot_download", fake_snapshot_download)
    assert resolve("hf://org/repo@abc123") == snap
    assert calls[-1][0] == "org/repo" and calls[-1][1]["revision"] == "abc123"
    with pytest.raises(FileNotFoundError, match="hf://org/repo@abc123: not in the Hugging Face cache"):
        resolve("hf://org/repo@abc123", offline=True)
    reg = write_registry(tmp_path / "r.json", {"hf-tiny": entry("hf://org/repo@abc123", checkpoint)})
    assert resolve("hf-tiny", registry=reg, cache_dir=tmp_path / "c") == snap
    assert calls[-1][1]["allow_patterns"] == ["config.json", "model.safetensors"]
    assert calls[-1][1]["cache_dir"] == str(tmp_path / "c" / "huggingface")


def test_hf_without_huggingface_hub(monkeypatch):
    monkeypatch.setitem(sys.modules, "huggingface_hub", None)
    with pytest.raises(ImportError, match=r"pip install 'speechcodec\[hub\]'"):
        resolve("hf://org/repo@main")
