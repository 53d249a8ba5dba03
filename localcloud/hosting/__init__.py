"""The local stand-in for SageMaker real-time hosting: endpoints that deploy on stack time and
serve real models (``cloud.hosting``), with faults tests inject (``cloud.endpoint_faults``)."""

from localcloud.hosting.faults import EndpointFaults, VariantFaults
from localcloud.hosting.service import Hosting, Invocation, InvokeError

__all__ = ["EndpointFaults", "Hosting", "Invocation", "InvokeError", "VariantFaults"]
