"""Contract checking: every call to the sandbox against Microsoft's published API specifications.

The specifications are vendored verbatim under `specs/specification/` (the layout of
Azure/azure-rest-api-specs, so their relative `$ref`s resolve; `specs/SOURCES.json` names the
commit and sha256 of each file). Each request the sandbox receives is matched to its operation
(method and path), then checked: query parameters (known, required, typed, enums), required
headers, the JSON body (types, required fields, enums); the answer the sandbox gives is checked
against the operation's response for its status code.

- The v1 data plane (`/openai/v1/...`) is OpenAPI 3.0, validated by `openapi-core`.
- The dated data plane (`/openai/...?api-version=2024-10-21`) and Resource Manager
  (`/subscriptions/...`) are Swagger 2.0: their schemas are validated by `jsonschema` (draft 4)
  with a `referencing` registry over the vendored files for `$ref`s. An `x-ms-enum` with
  `modelAsString: true` is an open enum (any string), `x-nullable: true` allows null.
- An operation in no specification is a violation, unless `specs/errata.json` declares it.
- Microsoft Graph (`{sandbox}/graph/v1.0/...`, the stand-in for channel files) has no vendored
  description: its OpenAPI document covers all of Microsoft 365 in one file of tens of megabytes.
  Its operations are declared here instead (`GRAPH_OPERATIONS`, each with the documentation page
  its shapes come from), and the stand-in's answers are checked against the examples of those
  pages, copied with their source into tests/sandbox/test_graph.py. A Graph call that is none of
  them is a violation, as an Azure call in no specification is.
- `specs/errata.json` lists where Azure differs from its own specification (operation, JSON path,
  what the spec says, what Azure does, the source); strict mode honours it and nothing else.

`SANDBOX_CONTRACTS` sets the mode: `strict` (the test suite: each violation is logged as an error
and appended to the file `SANDBOX_CONTRACTS_LOG` names, which fails the test), `warn` (the
default, `make run`: a warning in the log), or `off`.
"""

from __future__ import annotations

import json
import logging
import os
import re
import threading
import warnings
from collections.abc import Awaitable, Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import urldefrag, urljoin

import jsonschema
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT4

log = logging.getLogger(__name__)

SPECS = Path(__file__).resolve().parent / "specs"
SPECIFICATION = SPECS / "specification"
ERRATA = SPECS / "errata.json"
SOURCES = SPECS / "SOURCES.json"

MODES = ("strict", "warn", "off")
MAX_BODY = 16 * 1024 * 1024
"""Bodies above this size are not read for checking (their path, method and query still are)."""


@dataclass(frozen=True)
class Document:
    """One vendored specification the checker routes calls to."""

    key: str
    path: str
    """Relative to `specs/specification/`."""
    kind: str
    """`openapi3` or `swagger2`."""
    area: str
    """`v1`, `dated` (data plane under `/openai`) or `arm` (Resource Manager)."""


DOCUMENTS = (
    Document("v1", "ai/data-plane/OpenAI.v1/azure-v1-v1-generated.json", "openapi3", "v1"),
    Document(
        "dated",
        "cognitiveservices/data-plane/AzureOpenAI/authoring/stable/2024-10-21/azureopenai.json",
        "swagger2",
        "dated",
    ),
    Document(
        "cognitiveservices",
        "cognitiveservices/resource-manager/Microsoft.CognitiveServices/stable/2025-09-01/"
        "cognitiveservices.json",
        "swagger2",
        "arm",
    ),
    Document(
        "authorization",
        "authorization/resource-manager/Microsoft.Authorization/stable/2022-04-01/"
        "authorization-RoleAssignmentsCalls.json",
        "swagger2",
        "arm",
    ),
    Document(
        "roledefinitions",
        "authorization/resource-manager/Microsoft.Authorization/stable/2022-04-01/"
        "authorization-RoleDefinitionsCalls.json",
        "swagger2",
        "arm",
    ),
    Document(
        "resources",
        "resources/resource-manager/Microsoft.Resources/resources/stable/2025-04-01/resources.json",
        "swagger2",
        "arm",
    ),
    Document(
        "costmanagement",
        "cost-management/resource-manager/Microsoft.CostManagement/stable/2022-10-01/"
        "costmanagement.json",
        "swagger2",
        "arm",
    ),
)


