"""AWS::CloudWatch::Alarm, provisioned with PutMetricAlarm."""

from __future__ import annotations

from typing import Any, Self

from moto.core.common_models import CloudFormationModel

from localcloud.resources.base import Provisioned

_NUMBERS = {"EvaluationPeriods", "DatapointsToAlarm", "Period"}
_FLOATS = {"Threshold"}


def _typed_query(query: dict[str, Any]) -> dict[str, Any]:
    """One of the Metrics, with the numbers and booleans that template parameters may give as strings."""
    query = dict(query)
    if "Period" in query:
        query["Period"] = int(query["Period"])
    if "ReturnData" in query:
        query["ReturnData"] = str(query["ReturnData"]).lower() == "true"
    if "MetricStat" in query:
        query["MetricStat"] = {**query["MetricStat"], "Period": int(query["MetricStat"]["Period"])}
    return query


class Alarm(Provisioned, CloudFormationModel):
    @staticmethod
    def cloudformation_type() -> str:
        return "AWS::CloudWatch::Alarm"

    @staticmethod
    def cloudformation_name_type() -> str:
        return "AlarmName"

    @classmethod
    def provision(cls, resource_name: str, properties: dict[str, Any], region_name: str) -> Self:
        properties = {"AlarmName": resource_name, **properties}
        for name in _NUMBERS & set(properties):
            properties[name] = int(properties[name])
        for name in _FLOATS & set(properties):
            properties[name] = float(properties[name])
        if "ActionsEnabled" in properties:
            properties["ActionsEnabled"] = str(properties["ActionsEnabled"]).lower() == "true"
        if "Metrics" in properties:
            properties["Metrics"] = [_typed_query(query) for query in properties["Metrics"]]
        cls.client("cloudwatch", region_name).put_metric_alarm(**properties)
        return cls(properties["AlarmName"])
