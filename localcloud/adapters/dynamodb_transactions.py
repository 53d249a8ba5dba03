"""Gap: each moto DynamoDB transaction deep-copies every table it writes, item count and all.

Moto backs up a whole table (a deep copy of every item, once per item of the transaction that
names it) before it applies ``TransactWriteItems``, to restore it if the transaction is
cancelled. On AWS a transaction costs the same whatever the table holds; locally its cost grows
with the table, so a burst of uploads (each recording its part in a transaction) takes time
quadratic in the number of files. Fix: the backup holds only the items the transaction names,
and a cancelled transaction puts exactly those back; what every request sees is unchanged
(requests are serialized by :mod:`localcloud.adapters.atomic_requests`).
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from contextlib import contextmanager
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any
from unittest import mock

from moto.dynamodb import models
from moto.dynamodb.models import DynamoDBBackend
from moto.dynamodb.models.dynamo_type import DynamoType
from moto.dynamodb.models.table import Table

if TYPE_CHECKING:
    from localcloud.interface import Cloud


def _deepcopy_but_tables(value: Any, memo: dict[int, Any] | None = None) -> Any:
    return value if isinstance(value, Table) else copy.deepcopy(value, memo)


_TABLES_UNCOPIED = SimpleNamespace(**{**vars(copy), "deepcopy": _deepcopy_but_tables})


def _touched(backend: DynamoDBBackend, transact_items: list[dict[str, Any]]) -> list[tuple[Any, Any, Any]]:
    """Each (table, hash key, range key) the transaction names, in a table that exists."""
    found = []
    for item in transact_items:
        for kind, operation in item.items():
            table = backend.tables.get(operation.get("TableName"))
            if table is None:
                continue
            key = operation["Item"] if kind == "Put" else operation.get("Key", {})
            if table.hash_key_attr not in key:
                continue
            hash_key = DynamoType(key[table.hash_key_attr])
            range_key = DynamoType(key[table.range_key_attr]) if table.range_key_attr in key else None
            found.append((table, hash_key, range_key))
    return found


def _restore(table: Any, hash_key: Any, range_key: Any, saved: Any) -> None:
    if table.has_range_key:
        if saved is None:
            table.items.get(hash_key, {}).pop(range_key, None)
        else:
            table.items[hash_key][range_key] = saved
    elif saved is None:
        table.items.pop(hash_key, None)
    else:
        table.items[hash_key] = saved


@contextmanager
def dynamodb_transactions(cloud: Cloud) -> Iterator[None]:
    original = DynamoDBBackend.transact_write_items

    def transact_write_items(backend: DynamoDBBackend, transact_items: list[dict[str, Any]]) -> None:
        touched = _touched(backend, transact_items)
        saved = [copy.deepcopy(table.get_item(hash_key, range_key)) for table, hash_key, range_key in touched]
        try:
            original(backend, transact_items)
        except Exception:
            for (table, hash_key, range_key), item in reversed(list(zip(touched, saved, strict=True))):
                _restore(table, hash_key, range_key, item)
            raise

    # Moto's own backup becomes the table itself, so its rollback changes nothing; ours restores.
    # Patched once for the cloud's life (not per call: concurrent calls would restore each other's patch).
    with (
        mock.patch.object(models, "copy", _TABLES_UNCOPIED),
        mock.patch.object(DynamoDBBackend, "transact_write_items", transact_write_items),
    ):
        yield
