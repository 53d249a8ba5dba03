"""The template, raw and translated, loaded once for the structural checks."""

from __future__ import annotations

from typing import Any

import pytest

from localcloud.template import load_sam_template, translate
from tests.conftest import TEMPLATE


@pytest.fixture(scope="session")
def sam() -> dict[str, Any]:
    return load_sam_template(TEMPLATE)


@pytest.fixture(scope="session")
def translated() -> dict[str, Any]:
    return translate(TEMPLATE).body
