"""The HTTP endpoint stations upload their logs to: ``/uploads/{token}/[filename]``.

Mounted at the root of the operator API server, outside ``/api/v1``: stations cannot send the
operator's API key. The per-request token in the URL is the credential (256 random bits, only
its SHA-256 stored, expiring); an unknown or expired token is refused with 403 without saying
which. OCPP stations upload with HTTP PUT (raw body, file name in the path) or POST (raw body or
``multipart/form-data``, whose first part with a file name is kept). FTP is not served.

The body is streamed to disk (``uploads_dir``), never held in memory, and cut off with 413 past
``upload_max_bytes``. A new upload for the same request replaces the previous file (a station
retrying after a lost answer). No database session is held while the body is read.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
import re
import secrets
from email.message import Message
from pathlib import Path
from typing import IO

from fastapi import APIRouter, Request, Response
from pydantic import BaseModel
from starlette.requests import ClientDisconnect

from borne.api_context import get_context
from borne.api_errors import error_response, error_responses
from borne.diagnostics import store
from borne.diagnostics.config import DiagnosticsConfig
from borne.diagnostics.service import token_hash

log = logging.getLogger(__name__)

_MAX_HEADER_BLOCK = 16 * 1024
_UNSAFE = re.compile(r"[^A-Za-z0-9._+-]")


class UploadOut(BaseModel):
    size: int
    sha256: str


class _TooLarge(Exception):
    pass


class _BadMultipart(Exception):
    pass


def _header_param(header: str, value: str, param: str) -> str | None:
    msg = Message()
    msg[header] = value
    if param == "filename":
        return msg.get_filename()
    got = msg.get_param(param, header=header)
    return got if isinstance(got, str) else None


def safe_filename(name: str | None) -> str | None:
    """The last path segment, reduced to harmless characters (it is only ever metadata)."""
    if not name:
        return None
    base = name.replace("\\", "/").rstrip("/").rsplit("/", 1)[-1]
    cleaned = _UNSAFE.sub("_", base).lstrip(".")[:255]
    return cleaned or None


class MultipartFile:
    """Streams the first part that has a file name out of a ``multipart/form-data`` body."""

    def __init__(self, boundary: str) -> None:
        self._delim = b"\r\n--" + boundary.encode("latin-1")
        self._buf = b"\r\n"  # the body's first delimiter has no CRLF before it
        self._state = "skip"  # skip | after | headers | body | done
        self._selected = False
        self.found = False
        self.filename: str | None = None
        self.content_type: str | None = None

    def feed(self, chunk: bytes) -> list[bytes]:
        """The selected part's bytes found in ``chunk`` (with what was buffered before)."""
        self._buf += chunk
        out: list[bytes] = []
        while self._step(out):
            pass
        return out

    def _step(self, out: list[bytes]) -> bool:
        """One state transition; False when more input is needed."""
        if self._state == "done":
            self._buf = b""
            return False
        if self._state in ("skip", "body"):
            i = self._buf.find(self._delim)
            emit = self._state == "body" and self._selected
            if i < 0:
                keep = len(self._delim) - 1
                if emit and len(self._buf) > keep:
                    out.append(self._buf[:-keep])
                self._buf = self._buf[-keep:]
                return False
            if emit:
                out.append(self._buf[:i])
                self._state = "done"
                return True
            self._buf = self._buf[i + len(self._delim) :]
            self._state = "after"
            return True
        if self._state == "after":
            if len(self._buf) < 2:
                return False
            if self._buf.startswith(b"--"):
                self._state = "done"
                return True
            eol = self._buf.find(b"\r\n")  # transport padding may precede the CRLF
            if eol < 0:
                return False
            self._buf = self._buf[eol:]  # keep the CRLF: an empty header block starts with it
            self._state = "headers"
            return True
        # headers: the block between the delimiter line's CRLF and the blank line
        end = self._buf.find(b"\r\n\r\n")
        if end < 0:
            if len(self._buf) > _MAX_HEADER_BLOCK:
                raise _BadMultipart("part headers too long")
            return False
        block, self._buf = self._buf[2:end], self._buf[end + 4 :]
        filename = content_type = None
        for line in block.decode("utf-8", "replace").split("\r\n"):
            name, _, value = line.partition(":")
            key = name.strip().lower()
            if key == "content-disposition":
                filename = _header_param("content-disposition", value.strip(), "filename")
            elif key == "content-type":
                content_type = value.strip()
        if filename is not None and not self.found:
            self.found = self._selected = True
            self.filename, self.content_type = filename, content_type
        self._state = "body"
        return True


