"""A model hub on 127.0.0.1 that answers as the Hugging Face Hub does for what huggingface_hub
asks when pulling: model info with file sizes and LFS sha256 (``?blobs=true``), the file tree,
and ``resolve/<revision>/<file>`` with the headers it reads (X-Repo-Commit, ETag,
X-Linked-Etag, X-Linked-Size) and byte ranges. It can cut a download short or serve altered
bytes, to test what a pull does then."""

from __future__ import annotations

import hashlib
import json
import re
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import numpy as np

COMMIT = "0123456789abcdef0123456789abcdef01234567"
RESOLVE = re.compile(r"^/(?P<repo>[^/]+/[^/]+)/resolve/(?P<rev>[^/]+)/(?P<path>.+)$")
INFO = re.compile(r"^/api/models/(?P<repo>[^/]+/[^/]+?)(?:/revision/(?P<rev>[^/]+))?$")
TREE = re.compile(r"^/api/models/(?P<repo>[^/]+/[^/]+)/tree/(?P<rev>[^/]+)(?:/(?P<path>.*))?$")


def write_tiny_gguf(path: Path, name: str, tensor_bytes: int = 1 << 20, **extra: int) -> Path:
    """A small but valid GGUF file (llama architecture metadata and one tensor of noise)."""
    import gguf

    writer = gguf.GGUFWriter(str(path), "llama")
    writer.add_name(name)
    writer.add_context_length(256)
    for key, value in extra.items():
        writer.add_uint32(key, value)
    noise = np.random.default_rng(len(name)).integers(0, 255, tensor_bytes, dtype=np.uint8)
    writer.add_tensor("noise", noise.astype(np.int8))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return path


def git_blob_id(data: bytes) -> str:
    """The id git gives a file's content."""
    return hashlib.sha1(b"blob %d\0" % len(data) + data, usedforsecurity=False).hexdigest()


@dataclass
class HostedFile:
    """A file in a hosted repository; ``lfs`` files are described by their sha256."""

    source: Path
    lfs: bool = True

    def data(self) -> bytes:
        return self.source.read_bytes()


@dataclass
class ModelHubServer:
    """Holds repositories (name -> path in repo -> file) and serves them on a free port."""

    repos: dict[str, dict[str, HostedFile]] = field(default_factory=dict)
    cut_after: dict[str, int] = field(default_factory=dict)  # path -> bytes sent, then close (once)
    altered: set[str] = field(default_factory=set)  # paths served with one byte changed
    requests: list[tuple[str, str, str | None]] = field(default_factory=list)  # method, path, range
    _server: ThreadingHTTPServer | None = None
    _digests: dict[Path, tuple[str, str]] = field(default_factory=dict)

    @property
    def url(self) -> str:
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def digests(self, hosted: HostedFile) -> tuple[str, str]:
        """(sha256, git blob id) of a hosted file, computed once."""
        if hosted.source not in self._digests:
            data = hosted.data()
            self._digests[hosted.source] = (hashlib.sha256(data).hexdigest(), git_blob_id(data))
        return self._digests[hosted.source]

    def start(self) -> ModelHubServer:
        hub = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_HEAD(self) -> None:
                self.answer(send_body=False)

            def do_GET(self) -> None:
                self.answer(send_body=True)

            def answer(self, send_body: bool) -> None:
                path = unquote(urlsplit(self.path).path)
                hub.requests.append((self.command, path, self.headers.get("Range")))
                if match := RESOLVE.match(path):
                    self.resolve(match["repo"], match["path"], send_body)
                elif match := TREE.match(path):
                    self.tree(match["repo"], match["path"] or "")
                elif match := INFO.match(path):
                    self.info(match["repo"], "blobs=true" in self.path)
                else:
                    self.error(404, "RepoNotFound", "no such route")

            def error(self, status: int, code: str, message: str, commit: bool = False) -> None:
                body = json.dumps({"error": message}).encode()
                self.send_response(status)
                self.send_header("X-Error-Code", code)
                self.send_header("X-Error-Message", message)
                if commit:
                    self.send_header("X-Repo-Commit", COMMIT)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def json(self, data: Any) -> None:
                body = json.dumps(data).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def sibling(self, name: str, hosted: HostedFile) -> dict[str, Any]:
                sha, blob = hub.digests(hosted)
                size = hosted.source.stat().st_size
                item: dict[str, Any] = {"rfilename": name, "size": size, "blobId": blob}
                if hosted.lfs:
                    item["lfs"] = {"size": size, "sha256": sha, "pointerSize": 134}
                return item

            def info(self, repo: str, blobs: bool) -> None:
                files = hub.repos.get(repo)
                if files is None:
                    self.error(401, "RepoNotFound", "Repository not found")
                    return
                siblings = [
                    self.sibling(name, hosted) if blobs else {"rfilename": name}
                    for name, hosted in sorted(files.items())
                ]
                self.json(
                    {
                        "_id": "1",
                        "id": repo,
                        "modelId": repo,
                        "sha": COMMIT,
                        "private": False,
                        "tags": ["gguf"],
                        "siblings": siblings,
                    }
                )

            def tree(self, repo: str, prefix: str) -> None:
                files = hub.repos.get(repo)
                if files is None:
                    self.error(401, "RepoNotFound", "Repository not found")
                    return
                entries = []
                for name, hosted in sorted(files.items()):
                    if prefix and not name.startswith(prefix.rstrip("/") + "/"):
                        continue
                    sha, blob = hub.digests(hosted)
                    size = hosted.source.stat().st_size
                    entry: dict[str, Any] = {"type": "file", "oid": blob, "size": size}
                    entry["path"] = name
                    if hosted.lfs:
                        entry["lfs"] = {"oid": sha, "size": size, "pointerSize": 134}
                    entries.append(entry)
                self.json(entries)

            def resolve(self, repo: str, name: str, send_body: bool) -> None:
                files = hub.repos.get(repo)
                if files is None:
                    self.error(401, "RepoNotFound", "Repository not found")
                    return
                hosted = files.get(name)
                if hosted is None:
                    self.error(404, "EntryNotFound", f"{name} does not exist", commit=True)
                    return
                data = hosted.data()
                if name in hub.altered:
                    data = data[:-1] + bytes([data[-1] ^ 0xFF])
                sha, blob = hub.digests(hosted)
                etag = sha if hosted.lfs else blob
                start = 0
                if match := re.match(r"bytes=(\d+)-$", self.headers.get("Range") or ""):
                    start = int(match[1])
                body = data[start:]
                self.send_response(206 if start else 200)
                self.send_header("X-Repo-Commit", COMMIT)
                self.send_header("ETag", f'"{etag}"')
                if hosted.lfs:
                    self.send_header("X-Linked-Etag", f'"{etag}"')
                    self.send_header("X-Linked-Size", str(len(data)))
                self.send_header("Accept-Ranges", "bytes")
                if start:
                    self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
                self.send_header("Content-Length", str(len(body)))
                self.send_header("Content-Type", "application/octet-stream")
                self.end_headers()
                if not send_body:
                    return
                cut = hub.cut_after.pop(name, None)
                if cut is not None:
                    self.wfile.write(body[:cut])
                    self.wfile.flush()
                    self.close_connection = True
                    return
                self.wfile.write(body)

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
