"""The one settings object: environment and `.env`, validated once at start."""

from __future__ import annotations

import os
import re
import socket
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Literal

from pydantic import (
    AliasChoices,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from infra.errors import UserError
from infra.prices import DEFAULT_MODEL, HOSTING_PRICE_PER_HOUR, TRAINING_PRICE_PER_1M_TOKENS


@dataclass(frozen=True)
class SandboxIds:
    """What the bot must agree on with a sandbox: the account it serves from its first start, and
    the object id its bare access secret acts as. The sandbox names them (sandbox/contract.py) and
    the wiring hands them in (app.py), so that infra/ never imports the sandbox."""

    subscription: str
    resource_group: str
    account: str
    bot_principal: str


Backend = Literal["embedded", "external", "azure"]

CommaList = Annotated[list[str], NoDecode]
_CONTAINER = re.compile(r"^[a-z0-9](?:[a-z0-9]|-(?=[a-z0-9])){2,53}$")
"""A Blob container name with room for the `-datasets` and `-leases` suffixes (63 at most)."""


class Settings(BaseSettings):
    """Everything the bot reads from its environment. Secrets are `SecretStr`."""

    model_config = SettingsConfigDict(
        env_file=".env", extra="ignore", populate_by_name=True, frozen=True
    )

    host: str = Field("127.0.0.1", validation_alias=AliasChoices("HOST", "host"))
    port: int = Field(3978, ge=1, le=65535, validation_alias=AliasChoices("PORT", "port"))
    data_dir: Path = Field(
        Path(".ftbot"), validation_alias=AliasChoices("FTBOT_DATA_DIR", "data_dir")
    )

    # Bot Framework app registration; an empty app id is local mode (Emulator, Playground).
    app_id: str = Field("", validation_alias=AliasChoices("MicrosoftAppId", "app_id"))
    app_password: SecretStr = Field(
        SecretStr(""), validation_alias=AliasChoices("MicrosoftAppPassword", "app_password")
    )
    app_type: Literal["MultiTenant", "SingleTenant", "UserAssignedMSI"] = Field(
        "MultiTenant", validation_alias=AliasChoices("MicrosoftAppType", "app_type")
    )
    app_tenant_id: str = Field(
        "", validation_alias=AliasChoices("MicrosoftAppTenantId", "app_tenant_id")
    )
    federated_client_id: str = Field(
        "", validation_alias=AliasChoices("FTBOT_FEDERATED_CLIENT_ID", "federated_client_id")
    )
    """The client id of the user-assigned managed identity that the app registration trusts
    (a federated identity credential, deploy/app-registration.bicep): the app then signs in with
    that identity's token instead of MicrosoftAppPassword (infra/identity.py)."""
    public_host: str = Field("", validation_alias=AliasChoices("FTBOT_PUBLIC_HOST", "public_host"))
    """The bot's public host name (its messaging endpoint is https://{host}/api/messages)."""
    # A Bot Framework cloud other than the public one (a private cloud, or a loopback test), with
    # botbuilder's own names; empty means the public cloud's. Tests serve OpenID metadata and a
    # JWKS on loopback and sign tokens with their own key.
    bot_login_url: str = Field(
        "", validation_alias=AliasChoices("TO_CHANNEL_FROM_BOT_LOGIN_URL", "bot_login_url")
    )
    bot_oauth_scope: str = Field(
        "", validation_alias=AliasChoices("TO_CHANNEL_FROM_BOT_OAUTH_SCOPE", "bot_oauth_scope")
    )
    channel_token_issuer: str = Field(
        "",
        validation_alias=AliasChoices("TO_BOT_FROM_CHANNEL_TOKEN_ISSUER", "channel_token_issuer"),
    )
    channel_openid_metadata_url: str = Field(
        "",
        validation_alias=AliasChoices(
            "TO_BOT_FROM_CHANNEL_OPENID_METADATA_URL", "channel_openid_metadata_url"
        ),
    )
    emulator_openid_metadata_url: str = Field(
        "",
        validation_alias=AliasChoices(
            "TO_BOT_FROM_EMULATOR_OPENID_METADATA_URL", "emulator_openid_metadata_url"
        ),
    )
    validate_authority: bool = Field(
        True, validation_alias=AliasChoices("VALIDATE_AUTHORITY", "validate_authority")
    )
    graph_url: str = Field(
        "https://graph.microsoft.com/v1.0",
        validation_alias=AliasChoices("FTBOT_GRAPH_URL", "graph_url"),
    )
    """Microsoft Graph (files in channels and group chats); another cloud's, or a test's."""
    authority_host: str = Field(
        "", validation_alias=AliasChoices("AZURE_AUTHORITY_HOST", "authority_host")
    )
    """Where the bot signs in for its Graph token (azure-identity's name; empty: the public
    cloud's login.microsoftonline.com)."""

    # Where Azure is (README, "Modes"): Azure with a subscription (or an endpoint), an external
    # sandbox at FTBOT_SANDBOX_URL, else the sandbox embedded in this process.
    sandbox_url: str = Field("", validation_alias=AliasChoices("FTBOT_SANDBOX_URL", "sandbox_url"))
    """An external sandbox (`ftbot sandbox`) instead of the embedded one, e.g.
    `http://127.0.0.1:8089`: several instances then share one stand-in Azure."""
    demo_sandbox: bool = Field(
        False, validation_alias=AliasChoices("FTBOT_DEMO_SANDBOX", "demo_sandbox")
    )
    bot_principal_id: str = Field(
        "", validation_alias=AliasChoices("FTBOT_BOT_PRINCIPAL_ID", "bot_principal_id")
    )
    """The object id of the bot's own identity (managed identity or service principal)."""

    # Azure OpenAI, with the lab's names.
    azure_openai_endpoint: str = Field(
        "", validation_alias=AliasChoices("AZURE_OPENAI_ENDPOINT", "azure_openai_endpoint")
    )
    azure_openai_api_key: SecretStr = Field(
        SecretStr(""), validation_alias=AliasChoices("AZURE_OPENAI_API_KEY", "azure_openai_api_key")
    )
    azure_subscription_id: str = Field(
        "", validation_alias=AliasChoices("AZURE_SUBSCRIPTION_ID", "azure_subscription_id")
    )
    azure_resource_group: str = Field(
        "", validation_alias=AliasChoices("AZURE_RESOURCE_GROUP", "azure_resource_group")
    )
    azure_openai_account: str = Field(
        "", validation_alias=AliasChoices("AZURE_OPENAI_ACCOUNT", "azure_openai_account")
    )

    # Where the state lives: SQLite under the data folder (one instance), or Azure Blob Storage
    # (several instances: state, validated files and the leases of background work).
    state: Literal["sqlite", "blob"] = Field(
        "sqlite", validation_alias=AliasChoices("FTBOT_STATE", "state")
    )
    storage_connection_string: SecretStr = Field(
        SecretStr(""),
        validation_alias=AliasChoices(
            "AZURE_STORAGE_CONNECTION_STRING", "storage_connection_string"
        ),
    )
    storage_account_url: str = Field(
        "", validation_alias=AliasChoices("AZURE_STORAGE_ACCOUNT_URL", "storage_account_url")
    )
    """The Blob endpoint (https://<account>.blob.core.windows.net), signed in with Entra ID."""
    state_container: str = Field(
        "ftbot-state", validation_alias=AliasChoices("FTBOT_STATE_CONTAINER", "state_container")
    )
    """The records' container; validated files go to `<it>-datasets`, leases to `<it>-leases`."""
    lease_seconds: int = Field(
        15, ge=15, le=60, validation_alias=AliasChoices("FTBOT_LEASE_SECONDS", "lease_seconds")
    )
    """How long a lease on a piece of background work lasts unrenewed (Blob allows 15 to 60)."""
    instance: str = Field(
        default_factory=lambda: f"{socket.gethostname()}-{os.getpid()}",
        validation_alias=AliasChoices("FTBOT_INSTANCE", "instance"),
    )
    """This instance's name in logs, leases and claims (default: host and process id)."""

    # Bot roles: Teams AAD object ids. With neither list set, everyone is admin (local use);
    # once either is set, both are authoritative.
    admins: CommaList = Field(
        default_factory=list, validation_alias=AliasChoices("FTBOT_ADMINS", "admins")
    )
    trainers: CommaList = Field(
        default_factory=list, validation_alias=AliasChoices("FTBOT_TRAINERS", "trainers")
    )

    default_model: str = Field(
        DEFAULT_MODEL, validation_alias=AliasChoices("FTBOT_DEFAULT_MODEL", "default_model")
    )
    training_prices: dict[str, float] = Field(
        default_factory=lambda: dict(TRAINING_PRICE_PER_1M_TOKENS),
        validation_alias=AliasChoices("FTBOT_TRAINING_PRICES", "training_prices"),
    )
    hosting_prices: dict[str, float] = Field(
        default_factory=lambda: dict(HOSTING_PRICE_PER_HOUR),
        validation_alias=AliasChoices("FTBOT_HOSTING_PRICES", "hosting_prices"),
    )
    cost_delay_hours: float = Field(
        8.0,
        ge=0,
        le=72,
        validation_alias=AliasChoices("FTBOT_COST_DELAY_HOURS", "cost_delay_hours"),
    )
    """How late Azure Cost Management reports costs (Microsoft: 8 to 24 hours): `spend` estimates
    what the bot knows was spent in that window; the embedded sandbox reports this late too."""
    budget_check_seconds: float = Field(
        3600.0,
        gt=0,
        validation_alias=AliasChoices("FTBOT_BUDGET_CHECK_SECONDS", "budget_check_seconds"),
    )
    """Real seconds between two looks at every budget (the 80% and 100% notices)."""
    base_deployment: str = Field(
        "", validation_alias=AliasChoices("FTBOT_BASE_DEPLOYMENT", "base_deployment")
    )
    """The deployment of a base model `evaluate` compares against (`against <deployment>` wins)."""
    judge_deployment: str = Field(
        "", validation_alias=AliasChoices("FTBOT_JUDGE_DEPLOYMENT", "judge_deployment")
    )
    """A chat deployment that `evaluate` asks for a `score_model` grade (`judge=` wins)."""
    max_file_bytes: int = Field(
        512 * 1024 * 1024,
        gt=0,
        validation_alias=AliasChoices("FTBOT_MAX_FILE_BYTES", "max_file_bytes"),
    )

    # The embedded sandbox (docs/sandbox.md): time factor, injected faults (the sandbox parses
    # them when it starts), accepted ARM token.
    sandbox_speedup: float = Field(
        1.0, gt=0, validation_alias=AliasChoices("SANDBOX_SPEEDUP", "sandbox_speedup")
    )
    sandbox_faults: str = Field(
        "", validation_alias=AliasChoices("SANDBOX_FAULTS", "sandbox_faults")
    )
    sandbox_arm_token: SecretStr = Field(
        SecretStr(""), validation_alias=AliasChoices("SANDBOX_ARM_TOKEN", "sandbox_arm_token")
    )
    sandbox_ids: SandboxIds | None = None
    """A sandbox's ids, needed whenever a sandbox stands in for Azure: not a setting of the
    environment, the wiring hands them in (`load_settings`, whose argument wins over it)."""

    # The job watcher (skills/training/watch.py): poll cadence by phase, card update interval,
    # send budget.
    training_poll_running_seconds: float = Field(
        5.0,
        gt=0,
        validation_alias=AliasChoices("FTBOT_POLL_RUNNING", "training_poll_running_seconds"),
    )
    training_poll_queued_seconds: float = Field(
        10.0,
        gt=0,
        validation_alias=AliasChoices("FTBOT_POLL_QUEUED", "training_poll_queued_seconds"),
    )
    training_card_seconds: float = Field(
        5.0, ge=0, validation_alias=AliasChoices("FTBOT_CARD_SECONDS", "training_card_seconds")
    )
    training_updates_per_second: float = Field(
        5.0,
        gt=0,
        validation_alias=AliasChoices("FTBOT_UPDATES_PER_SECOND", "training_updates_per_second"),
    )
    training_import_timeout_seconds: float = Field(
        3600.0,
        gt=0,
        validation_alias=AliasChoices("FTBOT_IMPORT_TIMEOUT", "training_import_timeout_seconds"),
    )

    # What the state store keeps (skills/retention.py): audit entries for this many days, swept
    # this often.
    audit_days: int = Field(
        400, ge=1, validation_alias=AliasChoices("FTBOT_AUDIT_DAYS", "audit_days")
    )
    sweep_seconds: float = Field(
        3600.0, gt=0, validation_alias=AliasChoices("FTBOT_SWEEP_SECONDS", "sweep_seconds")
    )

    @field_validator("admins", "trainers", mode="before")
    @classmethod
    def _split(cls, value: object) -> object:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @field_validator("state_container")
    @classmethod
    def _container(cls, value: str) -> str:
        if not _CONTAINER.match(value):
            raise ValueError(
                "a Blob container name: 3 to 54 lowercase letters, digits and single hyphens"
            )
        return value

    @field_validator("sandbox_url")
    @classmethod
    def _sandbox_url(cls, value: str) -> str:
        if value and not re.match(r"^https?://[^/\s]+(/\S*)?$", value):
            raise ValueError("an http(s) URL, such as http://127.0.0.1:8089")
        return value.rstrip("/")

    @model_validator(mode="after")
    def _storage(self) -> Settings:
        if self.sandbox_url and self.azure_openai_endpoint:
            raise ValueError("set FTBOT_SANDBOX_URL or AZURE_OPENAI_ENDPOINT, not both")
        connection = bool(self.storage_connection_string.get_secret_value())
        if connection and self.storage_account_url:
            raise ValueError(
                "set AZURE_STORAGE_CONNECTION_STRING or AZURE_STORAGE_ACCOUNT_URL, not both"
            )
        if self.state == "blob" and not (connection or self.storage_account_url):
            raise ValueError(
                "FTBOT_STATE=blob needs AZURE_STORAGE_CONNECTION_STRING or "
                "AZURE_STORAGE_ACCOUNT_URL"
            )
        if self.state == "sqlite" and (connection or self.storage_account_url):
            raise ValueError(
                "a storage account is set but FTBOT_STATE is sqlite: set FTBOT_STATE=blob to "
                "keep the state there (or unset AZURE_STORAGE_*)"
            )
        return self

    @model_validator(mode="after")
    def _one_cloud(self) -> Settings:
        cloud = (self.bot_login_url, self.channel_token_issuer, self.channel_openid_metadata_url)
        if self.bot_login_url and not all(cloud):
            raise ValueError(
                "TO_CHANNEL_FROM_BOT_LOGIN_URL, TO_BOT_FROM_CHANNEL_TOKEN_ISSUER and "
                "TO_BOT_FROM_CHANNEL_OPENID_METADATA_URL go together"
            )
        return self

    @model_validator(mode="after")
    def _production(self) -> Settings:
        if self.federated_client_id and self.app_password.get_secret_value():
            raise ValueError(
                "set MicrosoftAppPassword or FTBOT_FEDERATED_CLIENT_ID (the managed identity the "
                "app registration trusts), not both"
            )
        if self.production and not self.admins:
            raise ValueError(
                "FTBOT_ADMINS must name at least one admin (an AAD object id) when "
                "MicrosoftAppId is set"
            )
        if self.backend == "external" and not self.sandbox_arm_token.get_secret_value():
            raise ValueError(
                "FTBOT_SANDBOX_URL needs SANDBOX_ARM_TOKEN, the access secret that sandbox uses "
                "(`ftbot sandbox` prints it at start)"
            )
        if self.production and self.backend == "embedded" and not self.demo_sandbox:
            raise ValueError(
                "with MicrosoftAppId set, configure Azure (AZURE_SUBSCRIPTION_ID or "
                "AZURE_OPENAI_ENDPOINT) or FTBOT_SANDBOX_URL; FTBOT_DEMO_SANDBOX=1 runs the bot "
                "on the built-in stand-in instead"
            )
        return self

    @property
    def backend(self) -> Backend:
        """Where Azure calls go: an external sandbox, Azure, or the sandbox embedded here."""
        if self.sandbox_url:
            return "external"
        if self.azure_subscription_id or self.azure_openai_endpoint:
            return "azure"
        return "embedded"

    @property
    def datasets_container(self) -> str:
        """The Blob container of validated files."""
        return f"{self.state_container}-datasets"

    @property
    def leases_container(self) -> str:
        """The Blob container of lock blobs (one per item of background work)."""
        return f"{self.state_container}-leases"

    @property
    def local_mode(self) -> bool:
        """True with no app id: no inbound authentication (Emulator, Agents Playground)."""
        return not self.app_id

    @property
    def sandbox_mode(self) -> bool:
        """True when a sandbox (embedded or external) stands in for Azure."""
        return self.backend != "azure"

    @property
    def production(self) -> bool:
        """An app id is set: Teams talks to the bot through the Bot Framework."""
        return bool(self.app_id)

    @property
    def embedded_sandbox(self) -> bool:
        """The sandbox is mounted at `/sandbox` on the bot's own port."""
        return self.backend == "embedded"

    @property
    def sandbox_root(self) -> str:
        """Where the sandbox answers: FTBOT_SANDBOX_URL, else the embedded one's `/sandbox` on
        this bot's port."""
        return self.sandbox_url or f"{self.base_url}/sandbox"

    @property
    def resource_manager(self) -> bool:
        """Resource Manager is reachable: a sandbox, or a subscription on Azure."""
        return self.sandbox_mode or bool(self.azure_subscription_id)

    @property
    def bot_principal(self) -> str:
        """The object id of the bot's identity: the sandbox's bot principal on a sandbox,
        FTBOT_BOT_PRINCIPAL_ID on Azure ('' when it is not set)."""
        if self.sandbox_mode:
            return self.sandbox_ids.bot_principal if self.sandbox_ids else ""
        return self.bot_principal_id

    @property
    def everyone_admin(self) -> bool:
        """No role lists are set: every user is admin (local use)."""
        return not self.admins and not self.trainers

    @property
    def base_url(self) -> str:
        """The bot's own address, as the embedded sandbox is reached."""
        return f"http://{self.host}:{self.port}"


def missing_for_production(settings: Settings) -> list[str]:
    """The settings a bot that Teams talks to, on Azure, with its state shared by any number of
    instances, needs and `settings` lacks. deploy/bot.bicep sets every one
    (tests/test_deploy_bicep.py); `ftbot doctor` names the missing ones."""
    tenant = settings.app_type == "MultiTenant" or bool(settings.app_tenant_id)
    credential = settings.app_password.get_secret_value() or settings.federated_client_id
    needed = {
        "MicrosoftAppId": bool(settings.app_id),
        "MicrosoftAppTenantId": tenant,
        "MicrosoftAppPassword or FTBOT_FEDERATED_CLIENT_ID": bool(credential),
        "FTBOT_PUBLIC_HOST": bool(settings.public_host),
        "FTBOT_ADMINS": bool(settings.admins),
        "AZURE_SUBSCRIPTION_ID": bool(settings.azure_subscription_id),
        "AZURE_RESOURCE_GROUP": bool(settings.azure_resource_group),
        "FTBOT_BOT_PRINCIPAL_ID": bool(settings.bot_principal_id),
        "FTBOT_STATE=blob": settings.state == "blob",
    }
    return [name for name, present in needed.items() if not present]


class PackageSettings(BaseSettings):
    """What `ftbot package` reads, and only that: the bot's app id and public host (as `Settings`
    reads them), so the Teams zip builds anywhere, with none of what running the bot
    needs (admins, Azure, state)."""

    model_config = SettingsConfigDict(
        env_file=".env", extra="ignore", populate_by_name=True, frozen=True
    )

    app_id: str = Field("", validation_alias=AliasChoices("MicrosoftAppId", "app_id"))
    public_host: str = Field("", validation_alias=AliasChoices("FTBOT_PUBLIC_HOST", "public_host"))


def _problem(error: ValidationError) -> UserError:
    """The first bad setting as one sentence (the operator reads it at start)."""
    first = error.errors()[0]
    message = first["msg"].removeprefix("Value error, ")
    if not first["loc"]:
        return UserError("invalid settings: {message}", message=message)
    return UserError(
        "invalid setting {name}: {message}", name=str(first["loc"][0]), message=message
    )


def describe_error(error: ValidationError) -> str:
    """One line naming the first bad setting, for the start-up failure."""
    return _problem(error).message


def load_settings(sandbox_ids: SandboxIds | None = None) -> Settings:
    """Read the settings from the environment and `.env`; a bad one is a one-line UserError.
    `sandbox_ids` are those of the sandbox the wiring knows (app.py)."""
    try:
        return Settings(sandbox_ids=sandbox_ids)
    except ValidationError as error:
        raise _problem(error) from None