async def _receive(
    request: Request, sink: IO[bytes], config: DiagnosticsConfig
) -> tuple[int, str, str | None, str | None]:
    """Stream the body into ``sink``: (size, sha256, multipart file name, content type)."""
    content_type = request.headers.get("content-type")
    parser: MultipartFile | None = None
    if content_type and content_type.lower().startswith("multipart/"):
        boundary = _header_param("content-type", content_type, "boundary")
        if not boundary or len(boundary) > 200:
            raise _BadMultipart("multipart body without a boundary")
        parser = MultipartFile(boundary)
    digest = hashlib.sha256()
    received = size = 0
    async for chunk in request.stream():
        received += len(chunk)
        if received > config.upload_max_bytes:
            raise _TooLarge
        pieces = [chunk] if parser is None else parser.feed(chunk)
        for piece in pieces:
            if piece:
                digest.update(piece)
                size += len(piece)
                await asyncio.to_thread(sink.write, piece)
    if parser is None:
        return size, digest.hexdigest(), None, content_type
    if not parser.found:
        raise _BadMultipart("no part with a file name")
    return size, digest.hexdigest(), parser.filename, parser.content_type


def _open_part(directory: Path, name: str) -> IO[bytes]:
    directory.mkdir(parents=True, exist_ok=True)
    return (directory / name).open("xb")


def build_upload_router(config: DiagnosticsConfig) -> APIRouter:
    router = APIRouter(tags=["uploads"], responses=error_responses(400, 403, 413))

    async def upload(request: Request, token: str, filename: str = "") -> Response:
        ctx = get_context(request)
        now = ctx.deps.clock.now()
        async with ctx.deps.db.unit_of_work() as uow:
            target = await store.upload_target(uow, token_hash(token), now)
            pk = None if target is None else target.id
            previous = None if target is None else target.stored_name
        if pk is None:
            return error_response(403, "forbidden", "upload refused: unknown or expired URL")
        declared = request.headers.get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > config.upload_max_bytes:
            return error_response(413, "payload_too_large", "upload larger than allowed")
        directory = config.uploads_dir
        stored = f"log-{pk}-{secrets.token_hex(8)}"
        partial = f".{stored}.part"
        sink = await asyncio.to_thread(_open_part, directory, partial)
        try:
            try:
                size, sha, part_name, content_type = await _receive(request, sink, config)
            finally:
                await asyncio.to_thread(sink.close)
            await asyncio.to_thread(os.replace, directory / partial, directory / stored)
        except _TooLarge:
            return error_response(413, "payload_too_large", "upload larger than allowed")
        except _BadMultipart as exc:
            return error_response(400, "bad_request", f"unreadable multipart body: {exc}")
        except ClientDisconnect:  # the station went away mid-upload: nothing kept, no one to answer
            log.info("log request %d: upload interrupted", pk)
            return Response(status_code=400)
        finally:
            await asyncio.to_thread((directory / partial).unlink, missing_ok=True)
        async with ctx.deps.db.unit_of_work() as uow:
            await store.record_upload(
                uow,
                pk,
                stored_name=stored,
                filename=safe_filename(part_name or filename),
                content_type=content_type,
                size=size,
                sha256=sha,
                at=ctx.deps.clock.now(),
            )
            await uow.commit()
        if previous:  # replaced by this upload
            await asyncio.to_thread((directory / previous).unlink, missing_ok=True)
        log.info("log request %d: received %d bytes", pk, size)
        return Response(
            UploadOut(size=size, sha256=sha).model_dump_json(),
            status_code=201,
            media_type="application/json",
        )

    methods = ["PUT", "POST"]
    summary = "Receive a log a station uploads (the token in the URL is the credential)"
    router.add_api_route("/uploads/{token}", upload, methods=methods, summary=summary)
    router.add_api_route(
        "/uploads/{token}/{filename:path}", upload, methods=methods, summary=summary
    )
    return router
