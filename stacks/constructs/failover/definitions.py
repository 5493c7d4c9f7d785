"""The two state machines' definitions, step after step (``runbooks`` says what each step does).

Each is built from its last step back to its first, so every step can name the one after it.
"""

import itertools

from aws_cdk import aws_stepfunctions as sfn

from lambdas import dr_control
from stacks.constructs.failover.runbooks import (
    AURORA_CHECKS,
    AURORA_EVERY,
    ENGINES_START_CHECKS,
    ENGINES_START_EVERY,
    ENGINES_STOP_CHECKS,
    ENGINES_STOP_EVERY,
    Side,
    Steps,
)

ACTIVE_ENGINES = 1  # one engine task per shard in the region that trades
SETTLED = "{% $states.input.settled %}"
DONE = "{% $states.input.done %}"
FAILOVER_INPUT = ("reason", "primaryUnreachable")
FAILBACK_INPUT = ("reason",)


def chain(*states: sfn.State | sfn.IChainable) -> sfn.IChainable:
    """``states`` one after the other; the first."""
    for state, after in itertools.pairwise(states):
        if not isinstance(state, sfn.State | sfn.Chain):
            raise TypeError(f"{state} cannot be followed")
        state.next(after)  # type: ignore[union-attr]
    return states[0]


def failover(s: Steps) -> sfn.IChainable:
    t, book = s.topology, s.book
    done = sfn.Succeed.jsonata(
        book.scope,
        "FailedOver",
        outputs={"activeRegion": t.dr.region, "epoch": "{% $epoch %}", "reason": "{% $reason %}"},
    )
    verify = chain(book.step("VerifyHealth"), s.health("VerifyHealth", dr_control.DR, done))
    schedules = chain(
        book.step("EnableDrSchedules"),
        *s.schedules("EnableDrSchedules", t.dr, enabled=True),
        verify,
    )
    dns = chain(book.step("SwitchDns"), _switch(s, "SwitchDns", inverted=True), schedules)
    engines = _start_engines(s, "StartDrEngines", t.dr, then=dns)
    aurora = _aurora(s, "PromoteAurora", writer=t.dr, then=engines)
    fence = _fence_primary(s, then=aurora)
    return s.validate(FAILOVER_INPUT, fence)


def failback(s: Steps) -> sfn.IChainable:
    t, book = s.topology, s.book
    done = sfn.Succeed.jsonata(
        book.scope,
        "FailedBack",
        outputs={
            "activeRegion": t.primary.region,
            "epoch": "{% $epoch %}",
            "reason": "{% $reason %}",
        },
    )
    after: sfn.IChainable = chain(
        book.step("VerifyHealth"), s.health("VerifyHealth", dr_control.PRIMARY, done)
    )
    if t.dr_standby > 0:  # a warm standby again: its engines wait for the fence (engine_service)
        step = "RestoreDrStandby"
        after = chain(book.step(step), *s.scale(step, "StandbyDrEngine", t.dr, t.dr_standby), after)
    enable = s.control_call(
        "EnablePrimarySchedules",
        "EnablePrimaryRules",
        {"action": dr_control.SET_SCHEDULES, "target": dr_control.PRIMARY, "enabled": True},
    )
    schedules = chain(book.step("EnablePrimarySchedules"), enable, after)
    dns = chain(book.step("SwitchDnsBack"), _switch(s, "SwitchDnsBack", inverted=False), schedules)
    engines = _start_engines(s, "StartPrimaryEngines", t.primary, then=dns)
    aurora = _aurora(s, "SwitchoverAurora", writer=t.primary, then=engines)
    fence = _fence_dr(s, then=aurora)
    return s.validate(FAILBACK_INPUT, fence)


def _fence_primary(s: Steps, *, then: sfn.IChainable) -> sfn.IChainable:
    """Stop the primary's engines and schedules (unless ``primaryUnreachable`` says it cannot be
    reached: only the explicit input skips it), then the fencing record."""
    step, t, book = "FencePrimary", s.topology, s.book
    write = s.fence(step, to=t.dr, frm=t.primary, first=True)
    write.next(then)
    primary = {"target": dr_control.PRIMARY}
    stop = s.control_call(
        step, "StopPrimaryEngines", {"action": dr_control.SCALE_ENGINES, **primary, "count": 0}
    )
    disable = s.control_call(
        step,
        "DisablePrimarySchedules",
        {"action": dr_control.SET_SCHEDULES, **primary, "enabled": False},
    )
    check = s.control_call(
        step,
        "CheckPrimaryEngines",
        {"action": dr_control.ENGINES_SETTLED, **primary, "count": 0},
        check=True,
    )
    wait = book.poll(
        step,
        "PrimaryEnginesStopped",
        check=check,
        done=SETTLED,
        every=ENGINES_STOP_EVERY,
        attempts=ENGINES_STOP_CHECKS,
        then=write,
    )
    chain(stop, disable, wait)
    skip = sfn.Pass.jsonata(
        book.scope,
        "PrimaryLeftRunning",
        outputs={
            "skipped": "primaryUnreachable: the primary's engines and schedules were not"
            " stopped; the fencing record fences its engines once its region answers"
        },
    )
    skip.next(write)
    reachable = sfn.Choice.jsonata(book.scope, "PrimaryUnreachable?")
    reachable.when(sfn.Condition.jsonata("{% $primaryUnreachable %}"), skip).otherwise(stop)
    return chain(book.step(step), reachable)


