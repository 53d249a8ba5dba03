"""A local CloudTrail: API calls recorded in CloudTrail's shape and delivered to EventBridge.

:mod:`localcloud.cloudtrail.shapes` builds the "AWS API Call via CloudTrail" event of a call and
decides which calls CloudTrail delivers; :mod:`localcloud.cloudtrail.trail` holds the account's
delivery (``cloud.cloudtrail``), which the ``cloudtrail_events`` adapter feeds with every call.
"""

from localcloud.cloudtrail.shapes import DETAIL_TYPE, Caller, api_call_event, event_name, event_source, recorded
from localcloud.cloudtrail.trail import LocalCloudTrail, logs_management_writes

__all__ = [
    "DETAIL_TYPE",
    "Caller",
    "LocalCloudTrail",
    "api_call_event",
    "event_name",
    "event_source",
    "logs_management_writes",
    "recorded",
]
