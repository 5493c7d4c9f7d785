"""The multi-symbol engine of one shard: routes each command to its symbol's book.

>>> from decimal import Decimal
>>> from exchange.domain import Instrument, NewOrder, OrderType, Side, TimeInForce
>>> btc = Instrument(symbol="BTC-USD", base="BTC", quote="USD", tick_size=Decimal("0.01"),
...                  lot_size=Decimal("0.0001"), min_qty=Decimal("0.0001"), max_qty=Decimal("100"),
...                  price_band_pct=Decimal("10"))
>>> engine = Engine([btc])
>>> events = engine.apply(NewOrder(symbol="BTC-USD", ts=1, order_id="o-1", account_id="a-1",
...     client_order_id="c-1", side=Side.BUY, order_type=OrderType.LIMIT, tif=TimeInForce.GTC,
...     qty=10, price=6500000))
>>> [type(event).__name__ for event in events], [event.seq for event in events]
(['OrderAccepted', 'BookDelta'], [1, 2])
>>> engine.l2("BTC-USD", depth=5).bids
[LevelView(price=6500000, qty=10, orders=1)]
>>> restored = Engine.restore(engine.snapshot(), [btc])
>>> restored.l2("BTC-USD", depth=5) == engine.l2("BTC-USD", depth=5)
True
"""

from collections.abc import Iterable
from functools import partial
from typing import Final

import msgspec

from engine_service.core.cores import Core, resolve
from engine_service.core.matcher import SymbolBook
from engine_service.core.operator import is_stale, listed, new_listing, operate
from engine_service.core.replay import BookReplayer, listed_book
from engine_service.core.snapshot import export_book, l2_view, l3_view, restore_book
from engine_service.core.state import (
    READABLE_VERSIONS,
    SNAPSHOT_VERSION,
    EngineState,
    L2View,
    L3View,
)
from exchange.domain import (
    AmendOrder,
    CancelOrder,
    EngineCommand,
    Event,
    Instrument,
    ListInstrument,
    NewOrder,
    OrderRejected,
    RejectReason,
)

# Order ids and command ids remembered per symbol for dedupe (see ``recent``). At roughly 100
# bytes an id, the default bounds each window near 100 MB on a very busy symbol.
DEFAULT_DEDUPE_WINDOW: Final = 1_000_000

# Compiled, a Final name is a C static: no lookup in the module's globals on every command.
_NEW_ORDER: Final = NewOrder
_CANCEL_ORDER: Final = CancelOrder
_AMEND_ORDER: Final = AmendOrder
_LIST: Final = ListInstrument
_decoder = msgspec.msgpack.Decoder(EngineState)
_encoder = msgspec.msgpack.Encoder()


