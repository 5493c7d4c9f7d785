"""What operators do (``/v1/admin``), with no knowledge of API Gateway.

Each action is recorded first, then done: its entry in the ``operators`` audit chain names the
operator, the reason, the request and the command ids the engine will journal
(``exchange.admin.audit``), so nothing happens without its entry. Then:

- ``set_status``: one ``SetTradingStatus`` to the symbol.
- ``kill_switch``: one ``SetTradingStatus`` (CANCEL_ONLY, HALTED or TRADING) to every listed
  symbol, read afresh from the instruments store, so a symbol listed a minute ago is included;
  a DELISTED symbol is left alone (a resume must not relist it).
- ``mass_cancel``: one ``MassCancel`` to the symbol (one account's orders, or all);
  ``cancel_account_orders``: one ``MassCancel`` of the account to every symbol.
- ``freeze`` / ``unfreeze``: the ledger first (``set_frozen``: from then on it refuses the
  account's reservations and withdrawals), then one ``FreezeAccount`` to every symbol (new orders
  refused, open ones cancelled). The entry goes to the account's own chain too.
- ``list_instrument``: the new version in the instruments store, then ``ListInstrument`` with
  command id ``list:<symbol>:<version>`` (``exchange.admin.listings`` for the checks). When the
  publish fails after the store write, the same request again republishes that version; the
  engine ignores a version it holds, so the retry is harmless.
- dividends: declared in the ledger (which pays them when due); listed from it.

Every command's publish outcome is reported per symbol (``exchange.admin.dispatch``).
"""

import time
import uuid
from collections import Counter
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any, Final

from exchange.admin.audit import (
    OPERATORS_PARTITION,
    AdminAction,
    AdminKind,
    AuditChains,
    action_events,
    verify_operators_log,
)
from exchange.admin.dispatch import Dispatch, Sent, publish_all
from exchange.admin.errors import InvalidAdminRequest, NotAnEquity
from exchange.admin.listings import check_assets, parse_definition, plan_listing
from exchange.domain.commands import (
    FreezeAccount,
    ListInstrument,
    MassCancel,
    OperatorCommand,
    SetTradingStatus,
)
from exchange.domain.enums import AssetClass, InstrumentStatus
from exchange.instruments.live import LiveCatalog
from exchange.instruments.model import Listing, definition
from exchange.instruments.store import InstrumentStore
from exchange.journal.audit import AuditEntry, AuditReport
from exchange.ledger.dividends import Dividend, DividendDeclaration
from exchange.ledger.port import LedgerPort
from exchange.orders.publisher import CommandSink

KILL_SWITCH_STATUSES: Final = frozenset(
    {InstrumentStatus.CANCEL_ONLY, InstrumentStatus.HALTED, InstrumentStatus.TRADING}
)


def new_command_id() -> str:
    return f"adm_{uuid.uuid4().hex}"


@dataclass(frozen=True, slots=True)
class FreezeResult:
    account_id: str
    frozen: bool
    changed: bool  # False: the ledger had it so already (the engine is told again anyway)
    dispatch: Dispatch


@dataclass(frozen=True, slots=True)
class ListingResult:
    listing: Listing
    republished: bool  # True: the version was in force already; only the command went again
    dispatch: Dispatch

    @property
    def command(self) -> Sent:
        return self.dispatch.commands[0]


@dataclass(frozen=True, slots=True)
class DividendRequest:
    symbol: str
    amount_per_unit: Decimal
    record_time: datetime
    pay_time: datetime
    issuer_account_id: str
    dividend_id: str | None = None  # the client's, so a retried declare is the same dividend


@dataclass(frozen=True, slots=True)
class AuditPage:
    entries: list[AuditEntry]  # newest first
    next_before: int | None  # pass back as ``before`` for older entries; None: no more
    report: AuditReport  # the whole chain's verification


