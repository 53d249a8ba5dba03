"""IAM and KMS as AWS enforces them: every principal acts as itself, and every request is authorized."""

from localcloud.iam.actions import Actions, UnmodelledOperationError
from localcloud.iam.authority import ADMIN_ACCESS_KEY, Authority, Credentials, DeniedError
from localcloud.iam.deploy import unevaluable_conditions
from localcloud.iam.enforcement import enforcing
from localcloud.iam.policy import Check, Principal, UnsupportedConditionError, unsupported_conditions

__all__ = [
    "ADMIN_ACCESS_KEY",
    "Actions",
    "Authority",
    "Check",
    "Credentials",
    "DeniedError",
    "Principal",
    "UnmodelledOperationError",
    "UnsupportedConditionError",
    "enforcing",
    "unevaluable_conditions",
    "unsupported_conditions",
]