@dataclass(frozen=True)
class Operation:
    """An operation of a specification (or one errata declares), as the checker routes to it."""

    document: Document | None
    operation_id: str
    method: str
    template: str
    pattern: re.Pattern[str]
    literal: int
    """How many literal characters the template has: the most specific match wins."""
    pointer: str
    """JSON pointer of the operation object in its document."""
    area: str = "arm"
    """Where calls route to it: its document's area; `arm` for the errata's operations, `graph`
    for Microsoft Graph's."""

    @property
    def version(self) -> str:
        """The specification's api-version (`info.version`)."""
        return _info_version(self.document.key) if self.document else ""


@dataclass(frozen=True)
class Violation:
    """One way a call broke its contract."""

    operation: str
    side: str
    """`request` or `response`."""
    path: str
    """JSON path: `$.body.sku.name`, `$.query.api-version`, `$.header.aoai-evals`, `$`."""
    message: str

    def __str__(self) -> str:
        return f"{self.operation} {self.side} {self.path}: {self.message}"

    def key(self) -> tuple[str, str, str]:
        """(operation, side, path with array indices as [*]) for matching errata."""
        return self.operation, self.side, re.sub(r"\[\d+\]", "[*]", self.path)


@dataclass
class Call:
    """What the checker needs of a request."""

    method: str
    path: str
    query: Mapping[str, str]
    headers: Mapping[str, str]
    content_type: str = ""
    body: bytes | None = None
    """None when not read (no body, or too large to check)."""


@dataclass
class Report:
    """The outcome of checking one call: its operation and violations."""

    operation: Operation | None
    violations: list[Violation] = field(default_factory=list)


def mode() -> str:
    """The contract-checking mode from `SANDBOX_CONTRACTS` (default `warn`)."""
    value = os.environ.get("SANDBOX_CONTRACTS", "warn").strip().lower() or "warn"
    if value not in MODES:
        raise ValueError(f"SANDBOX_CONTRACTS must be one of {', '.join(MODES)}, not {value!r}")
    return value


# --- Loading -------------------------------------------------------------------------------------


def _uri(relative: str) -> str:
    return (SPECIFICATION / relative).as_uri()


@cache
def _load(relative: str) -> Any:
    return json.loads((SPECIFICATION / relative).read_text(encoding="utf-8"))


def _info_version(key: str) -> str:
    document = next(d for d in DOCUMENTS if d.key == key)
    return str(_load(document.path)["info"]["version"])


def _retrieve(uri: str) -> Resource[Any]:
    """A vendored file by its file URI (every `$ref` stays inside `specs/specification/`)."""
    path = Path(uri.removeprefix("file://"))
    try:
        path.relative_to(SPECIFICATION)
    except ValueError:
        raise LookupError(f"{uri} is not a vendored specification") from None
    if not path.is_file():
        raise LookupError(f"{uri} is referenced but not vendored")
    relative = str(path.relative_to(SPECIFICATION))
    return Resource.from_contents(_load(relative), default_specification=DRAFT4)


@cache
def _registry() -> Registry[Any]:
    return Registry(retrieve=_retrieve)  # type: ignore[call-arg]


def _open_enum(
    validator: Any, enums: Any, instance: Any, schema: Mapping[str, Any]
) -> Iterator[Any]:
    """`enum`, except that an `x-ms-enum` with `modelAsString: true` takes any value."""
    if (schema.get("x-ms-enum") or {}).get("modelAsString"):
        return
    yield from jsonschema.Draft4Validator.VALIDATORS["enum"](validator, enums, instance, schema)


def _swagger_type(
    validator: Any, types: Any, instance: Any, schema: Mapping[str, Any]
) -> Iterator[Any]:
    """`type`, except that `x-nullable: true` allows null and Swagger's `file` is anything."""
    if (instance is None and schema.get("x-nullable")) or types == "file":
        return
    yield from jsonschema.Draft4Validator.VALIDATORS["type"](validator, types, instance, schema)


SwaggerValidator = jsonschema.validators.extend(
    jsonschema.Draft4Validator, {"enum": _open_enum, "type": _swagger_type}
)


def _escape(token: str) -> str:
    return token.replace("~", "~0").replace("/", "~1")


