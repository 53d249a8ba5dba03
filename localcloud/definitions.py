"""State machine definitions parsed once per process, not once per state machine and execution.

Moto's ASL interpreter parses a definition with ANTLR, in pure Python, when its state machine is
created and again when each execution starts: a fifth of a second or more for each of the stack's
workflows, most of a deploy, and most of a short execution's time. The parse tree, which the
interpreter only reads, is kept by the definition's text; each execution still builds its own
program from it, as moto does. A deploy draws the same physical names as the previous deploy of
the same template and parameters (:func:`repeatable_names`), so its definitions are
parsed already.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from unittest import mock

from moto.moto_api._internal import mock_random
from moto.stepfunctions.parser.asl.parse.asl_parser import AmazonStateLanguageParser
from moto.stepfunctions.parser.asl.parse.preprocessor import Preprocessor

_parse_definition = AmazonStateLanguageParser.parse
# The stack's largest tree holds about 3.5 MB.
_KEPT_TREES = 16


@functools.lru_cache(maxsize=_KEPT_TREES)
def _tree(definition: str) -> Any:
    """The parse tree of ``definition``; one that does not parse raises every time, as it did."""
    return _parse_definition(definition)[1]


def _parse(definition: str) -> tuple[Any, Any]:
    tree = _tree(definition)
    return Preprocessor().visit(tree), tree


@contextmanager
def parsing_once() -> Iterator[None]:
    """Until exit, a definition parsed before is not parsed again; its program is built anew each time."""
    with mock.patch.object(AmazonStateLanguageParser, "parse", staticmethod(_parse)):
        yield


@contextmanager
def repeatable_names() -> Iterator[None]:
    """Until exit, moto draws the identifiers it generates (CloudFormation's physical name suffixes,
    ids) from a fixed seed: each deploy of a template and parameters gets the same names. Draws made
    after exit go on from where they were."""
    state = mock_random.getstate()
    mock_random.seed(0)
    try:
        yield
    finally:
        mock_random.setstate(state)
