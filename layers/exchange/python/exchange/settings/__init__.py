"""Typed settings, in one place, read once from the environment at start-up.

``base`` holds one small mixin per external system or concern; ``deployables`` one model per
deployable (each Lambda function, the engine task), combined from the mixins. Nothing else reads
``os.environ``. For example, with ``EXCHANGE_SHARD_ID=s1`` and ``EXCHANGE_SYMBOLS=BTC-USD,ETH-USD``
set, ``load_settings(EngineSettings).symbols`` is ``['BTC-USD', 'ETH-USD']``.
"""

from exchange.settings import base, deployables, payments
from exchange.settings.base import *  # noqa: F403 - the package is the one place to import from
from exchange.settings.deployables import *  # noqa: F403
from exchange.settings.payments import *  # noqa: F403

__all__ = [*base.__all__, *deployables.__all__, *payments.__all__]  # noqa: PLE0604