def _template_pattern(template: str, wide: set[str], ignore_case: bool) -> tuple[str, int]:
    parts, literal, last = [], 0, 0
    for found in re.finditer(r"\{([^}]+)\}", template):
        text = template[last : found.start()]
        parts.append(re.escape(text))
        literal += len(text)
        parts.append(".+" if found.group(1) in wide else "[^/]+")
        last = found.end()
    parts.append(re.escape(template[last:]))
    literal += len(template) - last
    flags = "(?i)" if ignore_case else ""
    return f"{flags}^{''.join(parts)}$", literal


def _resolve(base: str, node: Mapping[str, Any]) -> tuple[str, Mapping[str, Any]]:
    """(absolute URI with fragment, contents) of a node that may be a `$ref`."""
    if "$ref" not in node:
        return base, node
    target = urljoin(base, str(node["$ref"]))
    uri, fragment = urldefrag(target)
    resolved = _registry().resolver().lookup(target)
    contents = resolved.contents
    return f"{uri}#{fragment}", contents


@dataclass(frozen=True)
class GraphOperation:
    """A Microsoft Graph operation the stand-in serves, and the page its shapes come from."""

    name: str
    """The operation, named after its page of Microsoft's Graph reference."""
    method: str
    template: str
    """Its path under `/graph/v1.0`, as the page writes it."""
    source: str


_GRAPH_DOCS = "https://learn.microsoft.com/graph/api/"
GRAPH_OPERATIONS = (
    GraphOperation(
        "channel-get-filesfolder",
        "GET",
        "/teams/{team-id}/channels/{channel-id}/filesFolder",
        _GRAPH_DOCS + "channel-get-filesfolder",
    ),
    GraphOperation("drive-get", "GET", "/me/drive", _GRAPH_DOCS + "drive-get"),
    GraphOperation(
        "driveitem-put-content",
        "PUT",
        "/drives/{drive-id}/items/{parent-id}:/{filename}:/content",
        _GRAPH_DOCS + "driveitem-put-content",
    ),
    GraphOperation(
        "driveitem-createuploadsession",
        "POST",
        "/drives/{drive-id}/items/{parent-id}:/{filename}:/createUploadSession",
        _GRAPH_DOCS + "driveitem-createuploadsession",
    ),
    GraphOperation(
        "driveitem-get-content",
        "GET",
        "/drives/{drive-id}/items/{item-id}/content",
        _GRAPH_DOCS + "driveitem-get-content",
    ),
    GraphOperation(
        "shares-driveitem-get-content",
        "GET",
        "/shares/{shareIdOrEncodedSharingUrl}/driveItem/content",
        _GRAPH_DOCS + "driveitem-get-content",
    ),
    GraphOperation(
        "channel-post-messages",
        "POST",
        "/teams/{team-id}/channels/{channel-id}/messages",
        _GRAPH_DOCS + "chatmessage-post",
    ),
    GraphOperation(
        "chatmessage-post-replies",
        "POST",
        "/teams/{team-id}/channels/{channel-id}/messages/{message-id}/replies",
        _GRAPH_DOCS + "chatmessage-post",
    ),
    GraphOperation(
        "chat-post-messages", "POST", "/chats/{chat-id}/messages", _GRAPH_DOCS + "chatmessage-post"
    ),
    GraphOperation(
        "chatmessage-get",
        "GET",
        "/teams/{team-id}/channels/{channel-id}/messages/{message-id}",
        _GRAPH_DOCS + "chatmessage-get",
    ),
    GraphOperation(
        "chatmessage-get-reply",
        "GET",
        "/teams/{team-id}/channels/{channel-id}/messages/{message-id}/replies/{reply-id}",
        _GRAPH_DOCS + "chatmessage-get",
    ),
    GraphOperation(
        "chatmessage-get-chat",
        "GET",
        "/chats/{chat-id}/messages/{message-id}",
        _GRAPH_DOCS + "chatmessage-get",
    ),
)
"""Every Graph operation the stand-in serves: exempt from checking here, since no Graph
description is vendored (Graph's OpenAPI document is one file of tens of megabytes for all of
Microsoft 365), and checked instead against Microsoft's Graph examples, copied with their source
into tests/sandbox/test_graph.py. A Graph call that is none of them is a violation."""


