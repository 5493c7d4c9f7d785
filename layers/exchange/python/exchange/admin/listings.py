"""Listing a new instrument or changing a listed one: what the admin API checks before it writes.

- The definition is an ``Instrument`` (``status`` aside): its own rules, then, for a symbol
  listed already (in the store, or version 0 of the static file), the fields fixed at listing
  (``exchange.instruments.model.check_change``) and the shard (a book lives in one engine task).
- Base and quote must be assets the ledger keeps (its asset scales): new assets are deploy-time
  configuration, never an admin action. The lot, and one tick times one lot, must be on those
  assets' scales, or the ledger could hold none of the symbol's orders.
- A new symbol goes to the shard asked for (one that exists), else to the least-loaded shard
  (fewest symbols; ties by name).
- ``status`` is a new listing's first status only; a change keeps the status in force
  (``PUT /v1/admin/markets/{symbol}/status`` changes it), so a change naming another is refused.
- Versions: without one, a definition equal to the one in force is a *republish* of that version
  (the retry of a listing whose publish failed), anything else the next version. With one, it
  must be the next version, or the one in force with an equal definition (a republish); else 409.
"""

from collections import Counter
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from exchange.admin.errors import InvalidAdminRequest, UnknownAsset, UnknownShard
from exchange.domain.errors import InvalidInstrument
from exchange.domain.instruments import Instrument
from exchange.instruments.errors import VersionConflict
from exchange.instruments.model import Listing, check_change, check_shard
from exchange.ledger.errors import LedgerError
from exchange.ledger.money import check_instrument


@dataclass(frozen=True, slots=True)
class ListingPlan:
    """What to do: write ``version`` (``republish`` False) or send ``version`` again."""

    instrument: Instrument
    shard: str
    version: int
    republish: bool


def parse_definition(symbol: str, spec: Mapping[str, Any]) -> Instrument:
    """The instrument ``spec`` defines for ``symbol`` (the path's; a ``symbol`` in the spec must
    be the same). Raises InvalidInstrument naming what is wrong."""
    named = spec.get("symbol", symbol)
    if named != symbol:
        raise InvalidInstrument(f"the definition is of {named}, not {symbol}")
    try:
        return Instrument.model_validate({**spec, "symbol": symbol})
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in error['loc']) or 'instrument'}: {error['msg']}"
            for error in exc.errors()
        )
        raise InvalidInstrument(f"invalid instrument {symbol}: {problems}") from exc


def check_assets(instrument: Instrument, asset_scales: Mapping[str, int]) -> None:
    """UnknownAsset for a base or quote the ledger does not keep; InvalidInstrument for a lot,
    or a smallest notional (one tick times one lot), finer than the ledger's scale of its asset.
    Such a listing could never be reserved or settled, and its tick and lot cannot be changed
    once listed (``ledger.money.check_instrument``, which the ledger applies at first use)."""
    for asset in (instrument.base, instrument.quote):
        if asset not in asset_scales:
            raise UnknownAsset(
                f"the ledger keeps no asset {asset}; known: {', '.join(sorted(asset_scales))}"
            )
    try:
        check_instrument(instrument, asset_scales)
    except LedgerError as exc:
        raise InvalidInstrument(
            f"the ledger cannot hold {instrument.symbol}'s amounts exactly: {exc}"
        ) from exc


def least_loaded(shard_ids: Collection[str], load: Mapping[str, int]) -> str:
    """The shard with the fewest symbols (the first by name among equals)."""
    return min(sorted(shard_ids), key=lambda shard: load.get(shard, 0))


def plan_listing(
    instrument: Instrument,
    *,
    current: Listing | None,
    status_given: bool,
    version: int | None,
    shard: str | None,
    shard_ids: Collection[str],
    shard_load: Counter[str],
) -> ListingPlan:
    """Check ``instrument`` against the listing in force (``current``: the store's, or the static
    file's version 0; None for a new symbol) and decide the version and shard to write."""
    if shard is not None and shard not in shard_ids:
        raise UnknownShard(f"no shard {shard}; shards: {', '.join(sorted(shard_ids))}")
    if current is None:
        chosen = shard if shard is not None else least_loaded(shard_ids, shard_load)
        if version not in (None, 1):
            raise VersionConflict(f"{instrument.symbol} is new: its first version is 1")
        return ListingPlan(instrument, chosen, 1, republish=False)
    check_change(current.instrument, instrument)
    if shard is not None:
        check_shard(current, shard)
    if status_given and instrument.status is not current.status:
        raise InvalidAdminRequest(
            f"{instrument.symbol} is {current.status}; a change of listing keeps its status:"
            f" PUT /v1/admin/markets/{instrument.symbol}/status changes it"
        )
    kept = instrument.model_copy(update={"status": current.status})
    same = _terms(kept) == _terms(current.instrument)
    if current.version > 0 and same and version in (None, current.version):
        return ListingPlan(current.instrument, current.shard, current.version, republish=True)
    wanted = current.version + 1
    if version is not None and version != wanted:
        raise VersionConflict(
            f"{instrument.symbol}: version {current.version} is in force, so the next is"
            f" {wanted}, not {version} (a retry of version {current.version} must repeat its"
            " definition)"
        )
    return ListingPlan(kept, current.shard, wanted, republish=False)


def _terms(instrument: Instrument) -> dict[str, Any]:
    """What a definition says, its status aside (the engine owns the status)."""
    return instrument.model_dump(mode="json", exclude={"status"})
