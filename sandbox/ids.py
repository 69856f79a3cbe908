"""Identifiers shaped like Azure's: `file-<32 hex>`, `ftjob-<32 hex>`, keys, GUIDs."""

from __future__ import annotations

import secrets
import uuid


def hex32() -> str:
    """32 random lower-case hex digits."""
    return secrets.token_hex(16)


def new_id(prefix: str) -> str:
    """An Azure OpenAI object id: `<prefix>-<32 hex>` (file, ftjob, ftevent, ftchkpt, chatcmpl)."""
    return f"{prefix}-{hex32()}"


def new_key() -> str:
    """An account key: 32 hex digits, as Azure AI services keys are."""
    return secrets.token_hex(16)


def new_guid() -> str:
    """A GUID as ARM writes them."""
    return str(uuid.uuid4())


def is_guid(value: str) -> bool:
    """True when `value` parses as a GUID."""
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True


_ASSIGNMENTS = uuid.UUID("4f0c3a9e-55d5-4b51-9c53-5d1c2f7b3a11")


def assignment_name(scope: str, principal: str, role: str) -> str:
    """A stable role assignment name (GUID) for one principal, role and scope."""
    return str(uuid.uuid5(_ASSIGNMENTS, f"{scope.lower()}|{principal}|{role}"))