@cache
def _operations() -> tuple[Operation, ...]:
    found: list[Operation] = []
    for document in DOCUMENTS:
        spec = _load(document.path)
        for template, item in spec.get("paths", {}).items():
            wide = set()
            for method, op in item.items():
                if not isinstance(op, dict) or "operationId" not in op:
                    continue
                base = f"{_uri(document.path)}#/paths/{_escape(template)}/{method}"
                for index, raw in enumerate(
                    [*item.get("parameters", []), *op.get("parameters", [])]
                ):
                    _, parameter = _resolve(f"{base}/parameters/{index}", raw)
                    if parameter.get("x-ms-skip-url-encoding") and parameter.get("in") == "path":
                        wide.add(str(parameter["name"]))
                pattern, literal = _template_pattern(template, wide, document.area == "arm")
                found.append(
                    Operation(
                        document,
                        str(op["operationId"]),
                        method.upper(),
                        template,
                        re.compile(pattern),
                        literal,
                        f"/paths/{_escape(template)}/{method}",
                        document.area,
                    )
                )
    for entry in errata():
        if "method" in entry:
            pattern, literal = _template_pattern(str(entry["path_template"]), set(), True)
            found.append(
                Operation(
                    None,
                    str(entry["operation"]),
                    str(entry["method"]).upper(),
                    str(entry["path_template"]),
                    re.compile(pattern),
                    literal,
                    "",
                )
            )
    for graph in GRAPH_OPERATIONS:
        pattern, literal = _template_pattern(graph.template, set(), True)
        found.append(
            Operation(
                None,
                graph.name,
                graph.method,
                graph.template,
                re.compile(pattern),
                literal,
                "",
                "graph",
            )
        )
    return tuple(found)


@cache
def errata() -> tuple[Mapping[str, Any], ...]:
    """The checked-in errata (`specs/errata.json`)."""
    entries = json.loads(ERRATA.read_text(encoding="utf-8"))["errata"]
    return tuple(entries)


def _listed(value: Any) -> list[str]:
    return [str(v) for v in value] if isinstance(value, list) else [str(value)]


@cache
def _exempt() -> frozenset[tuple[str, str, str]]:
    """(operation, side, JSON path) the errata exempt; an entry may list several of each."""
    return frozenset(
        (operation, str(e["side"]), path)
        for e in errata()
        if "json_path" in e
        for operation in _listed(e["operation"])
        for path in _listed(e["json_path"])
    )


# --- Routing -------------------------------------------------------------------------------------

_DATAPLANE = re.compile(r"/openai-accounts/[^/]+(/.*)?$")
_GRAPH = re.compile(r"/graph/v1\.0(/.*)?$")
_ARM_START = re.compile(r"(?i)/(subscriptions|providers)/")


def route(method: str, path: str) -> tuple[str, str] | None:
    """(area, path within it) of a sandbox path, mount prefixes removed; None: a path of no
    Azure or Graph surface at all (the sandbox's root; the upload and download URLs Graph hands
    out, which are SharePoint's; the sandbox's own tenant surface), which the checker leaves
    alone."""
    graph = _GRAPH.search(path)
    if graph:
        return "graph", graph.group(1) or "/"
    found = _DATAPLANE.search(path)
    if found:
        rest = found.group(1) or "/"
        if rest.startswith("/openai/v1/") or rest == "/openai/v1":
            return "v1", rest.removeprefix("/openai/v1") or "/"
        if rest.startswith("/openai/"):
            return "dated", rest.removeprefix("/openai")
        return "dataplane", rest  # on the data plane, but no API's path: no operation
    start = _ARM_START.search(path)
    if start:
        return "arm", path[start.start() :]
    return None


def find(method: str, path: str) -> Operation | None:
    """The operation a call is, the most specific match of its method and path."""
    routed = route(method, path)
    if routed is None:
        return None
    area, rest = routed
    best: Operation | None = None
    for op in _operations():
        if op.method != method.upper():
            continue
        if op.area != area:
            continue
        if op.pattern.match(rest) and (best is None or op.literal > best.literal):
            best = op
    return best


# --- Checking ------------------------------------------------------------------------------------


def _located(where: str, error: Any) -> Iterator[tuple[str, str]]:
    """(JSON path, message) of a jsonschema error: a missing required field is named in the
    path itself (`$.body.expires_after`), not left at its parent."""
    path = where + "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in error.absolute_path)
    if error.validator == "required" and isinstance(error.instance, dict):
        for name in error.validator_value:
            if name not in error.instance:
                yield f"{path}.{name}", "required, missing"
        return
    yield path, error.message


def _schema_errors(
    ref: str, instance: Any, where: str, operation: str, side: str
) -> Iterator[Violation]:
    validator = SwaggerValidator({"$ref": ref}, registry=_registry())
    for error in validator.iter_errors(instance):
        for path, message in _located(where, error):
            yield Violation(operation, side, path, message)


