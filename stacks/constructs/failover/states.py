"""The building blocks of the failover and failback state machines (JSONata states).

A runbook is a sequence of **steps**. Each step starts at a Pass state named after it (which
resets the step's poll counter, ``$polls``), and every task in it retries with backoff and, once
its retries are spent, is caught into the step's own Fail state, ``<Step>Failed``, whose cause
names the error. A step that waits for AWS to get somewhere polls: a Wait, a check, and a Choice
that goes on when the check says so, fails the step after ``attempts`` checks, else waits again.

Step Functions behaviour relied on: "Handling errors in Step Functions workflows" (a retrier's
``ErrorEquals`` is matched in order, ``States.ALL`` last; ``MaxAttempts`` 0 never retries; a Catch
passes the error output, ``{"Error", "Cause"}``, to its next state) and "Transforming data with
JSONata in Step Functions" (``$states.input``, ``$states.result``, ``$states.errorOutput``,
``$states.context``; variables assigned with ``Assign``).
"""

from collections.abc import Sequence
from typing import Final

from aws_cdk import Duration
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

# Every task's last retrier: any error, three more attempts, 5 s then 10 s then 20 s apart.
RETRY_INTERVAL: Final = Duration.seconds(5)
RETRY_ATTEMPTS: Final = 3
RETRY_BACKOFF: Final = 2.0
GAVE_UP: Final = "GaveUpWaiting"


class Runbook:
    """States of one state machine, built in ``scope`` (state names are construct ids)."""

    def __init__(self, scope: Construct) -> None:
        self.scope = scope
        self._fails: dict[str, sfn.Fail] = {}

    def step(self, name: str) -> sfn.Pass:
        """The step's first state: marks where it starts and resets its poll counter."""
        return sfn.Pass.jsonata(self.scope, name, assign={"polls": 0}, comment=f"Step {name}")

    def failed(self, step: str) -> sfn.Fail:
        """``<step>Failed``: the execution fails naming the step, its error and cause."""
        if step not in self._fails:
            self._fails[step] = sfn.Fail.jsonata(
                self.scope,
                f"{step}Failed",
                error=f"{step}Failed",
                cause="{% $string($states.input.Error) & ': ' & $string($states.input.Cause) %}",
            )
        return self._fails[step]

    def guard[T: sfn.TaskStateBase](
        self, task: T, step: str, *, never_retry: Sequence[str] = ()
    ) -> T:
        """Retries (none for ``never_retry`` errors), then the step's Fail."""
        if never_retry:
            task.add_retry(errors=list(never_retry), max_attempts=0)
        task.add_retry(
            errors=[sfn.Errors.ALL],
            interval=RETRY_INTERVAL,
            max_attempts=RETRY_ATTEMPTS,
            backoff_rate=RETRY_BACKOFF,
        )
        task.add_catch(
            self.failed(step), errors=[sfn.Errors.ALL], outputs="{% $states.errorOutput %}"
        )
        return task

    def poll(
        self,
        step: str,
        name: str,
        *,
        check: sfn.TaskStateBase,
        done: str,
        every: Duration,
        attempts: int,
        then: sfn.IChainable,
    ) -> sfn.Wait:
        """``Wait<name>`` → ``check`` → ``<name>?``: on to ``then`` once ``done`` (a JSONata
        condition on the check's output) holds, the step's Fail after ``attempts`` checks. The
        check counts itself in ``$polls``. Returns the Wait, the loop's entry."""
        wait = sfn.Wait.jsonata(self.scope, f"WaitFor{name}", time=sfn.WaitTime.duration(every))
        self.guard(check, step)
        decide = sfn.Choice.jsonata(self.scope, f"{name}?")
        decide.when(sfn.Condition.jsonata(done), then)
        decide.when(
            sfn.Condition.jsonata(f"{{% $polls >= {attempts} %}}"),
            self.failed(step),
            outputs={
                "Error": GAVE_UP,
                "Cause": f"{{% '{name}: not done after {attempts} checks, last: '"
                " & $string($states.input) %}",
            },
        )
        decide.otherwise(wait)
        wait.next(check)
        check.next(decide)
        return wait


def counted(assign: dict[str, object] | None = None) -> dict[str, object]:
    """A check's ``assign``: one more poll (and whatever else it keeps)."""
    return {"polls": "{% $polls + 1 %}", **(assign or {})}