class AdminService:
    def __init__(
        self,
        *,
        sink: CommandSink,
        ledger: LedgerPort,
        store: InstrumentStore,
        catalog: LiveCatalog,
        audit: AuditChains,
        asset_scales: Mapping[str, int],
        shard_ids: Collection[str],
        clock_ns: Callable[[], int] = time.time_ns,
        new_id: Callable[[], str] = new_command_id,
    ) -> None:
        self._sink = sink
        self._ledger = ledger
        self._store = store
        self._catalog = catalog
        self._audit = audit
        self._scales = dict(asset_scales)
        self._shard_ids = frozenset(shard_ids)
        self._clock_ns = clock_ns
        self._new_id = new_id

    # -- reading ---------------------------------------------------------------------------------
    def markets(self) -> list[Listing]:
        """Every listed symbol, as the store has it now (not up to 5 s old), by symbol."""
        self._catalog.refresh()
        return sorted(self._catalog.listings(), key=lambda listing: listing.symbol)

    def instrument(self, symbol: str) -> tuple[Listing, list[Listing]]:
        """The listing in force and every stored version, oldest first; UnknownInstrument when
        the symbol is not listed."""
        self._catalog.refresh()
        return self._catalog.listing(symbol), self._store.history(symbol)

    def dividends(self, symbol: str | None = None) -> list[Dividend]:
        return self._ledger.dividends(symbol)

    def audit_log(self, *, limit: int, before: int | None = None) -> AuditPage:
        """A page of the operators' chain, newest first, and whether the whole chain verifies
        (read in full: operators act rarely, so the chain stays small)."""
        entries = self._audit.newest(OPERATORS_PARTITION, limit=limit, before_seq=before)
        more = len(entries) == limit and entries[-1].seq > 1
        report = verify_operators_log(self._audit.entries(OPERATORS_PARTITION))
        return AuditPage(entries, entries[-1].seq if more else None, report)

    # -- symbols ---------------------------------------------------------------------------------
    def set_status(self, symbol: str, status: InstrumentStatus, action: AdminAction) -> Dispatch:
        listing = self._listing(symbol)
        command = self._status_command(symbol, status, action)
        what = {"symbols": [symbol], "status": status.value, "was": listing.status.value}
        return self._act("admin_status_set", action, what, [command])

    def kill_switch(self, status: InstrumentStatus, action: AdminAction) -> Dispatch:
        if status not in KILL_SWITCH_STATUSES:
            allowed = ", ".join(sorted(KILL_SWITCH_STATUSES))
            raise InvalidAdminRequest(f"the kill switch sets {allowed}, not {status}")
        # A delisted symbol is out of the kill switch's reach: resuming must not relist it.
        live = self._symbols(excluding=InstrumentStatus.DELISTED)
        commands = [self._status_command(symbol, status, action) for symbol in live]
        return self._act("admin_kill_switch", action, {"status": status.value}, commands)

    def mass_cancel(self, symbol: str, account_id: str | None, action: AdminAction) -> Dispatch:
        self._listing(symbol)
        if account_id is not None:
            self._ledger.is_frozen(account_id)  # UnknownAccount before anything is written
        command = self._mass_cancel_command(symbol, account_id, action)
        return self._act("admin_mass_cancel", action, {"account_id": account_id}, [command])

    def cancel_account_orders(self, account_id: str, action: AdminAction) -> Dispatch:
        self._ledger.is_frozen(account_id)
        commands = [self._mass_cancel_command(s, account_id, action) for s in self._symbols()]
        return self._act("admin_mass_cancel", action, {"account_id": account_id}, commands)

    # -- accounts --------------------------------------------------------------------------------
    def freeze(self, account_id: str, action: AdminAction) -> FreezeResult:
        return self._set_frozen(account_id, True, action)

    def unfreeze(self, account_id: str, action: AdminAction) -> FreezeResult:
        return self._set_frozen(account_id, False, action)

    def _set_frozen(self, account_id: str, frozen: bool, action: AdminAction) -> FreezeResult:
        was = self._ledger.is_frozen(account_id)  # UnknownAccount before anything is written
        now_ns = self._clock_ns()
        commands = [
            FreezeAccount(
                symbol=symbol,
                ts=now_ns,
                command_id=self._new_id(),
                account_id=account_id,
                frozen=frozen,
                actor=action.operator.username,
                reason=action.reason,
            )
            for symbol in self._symbols()
        ]
        kind: AdminKind = "admin_account_frozen" if frozen else "admin_account_unfrozen"
        what = {"account_id": account_id, "frozen": frozen, "was_frozen": was}
        seq = self._record(kind, action, now_ns, what, commands)
        changed = self._ledger.set_frozen(
            account_id, frozen, actor=action.operator.username, reason=action.reason
        )
        return FreezeResult(account_id, frozen, changed, Dispatch(seq, self._publish(commands)))

    # -- listings --------------------------------------------------------------------------------
    def list_instrument(
        self,
        symbol: str,
        spec: Mapping[str, Any],
        action: AdminAction,
        *,
        version: int | None = None,
        shard: str | None = None,
    ) -> ListingResult:
        instrument = parse_definition(symbol, spec)
        check_assets(instrument, self._scales)
        self._catalog.refresh()
        current = self._store.get(symbol)
        if current is None and symbol in self._catalog:
            current = self._catalog.listing(symbol)  # version 0: the static file's
        load = Counter(listing.shard for listing in self._catalog.listings() if listing.shard)
        plan = plan_listing(
            instrument,
            current=current,
            status_given=spec.get("status") is not None,
            version=version,
            shard=shard,
            shard_ids=self._shard_ids,
            shard_load=load,
        )
        now_ns = self._clock_ns()
        command_id = f"list:{symbol}:{plan.version}"
        what = {
            "symbols": [symbol],
            "command_ids": [command_id],
            "version": plan.version,
            "shard": plan.shard,
            "republish": plan.republish,
            "instrument": plan.instrument.model_dump(mode="json"),
        }
        seq = self._record("admin_instrument_listed", action, now_ns, what, [])
        if plan.republish:
            assert current is not None  # noqa: S101 - a republish is of the listing in force
            listing = current
        else:
            listing = self._store.put(
                plan.instrument,
                shard=plan.shard,
                version=plan.version,
                actor=action.operator.username,
                reason=action.reason,
                now_ns=now_ns,
            )
        # The sink routes a new symbol by the live catalog's shard: serve the listing now, not
        # after a Scan that may not see the write yet.
        self._catalog.adopt(listing)
        command = ListInstrument(
            symbol=symbol,
            ts=now_ns,
            command_id=command_id,
            instrument=definition(listing.instrument),
            version=listing.version,
            actor=action.operator.username,
            reason=action.reason,
        )
        return ListingResult(listing, plan.republish, Dispatch(seq, self._publish([command])))

    # -- dividends -------------------------------------------------------------------------------
    def declare_dividend(self, request: DividendRequest, action: AdminAction) -> Dividend:
        listing = self._listing(request.symbol)
        if listing.instrument.asset_class is not AssetClass.EQUITY:
            raise NotAnEquity(f"{request.symbol} is {listing.instrument.asset_class}, not EQUITY")
        dividend_id = request.dividend_id or f"div_{uuid.uuid4().hex}"
        what = {
            "symbols": [request.symbol],
            "dividend_id": dividend_id,
            "amount_per_unit": format(request.amount_per_unit, "f"),
            "record_time": request.record_time.isoformat(),
            "pay_time": request.pay_time.isoformat(),
            "issuer_account_id": request.issuer_account_id,
        }
        self._record("admin_dividend_declared", action, self._clock_ns(), what, [])
        return self._ledger.declare_dividend(
            DividendDeclaration(
                dividend_id=dividend_id,
                symbol=request.symbol,
                amount_per_unit=request.amount_per_unit,
                record_time=request.record_time,
                pay_time=request.pay_time,
                issuer_account_id=request.issuer_account_id,
                actor=action.operator.username,
                reason=action.reason,
            )
        )

    # -- the steps every action shares -----------------------------------------------------------
    def _listing(self, symbol: str) -> Listing:
        """The symbol's listing; UnknownInstrument when it is not listed (the catalog reads the
        store again for a symbol it does not know)."""
        return self._catalog.listing(symbol)

    def _symbols(self, *, excluding: InstrumentStatus | None = None) -> list[str]:
        """Every listed symbol (but those ``excluding`` names the status of): the catalog's
        (the static file's among them) and the store's, read now. The store's error
        (``InstrumentStoreUnavailable``: 503) is raised before anything is written: the live
        catalog would keep serving its last good read, which in a cold container is the static
        file alone, so a kill switch or a freeze would miss every symbol listed at run time
        and still say it was complete."""
        listings = {listing.symbol: listing for listing in self._catalog.listings()}
        listings.update((listing.symbol, listing) for listing in self._store.listings())
        return sorted(
            symbol for symbol, listing in listings.items() if listing.status is not excluding
        )

    def _status_command(
        self, symbol: str, status: InstrumentStatus, action: AdminAction
    ) -> SetTradingStatus:
        return SetTradingStatus(
            symbol=symbol,
            ts=self._clock_ns(),
            command_id=self._new_id(),
            status=status,
            actor=action.operator.username,
            reason=action.reason,
        )

    def _mass_cancel_command(
        self, symbol: str, account_id: str | None, action: AdminAction
    ) -> MassCancel:
        return MassCancel(
            symbol=symbol,
            ts=self._clock_ns(),
            command_id=self._new_id(),
            account_id=account_id,
            actor=action.operator.username,
            reason=action.reason,
        )

    def _act(
        self,
        kind: AdminKind,
        action: AdminAction,
        what: Mapping[str, Any],
        commands: Sequence[OperatorCommand],
    ) -> Dispatch:
        seq = self._record(kind, action, self._clock_ns(), what, commands)
        return Dispatch(seq, self._publish(commands))

    def _record(
        self,
        kind: AdminKind,
        action: AdminAction,
        now_ns: int,
        what: Mapping[str, Any],
        commands: Sequence[OperatorCommand],
    ) -> int:
        """Append the action's entry (the intent, with its command ids); its ``operators`` seq."""
        document = {
            "symbols": [command.symbol for command in commands],
            "command_ids": [command.command_id for command in commands],
            **what,
        }
        entries = self._audit.append(action_events(kind, action, now_ns, document), now_ns=now_ns)
        return entries[0].seq

    def _publish(self, commands: Sequence[OperatorCommand]) -> tuple[Sent, ...]:
        return publish_all(self._sink, commands)