def _fence_dr(s: Steps, *, then: sfn.IChainable) -> sfn.IChainable:
    """The DR schedules off (two regions must never both cancel orders or pay a dividend),
    its engines stopped, then the fencing record back to the primary."""
    step, t, book = "FenceDr", s.topology, s.book
    write = s.fence(step, to=t.primary, frm=t.dr, first=False)
    write.next(then)
    check = s.engines_settled(step, "CheckDrEngines", t.dr, 0)
    wait = book.poll(
        step,
        "DrEnginesStopped",
        check=check,
        done=SETTLED,
        every=ENGINES_STOP_EVERY,
        attempts=ENGINES_STOP_CHECKS,
        then=write,
    )
    return chain(
        book.step(step),
        *s.schedules(step, t.dr, enabled=False),
        *s.scale(step, "StopDrEngine", t.dr, 0),
        wait,
    )


def _aurora(s: Steps, step: str, *, writer: Side, then: sfn.IChainable) -> sfn.IChainable:
    """Make ``writer``'s cluster the global database's writer: a failover that allows data loss
    into DR (the primary may be gone), a switchover back (no data loss). Nothing to do if it
    already is (promoted by hand, or a rerun); else poll until it is and the cluster is
    available again."""
    t, book = s.topology, s.book
    into_dr = writer.region == t.dr.region
    call = "rds:FailoverGlobalCluster" if into_dr else "rds:SwitchoverGlobalCluster"
    parameters: dict[str, object] = {
        "GlobalClusterIdentifier": t.global_cluster_id,
        "TargetDbClusterIdentifier": writer.ledger_cluster_arn,
    }
    if into_dr:
        parameters["AllowDataLoss"] = True
    change = s.sdk(
        step,
        call.split(":")[1],
        call=call,
        resources=[t.global_cluster_arn, t.dr.ledger_cluster_arn, t.primary.ledger_cluster_arn],
        parameters=parameters,
        outputs={"requested": call, "target": writer.ledger_cluster_arn},
    )
    check = s.global_cluster(step, "CheckGlobalCluster", writer, check=True)
    wait = book.poll(
        step,
        "AuroraWriterMoved",
        check=check,
        done=DONE,
        every=AURORA_EVERY,
        attempts=AURORA_CHECKS,
        then=then,
    )
    change.next(wait)
    already = sfn.Choice.jsonata(book.scope, "AlreadyTheWriter?")
    already.when(sfn.Condition.jsonata(DONE), then).otherwise(change)
    read = s.global_cluster(step, "ReadGlobalCluster", writer, check=False)
    return chain(book.step(step), read, already)


def _start_engines(s: Steps, step: str, side: Side, *, then: sfn.IChainable) -> sfn.IChainable:
    """One engine task per shard in ``side``, then poll until each is running."""
    book = s.book
    name = "Dr" if side.region == s.topology.dr.region else "Primary"
    if name == "Dr":
        scale: list[sfn.IChainable] = list(s.scale(step, "StartDrEngine", side, ACTIVE_ENGINES))
        check: sfn.TaskStateBase = s.engines_settled(step, "CheckDrEngines", side, ACTIVE_ENGINES)
    else:
        target = {"target": dr_control.PRIMARY, "count": ACTIVE_ENGINES}
        scale = [
            s.control_call(
                step, "ScalePrimaryEngines", {"action": dr_control.SCALE_ENGINES, **target}
            )
        ]
        check = s.control_call(
            step,
            "CheckPrimaryEngines",
            {"action": dr_control.ENGINES_SETTLED, **target},
            check=True,
        )
    wait = book.poll(
        step,
        f"{name}EnginesRunning",
        check=check,
        done=SETTLED,
        every=ENGINES_START_EVERY,
        attempts=ENGINES_START_CHECKS,
        then=then,
    )
    return chain(book.step(step), *scale, wait)


def _switch(s: Steps, step: str, *, inverted: bool) -> sfn.State:
    """The primary's DNS failover switch inverted (DNS answers with DR) or back; a Pass when no
    hosted zone is configured (no DNS records at all)."""
    t = s.topology
    if t.switch_id is None or t.switch_arn is None:
        return sfn.Pass.jsonata(
            s.book.scope, "DnsNotManaged", outputs={"dns": "no hosted zone configured"}
        )
    return s.sdk(
        step,
        "InvertFailoverSwitch" if inverted else "RevertFailoverSwitch",
        call="route53:UpdateHealthCheck",
        resources=[t.switch_arn],
        parameters={"HealthCheckId": t.switch_id, "Inverted": inverted},
        outputs={"switch": t.switch_id, "inverted": inverted},
    )
