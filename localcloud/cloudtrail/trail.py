"""The account's CloudTrail as the local cloud runs it: whether a trail logs, and delivery to EventBridge.

:class:`LocalCloudTrail` records a call made in the local cloud (after the call returned) as the
"AWS API Call via CloudTrail" event of :mod:`localcloud.cloudtrail.shapes`, and delivers it to the
rules of the default bus while a trail of the account logs management write events. Delivery
goes straight to the rules, with no request of its own (no recursion, no IAM check); the
EventBridge targets adapter then delivers to each target as it delivers every event.
"""

from __future__ import annotations

import copy
import threading
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any, cast

from botocore.exceptions import ClientError
from moto.cloudtrail.models import cloudtrail_backends
from moto.events.models import events_backends
from moto.events.utils import EventMessageType

from localcloud.cloudtrail.shapes import CLOUDFORMATION, GLOBAL_SERVICES, Caller, api_call_event
from localcloud.iam import Authority

# The service whose sessions are a function's own: calls made with them are the handler's.
FUNCTION_RUNTIME = "lambda.amazonaws.com"


def logs_management_writes(trail: Any, *, global_service: bool = False) -> bool:
    """Whether ``trail`` (moto's), while logging, records management calls that write.

    A trail without event selectors records every management event; with them, those of a
    selector that includes management events and writes; IAM and other global services' events
    only if it includes global service events.
    """
    if global_service and not trail.include_global_service_events:
        return False
    selectors, advanced = trail.event_selectors, trail.advanced_event_selectors
    if not selectors and not advanced:
        return True
    for selector in selectors:
        read_write = selector.get("ReadWriteType", "All")
        if selector.get("IncludeManagementEvents", True) and read_write in {"All", "WriteOnly"}:
            return True
    for selector in advanced:
        fields = {f.get("Field"): f for f in selector.get("FieldSelectors", [])}
        category = fields.get("eventCategory", {}).get("Equals", [])
        read_only = fields.get("readOnly", {}).get("Equals", [])
        if "Management" in category and "true" not in read_only:
            return True
    return False


class LocalCloudTrail:
    """CloudTrail's delivery of the account's API calls to EventBridge."""

    def __init__(self, account_id: str, region: str, authority: Authority, now: Callable[[], datetime]) -> None:
        self.account_id = account_id
        self.region = region
        self._authority = authority
        self._now = now
        self._deploying = threading.local()
        self.recent: deque[dict[str, Any]] = deque(maxlen=1000)
        """The last events delivered, oldest first (for tests and debugging)."""

    def logging(self, service: str = "") -> bool:
        """Whether a trail of the account logs management write events (of ``service``) now."""
        trails = cloudtrail_backends[self.account_id][self.region].trails.values()
        global_service = service in GLOBAL_SERVICES
        return any(t.status.is_logging and logs_management_writes(t, global_service=global_service) for t in trails)

    @contextmanager
    def deploying(self) -> Iterator[None]:
        """While a CloudFormation stack operation runs on this thread: its calls are CloudFormation's."""
        self._deploying.depth = getattr(self._deploying, "depth", 0) + 1
        try:
            yield
        finally:
            self._deploying.depth -= 1

    def caller(self, client: Any) -> Caller | None:
        """Who signs ``client``'s requests, and the service acting for them, if any."""
        credentials = client._request_signer._credentials
        access_key = credentials.get_frozen_credentials().access_key if credentials is not None else ""
        principal = self._authority.holder(access_key)
        if principal is None:
            return None  # CloudTrail records no call it could not authenticate
        if principal.kind == "service":
            invoked_by = principal.arn
        elif principal.kind == "role" and principal.assumed_by not in {"", FUNCTION_RUNTIME}:
            invoked_by = principal.assumed_by
        elif getattr(self._deploying, "depth", 0):
            invoked_by = CLOUDFORMATION
        else:
            invoked_by = ""
        return Caller(principal, access_key, invoked_by, str(client.meta.config.user_agent or ""))

    def record(
        self,
        client: Any,
        operation: str,
        params: Any,
        *,
        response: Any = None,
        error: ClientError | None = None,
    ) -> None:
        """Deliver the event of one call made with ``client`` while a trail was logging."""
        caller = self.caller(client)
        if caller is None:
            return
        event = api_call_event(
            service=client.meta.service_model.service_name,
            operation=operation,
            params=params,
            caller=caller,
            account_id=self.account_id,
            region=self.region,
            now=self._now(),
            response=response,
            error=error.response if error is not None else None,
        )
        self.deliver(event)

    def deliver(self, event: dict[str, Any]) -> None:
        """Put a CloudTrail event (an API call, or an Insight) on the default bus, as CloudTrail does.

        Tests use it for what the local cloud does not produce itself, such as
        "AWS Insight via CloudTrail" events. Disabled rules receive nothing.
        """
        self.recent.append(event)
        bus = events_backends[self.account_id][self.region].event_buses["default"]
        for rule in list(bus.rules.values()):
            if rule.state != "DISABLED" and rule.event_pattern.matches_event(cast(EventMessageType, event)):
                rule.send_to_targets(cast(EventMessageType, copy.deepcopy(event)))