def _coerce(value: str, kind: str) -> Any:
    try:
        if kind == "integer":
            return int(value)
        if kind == "number":
            return float(value)
        if kind == "boolean":
            return {"true": True, "false": False}[value.lower()]
    except (ValueError, KeyError):
        return value
    return value


def _swagger_parameters(op: Operation) -> Iterator[tuple[str, Mapping[str, Any]]]:
    assert op.document is not None
    spec = _load(op.document.path)
    template = op.template
    item = spec["paths"][template]
    body = item[op.method.lower()]
    base = f"{_uri(op.document.path)}#{op.pointer}"
    for index, raw in enumerate(item.get("parameters", [])):
        yield _resolve(
            f"{_uri(op.document.path)}#/paths/{_escape(template)}/parameters/{index}", raw
        )
    for index, raw in enumerate(body.get("parameters", [])):
        yield _resolve(f"{base}/parameters/{index}", raw)


def _check_swagger_request(op: Operation, call: Call) -> Iterator[Violation]:
    name = op.operation_id
    declared: set[str] = set()
    for location, parameter in _swagger_parameters(op):
        where, pname = parameter.get("in"), str(parameter.get("name"))
        if where == "query":
            declared.add(pname)
            value = call.query.get(pname)
            if value is None:
                if parameter.get("required"):
                    yield Violation(name, "request", f"$.query.{pname}", "required, missing")
                continue
            kind = str(parameter.get("type", "string"))
            yield from _parameter_errors(
                location, parameter, _coerce(value, kind), f"$.query.{pname}", name
            )
            if pname == "api-version" and op.document and op.document.area == "arm":
                if value != op.version:
                    yield Violation(
                        name,
                        "request",
                        "$.query.api-version",
                        f"{value} is not the specification's version {op.version}",
                    )
        elif where == "header":
            if parameter.get("required") and pname.lower() not in {h.lower() for h in call.headers}:
                yield Violation(name, "request", f"$.header.{pname}", "required, missing")
        elif where == "body":
            if call.body is None or call.body == b"":
                if parameter.get("required") and call.body is not None:
                    yield Violation(name, "request", "$.body", "required, missing")
                continue
            try:
                instance = json.loads(call.body)
            except ValueError:
                yield Violation(name, "request", "$.body", "not JSON")
                continue
            yield from _schema_errors(f"{location}/schema", instance, "$.body", name, "request")
    for unknown in sorted(set(call.query) - declared):
        yield Violation(name, "request", f"$.query.{unknown}", "not a parameter of the operation")


def _parameter_errors(
    location: str, parameter: Mapping[str, Any], value: Any, where: str, operation: str
) -> Iterator[Violation]:
    schema = {
        k: v
        for k, v in parameter.items()
        if k in ("type", "enum", "x-ms-enum", "minimum", "maximum", "pattern", "minLength")
    }
    for error in SwaggerValidator(schema).iter_errors(value):
        yield Violation(operation, "request", where, error.message)


def _check_swagger_response(op: Operation, status: int, body: bytes | None) -> Iterator[Violation]:
    assert op.document is not None
    name = op.operation_id
    responses = _load(op.document.path)["paths"][op.template][op.method.lower()]["responses"]
    code = str(status)
    key = code if code in responses else "default" if "default" in responses else None
    if key is None:
        yield Violation(name, "response", "$", f"status {status} is not a declared response")
        return
    base = f"{_uri(op.document.path)}#{op.pointer}/responses/{key}"
    location, response = _resolve(base, responses[key])
    if "schema" not in response or body is None:
        return
    if body == b"":
        yield Violation(name, "response", "$", "a body is declared, none sent")
        return
    try:
        instance = json.loads(body)
    except ValueError:
        yield Violation(name, "response", "$", "not JSON")
        return
    yield from _schema_errors(f"{location}/schema", instance, "$", name, "response")


# openapi-core for the v1 data plane


class _Request:
    def __init__(self, call: Call, path: str) -> None:
        from openapi_core.datatypes import RequestParameters
        from werkzeug.datastructures import Headers, ImmutableMultiDict

        self.host_url = "http://sandbox"
        self.path = "/openai/v1" + path
        self.method = call.method.lower()
        self.body = call.body or b""
        self.content_type = call.content_type or "application/json"
        self.parameters = RequestParameters(
            path={},
            query=ImmutableMultiDict(list(call.query.items())),
            header=Headers(list(call.headers.items())),
            cookie=ImmutableMultiDict(),
        )


