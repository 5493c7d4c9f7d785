"""The DR state machines' hands in the other region (``stacks.constructs.failover``): what the
state machines send it, and the environment it reads (``handler``).

Not a catalog function: it has no settings model, table or layer, only boto3 (which the Lambda
runtime provides) and the resources the state machine's construct names in ``TARGETS_ENV``.
"""

from typing import Final

# The environment variable holding every target as JSON: {"primary": {"region", "cluster",
# "services", "rules", "health_url"}, "dr": {"region", "health_url"}} (fields a target does not
# need may be missing).
TARGETS_ENV: Final = "EXCHANGE_DR_TARGETS"
PRIMARY: Final = "primary"
DR: Final = "dr"
# The actions, each with its event's fields besides "action" and "target":
SCALE_ENGINES: Final = "scale_engines"  # "count": every engine service's desired count
ENGINES_SETTLED: Final = "engines_settled"  # "count": are they all running exactly that?
SET_SCHEDULES: Final = "set_schedules"  # "enabled": enable or disable every schedule's rule
PROBE_HEALTH: Final = "probe_health"  # GET the target's health route: 200 is healthy
ACTIONS: Final = (SCALE_ENGINES, ENGINES_SETTLED, SET_SCHEDULES, PROBE_HEALTH)
