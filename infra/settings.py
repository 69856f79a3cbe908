"""The one settings object: environment and `.env`, validated once at start."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from pydantic import AliasChoices, Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from infra.catalog import DEFAULT_MODEL, HOSTING_PRICE_PER_HOUR, TRAINING_PRICE_PER_1M_TOKENS
from infra.errors import UserError

SANDBOX_SUBSCRIPTION = "00000000-0000-0000-0000-000000000000"
SANDBOX_RESOURCE_GROUP = "sandbox"
SANDBOX_ACCOUNT = "aoai-sandbox"

CommaList = Annotated[list[str], NoDecode]


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
    # Where inbound tokens are checked, with botbuilder's own names (empty: the public cloud's).
    # Tests serve OpenID metadata and a JWKS on loopback and sign tokens with their own key.
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

    # Azure OpenAI, with the lab's names; no endpoint means the embedded sandbox.
    azure_openai_endpoint: str = Field(
        "", validation_alias=AliasChoices("AZURE_OPENAI_ENDPOINT", "azure_openai_endpoint")
    )
    azure_openai_api_key: SecretStr = Field(
        SecretStr(""), validation_alias=AliasChoices("AZURE_OPENAI_API_KEY", "azure_openai_api_key")
    )
    azure_openai_api_version: str = Field(
        "2024-10-21",
        validation_alias=AliasChoices("AZURE_OPENAI_API_VERSION", "azure_openai_api_version"),
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

    # Bot roles: Teams AAD object ids. With no admins listed, everyone is admin (local use).
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
    max_file_bytes: int = Field(
        512 * 1024 * 1024,
        gt=0,
        validation_alias=AliasChoices("FTBOT_MAX_FILE_BYTES", "max_file_bytes"),
    )

    # The embedded sandbox (docs/sandbox.md): time factor, injected faults, accepted ARM token.
    sandbox_speedup: float = Field(
        1.0, gt=0, validation_alias=AliasChoices("SANDBOX_SPEEDUP", "sandbox_speedup")
    )
    sandbox_faults: str = Field(
        "", validation_alias=AliasChoices("SANDBOX_FAULTS", "sandbox_faults")
    )
    sandbox_arm_token: SecretStr = Field(
        SecretStr(""), validation_alias=AliasChoices("SANDBOX_ARM_TOKEN", "sandbox_arm_token")
    )

    # The job watcher (skills/training/watch.py): poll cadence by phase, card update interval and
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

    @field_validator("admins", "trainers", mode="before")
    @classmethod
    def _split(cls, value: object) -> object:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @field_validator("sandbox_faults")
    @classmethod
    def _faults(cls, value: str) -> str:
        from infra.sandbox.faults import parse_faults

        parse_faults(value)
        return value

    @property
    def local_mode(self) -> bool:
        """True with no app id: no inbound authentication (Emulator, Agents Playground)."""
        return not self.app_id

    @property
    def sandbox_mode(self) -> bool:
        """True when no Azure endpoint is configured: the embedded sandbox serves Azure."""
        return not self.azure_openai_endpoint

    @property
    def base_url(self) -> str:
        """The bot's own address, as the embedded sandbox is reached."""
        return f"http://{self.host}:{self.port}"


def describe_error(error: ValidationError) -> str:
    """One line naming the first bad setting, for the start-up failure."""
    first = error.errors()[0]
    name = str(first["loc"][0]) if first["loc"] else "settings"
    return f"invalid setting {name}: {first['msg']}"


def load_settings() -> Settings:
    """Read the settings from the environment and `.env`; a bad one is a one-line UserError."""
    try:
        return Settings()
    except ValidationError as error:
        raise UserError(describe_error(error)) from None