class _Response:
    def __init__(self, status: int, content_type: str, body: bytes) -> None:
        from werkzeug.datastructures import Headers

        self.data = body
        self.status_code = status
        self.headers = Headers({"Content-Type": content_type})
        self.content_type = content_type


_OPENAPI_LOCK = threading.Lock()


@cache
def _openapi() -> Any:
    """The v1 document for openapi-core, without checking the document itself against the
    OpenAPI schema on every start (0.6 s of CPU in each process that checks a v1 call): the file
    is pinned by its sha256, and tests/sandbox/test_contracts.py checks it once."""
    from openapi_core import Config, OpenAPI

    return OpenAPI.from_dict(_load(DOCUMENTS[0].path), config=Config(spec_validator_cls=None))


def _openapi_violations(errors: Iterable[Exception], name: str, side: str) -> Iterator[Violation]:
    from openapi_core.validation.request.exceptions import SecurityValidationError

    for error in errors:
        if isinstance(error, SecurityValidationError):
            continue  # the sandbox's own auth answers for credentials
        where = "$.body" if side == "request" else "$"
        parameter = getattr(error, "name", None)
        location = getattr(error, "location", None)
        if parameter and location:
            where = f"$.{location}.{parameter}"
        cause: Any = error.__cause__
        schema_errors = getattr(cause, "schema_errors", None)
        if schema_errors:
            for schema_error in schema_errors:
                for path, message in _located(where, schema_error):
                    yield Violation(name, side, path, message)
        else:
            yield Violation(name, side, where, str(error) + (f": {cause}" if cause else ""))


def _declared_query(op: Operation) -> set[str]:
    assert op.document is not None
    spec = _load(op.document.path)
    item = spec["paths"][op.template]
    names = set()
    for raw in [*item.get("parameters", []), *item[op.method.lower()].get("parameters", [])]:
        parameter = raw
        if "$ref" in raw:
            parameter = _resolve(f"{_uri(op.document.path)}#{op.pointer}", raw)[1]
        if parameter.get("in") == "query":
            names.add(str(parameter["name"]))
    return names


def _check_v1_request(op: Operation, call: Call, path: str) -> Iterator[Violation]:
    with _OPENAPI_LOCK, warnings.catch_warnings():
        warnings.simplefilter("ignore")  # openapi-core warns of the OAuth2 scheme it cannot check
        errors = list(_openapi().request_validator.iter_errors(_Request(call, path)))
    yield from _openapi_violations(errors, op.operation_id, "request")
    for unknown in sorted(set(call.query) - _declared_query(op)):
        yield Violation(
            op.operation_id, "request", f"$.query.{unknown}", "not a parameter of the operation"
        )


def _check_v1_response(
    op: Operation, call: Call, path: str, status: int, content_type: str, body: bytes
) -> Iterator[Violation]:
    request = _Request(call, path)
    with _OPENAPI_LOCK, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        response = _Response(status, content_type, body)
        errors = list(_openapi().response_validator.iter_errors(request, response))
    yield from _openapi_violations(errors, op.operation_id, "response")


# --- The checker ---------------------------------------------------------------------------------


def _unexempt(violations: Iterable[Violation]) -> list[Violation]:
    exempt = _exempt()
    return [v for v in violations if v.key() not in exempt]


def check_request(call: Call) -> Report:
    """The operation of a call and how its request breaks the contract (errata honoured)."""
    if route(call.method, call.path) is None:
        return Report(None)  # the sandbox's own page (its root, a readiness probe): not Azure's
    op = find(call.method, call.path)
    if op is None:
        return Report(
            None,
            [Violation(f"{call.method} {call.path}", "request", "$", "in no specification")],
        )
    if op.document is None:
        return Report(op)  # declared (errata.json, GRAPH_OPERATIONS): no specification to check
    routed = route(call.method, call.path)
    assert routed is not None
    if op.document.kind == "openapi3":
        violations = list(_check_v1_request(op, call, routed[1]))
    else:
        violations = list(_check_swagger_request(op, call))
    return Report(op, _unexempt(violations))


