"""Typed configuration read from the environment once, at cold start."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Self

from pydantic import BaseModel, ConfigDict, ValidationError

from conveyor.errors import ConfigurationError


class Settings(BaseModel):
    """Environment every function gets from the template's Globals.

    Each field is read from the upper-cased environment variable of the same name
    (``state_table_name`` from ``STATE_TABLE_NAME``). Subclass it per function.
    """

    model_config = ConfigDict(frozen=True, extra="ignore")

    project_name: str
    stage: str
    conveyor_version: str
    state_table_name: str

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Self:
        """Build the settings, failing fast with the variable's name when one is missing or bad."""
        source = os.environ if environ is None else environ
        values = {name: source[name.upper()] for name in cls.model_fields if name.upper() in source}
        try:
            return cls.model_validate(values)
        except ValidationError as error:
            problems = "; ".join(f"{str(issue['loc'][0]).upper()}: {issue['msg']}" for issue in error.errors())
            raise ConfigurationError(f"invalid environment for {cls.__name__}: {problems}") from error
