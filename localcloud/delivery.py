"""How the local cloud's services deliver events: each once and in order, or at least once.

On AWS, S3 event notifications, EventBridge targets, SNS subscriptions, Lambda's asynchronous
queue and Firehose deliver each event at least once and promise no order: now and then an event
arrives twice, or after events sent later; and DynamoDB now and then refuses a request (a
throttle, a transaction conflict). By default the local cloud delivers each event once, at once,
in order, which hides what a stack only meets on AWS. ``LocalCloud(..., delivery=AtLeastOnce(seed=7))``
delivers as AWS may: a share of deliveries twice, a share late (held back until the next on-time
delivery on the same channel, which then overtakes them, or until ``cloud.advance`` or
``cloud.run_until_idle``), and DynamoDB refuses a share of requests before applying them.

Each channel (a bucket prefix's notifications, a rule's target, a function's event queue, a
subscription, a delivery stream, a principal's DynamoDB operation) draws the fate of its n-th
delivery from the seed, the channel's name and n alone. Channels are named by the template's
logical ids, which, unlike physical names, are the same in every deployment; so a run whose
deliveries reach each channel in the same order (those of one thread do) replays exactly with
the same seed. :attr:`Deliveries.log` says what befell each delivery.
"""

from __future__ import annotations

import random
import re
import threading
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field


@dataclass(frozen=True)
class AtLeastOnce:
    """Deliver as AWS may: some events twice, some late, some DynamoDB requests refused.

    ``duplicate_rate``: share of deliveries made twice; ``delay_rate``: share of copies held back;
    ``throttle_rate``: share of DynamoDB requests refused with ProvisionedThroughputExceededException;
    ``conflict_rate``: share of DynamoDB transactions cancelled for a TransactionConflict.
    """

    seed: int
    duplicate_rate: float = 0.2
    delay_rate: float = 0.2
    throttle_rate: float = 0.05
    conflict_rate: float = 0.1

    def __post_init__(self) -> None:
        for name in ("duplicate_rate", "delay_rate", "throttle_rate", "conflict_rate"):
            rate = getattr(self, name)
            if not 0 <= rate <= 1:
                raise ValueError(f"{name} must be between 0 and 1, got {rate}")


@dataclass(frozen=True)
class Fate:
    """What befell the ``number``-th delivery on ``channel``: ``copies`` sent, ``late`` of them held back."""

    channel: str
    number: int
    copies: int
    late: int


@dataclass
class Deliveries:
    """The one way the local cloud's services deliver events, in the cloud's delivery mode."""

    mode: AtLeastOnce | None = None
    """None: every event once, at once, in order."""
    log: list[Fate] = field(default_factory=list)
    refused: Counter[str] = field(default_factory=Counter)
    """How many requests each channel refused (:meth:`fails`)."""
    request_lock: threading.RLock = field(default_factory=threading.RLock)
    """Held by every request to the emulation, and by a held-back delivery when it is released."""
    _counts: dict[str, int] = field(default_factory=dict)
    _held: dict[str, list[Callable[[], None]]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def deliver(self, channel: str, send: Callable[[], None]) -> None:
        """Deliver by calling ``send``: once now, or as the mode decides for this delivery."""
        if self.mode is None:
            send()
            return
        with self._lock:
            draw = self._draw(channel)
            copies = 2 if draw.random() < self.mode.duplicate_rate else 1
            late = [draw.random() < self.mode.delay_rate for _ in range(copies)]
            self.log.append(Fate(channel, self._counts[channel], copies, sum(late)))
            # An on-time copy overtakes what this channel held back; those go right after it.
            overtaken = self._held.pop(channel, []) if not all(late) else []
            self._held.setdefault(channel, []).extend(send for held in late if held)
        for _ in range(late.count(False)):
            send()
        for held in overtaken:
            held()

    def fails(self, channel: str, rate: float) -> bool:
        """Whether the next request on ``channel`` is refused, at ``rate`` (never in the default mode)."""
        if self.mode is None or rate <= 0:
            return False
        with self._lock:
            refuse = self._draw(channel).random() < rate
            self.refused[channel] += refuse
            return refuse

    def draw(self, channel: str) -> random.Random:
        """A generator for the next choice on ``channel`` (seeded like every fate)."""
        with self._lock:
            return self._draw(channel)

    def _draw(self, channel: str) -> random.Random:
        number = self._counts[channel] = self._counts.get(channel, 0) + 1
        seed = self.mode.seed if self.mode is not None else 0
        return random.Random(f"{seed}:{channel}:{number}")

    @property
    def pending(self) -> int:
        """How many deliveries are held back."""
        with self._lock:
            return sum(len(held) for held in self._held.values())

    def release(self) -> bool:
        """Make every delivery held back so far, in the order they were held; whether there was any."""
        with self._lock:
            held = [send for sends in self._held.values() for send in sends]
            self._held.clear()
        for send in held:
            # As a request would: a delivery runs handlers, which must not wait on the request lock
            # while a request on another thread waits for them.
            with self.request_lock:
                send()
        return bool(held)

    def settle(self) -> None:
        """Release held deliveries until none is left (a released one may hold others back)."""
        while self.release():
            pass


def channel(physical_ids: Mapping[str, str], kind: str, *parts: str) -> str:
    """A channel's name: ``kind``, then ``parts`` (names or ARNs), each stack resource by its logical id."""
    logical: dict[str, str] = {}
    for logical_id, physical in physical_ids.items():
        # A resource that provisions another (a bucket policy) may share its name: the first one wins.
        for name in (physical, _last_segment(physical)) if physical else ():
            logical.setdefault(name, logical_id)
    return ":".join([kind, *(logical.get(part) or logical.get(_last_segment(part)) or part for part in parts)])


def _last_segment(name: str) -> str:
    return re.split(r"[:/]", name)[-1]
