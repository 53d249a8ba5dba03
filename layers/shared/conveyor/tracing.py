"""The handlers' tracer: Powertools' Tracer, set up once for every function.

``Tracer()`` imports the X-Ray SDK and builds its recorder even when ``POWERTOOLS_TRACE_DISABLED``
turns it off; here that variable means no X-Ray at all: the handler gets a decorator that does
nothing (README, "Cold starts", has what each costs). The local cloud runs handlers so.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any, Protocol

from aws_lambda_powertools import Tracer
from aws_lambda_powertools.shared.functions import resolve_truthy_env_var_choice

Handler = Callable[..., Any]
PATCHED_MODULES = ("botocore",)


class HandlerTracer(Protocol):
    """What a handler uses of Powertools' Tracer."""

    def capture_lambda_handler(
        self,
        lambda_handler: Handler | None = None,
        capture_response: bool | None = None,
        capture_error: bool | None = None,
    ) -> Handler: ...


class Untraced:
    """Stands in for Tracer when tracing is off: the handler runs undecorated."""

    def capture_lambda_handler(
        self,
        lambda_handler: Handler | None = None,
        capture_response: bool | None = None,
        capture_error: bool | None = None,
    ) -> Handler:
        """``lambda_handler`` itself (or, called with options only, a decorator that returns it)."""
        if lambda_handler is None:
            return lambda handler: handler
        return lambda_handler


def handler_tracer() -> HandlerTracer:
    """Powertools' Tracer, unless ``POWERTOOLS_TRACE_DISABLED`` is true: then :class:`Untraced`."""
    if resolve_truthy_env_var_choice(env=os.getenv("POWERTOOLS_TRACE_DISABLED", "false")):
        return Untraced()
    # The functions reach AWS only through boto3: patching botocore traces every call, and skips
    # importing and patching the other libraries patch_all looks for (sqlite3, http.client, ...).
    return Tracer(patch_modules=PATCHED_MODULES)
