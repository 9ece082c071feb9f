"""Contract tests generated from the official OCPI OpenAPI files, for every CPO endpoint Borne
serves in 2.2.1 and 2.3.0 (versions, version details, credentials, locations, tariffs,
sessions, cdrs senders; tokens and commands receivers).

schemathesis generates requests per operation from the bundled interface files (a bounded
number per operation, plus cases aimed at the seeded objects) and sends them over real HTTP to
a real Borne (see conftest.py). Each response must: not be a server error (HTTP 5xx, or an
envelope with a 3xxx status), use a documented HTTP status and content type, carry the
documented headers (X-Request-ID/X-Correlation-ID echoed), and conform to the response schema.

Deviations from the raw OpenAPI, each because the file contradicts the specification text:

- Error envelopes (status_code outside 1xxx). status_codes.asciidoc: a request that reached the
  OCPI layer gets no HTTP error status (so 2xxx answers come with HTTP 200), and for non-1xxx
  codes "the data field is unspecified". The OpenAPI 200 responses type ``data`` as the
  success object, so for error envelopes only the envelope itself is validated.
- HTTP 404 on tokens operations addressing another party's country_code/party_id:
  transport_and_format "Errors" allows it; the OpenAPI lists no 404 for PUT.
"""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Callable
from typing import Any

import hypothesis
import pytest
from hypothesis import strategies as st

from contract.conftest import VERSIONS, BackgroundBorne, Seed
from contract.openapi_bundle import OPENAPI_DIR, bundle