def check_response(
    op: Operation, call: Call, status: int, content_type: str, body: bytes | None
) -> list[Violation]:
    """How the sandbox's answer to a call breaks the contract (errata honoured). A body that is
    None was streamed: its status is still checked."""
    if op.document is None:
        return []
    if op.document.kind == "openapi3":
        routed = route(call.method, call.path)
        assert routed is not None
        if body is None:
            return []
        violations = list(_check_v1_response(op, call, routed[1], status, content_type, body))
    else:
        json_body = body if "json" in content_type or not content_type else None
        violations = list(_check_swagger_response(op, status, json_body))
    return _unexempt(violations)


def record(violations: list[Violation], request_id: str, operation: str = "") -> None:
    """Report violations as the mode says: strict logs errors and appends them to the file
    `SANDBOX_CONTRACTS_LOG` names (with the operation of every checked call, so that the suite
    knows which operations ran); warn logs warnings."""
    strict = mode() == "strict"
    target = os.environ.get("SANDBOX_CONTRACTS_LOG")
    if strict and target and operation:
        with open(target, "a", encoding="utf-8") as sink:
            sink.write(json.dumps({"operation": operation}) + "\n")
    if not violations:
        return
    for violation in violations:
        if strict:
            log.error("contract violation (request id %s): %s", request_id, violation)
        else:
            log.warning("contract violation (request id %s): %s", request_id, violation)
    if strict and target:
        with open(target, "a", encoding="utf-8") as sink:
            for violation in violations:
                sink.write(
                    json.dumps({"violation": str(violation), "request_id": request_id}) + "\n"
                )


# --- The sandbox's middleware --------------------------------------------------------------------


async def _read_again(request: Any) -> bytes | None:
    """The request's body, read here and fed back so that the handler reads it as well; None
    when there is none to check (no JSON or form body, or one too large)."""
    import asyncio

    from aiohttp import streams

    if request.method not in ("POST", "PUT", "PATCH") or not request.can_read_body:
        return None
    kind = request.content_type
    if not (kind.endswith("json") or kind == "multipart/form-data"):
        return None
    if request.content_length is None or request.content_length > MAX_BODY:
        return None
    body: bytes = await request.content.read()
    # A limit above the body's size: the copy never pauses the connection's reading.
    limit = max(2**16, len(body) + 1)
    again = streams.StreamReader(request.protocol, limit, loop=asyncio.get_running_loop())
    again.feed_data(body)
    again.feed_eof()
    # The handler reads the same bytes: aiohttp keeps the stream in `_payload`, and caches
    # `content` (a reified property) on first use.
    request._payload = again
    request._cache.pop("content", None)
    return body


def _drop_fields(request: Any, operation: str, response: Any) -> None:
    """The `drop=<operationId>:<field>` faults (faults.py): that field leaves the answer."""
    from aiohttp import web

    from sandbox.service import SANDBOX

    drops = [f for o, f in request.config_dict[SANDBOX].config.faults.drops if o == operation]
    if not drops or not isinstance(response, web.Response) or not isinstance(response.body, bytes):
        return
    try:
        body = json.loads(response.body)
    except ValueError:
        return
    if isinstance(body, dict) and any(f in body for f in drops):
        response.body = json.dumps({k: v for k, v in body.items() if k not in drops}).encode()


