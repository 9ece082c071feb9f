"""``EmspPeer``: an independent OCPI eMSP, written from the specification, for end-to-end tests.

It shares no code with Borne (nothing here imports ``borne``). It serves an eMSP node (FastAPI on
uvicorn, 127.0.0.1, ephemeral port kept across :meth:`EmspPeer.stop`/:meth:`EmspPeer.start`) and
talks to a CPO as an eMSP platform would (httpx). Everything it receives is validated against the
official OpenAPI schemas; deviations land in :attr:`EmspPeer.violations`.
"""

from __future__ import annotations

import asyncio
import socket
import uuid
from collections.abc import Callable
from types import TracebackType
from typing import Any

import httpx
import uvicorn

from .app import build_app
from .client import OcpiClient, OcpiError, OcpiResponse, join_url
from .schemas import SchemaLibrary
from .store import (
    AuthorizeRequest,
    AuthorizeRule,
    CommandRecord,
    Json,
    PullReport,
    ReceivedObjects,
    RecordedRequest,
    Violation,
    ocpi_now,
)

SUPPORTED_VERSIONS = ("2.2.1", "2.3.0")

#: The eMSP role's endpoints: (module identifier, interface role).
EMSP_ENDPOINTS: tuple[tuple[str, str], ...] = (
    ("credentials", "SENDER"),
    ("credentials", "RECEIVER"),
    ("locations", "RECEIVER"),
    ("tariffs", "RECEIVER"),
    ("sessions", "RECEIVER"),
    ("cdrs", "RECEIVER"),
    ("tokens", "SENDER"),
    ("commands", "SENDER"),
)