class Engine:
    """Books for a set of symbols (a shard). ``apply`` never raises on a bad command."""

    def __init__(
        self,
        instruments: Iterable[Instrument],
        *,
        dedupe_window: int = DEFAULT_DEDUPE_WINDOW,
        core: str | None = None,
    ) -> None:
        """``core``: ``native``, ``pure`` or ``auto`` (None: ``EXCHANGE_ENGINE_CORE``, see
        ``engine_service.core.cores``)."""
        self.dedupe_window = dedupe_window
        self._core: Core = resolve(core)
        self.core = self._core.name
        self.books: dict[str, SymbolBook] = {}
        self._replayers: dict[str, BookReplayer] = {}
        for instrument in instruments:
            if instrument.symbol in self.books:
                raise ValueError(f"duplicate instrument {instrument.symbol}")
            self.books[instrument.symbol] = self._core.symbol_book(instrument, dedupe_window)
        native = self._core.module
        if native is not None:
            # The compiled core routes and applies in C, and hands what it does not handle itself
            # (operators' commands, listings, unknown symbols) to the class's own ``apply``.
            self._router = native.Router(self.books, partial(Engine.apply, self))
            self.apply = self._router.apply  # type: ignore[method-assign]
            self._batch = self._router.apply_batch
        else:
            self._router = None
            self._batch = None

    def apply(self, command: EngineCommand) -> list[Event]:
        """Apply one command; returns the events it caused, in ``seq`` order.

        A command for a symbol this shard does not list is answered with an ``OrderRejected``
        (``UNKNOWN_SYMBOL``) that carries ``seq`` 0: it belongs to no symbol's gap-free stream, so
        the runtime returns it to the caller and does not journal it. The one exception is a
        ``ListInstrument``: it lists the symbol, whose book it creates (its ``InstrumentListed``
        is ``seq`` 1), or is refused with ``seq`` 0 (``INVALID_COMMAND``).
        """
        book = self.books.get(command.symbol)
        kind = type(command)
        if book is None:
            if kind is _LIST:
                return self._list(command)  # type: ignore[arg-type]
            return [_unknown_symbol(command)]
        if kind is _NEW_ORDER:
            return book.new_order(command)  # type: ignore[arg-type]
        if kind is _CANCEL_ORDER:
            return book.cancel(command)  # type: ignore[arg-type]
        if kind is _AMEND_ORDER:
            return book.amend(command)  # type: ignore[arg-type]
        return operate(book, command)  # type: ignore[arg-type]

    def apply_batch(self, commands: Iterable[EngineCommand]) -> list[list[Event]]:
        """``[apply(c) for c in commands]``: in one call into the compiled core, which then
        goes back to Python only for what it does not handle itself (operators' commands)."""
        if self._batch is not None:
            return self._batch(commands)  # type: ignore[no-any-return]
        apply = self.apply
        return [apply(command) for command in commands]

    def _books_changed(self) -> None:
        """Tell the compiled router that ``books`` changed (it caches the last book)."""
        if self._router is not None:
            self._router.forget()

    def _list(self, command: ListInstrument) -> list[Event]:
        book = new_listing(command, self.dedupe_window, self._core)
        if isinstance(book, OrderRejected):
            return [book]
        self.books[command.symbol] = book
        self._books_changed()
        return [listed(book, command)]

    def is_duplicate(self, command: EngineCommand) -> bool:
        """Whether ``command`` was seen before: a redelivery the runtime may drop unapplied.

        True for a cancel, amend or operator command whose ``command_id`` was already applied
        (``apply`` would emit nothing for it), for a listing whose version is not newer than the
        book's (ignored by ``apply``), and for a ``NewOrder`` whose ``order_id`` is open or still
        in the dedupe window (``apply`` would answer it with a ``DUPLICATE_ORDER_ID`` rejection).
        That includes an order id a cancel named before the order arrived: the runtime then drops
        the late order unjournaled, as the engine's one answer for that id was the cancel's
        ``UNKNOWN_ORDER``.
        """
        book = self.books.get(command.symbol)
        if book is None:
            return False
        if isinstance(command, NewOrder):
            return book.seen_orders.has(command.order_id) or command.order_id in book.orders
        if isinstance(command, ListInstrument) and is_stale(book, command):
            return True
        return book.seen_commands.has(command.command_id)

    def replay(self, events: Iterable[Event]) -> None:
        """Rebuild state from journaled events (after ``restore``), without matching again.

        Events must continue each symbol's ``seq`` without a gap; raises ``ReplayError`` on one
        that does not fit. A symbol this engine does not list is created by its first event, the
        ``InstrumentListed`` of a listing made at run time. See ``engine_service.core.replay``.
        """
        for event in events:
            book = self.books.get(event.symbol)
            if book is None:
                book = listed_book(event, self.dedupe_window, self._core)
                self.books[event.symbol] = book
                self._books_changed()
            replayer = self._replayers.get(event.symbol)
            if replayer is None or replayer.book is not book:
                replayer = BookReplayer(book, self._core.order)
                self._replayers[event.symbol] = replayer
            replayer.apply(event)

    def seq(self, symbol: str) -> int:
        """The ``seq`` of the symbol's last event (0 before any)."""
        return self.books[symbol].seq

    def last_price(self, symbol: str) -> int | None:
        """The last trade price in ticks (what stops trigger on), or None before the first trade."""
        return self.books[symbol].last_price or None

    def band_reference(self, symbol: str) -> int | None:
        """The price band's reference in ticks: the last trade of at least the instrument's
        ``band_min_qty``, before one the instrument's ``reference_price``; None: no band."""
        book = self.books[symbol]
        return book.band_price or book.opening or None

    def l2(self, symbol: str, depth: int = 10) -> L2View:
        """Top ``depth`` levels per side with quantities and order counts."""
        return l2_view(self.books[symbol], depth)

    def l3(self, symbol: str, depth: int = 10) -> L3View:
        """Top ``depth`` levels per side with every resting order in queue order."""
        return l3_view(self.books[symbol], depth)

    def snapshot(self) -> bytes:
        """The whole engine state as msgpack bytes, for ``Engine.restore``."""
        state = EngineState(SNAPSHOT_VERSION, [export_book(b) for b in self.books.values()])
        return _encoder.encode(state)

    @classmethod
    def restore(
        cls,
        data: bytes,
        instruments: Iterable[Instrument],
        *,
        dedupe_window: int = DEFAULT_DEDUPE_WINDOW,
        core: str | None = None,
    ) -> "Engine":
        """An engine that continues exactly where the snapshotted one stood.

        Symbols in ``instruments`` that the snapshot lacks start empty. A snapshot book runs on
        the instrument it holds when an operator listed it (version 1 or more); on the static
        file's (version 0), ``instruments``' definition wins, so a changed file takes effect.
        A snapshot symbol that ``instruments`` lacks is built from the snapshot's JSON; one
        that neither has (an older snapshot's) is an error.
        """
        state = _decoder.decode(data)
        if state.version not in READABLE_VERSIONS:
            raise ValueError(
                f"snapshot version {state.version}, expected one of {READABLE_VERSIONS}"
            )
        engine = cls(instruments, dedupe_window=dedupe_window, core=core)
        for book_state in state.books:
            engine.books[book_state.symbol] = restore_book(
                book_state,
                engine.books.get(book_state.symbol),
                dedupe_window,
                engine._core,
                state.version,
            )
        engine._books_changed()
        return engine


def _unknown_symbol(command: EngineCommand) -> OrderRejected:
    return OrderRejected(
        symbol=command.symbol,
        ts=command.ts,
        seq=0,
        order_id=getattr(command, "order_id", ""),
        account_id=_account_of(command),
        reason=RejectReason.UNKNOWN_SYMBOL,
        command_id=None if isinstance(command, NewOrder) else command.command_id,
        detail=f"symbol {command.symbol} is not traded here",
    )


def _account_of(command: EngineCommand) -> str:
    """The account a command is about; "" for a symbol-wide operator command."""
    account_id: str | None = getattr(command, "account_id", None)
    return account_id or ""
