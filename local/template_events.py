"""The scheduled rules the template deploys, read (``local.template``): which function each
``AWS::Events::Rule`` invokes, how often, and whether it is enabled.

A rule's ``ScheduleExpression`` is a rate, ``rate(value unit)`` with unit ``minute | minutes |
hour | hours | day | days``, singular exactly when the value is 1 ("Rate expressions reference",
Amazon EventBridge user guide). The CDK app schedules every ``Trigger.SCHEDULE`` function so
(``Schedule.rate``); a ``cron(...)`` schedule has no local twin and stops the stack rather than
run on another clock.
"""

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Final

from local.cfn import Resources, TemplateError, of_type, referenced_function

_RATE: Final = re.compile(r"rate\((?P<value>[1-9][0-9]*) (?P<unit>minute|hour|day)(?P<plural>s?)\)")
_UNIT_SECONDS: Final = {"minute": 60, "hour": 3_600, "day": 86_400}


@dataclass(frozen=True, slots=True)
class DeployedSchedule:
    """An EventBridge rule that invokes ``function`` every ``every_s`` seconds."""

    function: str
    every_s: float
    enabled: bool


def rate_seconds(expression: str) -> float:
    """Seconds between runs of a rate expression; TemplateError for anything else.

    >>> rate_seconds("rate(15 minutes)"), rate_seconds("rate(1 minute)")
    (900.0, 60.0)
    """
    found = _RATE.fullmatch(expression)
    if found is None:
        raise TemplateError(f"schedule {expression!r}: local mode runs rate(value unit) only")
    value = int(found["value"])
    if (value == 1) == bool(found["plural"]):
        raise TemplateError(f"schedule {expression!r}: the unit is singular exactly for 1")
    return float(value * _UNIT_SECONDS[found["unit"]])


def schedules(resources: Resources, by_logical: Mapping[str, str]) -> Iterator[DeployedSchedule]:
    """One per (rule, catalog function it targets)."""
    for logical, props in of_type(resources, "AWS::Events::Rule"):
        expression = props.get("ScheduleExpression")
        if expression is None:
            continue  # an event-pattern rule: nothing runs it on a clock
        for target in props.get("Targets") or ():
            function = referenced_function(target.get("Arn"), by_logical)
            if function is None:
                continue
            if not isinstance(expression, str):
                raise TemplateError(f"{logical}: ScheduleExpression {expression!r} is no string")
            yield DeployedSchedule(
                function=function,
                every_s=rate_seconds(expression),
                enabled=props.get("State", "ENABLED") == "ENABLED",
            )