class EmspPeer:
    """An eMSP platform holding its state in memory.

    Use as ``async with EmspPeer() as peer:``; ``peer.base_url`` is then live.
    """

    def __init__(
        self,
        *,
        country_code: str = "DE",
        party_id: str = "EMP",
        name: str = "Peer eMSP",
        versions: tuple[str, ...] = SUPPORTED_VERSIONS,
        raw_token: bool = False,
        accept_raw_tokens: bool = False,
        ocpi_dir: Any = None,
        host: str = "127.0.0.1",
        request_timeout: float = 10.0,
    ) -> None:
        self.country_code = country_code
        self.party_id = party_id
        self.name = name
        self.versions = versions
        #: Send ``Authorization: Token <raw>`` instead of base64 (pre-2.2 style).
        self.raw_token = raw_token
        #: Accept a raw (not base64) token from Borne; otherwise answer 401 and record it.
        self.accept_raw_tokens = accept_raw_tokens
        self.host = host
        self.request_timeout = request_timeout
        #: HTTP status of "unknown token" answers to authorize (the body says 2004).
        self.unknown_token_http_status = 404

        self.schemas = SchemaLibrary(ocpi_dir)
        self.violations: list[Violation] = []
        self.requests: list[RecordedRequest] = []

        # Credentials state.
        self.pending_token_a: set[str] = set()
        self.server_tokens: set[str] = set()  # tokens Borne may use to call us
        self.client_token: str | None = None  # token we use to call Borne
        self.cpo_versions_url: str | None = None
        self.version: str | None = None  # negotiated version
        self.cpo_endpoints: dict[tuple[str, str], str] = {}
        self.cpo_credentials: Json = None  # Borne's Credentials object (roles, url)

        # What Borne pushed to us.
        self.locations = ReceivedObjects()
        self.tariffs = ReceivedObjects()
        self.sessions = ReceivedObjects()
        self.cdrs = ReceivedObjects()
        self.cdr_locations: dict[str, tuple[str, str, str]] = {}  # our local id -> key

        # Tokens we own, and real-time authorization.
        self.tokens: dict[tuple[str, str], Json] = {}  # (uid, type) -> Token
        self.authorize_rules: dict[str, AuthorizeRule] = {}
        self.authorize_requests: list[AuthorizeRequest] = []

        # Commands we sent.
        self.commands: dict[str, CommandRecord] = {}
        self.last_pull: PullReport | None = None

        self._port: int | None = None
        self._server: uvicorn.Server | None = None
        self._task: asyncio.Task[None] | None = None
        self._http: httpx.AsyncClient | None = None
        self._client: OcpiClient | None = None
        self.stopping = asyncio.Event()
        self._app = build_app(self)

    # ------------------------------------------------------------------------------ lifecycle

    async def __aenter__(self) -> EmspPeer:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()
        await self.aclose()

    async def start(self) -> None:
        """Serve on 127.0.0.1; the first start picks a free port, later starts reuse it."""
        if self._server is not None:
            return
        if self._http is None:
            self._http = httpx.AsyncClient(timeout=self.request_timeout)
            self._client = OcpiClient(
                self._http,
                self.schemas,
                self.violations,
                own_party=(self.country_code, self.party_id),
                raw_token=self.raw_token,
            )
            self._client.to_party = self._cpo_party()
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((self.host, self._port or 0))
        self._port = sock.getsockname()[1]
        config = uvicorn.Config(
            self._app,
            log_config=None,
            access_log=False,
            lifespan="off",
            timeout_graceful_shutdown=1,
        )
        server = uvicorn.Server(config)
        self.stopping = asyncio.Event()
        task = asyncio.get_running_loop().create_task(server.serve(sockets=[sock]))
        while not server.started:
            if task.done():
                await task
                raise RuntimeError("eMSP peer did not start")
            await asyncio.sleep(0.01)
        self._server, self._task = server, task

    async def stop(self) -> None:
        """Stop serving (connections refused) until :meth:`start`; state is kept."""
        server, task = self._server, self._task
        if server is None or task is None:
            return
        self.stopping.set()
        server.should_exit = True
        await asyncio.wait_for(task, 10)
        self._server = self._task = None

    async def aclose(self) -> None:
        if self._http is not None:
            await self._http.aclose()
            self._http = None
            self._client = None

    @property
    def running(self) -> bool:
        return self._server is not None

    @property
    def port(self) -> int:
        if self._port is None:
            raise RuntimeError("peer never started")
        return self._port

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def versions_url(self) -> str:
        return f"{self.base_url}/ocpi/versions"

    def version_url(self, version: str) -> str:
        return f"{self.base_url}/ocpi/emsp/{version}"

    def own_endpoints(self, version: str) -> list[dict[str, str]]:
        base = self.version_url(version)
        return [{"identifier": m, "role": r, "url": f"{base}/{m}"} for m, r in EMSP_ENDPOINTS]

    @property
    def client(self) -> OcpiClient:
        if self._client is None:
            raise RuntimeError("peer not started")
        return self._client

    # ---------------------------------------------------------------------------- assertions

    def violation(self, where: str, message: str) -> None:
        self.violations.append(Violation(where, message))

    def assert_no_violations(self) -> None:
        if self.violations:
            lines = "\n".join(f"  - {v}" for v in self.violations)
            raise AssertionError(
                f"{len(self.violations)} OCPI violation(s) seen by the peer:\n{lines}"
            )

    def requests_to(self, module: str, method: str | None = None) -> list[RecordedRequest]:
        return [
            r
            for r in self.requests
            if r.module == module and (method is None or r.method == method)
        ]

    async def wait_until(
        self, predicate: Callable[[], bool], timeout: float = 10.0, interval: float = 0.05
    ) -> None:
        """Poll ``predicate`` until true; ``TimeoutError`` otherwise."""
        async with asyncio.timeout(timeout):
            while not predicate():  # noqa: ASYNC110 - state changes in request handlers
                await asyncio.sleep(interval)

    # ---------------------------------------------------------------------------- credentials

    def issue_token_a(self) -> str:
        """A one-time token A for Borne to register with us (given out of band)."""
        token = f"A-{uuid.uuid4()}"
        self.pending_token_a.add(token)
        return token

    def own_credentials(self, token: str, version: str | None = None) -> dict[str, Any]:
        return {
            "token": token,
            "url": self.versions_url,
            "roles": [
                {
                    "role": "EMSP",
                    "party_id": self.party_id,
                    "country_code": self.country_code,
                    "business_details": {"name": self.name},
                }
            ],
        }

    def _cpo_party(self) -> tuple[str, str] | None:
        creds = self.cpo_credentials
        if not isinstance(creds, dict):
            return None
        for role in creds.get("roles") or []:
            if isinstance(role, dict) and role.get("role") == "CPO":
                return str(role.get("country_code")), str(role.get("party_id"))
        return None

    def cpo_parties(self) -> set[tuple[str, str]]:
        """Every (country_code, party_id) of Borne's roles."""
        creds = self.cpo_credentials
        out: set[tuple[str, str]] = set()
        if isinstance(creds, dict):
            for role in creds.get("roles") or []:
                if isinstance(role, dict):
                    out.add((str(role.get("country_code")), str(role.get("party_id"))))
        return out

    async def fetch_cpo_endpoints(
        self, versions_url: str, token: str, version: str | None = None
    ) -> tuple[str, dict[tuple[str, str], str]]:
        """GET versions then version details with ``token``; (version, endpoints)."""
        c = self.client
        r = await c.request("GET", versions_url, token=token, module="versions")
        if not r.ok or not isinstance(r.data, list):
            raise OcpiError("GET versions", r)
        offered: dict[str, str] = {}
        for item in r.data:
            if c.check(f"GET {versions_url}", "2.2.1", "versions", "Version", item):
                offered[str(item["version"])] = str(item["url"])
        mutual = [v for v in self.versions if v in offered]
        if version is None:
            if not mutual:
                raise RuntimeError(f"no mutual OCPI version in {sorted(offered)}")
            version = max(mutual, key=lambda v: tuple(int(x) for x in v.split(".")))
        elif version not in offered:
            raise RuntimeError(f"CPO does not offer {version}: {sorted(offered)}")
        details_url = offered[version]
        r = await c.request("GET", details_url, token=token, module="versions")
        if not r.ok:
            raise OcpiError("GET version details", r)
        c.check(f"GET {details_url}", version, "versions", "VersionDetails", r.data)
        endpoints: dict[tuple[str, str], str] = {}
        data = r.data if isinstance(r.data, dict) else {}
        if data.get("version") != version:
            self.violation(f"GET {details_url}", f"details say version {data.get('version')!r}")
        for ep in data.get("endpoints") or []:
            if isinstance(ep, dict):
                endpoints[(str(ep.get("identifier")), str(ep.get("role")))] = str(ep.get("url"))
        return version, endpoints

    def _adopt(
        self,
        versions_url: str,
        version: str,
        endpoints: dict[tuple[str, str], str],
        client_token: str,
        credentials: Json,
    ) -> None:
        self.cpo_versions_url = versions_url
        self.version = version
        self.cpo_endpoints = endpoints
        self.client_token = client_token
        self.cpo_credentials = credentials
        self.client.to_party = self._cpo_party()

    def _credentials_url(self, endpoints: dict[tuple[str, str], str]) -> str:
        for role in ("SENDER", "RECEIVER"):
            if ("credentials", role) in endpoints:
                return endpoints[("credentials", role)]
        raise RuntimeError(f"CPO has no credentials endpoint: {endpoints}")

    async def register_with(
        self, cpo_versions_url: str, token_a: str, version: str | None = None
    ) -> Json:
        """We register with the CPO using the token A it gave us; returns its Credentials."""
        version, endpoints = await self.fetch_cpo_endpoints(cpo_versions_url, token_a, version)
        token_b = f"B-{uuid.uuid4()}"
        self.server_tokens.add(token_b)  # the CPO calls us with it during the POST
        url = self._credentials_url(endpoints)
        r = await self.client.request(
            "POST",
            url,
            token=token_a,
            module="credentials",
            json_body=self.own_credentials(token_b),
        )
        if not r.ok:
            self.server_tokens.discard(token_b)
            raise OcpiError("POST credentials", r)
        creds = r.data
        self.client.check(f"POST {url}", version, "credentials", "Credentials", creds)
        token_c = str(creds["token"])
        their_url = str(creds.get("url") or cpo_versions_url)
        version, endpoints = await self.fetch_cpo_endpoints(their_url, token_c, version)
        self._adopt(their_url, version, endpoints, token_c, creds)
        self.server_tokens = {token_b}
        return creds

    async def rotate(self, version: str | None = None) -> Json:
        """PUT new credentials (a new token B; optionally switch version); returns theirs."""
        if self.client_token is None or self.cpo_versions_url is None:
            raise RuntimeError("not registered")
        target = version or self.version
        target, endpoints = await self.fetch_cpo_endpoints(
            self.cpo_versions_url, self.client_token, target
        )
        new_b = f"B-{uuid.uuid4()}"
        old_tokens = set(self.server_tokens)
        self.server_tokens.add(new_b)
        url = self._credentials_url(endpoints)
        r = await self.client.request(
            "PUT", url, token=self.client_token, module="credentials",
            json_body=self.own_credentials(new_b),
        )  # fmt: skip
        if not r.ok:
            self.server_tokens = old_tokens
            raise OcpiError("PUT credentials", r)
        creds = r.data
        self.client.check(f"PUT {url}", target, "credentials", "Credentials", creds)
        token_c = str(creds["token"])
        their_url = str(creds.get("url") or self.cpo_versions_url)
        target, endpoints = await self.fetch_cpo_endpoints(their_url, token_c, target)
        self._adopt(their_url, target, endpoints, token_c, creds)
        self.server_tokens = {new_b}
        return creds

    async def unregister(self) -> None:
        """DELETE our credentials at the CPO; both sides stop talking."""
        if self.client_token is None:
            raise RuntimeError("not registered")
        url = self._credentials_url(self.cpo_endpoints)
        r = await self.client.request("DELETE", url, token=self.client_token, module="credentials")
        if not r.ok:
            raise OcpiError("DELETE credentials", r)
        self.forget_cpo()

    def forget_cpo(self) -> None:
        self.client_token = None
        self.cpo_endpoints = {}
        self.server_tokens = set()

    # ------------------------------------------------------------------------------- pulling

    def endpoint(self, identifier: str, role: str = "SENDER") -> str:
        try:
            return self.cpo_endpoints[(identifier, role)]
        except KeyError:
            raise RuntimeError(f"CPO has no {identifier} {role} endpoint") from None

    def _token(self) -> str:
        if self.client_token is None:
            raise RuntimeError("not registered with the CPO")
        return self.client_token

    def _version(self) -> str:
        if self.version is None:
            raise RuntimeError("no negotiated version")
        return self.version

    async def _pull(
        self,
        module: str,
        schema_name: str,
        date_from: str | None,
        date_to: str | None,
        limit: int | None,
        offset: int | None = None,
    ) -> list[Json]:
        params: dict[str, str] = {}
        if date_from is not None:
            params["date_from"] = date_from
        if date_to is not None:
            params["date_to"] = date_to
        if limit is not None:
            params["limit"] = str(limit)
        if offset is not None:
            params["offset"] = str(offset)
        report = await self.client.pull(
            self.endpoint(module),
            token=self._token(),
            module=module,
            version=self._version(),
            schema_module=module,
            schema_name=schema_name,
            params=params,
            id_of=lambda o: f"{o.get('country_code')}/{o.get('party_id')}/{o.get('id')}",
        )
        self.last_pull = report
        return report.items

    async def pull_locations(
        self, date_from: str | None = None, date_to: str | None = None, limit: int | None = None
    ) -> list[Json]:
        return await self._pull("locations", "Location", date_from, date_to, limit)

    async def pull_tariffs(
        self, date_from: str | None = None, date_to: str | None = None, limit: int | None = None
    ) -> list[Json]:
        return await self._pull("tariffs", "Tariff", date_from, date_to, limit)

    async def pull_sessions(
        self, date_from: str | None = None, date_to: str | None = None, limit: int | None = None
    ) -> list[Json]:
        return await self._pull("sessions", "Session", date_from, date_to, limit)

    async def pull_cdrs(
        self, date_from: str | None = None, date_to: str | None = None, limit: int | None = None
    ) -> list[Json]:
        return await self._pull("cdrs", "CDR", date_from, date_to, limit)

    async def get_location(
        self, location_id: str, evse_uid: str | None = None, connector_id: str | None = None
    ) -> Json:
        """GET one Location (or EVSE, or Connector) from the CPO's locations sender."""
        parts = [p for p in (location_id, evse_uid, connector_id) if p is not None]
        url = join_url(self.endpoint("locations"), *parts)
        r = await self.client.request("GET", url, token=self._token(), module="locations")
        if not r.ok:
            raise OcpiError(f"GET {url}", r)
        name = ("Location", "EVSE", "Connector")[len(parts) - 1]
        self.client.check(f"GET {url}", self._version(), "locations", name, r.data)
        return r.data

    # -------------------------------------------------------------------------------- tokens

    def make_token(
        self,
        uid: str,
        token_type: str = "RFID",
        *,
        whitelist: str = "NEVER",
        valid: bool = True,
        contract_id: str | None = None,
        **extra: Any,
    ) -> dict[str, Any]:
        """A Token object of ours (also kept for the tokens sender and authorize answers)."""
        token: dict[str, Any] = {
            "country_code": self.country_code,
            "party_id": self.party_id,
            "uid": uid,
            "type": token_type,
            "contract_id": contract_id or f"{self.country_code}-{self.party_id}-C{uid}"[:36],
            "issuer": self.name,
            "valid": valid,
            "whitelist": whitelist,
            "last_updated": ocpi_now(),
            **extra,
        }
        self.tokens[(uid, token_type)] = token
        return token

    async def push_token(self, token: dict[str, Any]) -> OcpiResponse:
        """PUT a Token to the CPO's tokens receiver (``/{cc}/{pid}/{uid}?type=``)."""
        self.tokens[(str(token["uid"]), str(token.get("type", "RFID")))] = token
        url = join_url(
            self.endpoint("tokens", "RECEIVER"),
            str(token["country_code"]),
            str(token["party_id"]),
            str(token["uid"]),
        )
        r = await self.client.request(
            "PUT", url, token=self._token(), module="tokens", json_body=token,
            params={"type": str(token.get("type", "RFID"))},
        )  # fmt: skip
        if not r.ok:
            raise OcpiError(f"PUT {url}", r)
        return r

    async def patch_token(
        self, uid: str, patch: dict[str, Any], token_type: str = "RFID"
    ) -> OcpiResponse:
        patch = {"last_updated": ocpi_now(), **patch}
        stored = self.tokens.get((uid, token_type))
        if stored is not None:
            stored.update(patch)
        url = join_url(self.endpoint("tokens", "RECEIVER"), self.country_code, self.party_id, uid)
        r = await self.client.request(
            "PATCH", url, token=self._token(), module="tokens", json_body=patch,
            params={"type": token_type},
        )  # fmt: skip
        if not r.ok:
            raise OcpiError(f"PATCH {url}", r)
        return r

    def set_authorization(
        self,
        uid: str,
        allowed: str = "ALLOWED",
        *,
        authorization_reference: str | None = None,
        delay: float = 0.0,
        hang: bool = False,
        info: str | None = None,
    ) -> AuthorizeRule:
        """Configure the real-time authorization answer for ``uid`` (others: unknown, 2004)."""
        rule = AuthorizeRule(allowed, authorization_reference, delay, hang, info)
        self.authorize_rules[uid] = rule
        return rule

    # ------------------------------------------------------------------------------ commands

    def _response_url(self, command: str, uid: str) -> str:
        return f"{self.version_url(self._version())}/commands/{command}/{uid}"

    async def send_command(self, command: str, body: dict[str, Any]) -> CommandRecord:
        """POST ``body`` (response_url added) to the CPO's commands receiver."""
        uid = str(uuid.uuid4())
        body = {"response_url": self._response_url(command, uid), **body}
        record = CommandRecord(uid=uid, command=command, request=body)
        self.commands[uid] = record
        url = join_url(self.endpoint("commands", "RECEIVER"), command)
        r = await self.client.request(
            "POST", url, token=self._token(), module="commands", json_body=body
        )
        record.http_status, record.ocpi_status, record.response = (
            r.http_status,
            r.status_code,
            r.data,
        )
        if r.status_code == 1000:
            self.client.check(f"POST {url}", self._version(), "commands", "CommandResponse", r.data)
        return record

    def _token_object(self, token: dict[str, Any] | str) -> dict[str, Any]:
        if isinstance(token, dict):
            return token
        for (uid, _), obj in self.tokens.items():
            if uid == token:
                return dict(obj)
        return self.make_token(token)

    async def start_session(
        self,
        location_id: str,
        evse_uid: str | None,
        token: dict[str, Any] | str,
        *,
        connector_id: str | None = None,
        authorization_reference: str | None = None,
    ) -> CommandRecord:
        body: dict[str, Any] = {"token": self._token_object(token), "location_id": location_id}
        if evse_uid is not None:
            body["evse_uid"] = evse_uid
        if connector_id is not None:
            body["connector_id"] = connector_id
        if authorization_reference is not None:
            body["authorization_reference"] = authorization_reference
        return await self.send_command("START_SESSION", body)

    async def stop_session(self, session_id: str) -> CommandRecord:
        return await self.send_command("STOP_SESSION", {"session_id": session_id})

    async def reserve_now(
        self,
        location_id: str,
        token: dict[str, Any] | str,
        expiry_date: str,
        reservation_id: str,
        *,
        evse_uid: str | None = None,
        authorization_reference: str | None = None,
    ) -> CommandRecord:
        body: dict[str, Any] = {
            "token": self._token_object(token),
            "expiry_date": expiry_date,
            "reservation_id": reservation_id,
            "location_id": location_id,
        }
        if evse_uid is not None:
            body["evse_uid"] = evse_uid
        if authorization_reference is not None:
            body["authorization_reference"] = authorization_reference
        return await self.send_command("RESERVE_NOW", body)

    async def cancel_reservation(self, reservation_id: str) -> CommandRecord:
        return await self.send_command("CANCEL_RESERVATION", {"reservation_id": reservation_id})

    async def unlock_connector(
        self, location_id: str, evse_uid: str, connector_id: str
    ) -> CommandRecord:
        return await self.send_command(
            "UNLOCK_CONNECTOR",
            {"location_id": location_id, "evse_uid": evse_uid, "connector_id": connector_id},
        )

    async def wait_command_result(
        self, command: CommandRecord | str, timeout: float = 30.0
    ) -> Json:
        """The CommandResult the CPO POSTs to our response_url (``TimeoutError`` if none)."""
        record = self.commands[command] if isinstance(command, str) else command
        await asyncio.wait_for(record.result_event.wait(), timeout)
        return record.result

    # ----------------------------------------------------------------------------- internals

    def accepts(self, token: str) -> str | None:
        """``"A"`` for a pending token A, ``"full"`` for a registered token, else None."""
        if token in self.server_tokens:
            return "full"
        if token in self.pending_token_a:
            return "A"
        return None

    def retire_token_a(self, token: str) -> None:
        self.pending_token_a.discard(token)
