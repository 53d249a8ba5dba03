"""The delivery modes: each event once and in order by default; at least once, seeded, on request."""

from __future__ import annotations

import pytest

from localcloud.delivery import AtLeastOnce, Deliveries


def deliver_all(deliveries: Deliveries, events: list[str], channel: str = "queue") -> list[str]:
    """Deliver ``events`` on one channel, then release what was held back; what arrived, in order."""
    arrived: list[str] = []
    for event in events:
        deliveries.deliver(channel, lambda event=event: arrived.append(event))
    deliveries.settle()
    return arrived


EVENTS = [f"event-{n}" for n in range(200)]


def test_by_default_each_event_arrives_once_at_once_in_order() -> None:
    deliveries = Deliveries()
    arrived: list[str] = []
    for event in EVENTS:
        deliveries.deliver("queue", lambda event=event: arrived.append(event))
        assert arrived[-1] == event
    assert arrived == EVENTS
    assert not deliveries.fails("dynamodb:PutItem", 1.0)


def test_at_least_once_every_event_arrives_some_twice_some_late_and_out_of_order() -> None:
    arrived = deliver_all(Deliveries(AtLeastOnce(seed=7)), EVENTS)
    assert set(arrived) == set(EVENTS)
    twice = [event for event in EVENTS if arrived.count(event) == 2]
    assert 20 < len(twice) < 60  # about 20 %
    first_arrivals = sorted(set(arrived), key=arrived.index)
    assert first_arrivals != EVENTS


def test_the_same_seed_replays_the_same_deliveries() -> None:
    first, again = Deliveries(AtLeastOnce(seed=3)), Deliveries(AtLeastOnce(seed=3))
    assert deliver_all(first, EVENTS) == deliver_all(again, EVENTS)
    assert first.log == again.log
    assert deliver_all(Deliveries(AtLeastOnce(seed=4)), EVENTS) != deliver_all(Deliveries(AtLeastOnce(seed=3)), EVENTS)


def test_a_channel_fates_do_not_depend_on_other_channels() -> None:
    alone = Deliveries(AtLeastOnce(seed=5))
    mixed = Deliveries(AtLeastOnce(seed=5))
    deliver_all(mixed, EVENTS, channel="other")
    assert deliver_all(alone, EVENTS) == deliver_all(mixed, EVENTS)


def test_held_deliveries_wait_for_the_next_on_time_one_which_overtakes_them() -> None:
    deliveries = Deliveries(AtLeastOnce(seed=1, duplicate_rate=0, delay_rate=1))
    arrived: list[str] = []
    deliveries.deliver("queue", lambda: arrived.append("first"))
    deliveries.deliver("elsewhere", lambda: arrived.append("other channel"))
    assert (arrived, deliveries.pending) == ([], 2)
    deliveries.mode = AtLeastOnce(seed=1, duplicate_rate=0, delay_rate=0)
    deliveries.deliver("queue", lambda: arrived.append("second"))
    assert arrived == ["second", "first"]
    assert deliveries.pending == 1
    assert deliveries.release()
    assert arrived == ["second", "first", "other channel"]
    assert not deliveries.release()


def test_duplicated_deliveries_arrive_twice() -> None:
    deliveries = Deliveries(AtLeastOnce(seed=1, duplicate_rate=1, delay_rate=0))
    assert deliver_all(deliveries, ["only"]) == ["only", "only"]
    assert [(fate.copies, fate.late) for fate in deliveries.log] == [(2, 0)]


def test_refusals_come_at_their_rate() -> None:
    deliveries = Deliveries(AtLeastOnce(seed=9, throttle_rate=0.05))
    refused = sum(deliveries.fails("dynamodb:PutItem", 0.05) for _ in range(2000))
    assert 60 < refused < 140
    assert not any(deliveries.fails("dynamodb:PutItem", 0) for _ in range(100))


@pytest.mark.parametrize("rates", [{"duplicate_rate": 1.5}, {"delay_rate": -0.1}, {"conflict_rate": 2}])
def test_a_rate_outside_zero_to_one_is_refused(rates: dict[str, float]) -> None:
    with pytest.raises(ValueError, match="must be between 0 and 1"):
        AtLeastOnce(seed=1, **rates)
