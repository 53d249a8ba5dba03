"""Gap: moto's SNS delivers to any subscribed queue or function, whatever their policies say.

On AWS, SNS delivers to an SQS queue or a Lambda function as ``sns.amazonaws.com`` for the
topic: the queue's policy (and, for an encrypted queue, its key's policy) or the function's
resource policy must allow that, or the message is not delivered. Moto sends it straight into
the queue or the function. Fix: each delivery is authorized as SNS's own; a refused one is not
delivered and is kept in ``cloud.undelivered``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any
from unittest import mock

from moto.sns.models import Subscription

from localcloud.iam import Actions, DeniedError

if TYPE_CHECKING:
    from localcloud.interface import Cloud

SNS = "sns.amazonaws.com"


def _checked(cloud: Cloud, original: Callable[..., Any]) -> Callable[..., Any]:
    actions = Actions(cloud.account_id, cloud.region)

    def publish(subscription: Any, *args: Any, **kwargs: Any) -> Any:
        if subscription.protocol == "sqs":
            name = subscription.endpoint.rsplit(":", 1)[-1]
            checks = actions.checks("sqs", "SendMessage", {"QueueUrl": f"https://sqs/{cloud.account_id}/{name}"})
        elif subscription.protocol == "lambda":
            checks = actions.checks("lambda", "Invoke", {"FunctionName": subscription.endpoint})
        else:
            return original(subscription, *args, **kwargs)
        principal = cloud.authority.service_principal(SNS, subscription.topic.arn)[0]
        try:
            cloud.authority.authorize(principal, checks)
        except DeniedError as denied:
            cloud.undelivered.append((subscription.topic.arn, subscription.endpoint, str(denied)))
            return None
        return original(subscription, *args, **kwargs)

    return publish


@contextmanager
def sns_subscriptions(cloud: Cloud) -> Iterator[None]:
    with mock.patch.object(Subscription, "publish", _checked(cloud, Subscription.publish)):
        yield