def middleware() -> Any:
    """The aiohttp middleware that checks each call and the sandbox's answer to it."""
    from aiohttp import web

    @web.middleware
    async def check_contracts(
        request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> web.StreamResponse:
        if mode() == "off":
            return await handler(request)
        body = await _read_again(request)
        call = Call(
            request.method,
            request.path,
            dict(request.query),
            dict(request.headers),
            request.headers.get("Content-Type", ""),
            body if body is not None else (b"" if not request.can_read_body else None),
        )
        try:
            report = check_request(call)
        except Exception as error:  # the checker must never take the sandbox down
            log.exception("contract check of %s %s failed", request.method, request.path)
            report = Report(
                None, [Violation(call.method, "request", "$", f"check failed: {error}")]
            )
        response = await handler(request)
        if report.operation is not None:
            _drop_fields(request, report.operation.operation_id, response)
        violations = list(report.violations)
        if report.operation is not None:
            sent: bytes | None = None
            if isinstance(response, web.Response) and isinstance(response.body, bytes):
                sent = response.body
            elif isinstance(response, web.Response) and response.body is None:
                sent = b""
            try:
                violations += check_response(
                    report.operation, call, response.status, response.content_type, sent
                )
            except Exception as error:
                log.exception("contract check of the answer to %s failed", request.path)
                violations.append(
                    Violation(
                        report.operation.operation_id, "response", "$", f"check failed: {error}"
                    )
                )
        operation = report.operation.operation_id if report.operation else ""
        record(violations, response.headers.get("x-ms-request-id", ""), operation)
        return response

    return check_contracts


# --- What the bot calls --------------------------------------------------------------------------

BOT_OPERATIONS: tuple[tuple[str, str], ...] = (
    ("v1", "listModels"),
    ("v1", "createFile"),
    ("v1", "listFiles"),
    ("v1", "retrieveFile"),
    ("v1", "downloadFile"),
    ("v1", "deleteFile"),
    ("v1", "createFineTuningJob"),
    ("v1", "listPaginatedFineTuningJobs"),
    ("v1", "retrieveFineTuningJob"),
    ("v1", "cancelFineTuningJob"),
    ("v1", "listFineTuningEvents"),
    ("v1", "listFineTuningJobCheckpoints"),
    ("v1", "createChatCompletion"),
    ("v1", "createEval"),
    ("v1", "listEvals"),
    ("v1", "createEvalRun"),
    ("v1", "getEvalRuns"),
    ("v1", "getEvalRun"),
    ("v1", "getEvalRunOutputItems"),
    ("dated", "FineTuning_Delete"),
    ("resources", "ResourceGroups_CheckExistence"),
    ("resources", "ResourceGroups_CreateOrUpdate"),
    ("cognitiveservices", "Accounts_Create"),
    ("cognitiveservices", "Accounts_Get"),
    ("cognitiveservices", "Accounts_Delete"),
    ("cognitiveservices", "Accounts_ListKeys"),
    ("cognitiveservices", "Accounts_RegenerateKey"),
    ("cognitiveservices", "Accounts_ListModels"),
    ("cognitiveservices", "DeletedAccounts_List"),
    ("cognitiveservices", "DeletedAccounts_Purge"),
    ("cognitiveservices", "Deployments_CreateOrUpdate"),
    ("cognitiveservices", "Deployments_Get"),
    ("cognitiveservices", "Deployments_List"),
    ("cognitiveservices", "Deployments_Delete"),
    ("authorization", "RoleAssignments_ListForResource"),
    ("authorization", "RoleAssignments_ListForSubscription"),
    ("authorization", "RoleAssignments_Create"),
    ("authorization", "RoleAssignments_Delete"),
    ("graph", "chatmessage-get"),
    ("graph", "chatmessage-get-reply"),
    ("graph", "chatmessage-get-chat"),
    ("graph", "shares-driveitem-get-content"),
)
"""Every operation the bot calls, by the document it is in. (The bot starts long-running
operations with `polling=False` and reads the resource back, so it never follows the
Azure-AsyncOperation URL that errata.json declares for the SDK's pollers.) A path
two templates match is the more specific one's: the SDK's `list_for_scope` at an account is
`RoleAssignments_ListForResource`, at a subscription `RoleAssignments_ListForSubscription`."""

STREAMED = {"downloadFile"}
"""Operations the sandbox answers with a streamed body: their status is checked, not the body."""


def operations_table() -> str:
    """The Markdown table of docs/sandbox.md: each operation the bot calls, its specification
    and version, and what the sandbox checks of it."""
    rows = [
        "| Operation | Method and path | Specification (version) | Request checked | "
        "Response checked |",
        "| --- | --- | --- | --- | --- |",
    ]
    by_id = {
        (
            o.document.key if o.document else "graph" if o.area == "graph" else "errata",
            o.operation_id,
        ): o
        for o in _operations()
    }
    for key, operation_id in BOT_OPERATIONS:
        op = by_id[(key, operation_id)]
        if op.area == "graph":
            spec = "none: Microsoft Graph, declared (`GRAPH_OPERATIONS`)"
            request = response = "against Graph's examples (`tests/sandbox/test_graph.py`)"
        elif op.document is None:
            spec, request, response = "none: `errata.json`", "no (declared)", "no (declared)"
        else:
            spec = f"`{Path(op.document.path).name}` ({op.version})"
            request = "yes"
            response = "status only (streamed)" if operation_id in STREAMED else "yes"
        rows.append(
            f"| `{operation_id}` | `{op.method} {op.template}` | {spec} | {request} | {response} |"
        )
    return "\n".join(rows) + "\n"
