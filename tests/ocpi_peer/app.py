"""The peer's server side: the eMSP endpoints Borne calls (FastAPI)."""

from __future__ import annotations

import asyncio
import base64
import binascii
import copy
import json
import re
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from .client import CONFIGURATION_MODULES, OcpiError
from .store import (
    AuthorizeRequest,
    Json,
    ObjectKey,
    ReceivedObjects,
    RecordedRequest,
    ocpi_now,
)

if TYPE_CHECKING:
    from .peer import EmspPeer

PREFIX = "/ocpi/emsp/{version}"


class Reject(Exception):
    """Answer with an OCPI error envelope."""

    def __init__(self, http: int, code: int, message: str, *, with_data: bool = False) -> None:
        super().__init__(message)
        self.http, self.code, self.message, self.with_data = http, code, message, with_data


@dataclass
class Ctx:
    request: Request
    record: RecordedRequest
    version: str
    token: str
    access: str  # "A" or "full"
    where: str


class _NormalisePath:
    """Collapse ``//`` and drop a trailing ``/`` (endpoint URLs may or may not end in ``/``)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            path = re.sub(r"/{2,}", "/", scope["path"])
            if len(path) > 1:
                path = path.rstrip("/")
            scope = {**scope, "path": path, "raw_path": path.encode(), "ocpi_raw": scope["path"]}
        await self.app(scope, receive, send)


def _parse_ts(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value.removesuffix("Z"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def build_app(peer: EmspPeer) -> ASGIApp:
    app = FastAPI(openapi_url=None, docs_url=None, redoc_url=None)

    # ------------------------------------------------------------------------- plumbing

    def reply(
        ctx_or_request: Ctx | Request,
        data: Json = None,
        *,
        code: int = 1000,
        http: int = 200,
        message: str = "Success",
        headers: dict[str, str] | None = None,
        with_data: bool = True,
    ) -> JSONResponse:
        request = ctx_or_request.request if isinstance(ctx_or_request, Ctx) else ctx_or_request
        body: dict[str, Any] = {"status_code": code, "status_message": message}
        if with_data:
            body["data"] = data
        body["timestamp"] = ocpi_now()
        out = dict(headers or {})
        for name in ("X-Request-ID", "X-Correlation-ID"):
            out[name] = request.headers.get(name) or "none"
        record: RecordedRequest | None = getattr(request.state, "record", None)
        if record is not None:
            record.http_status, record.ocpi_status = http, code
        return JSONResponse(body, status_code=http, headers=out)

    @app.exception_handler(Reject)
    async def _on_reject(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, Reject)
        return reply(request, None, code=exc.code, http=exc.http, message=exc.message,
                     with_data=exc.with_data)  # fmt: skip

    def token_of(header: str | None, where: str) -> tuple[str, str]:
        if not header or not header.startswith("Token "):
            raise Reject(401, 2000, "missing Authorization: Token")
        value = header[len("Token ") :].strip()
        try:
            decoded = base64.b64decode(value, validate=True).decode()
        except (binascii.Error, UnicodeDecodeError):
            decoded = None
        if decoded is not None and (access := peer.accepts(decoded)):
            return decoded, access
        if access := peer.accepts(value):
            if peer.accept_raw_tokens:
                return value, access
            peer.violation(where, "credentials token sent raw, not base64-encoded")
        raise Reject(401, 2000, "unknown token")

    async def begin(request: Request, module: str, *, token_a_ok: bool = False) -> Ctx:
        raw_path = str(request.scope.get("ocpi_raw", request.url.path))
        where = f"{request.method} {raw_path}"
        body_bytes = await request.body()
        body: Json = None
        bad_json = False
        if body_bytes:
            try:
                body = json.loads(body_bytes)
            except ValueError:
                body, bad_json = body_bytes.decode(errors="replace"), True
        record = RecordedRequest(
            method=request.method,
            path=raw_path,
            query=dict(request.query_params),
            headers={k.lower(): v for k, v in request.headers.items()},
            body=body,
            received_at=datetime.now(UTC),
            module=module,
        )
        peer.requests.append(record)
        request.state.record = record
        for name in ("x-request-id", "x-correlation-id"):
            if not record.headers.get(name):
                peer.violation(where, f"request without {name}")
        routing = [h for h in record.headers if h.startswith(("ocpi-to-", "ocpi-from-"))]
        if module in CONFIGURATION_MODULES and routing:
            peer.violation(where, f"routing headers on a configuration module: {routing}")
        if module not in CONFIGURATION_MODULES and routing:
            frm = (
                record.headers.get("ocpi-from-country-code"),
                record.headers.get("ocpi-from-party-id"),
            )
            to = (
                record.headers.get("ocpi-to-country-code"),
                record.headers.get("ocpi-to-party-id"),
            )
            parties = peer.cpo_parties()
            if parties and frm not in parties:
                peer.violation(where, f"OCPI-from-* {frm} is not one of the CPO's roles")
            if to != (peer.country_code, peer.party_id):
                peer.violation(where, f"OCPI-to-* {to} is not us")
        version = str(request.path_params.get("version", ""))
        if version and version not in peer.versions:
            raise Reject(404, 2001, f"unsupported version {version}")
        token, access = token_of(request.headers.get("Authorization"), where)
        if access == "A" and not token_a_ok:
            raise Reject(401, 2000, "token A only opens versions and credentials")
        if bad_json:
            raise Reject(400, 2001, "invalid JSON")
        return Ctx(request, record, version, token, access, where)

    def need_valid(ctx: Ctx, module: str, name: str, obj: Json) -> dict[str, Any]:
        if not isinstance(obj, dict):
            peer.violation(ctx.where, f"body is not a {name} object")
            raise Reject(200, 2001, f"body is not a {name} object")
        if not peer.client.check(ctx.where, ctx.version, module, name, obj):
            raise Reject(200, 2001, f"invalid {name}")
        return obj

    def check_party(
        ctx: Ctx, cc: str, pid: str, obj: dict[str, Any], id_field: str, oid: str
    ) -> None:
        problems = []
        if obj.get("country_code") not in (None, cc) or obj.get("party_id") not in (None, pid):
            problems.append("country_code/party_id of body and path differ")
        if obj.get(id_field) not in (None, oid):
            problems.append(f"{id_field} of body and path differ")
        parties = peer.cpo_parties()
        if parties and (cc, pid) not in parties:
            problems.append(f"{cc}/{pid} is not one of the CPO's roles")
        for p in problems:
            peer.violation(ctx.where, p)
        if problems:
            raise Reject(200, 2001, "; ".join(problems))

    def is_stale(stored: Json, incoming: dict[str, Any]) -> bool:
        old = _parse_ts(stored.get("last_updated")) if isinstance(stored, dict) else None
        new = _parse_ts(incoming.get("last_updated"))
        return old is not None and new is not None and new < old

    def store_put(objs: ReceivedObjects, key: ObjectKey, obj: dict[str, Any]) -> None:
        objs.remember(key, obj)
        if is_stale(objs.current.get(key), obj):
            objs.stale[key] = objs.stale.get(key, 0) + 1
            return
        # A copy: later PATCHes change the current state, never what was received (history,
        # requests), which duplicate detection compares against.
        objs.current[key] = copy.deepcopy(obj)

    def store_patch(
        objs: ReceivedObjects,
        key: ObjectKey,
        target: dict[str, Any],
        patch: dict[str, Any],
        history: Json = None,
    ) -> bool:
        objs.remember(key, patch if history is None else history)
        if is_stale(target, patch):
            objs.stale[key] = objs.stale.get(key, 0) + 1
            return False
        target.update(patch)
        return True

    # ------------------------------------------------------------------------- versions

    @app.get("/ocpi/versions")
    async def versions(request: Request) -> JSONResponse:
        ctx = await begin(request, "versions", token_a_ok=True)
        return reply(ctx, [{"version": v, "url": peer.version_url(v)} for v in peer.versions])

    @app.get(PREFIX)
    async def version_details(request: Request, version: str) -> JSONResponse:
        ctx = await begin(request, "versions", token_a_ok=True)
        return reply(ctx, {"version": version, "endpoints": peer.own_endpoints(version)})

    # ---------------------------------------------------------------------- credentials

    async def connect_back(ctx: Ctx, creds: dict[str, Any]) -> None:
        """Fetch the CPO's versions and endpoints with the token it gave us."""
        token_b = str(creds["token"])
        try:
            version, endpoints = await peer.fetch_cpo_endpoints(
                str(creds["url"]), token_b, ctx.version
            )
        except (OcpiError, RuntimeError, KeyError, ValueError, OSError) as exc:
            peer.violation(ctx.where, f"cannot use the CPO's API: {exc}")
            raise Reject(200, 3001, f"unable to use the client's API: {exc}") from None
        peer._adopt(str(creds["url"]), version, endpoints, token_b, creds)

    @app.get(PREFIX + "/credentials")
    async def credentials_get(request: Request, version: str) -> JSONResponse:
        ctx = await begin(request, "credentials", token_a_ok=True)
        return reply(ctx, peer.own_credentials(ctx.token))

    @app.post(PREFIX + "/credentials")
    async def credentials_post(request: Request, version: str) -> JSONResponse:
        ctx = await begin(request, "credentials", token_a_ok=True)
        if ctx.access != "A":
            raise Reject(405, 2000, "already registered")
        creds = need_valid(ctx, "credentials", "Credentials", ctx.record.body)
        await connect_back(ctx, creds)
        peer.retire_token_a(ctx.token)
        token_c = f"C-{uuid.uuid4()}"
        peer.server_tokens = {token_c}
        return reply(ctx, peer.own_credentials(token_c))

    @app.put(PREFIX + "/credentials")
    async def credentials_put(request: Request, version: str) -> JSONResponse:
        ctx = await begin(request, "credentials", token_a_ok=True)
        if ctx.access != "full":
            raise Reject(405, 2000, "not registered")
        creds = need_valid(ctx, "credentials", "Credentials", ctx.record.body)
        await connect_back(ctx, creds)
        token_c = f"C-{uuid.uuid4()}"
        peer.server_tokens = {token_c}  # the old one is retired only now, after success
        return reply(ctx, peer.own_credentials(token_c))

    @app.delete(PREFIX + "/credentials")
    async def credentials_delete(request: Request, version: str) -> JSONResponse:
        ctx = await begin(request, "credentials", token_a_ok=True)
        if ctx.access != "full":
            raise Reject(405, 2000, "not registered")
        peer.forget_cpo()
        return reply(ctx, None)

    # ------------------------------------------------------------------------ locations

    LOC = PREFIX + "/locations/{cc}/{pid}/{location_id}"

    def location_of(key: ObjectKey) -> dict[str, Any]:
        loc = peer.locations.current.get(key)
        if not isinstance(loc, dict):
            raise Reject(200, 2003, "unknown location")
        return loc

    def evse_of(loc: dict[str, Any], evse_uid: str) -> dict[str, Any]:
        for evse in loc.get("evses") or []:
            if isinstance(evse, dict) and evse.get("uid") == evse_uid:
                return evse
        raise Reject(200, 2003, f"unknown EVSE {evse_uid}")

    def connector_of(evse: dict[str, Any], connector_id: str) -> dict[str, Any]:
        for conn in evse.get("connectors") or []:
            if isinstance(conn, dict) and conn.get("id") == connector_id:
                return conn
        raise Reject(200, 2003, f"unknown connector {connector_id}")

    def bump(parent: dict[str, Any], child: dict[str, Any]) -> None:
        new = _parse_ts(child.get("last_updated"))
        old = _parse_ts(parent.get("last_updated"))
        if new is not None and (old is None or new > old):
            parent["last_updated"] = child["last_updated"]

    @app.get(LOC)
    async def location_get(
        request: Request, version: str, cc: str, pid: str, location_id: str
    ) -> JSONResponse:
        ctx = await begin(request, "locations")
        return reply(ctx, location_of((cc, pid, location_id)))

    @app.put(LOC)
    async def location_put(
        request: Request, version: str, cc: str, pid: str, location_id: str
    ) -> JSONResponse:
        ctx = await begin(request, "locations")
        obj = need_valid(ctx, "locations", "Location", ctx.record.body)
        check_party(ctx, cc, pid, obj, "id", location_id)
        store_put(peer.locations, (cc, pid, location_id), obj)
        return reply(ctx, None)

    @app.patch(LOC)
    async def location_patch(
        request: Request, version: str, cc: str, pid: str, location_id: str
    ) -> JSONResponse:
        ctx = await begin(request, "locations")
        patch = need_valid(ctx, "locations", "LocationPatch", ctx.record.body)
        check_party(ctx, cc, pid, patch, "id", location_id)
        key = (cc, pid, location_id)
        store_patch(peer.locations, key, location_of(key), patch)
        return reply(ctx, None)

    @app.put(LOC + "/{evse_uid}")
    async def evse_put(
        request: Request, version: str, cc: str, pid: str, location_id: str, evse_uid: str
    ) -> JSONResponse:
        ctx = await begin(request, "locations")
        obj = need_valid(ctx, "locations", "EVSE", ctx.record.body)
        check_party(ctx, cc, pid, {"uid": obj.get("uid")}, "uid", evse_uid)
        key = (cc, pid, location_id)
        loc = location_of(key)
        peer.locations.remember(key, {"evse": obj})
        evses = [
            e
            for e in loc.get("evses") or []
            if not (isinstance(e, dict) and e.get("uid") == evse_uid)
        ]
        loc["evses"] = [*evses, copy.deepcopy(obj)]
        bump(loc, obj)
        return reply(ctx, None)

    @app.patch(LOC + "/{evse_uid}")
    async def evse_patch(
        request: Request, version: str, cc: str, pid: str, location_id: str, evse_uid: str
    ) -> JSONResponse:
        ctx = await begin(request, "locations")
        patch = need_valid(ctx, "locations", "EVSEPatch", ctx.record.body)
        key = (cc, pid, location_id)
        loc = location_of(key)
        evse = evse_of(loc, evse_uid)
        if store_patch(peer.locations, key, evse, patch, {"evse": evse_uid, **patch}):
            bump(loc, evse)
        return reply(ctx, None)

    @app.get(LOC + "/{evse_uid}")
    async def evse_get(
        request: Request, version: str, cc: str, pid: str, location_id: str, evse_uid: str
    ) -> JSONResponse:
        ctx = await begin(request, "locations")
        return reply(ctx, evse_of(location_of((cc, pid, location_id)), evse_uid))

    @app.put(LOC + "/{evse_uid}/{connector_id}")
    async def connector_put(
        request: Request,
        version: str,
        cc: str,
        pid: str,
        location_id: str,
        evse_uid: str,
        connector_id: str,
    ) -> JSONResponse:
        ctx = await begin(request, "locations")
        obj = need_valid(ctx, "locations", "Connector", ctx.record.body)
        check_party(ctx, cc, pid, {"id": obj.get("id")}, "id", connector_id)
        key = (cc, pid, location_id)
        loc = location_of(key)
        evse = evse_of(loc, evse_uid)
        peer.locations.remember(key, {"evse": evse_uid, "connector": obj})
        conns = [
            c
            for c in evse.get("connectors") or []
            if not (isinstance(c, dict) and c.get("id") == connector_id)
        ]
        evse["connectors"] = [*conns, copy.deepcopy(obj)]
        bump(evse, obj)
        bump(loc, obj)
        return reply(ctx, None)

    @app.patch(LOC + "/{evse_uid}/{connector_id}")
    async def connector_patch(
        request: Request,
        version: str,
        cc: str,
        pid: str,
        location_id: str,
        evse_uid: str,
        connector_id: str,
    ) -> JSONResponse:
        ctx = await begin(request, "locations")
        patch = need_valid(ctx, "locations", "ConnectorPatch", ctx.record.body)
        key = (cc, pid, location_id)
        loc = location_of(key)
        evse = evse_of(loc, evse_uid)
        conn = connector_of(evse, connector_id)
        history = {"evse": evse_uid, "connector": connector_id, **patch}
        if store_patch(peer.locations, key, conn, patch, history):
            bump(evse, conn)
            bump(loc, conn)
        return reply(ctx, None)

    @app.get(LOC + "/{evse_uid}/{connector_id}")
    async def connector_get(
        request: Request,
        version: str,
        cc: str,
        pid: str,
        location_id: str,
        evse_uid: str,
        connector_id: str,
    ) -> JSONResponse:
        ctx = await begin(request, "locations")
        evse = evse_of(location_of((cc, pid, location_id)), evse_uid)
        return reply(ctx, connector_of(evse, connector_id))

    # -------------------------------------------------------------------------- tariffs

    TAR = PREFIX + "/tariffs/{cc}/{pid}/{tariff_id}"

    @app.get(TAR)
    async def tariff_get(
        request: Request, version: str, cc: str, pid: str, tariff_id: str
    ) -> JSONResponse:
        ctx = await begin(request, "tariffs")
        obj = peer.tariffs.current.get((cc, pid, tariff_id))
        if obj is None:
            raise Reject(404, 2001, "unknown tariff")
        return reply(ctx, obj)

    @app.put(TAR)
    async def tariff_put(
        request: Request, version: str, cc: str, pid: str, tariff_id: str
    ) -> JSONResponse:
        ctx = await begin(request, "tariffs")
        obj = need_valid(ctx, "tariffs", "Tariff", ctx.record.body)
        check_party(ctx, cc, pid, obj, "id", tariff_id)
        store_put(peer.tariffs, (cc, pid, tariff_id), obj)
        return reply(ctx, None)

    @app.delete(TAR)
    async def tariff_delete(
        request: Request, version: str, cc: str, pid: str, tariff_id: str
    ) -> JSONResponse:
        ctx = await begin(request, "tariffs")
        key = (cc, pid, tariff_id)
        if peer.tariffs.current.pop(key, None) is None:
            raise Reject(404, 2001, "unknown tariff")
        peer.tariffs.deleted.append(key)
        return reply(ctx, None)

    # ------------------------------------------------------------------------- sessions

    SES = PREFIX + "/sessions/{cc}/{pid}/{session_id}"

    @app.get(SES)
    async def session_get(
        request: Request, version: str, cc: str, pid: str, session_id: str
    ) -> JSONResponse:
        ctx = await begin(request, "sessions")
        obj = peer.sessions.current.get((cc, pid, session_id))
        if obj is None:
            raise Reject(404, 2001, "unknown session")
        return reply(ctx, obj)

    @app.put(SES)
    async def session_put(
        request: Request, version: str, cc: str, pid: str, session_id: str
    ) -> JSONResponse:
        ctx = await begin(request, "sessions")
        obj = need_valid(ctx, "sessions", "Session", ctx.record.body)
        check_party(ctx, cc, pid, obj, "id", session_id)
        store_put(peer.sessions, (cc, pid, session_id), obj)
        return reply(ctx, None)

    @app.patch(SES)
    async def session_patch(
        request: Request, version: str, cc: str, pid: str, session_id: str
    ) -> JSONResponse:
        ctx = await begin(request, "sessions")
        patch = need_valid(ctx, "sessions", "SessionPatch", ctx.record.body)
        check_party(ctx, cc, pid, patch, "id", session_id)
        key = (cc, pid, session_id)
        target = peer.sessions.current.get(key)
        if not isinstance(target, dict):
            peer.violation(ctx.where, "PATCH of a session never PUT")
            raise Reject(200, 2001, "unknown session")
        store_patch(peer.sessions, key, target, patch)
        return reply(ctx, None)

    # ----------------------------------------------------------------------------- cdrs

    @app.post(PREFIX + "/cdrs")
    async def cdr_post(request: Request, version: str) -> JSONResponse:
        ctx = await begin(request, "cdrs")
        obj = need_valid(ctx, "cdrs", "CDR", ctx.record.body)
        cc, pid, cdr_id = str(obj["country_code"]), str(obj["party_id"]), str(obj["id"])
        check_party(ctx, cc, pid, obj, "id", cdr_id)
        key = (cc, pid, cdr_id)
        local_id = f"{cc}-{pid}-{cdr_id}"
        peer.cdrs.remember(key, obj)
        if key in peer.cdrs.current:
            if peer.cdrs.duplicates.get(key, 0) == 0:
                peer.violation(ctx.where, f"CDR {cdr_id} posted again with a different body")
                peer.cdrs.duplicates[key] = 1
        else:
            peer.cdrs.current[key] = obj
            peer.cdr_locations[local_id] = key
        location = f"{peer.version_url(version)}/cdrs/{local_id}"
        return reply(ctx, None, headers={"Location": location})

    @app.get(PREFIX + "/cdrs/{local_id}")
    async def cdr_get(request: Request, version: str, local_id: str) -> JSONResponse:
        ctx = await begin(request, "cdrs")
        key = peer.cdr_locations.get(local_id)
        if key is None:
            raise Reject(404, 2001, "unknown CDR")
        return reply(ctx, peer.cdrs.current[key])

    # --------------------------------------------------------------------------- tokens

    @app.get(PREFIX + "/tokens")
    async def tokens_list(request: Request, version: str) -> JSONResponse:
        ctx = await begin(request, "tokens")
        q = request.query_params
        items = sorted(peer.tokens.values(), key=lambda t: str(t.get("last_updated")))
        frm, to = _parse_ts(q.get("date_from")), _parse_ts(q.get("date_to"))
        items = [
            t for t in items
            if (frm is None or (_parse_ts(t.get("last_updated")) or frm) >= frm)
            and (to is None or (_parse_ts(t.get("last_updated")) or to) < to)
        ]  # fmt: skip
        try:
            offset = int(q.get("offset", "0"))
            limit = min(int(q.get("limit", "50")), 50)
        except ValueError:
            raise Reject(200, 2001, "invalid offset/limit") from None
        page = items[offset : offset + limit]
        headers = {"X-Total-Count": str(len(items)), "X-Limit": str(limit)}
        if offset + limit < len(items):
            params = {k: v for k, v in q.items() if k not in ("offset", "limit")}
            params.update(offset=str(offset + limit), limit=str(limit))
            headers["Link"] = (
                f'<{peer.version_url(version)}/tokens?{urlencode(params)}>; rel="next"'
            )
        return reply(ctx, page, headers=headers)

    @app.post(PREFIX + "/tokens/{uid}/authorize")
    async def authorize(request: Request, version: str, uid: str) -> JSONResponse:
        ctx = await begin(request, "tokens")
        token_type = request.query_params.get("type", "RFID")
        body = ctx.record.body
        if body is not None:
            need_valid(ctx, "tokens", "LocationReferences", body)
        rule = peer.authorize_rules.get(uid)
        entry = AuthorizeRequest(uid, token_type, body, None)
        peer.authorize_requests.append(entry)
        if rule is None:
            return reply(ctx, code=2004, http=peer.unknown_token_http_status,
                         message="Unknown Token", with_data=False)  # fmt: skip
        if rule.hang:
            await peer.stopping.wait()
            await asyncio.sleep(3600)
        if rule.delay:
            await asyncio.sleep(rule.delay)
        token = next(
            (t for (u, ty), t in peer.tokens.items() if u == uid and ty == token_type), None
        ) or peer.make_token(uid, token_type)
        info: dict[str, Any] = {"allowed": rule.allowed, "token": token}
        if rule.authorization_reference is not None:
            info["authorization_reference"] = rule.authorization_reference
        if rule.location is not None:
            info["location"] = rule.location
        elif isinstance(body, dict):
            info["location"] = body
        if rule.info is not None:
            info["info"] = {"language": "en", "text": rule.info}
        entry.answered_allowed = rule.allowed
        return reply(ctx, info)

    # ------------------------------------------------------------------------- commands

    @app.post(PREFIX + "/commands/{command}/{uid}")
    async def command_result(
        request: Request, version: str, command: str, uid: str
    ) -> JSONResponse:
        ctx = await begin(request, "commands")
        obj = need_valid(ctx, "commands", "CommandResult", ctx.record.body)
        record = peer.commands.get(uid)
        if record is None or record.command != command:
            peer.violation(ctx.where, f"CommandResult for an unknown command {command}/{uid}")
            raise Reject(404, 2001, "unknown command")
        if record.results:
            peer.violation(ctx.where, f"CommandResult for {command}/{uid} received again")
        record.results.append(obj)
        record.result_event.set()
        return reply(ctx, None)

    return _NormalisePath(app)
