"""Settings are read from the environment once and fail fast with the variable's name."""

from __future__ import annotations

import pytest

from conveyor.errors import ConfigurationError
from conveyor.settings import Settings

COMPLETE = {
    "PROJECT_NAME": "conveyor",
    "STAGE": "dev",
    "CONVEYOR_VERSION": "0.1.0",
    "STATE_TABLE_NAME": "conveyor-dev-StateTable",
}


def test_settings_read_each_field_from_its_upper_case_variable() -> None:
    # Given the environment the template's Globals give every function
    # When the settings are built
    settings = Settings.from_env(COMPLETE)
    # Then each field holds its variable's value
    assert settings.state_table_name == "conveyor-dev-StateTable"
    assert settings.conveyor_version == "0.1.0"


def test_a_missing_variable_is_named_in_the_error() -> None:
    environment = {name: value for name, value in COMPLETE.items() if name != "STATE_TABLE_NAME"}
    with pytest.raises(ConfigurationError, match="STATE_TABLE_NAME: Field required"):
        Settings.from_env(environment)


def test_settings_are_frozen() -> None:
    settings = Settings.from_env(COMPLETE)
    with pytest.raises(ValueError, match="frozen"):
        settings.stage = "prod"  # type: ignore[misc]
