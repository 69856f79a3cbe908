"""The vendored specifications, the errata, the contract checker, and the operations table."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable
from pathlib import Path

import pytest

from sandbox import contracts
from sandbox.contracts import Call
from sandbox.faults import parse_faults
from tests.channel import Conversation

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs" / "sandbox.md"
ARM = (
    "/sandbox/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/g"
    "/providers/Microsoft.CognitiveServices/accounts/a"
)
Q = {"api-version": "2025-09-01"}


def test_every_vendored_file_is_the_one_its_source_names() -> None:
    sources = json.loads(contracts.SOURCES.read_text(encoding="utf-8"))
    assert sources["licence"].startswith("MIT")
    listed = set()
    for entry in sources["files"]:
        path = contracts.SPECS / entry["path"]
        data = path.read_bytes()
        assert hashlib.sha256(data).hexdigest() == entry["sha256"], entry["path"]
        assert len(data) == entry["bytes"] and re.fullmatch(r"[0-9a-f]{40}", entry["commit"])
        json.loads(data)
        listed.add(path)
    assert set(contracts.SPECIFICATION.rglob("*.json")) == listed


def test_the_v1_document_is_a_valid_openapi_document() -> None:
    """The checker loads it unchecked (sandbox/contracts.py `_openapi`): checked here, once."""
    from openapi_core import OpenAPI
    from openapi_spec_validator.validation.exceptions import OpenAPIValidationError

    document = contracts._load(contracts.DOCUMENTS[0].path)
    OpenAPI.from_dict(document)  # openapi-core's default: the document checked on load
    broken = {**document, "paths": {"/x": {"get": {"responses": "none"}}}}
    with pytest.raises(OpenAPIValidationError):
        OpenAPI.from_dict(broken)


def test_every_erratum_says_what_differs_and_where_it_is_said() -> None:
    for entry in contracts.errata():
        assert entry["spec"] and entry["azure"] and entry["source"].startswith("https://")
        if "method" in entry:
            assert contracts.find(entry["method"], "/sandbox" + entry["path_template"])
        else:
            assert entry["side"] in ("request", "response")
            assert str(entry["json_path"]).startswith("$")


def test_a_request_outside_its_contract_names_the_operation_and_the_json_path() -> None:
    body = json.dumps({"sku": {"name": "Standard", "capacity": "one"}}).encode()
    call = Call("PUT", f"{ARM}/deployments/d", Q, {}, "application/json", body)
    report = contracts.check_request(call)
    assert report.operation and report.operation.operation_id == "Deployments_CreateOrUpdate"
    assert [str(v) for v in report.violations] == [
        "Deployments_CreateOrUpdate request $.body.sku.capacity: 'one' is not of type 'integer'"
    ]
    nowhere = "/sandbox/openai-accounts/a/openai/v1/nothing"
    unknown = contracts.check_request(Call("GET", nowhere, {}, {}))
    assert unknown.operation is None and "in no specification" in str(unknown.violations[0])
    extra = contracts.check_request(Call("GET", f"{ARM}/deployments", {**Q, "top": "1"}, {}))
    assert [v.path for v in extra.violations] == ["$.query.top"]


def test_an_open_enum_takes_any_string_and_a_closed_one_does_not() -> None:
    role = "/sandbox/subscriptions/s/providers/Microsoft.Authorization/roleAssignments/r"
    props = {"roleDefinitionId": "x", "principalId": "p", "principalType": "SomethingNew"}
    body = json.dumps({"properties": props}).encode()
    put = Call("PUT", role, {"api-version": "2022-04-01"}, {}, "application/json", body)
    assert contracts.check_request(put).violations == []  # x-ms-enum modelAsString: true
    key = json.dumps({"keyName": "Key3"}).encode()
    regenerate = Call("POST", f"{ARM}/regenerateKey", Q, {}, "application/json", key)
    assert [v.path for v in contracts.check_request(regenerate).violations] == ["$.body.keyName"]


def test_the_errata_exempt_what_they_list_and_nothing_else() -> None:
    form = b'--b\r\nContent-Disposition: form-data; name="purpose"\r\n\r\nfine-tune\r\n--b--\r\n'
    kind = "multipart/form-data; boundary=b"
    upload = Call(
        "POST", "/sandbox/openai-accounts/a/openai/v1/files", {}, {"Content-Type": kind}, kind, form
    )
    paths = [v.path for v in contracts.check_request(upload).violations]
    assert "$.body.expires_after" not in paths  # errata: optional on Azure
    assert "$.body.file" in paths


def test_the_drop_fault_parses() -> None:
    faults = parse_faults("drop=listPaginatedFineTuningJobs:data")
    assert faults.drops == (("listPaginatedFineTuningJobs", "data"),)
    with pytest.raises(ValueError):
        parse_faults("drop=nothing")


def test_docs_show_the_operations_table_the_checker_knows() -> None:
    """docs/sandbox.md holds the table `operations_table()` makes (regenerate it from there)."""
    text = DOCS.read_text(encoding="utf-8")
    begin, end = "<!-- operations table: begin -->\n", "<!-- operations table: end -->"
    assert begin in text and end in text
    shown = text.split(begin, 1)[1].split(end, 1)[0]
    assert shown == contracts.operations_table(), "update docs/sandbox.md from operations_table()"


@pytest.fixture
def settings_overrides() -> dict[str, object]:
    return {"sandbox_faults": "drop=listPaginatedFineTuningJobs:data"}


async def test_an_answer_without_a_required_field_ends_in_one_sentence_with_a_reference(
    conversation: Callable[..., Conversation], contract_violations: Callable[[], list[str]]
) -> None:
    chat = conversation()
    reply = await chat.say("jobs")
    text = reply["text"]
    assert re.search(r"Azure answered the job list without `data`.*\(reference [0-9a-f]{8}\)", text)
    assert "listPaginatedFineTuningJobs response $.data: required, missing" in contract_violations()
