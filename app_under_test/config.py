"""Settings read from the environment (pydantic-settings)."""

from __future__ import annotations

from functools import lru_cache

from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """The service's configuration; every field can be set by an environment variable."""

    model_config = SettingsConfigDict(case_sensitive=False, extra="ignore")

    #: Any async SQLAlchemy URL: ``sqlite+aiosqlite``, ``postgresql+asyncpg``,
    #: ``mysql+aiomysql`` (add ``?charset=utf8mb4``). The default needs no server.
    database_url: str = "sqlite+aiosqlite:///./app_under_test.db"
    #: Log every SQL statement.
    database_echo: bool = False


@lru_cache
def get_settings() -> Settings:
    """Return the settings, read once per process."""
    return Settings()
