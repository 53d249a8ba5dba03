"""Gap: moto never expires DynamoDB items whose TTL has passed.

A table's ``TimeToLiveSpecification`` is stored, and nothing reads it. On AWS an item whose TTL
attribute (a Number of epoch seconds) lies in the past is deleted in the background, usually
within two days of expiring and often much sooner (until then reads still return it); values
more than five years in the past, and values that are not Numbers, are ignored. Fix: on every
``cloud.advance(...)``, each table with TTL enabled loses the items that have expired by stack
time, at once. (A table's stream records those deletions as plain REMOVE records, without the
``userIdentity`` that marks a TTL deletion on AWS.)
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any

from moto.dynamodb.models import dynamodb_backends

if TYPE_CHECKING:
    from localcloud.interface import Cloud

# Items whose TTL lies further in the past than this are never deleted on AWS.
IGNORED_AFTER = timedelta(days=5 * 365)


def expired(item: Any, attribute: str, now: datetime) -> bool:
    """Whether ``item`` (a moto item) is due for deletion by TTL at ``now``."""
    value = item.attrs.get(attribute)
    if value is None or value.type != "N":
        return False
    try:
        expiration = Decimal(value.value)
    except InvalidOperation:
        return False
    return Decimal((now - IGNORED_AFTER).timestamp()) <= expiration <= Decimal(now.timestamp())


def expire_all(cloud: Cloud) -> int:
    """Delete every item whose TTL has passed at stack time now; return how many were deleted."""
    now = cloud.clock.now()
    deleted = 0
    for table in list(dynamodb_backends[cloud.account_id][cloud.region].tables.values()):
        if table.ttl.get("TimeToLiveStatus") != "ENABLED":
            continue
        attribute = table.ttl["AttributeName"]
        for item in list(table.all_items()):
            if expired(item, attribute, now):
                table.delete_item(item.hash_key, item.range_key)
                deleted += 1
    return deleted


@contextmanager
def dynamodb_ttl(cloud: Cloud) -> Iterator[None]:
    def tick() -> None:
        expire_all(cloud)

    cloud.tickers.append(tick)
    try:
        yield
    finally:
        cloud.tickers.remove(tick)