schemathesis: Any = pytest.importorskip("schemathesis")
from schemathesis.checks import not_a_server_error  # noqa: E402
from schemathesis.specs.openapi.checks import (  # noqa: E402
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

if not OPENAPI_DIR.is_dir():
    pytest.skip(f"OCPI OpenAPI files not found at {OPENAPI_DIR}", allow_module_level=True)

#: Generated examples per operation (plus the explicit ones): keeps the suite well under 2 min.
MAX_EXAMPLES = 12
#: The PostgreSQL variant re-checks the storage-dependent answers with fewer examples.
MAX_EXAMPLES_POSTGRES = 3
#: A loopback port nothing listens on: handshake callbacks fail at once, never reach outside.
DEAD_URL = "http://127.0.0.1:9/ocpi/versions"

SCHEMAS: dict[str, Any] = {v: schemathesis.openapi.from_dict(bundle(v)) for v in VERSIONS}


def _operations() -> list[Any]:
    params = []
    for version, schema in SCHEMAS.items():
        for result in schema.get_all_operations():
            op = result.ok()
            params.append(pytest.param(version, op.method.upper(), op.path, id=f"{op.label}"))
    return params


# ------------------------------------------------------------------------------------ checks


def _envelope(response: Any) -> dict[str, Any]:
    body = json.loads(response.content)
    assert isinstance(body, dict), f"body is not an OCPI envelope: {body!r}"
    return body


def ocpi_response_conformance(ctx: Any, response: Any, case: Any) -> bool | None:
    """The schema check, applied to success envelopes only (see module docstring)."""
    body = _envelope(response)
    code = body.get("status_code")
    assert isinstance(code, int), f"status_code missing or not an integer: {body!r}"
    assert isinstance(body.get("timestamp"), str), f"timestamp missing: {body!r}"
    if 1000 <= code < 2000:
        return response_schema_conformance(ctx, response, case)
    message = body.get("status_message")
    assert message is None or isinstance(message, str), f"status_message: {message!r}"
    return None


def no_ocpi_server_error(ctx: Any, response: Any, case: Any) -> bool | None:
    """A 3xxx envelope is a server error too (Borne answers internal failures with 3000)."""
    code = _envelope(response).get("status_code")
    assert not (isinstance(code, int) and 3000 <= code < 4000), (
        f"server error envelope {code}: {response.content[:300]!r}"
    )
    return None


def ids_echoed(ctx: Any, response: Any, case: Any) -> bool | None:
    """X-Request-ID / X-Correlation-ID of the request come back unchanged (R32)."""
    sent = response.request.headers
    for name in ("X-Request-ID", "X-Correlation-ID"):
        got = response.headers.get(name.lower(), [None])[0]
        assert got, f"{name} missing in the response"
        if sent.get(name, "").strip():
            assert got == sent[name].strip(), f"{name}: sent {sent[name]!r}, got {got!r}"
    return None


def documented_status(seed: Seed) -> Callable[..., bool | None]:
    """status_code_conformance, except the 404 the specification text allows and the OpenAPI
    omits: transport_and_format "Errors": a client addressing an object under a country_code/
    party_id that is not one of its roles may get HTTP 404 (tokens PUT/PATCH/GET)."""
    own = {(cc, pid) for cc, pid in seed.peer_party.values()}

    def ocpi_status_code_conformance(ctx: Any, response: Any, case: Any) -> bool | None:
        params = case.path_parameters or {}
        if (
            response.status_code == 404
            and "/cpo/tokens/" in case.path
            and (params.get("country_code"), params.get("party_id")) not in own
        ):
            assert _envelope(response).get("status_code") == 2000, response.content[:300]
            return None
        return status_code_conformance(ctx, response, case)

    return ocpi_status_code_conformance


def checks(seed: Seed) -> list[Callable[..., bool | None]]:
    return [
        not_a_server_error,
        no_ocpi_server_error,
        documented_status(seed),
        content_type_conformance,
        response_headers_conformance,
        ocpi_response_conformance,
        ids_echoed,
    ]


# ------------------------------------------------------------------------------ strategies


def _known_path_parameters(seed: Seed, version: str, path: str) -> list[dict[str, str]]:
    """Path parameters naming objects that exist (and their parents), beside generated ones."""
    if "/locations/" in path:
        full = {
            "location_id": seed.location_id,
            "evse_uid": seed.evse_uid,
            "connector_id": seed.connector_id,
        }
        names = [n for n in ("location_id", "evse_uid", "connector_id") if "{" + n + "}" in path]
        return [{n: full[n] for n in names}]
    if "/tokens/" in path:
        cc, pid = seed.peer_party[version]
        return [
            {"country_code": cc, "party_id": pid, "token_uid": seed.token_uid[version]},
            {"country_code": cc, "party_id": pid, "token_uid": "CONTRACT-NEW-1"},
        ]
    if "/sessions/" in path:
        return [{"session_id": sid} for sid in seed.session_ids.get(version, [])[:1]]
    return []


def _strategy(seed: Seed, version: str, op: Any) -> Any:
    strategies = [op.as_strategy()]
    strategies += [
        op.as_strategy(path_parameters=known)
        for known in _known_path_parameters(seed, version, op.path)
    ]
    return st.one_of(*strategies)


def _authorization(seed: Seed, version: str, method: str, path: str) -> str:
    # Generated PUT/DELETE credentials would rotate or drop the token C every other case
    # uses: they are sent with a token A (a registered party's variants are tested below).
    if path.endswith("/credentials") and method in ("PUT", "DELETE"):
        return "Token " + base64.b64encode(seed.token_a.encode()).decode()
    return seed.auth(version)


def _prepare(case: Any, seed: Seed, version: str) -> None:
    """Make generated bodies address the party and objects in the URL where that matters."""
    body = case.body if isinstance(case.body, dict) else None
    if body is None:
        return
    if case.path.endswith("/credentials"):
        body["url"] = DEAD_URL  # a handshake callback never leaves the machine
    if "/tokens/" in case.path and case.method.upper() == "PUT":
        params = case.path_parameters or {}
        if params.get("country_code") == seed.peer_party[version][0]:
            body["country_code"] = params["country_code"]
            body["party_id"] = params["party_id"]
            body["uid"] = params["token_uid"]
    if "response_url" in body:
        body["response_url"] = DEAD_URL


# ----------------------------------------------------------------------------------- tests


@pytest.mark.parametrize(("version", "method", "path"), _operations())
def test_contract(
    borne_seed: tuple[BackgroundBorne, Seed],
    contract_backend: str,
    version: str,
    method: str,
    path: str,
) -> None:
    _, seed = borne_seed
    op = SCHEMAS[version][path][method]
    base_url = seed.api_url + "/ocpi"
    auth = _authorization(seed, version, method, path)
    run_checks = checks(seed)

    @hypothesis.settings(
        max_examples=MAX_EXAMPLES if contract_backend == "sqlite" else MAX_EXAMPLES_POSTGRES,
        deadline=None,
        database=None,
        derandomize=True,
        phases=[hypothesis.Phase.explicit, hypothesis.Phase.generate],
        suppress_health_check=list(hypothesis.HealthCheck),
    )
    @hypothesis.given(case=_strategy(seed, version, op))
    def run(case: Any) -> None:
        _prepare(case, seed, version)
        case.call_and_validate(
            base_url=base_url, headers={"Authorization": auth}, checks=run_checks, timeout=10
        )

    run()


# ------------------------------------------------------------------- explicit success paths


def _ids() -> dict[str, str]:
    return {"X-Request-ID": str(uuid.uuid4()), "X-Correlation-ID": str(uuid.uuid4())}


def _call(seed: Seed, op: Any, auth: str, **case_kwargs: Any) -> dict[str, Any]:
    case = op.Case(headers={**_ids(), "Authorization": auth}, **case_kwargs)
    response = case.call_and_validate(base_url=seed.api_url + "/ocpi", checks=checks(seed))
    return _envelope(response)


#: (path under /{version}, path parameters, expected data kind) of objects the seed created.
SEEDED = (
    ("/cpo/locations", "list"),
    ("/cpo/locations/{location_id}", "object"),
    ("/cpo/locations/{location_id}/{evse_uid}", "object"),
    ("/cpo/locations/{location_id}/{evse_uid}/{connector_id}", "object"),
    ("/cpo/tariffs", "list"),
    ("/cpo/sessions", "list"),
    ("/cpo/cdrs", "list"),
    ("/cpo/tokens/{country_code}/{party_id}/{token_uid}", "object"),
)


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize(("path", "kind"), SEEDED, ids=[p for p, _ in SEEDED])
def test_seeded_objects_conform(
    borne_seed: tuple[BackgroundBorne, Seed], version: str, path: str, kind: str
) -> None:
    """The generated cases above mostly meet unknown ids or empty lists; here every seeded
    object is fetched and its success envelope validated against the schema."""
    _, seed = borne_seed
    op = SCHEMAS[version][f"/{version}{path}"]["GET"]
    params = {
        "location_id": seed.location_id,
        "evse_uid": seed.evse_uid,
        "connector_id": seed.connector_id,
        "country_code": seed.peer_party[version][0],
        "party_id": seed.peer_party[version][1],
        "token_uid": seed.token_uid[version],
    }
    names = [n for n in params if "{" + n + "}" in path]
    kwargs: dict[str, Any] = {"path_parameters": {n: params[n] for n in names}}
    if "/tokens/" in path:
        kwargs["query"] = {"type": "RFID"}
    body = _call(seed, op, seed.auth(version), **kwargs)
    assert body["status_code"] == 1000, body
    data = body["data"]
    if kind == "list":
        assert isinstance(data, list) and data, f"nothing served at {path}: {body}"
    else:
        assert isinstance(data, dict), body


@pytest.mark.parametrize("version", VERSIONS)
def test_credentials_rotation_and_unregister_conform(
    borne_seed: tuple[BackgroundBorne, Seed], version: str
) -> None:
    """PUT (new token B, callback to a live peer) and DELETE with a registered party's token C:
    the generated cases send those with a token A, so the success answers are checked here."""
    bg, seed = borne_seed
    peer = bg.run(_throwaway_peer(bg, seed, version))
    ops = SCHEMAS[version][f"/{version}/credentials"]
    assert peer.client_token is not None
    auth = "Token " + base64.b64encode(peer.client_token.encode()).decode()
    body = _call(seed, ops["GET"], auth)
    assert body["status_code"] == 1000, body
    token_b = f"B-{uuid.uuid4()}"
    peer.server_tokens.add(token_b)  # Borne calls the peer's versions with it during the PUT
    body = _call(seed, ops["PUT"], auth, body=peer.own_credentials(token_b, version))
    assert body["status_code"] == 1000, body
    new_auth = "Token " + base64.b64encode(str(body["data"]["token"]).encode()).decode()
    body = _call(seed, ops["DELETE"], new_auth)
    assert body["status_code"] == 1000, body


async def _throwaway_peer(bg: BackgroundBorne, seed: Seed, version: str) -> Any:
    from ocpi_peer import EmspPeer

    assert bg.server is not None
    async with bg.server.api() as api:
        r = await api.post("/partners", json={"name": f"Throwaway {version}"})
        assert r.status_code == 201, r.text
        token_a = str(r.json()["token"])
    n = len(bg.peers)
    peer = EmspPeer(country_code="DE", party_id=f"T{n:02d}", name=f"Throwaway {version}")
    await peer.start()
    bg.peers.append(peer)
    await peer.register_with(bg.server.ocpi_versions_url, token_a, version)
    return peer
