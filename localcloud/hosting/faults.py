"""Faults a test can inject into SageMaker endpoints: ``cloud.endpoint_faults``."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class VariantFaults:
    """What goes wrong with one production variant of one endpoint."""

    error_rate: float = 0.0
    """Share of its requests that fail as a model 5XX (the caller sees ModelError, OriginalStatusCode 500)."""
    latency_ms: float = 0.0
    """Added to the model latency of each of its requests (published in ModelLatency)."""

    def __post_init__(self) -> None:
        if not 0 <= self.error_rate <= 1:
            raise ValueError(f"error_rate must be between 0 and 1, got {self.error_rate}")
        if self.latency_ms < 0:
            raise ValueError(f"latency_ms cannot be negative, got {self.latency_ms}")


NO_FAULTS = VariantFaults()


@dataclass
class EndpointFaults:
    """Faults SageMaker endpoints suffer, set by tests::

    cloud.endpoint_faults.variant("serving", "challenger", error_rate=0.2, latency_ms=150)
    cloud.endpoint_faults.fail_next_update.add("serving")
    """

    variants: dict[tuple[str, str], VariantFaults] = field(default_factory=dict)
    """Faults by (endpoint name, variant name)."""
    fail_next_update: set[str] = field(default_factory=set)
    """Endpoints whose next UpdateEndpoint fails: the endpoint goes Updating, then back to
    InService on its old configuration, with no FailureReason (SageMaker rolls back silently)."""

    def variant(
        self, endpoint_name: str, variant_name: str, *, error_rate: float = 0.0, latency_ms: float = 0.0
    ) -> VariantFaults:
        """Make a variant fail ``error_rate`` of its requests and answer ``latency_ms`` later (0, 0: heal it)."""
        faults = VariantFaults(error_rate=error_rate, latency_ms=latency_ms)
        self.variants[(endpoint_name, variant_name)] = faults
        return faults

    def of(self, endpoint_name: str, variant_name: str) -> VariantFaults:
        """The faults a variant suffers now."""
        return self.variants.get((endpoint_name, variant_name), NO_FAULTS)
