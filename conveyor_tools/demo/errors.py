"""How a step of the demo fails."""


class DemoFailedError(Exception):
    """A step of the demo did not end as described."""


def expect(condition: bool, failure: str) -> None:
    if not condition:
        raise DemoFailedError(failure)
