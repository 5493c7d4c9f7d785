# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
# cython: initializedcheck=False, embedsignature=False
"""The compiled matching core: the pure core's classes (``book``, ``recent``, ``stops``,
``symbol`` and ``matcher``) in C, with the same attributes, methods, events and event order.

The pure modules are the specification; this file follows them function by function (their
docstrings say what each does, and are not repeated here), and ``tests/unit/engine`` runs every
engine test against both and checks that their events and snapshots are byte-identical. What is
different is only how the state is held and how events are built:

* a book side keeps its levels in two C arrays (keys ascending, the best last, and the levels),
  so the best level is one load and a new level near the touch a short scan and a memmove;
* the dedupe windows keep their first-in-first-out order in a C ring buffer;
* prices, quantities and counters are C integers (``long long``); a command's number beyond
  +-2**62 is clamped for comparisons, which refuses it exactly as the pure core does, and the
  refusal's detail prints the number itself;
* events are msgspec Structs built slot by slot (``_ccore_support.h``), not through keyword
  matching: the layout is checked against msgspec's own member descriptors at import;
* ``Router`` does ``Engine.apply``'s routing in C and ``apply_batch`` a whole list of commands in
  one call; it hands back to Python (``Engine._operate``) only what this file does not handle:
  operators' commands, listings and unknown symbols.

Everything here runs under the GIL, single-threaded per engine, like the pure core.
"""

cimport cython
from cpython.object cimport PyObject, PyTypeObject
from cpython.ref cimport Py_INCREF, Py_DECREF, Py_XDECREF
from cpython.set cimport PySet_Add, PySet_Discard, PySet_GET_SIZE, PySet_Contains
from cpython.dict cimport PyDict_GetItem, PyDict_SetItem, PyDict_DelItem, PyDict_Contains
from cpython.list cimport PyList_GET_SIZE, PyList_GET_ITEM, PyList_New, PyList_SET_ITEM
from libc.stdlib cimport malloc, realloc, free
from libc.string cimport memmove
from libc.limits cimport LLONG_MAX
from cpython.unicode cimport PyUnicode_CheckExact

from fractions import Fraction

from heapq import heapify, heappop, heappush

from exchange.domain import (
    AmendOrder,
    BookDelta,
    CancelOrder,
    CancelReason,
    ExpireReason,
    InstrumentStatus,
    NewOrder,
    OrderAccepted,
    OrderAmended,
    OrderCancelled,
    OrderExpired,
    OrderRejected,
    OrderTriggered,
    OrderType,
    RejectReason,
    Side,
    StpMode,
    TimeInForce,
    Trade,
)

cdef extern from "_ccore_support.h":
    PyObject* ccore_get(object obj, Py_ssize_t i)
    object ccore_alloc(PyTypeObject* type)
    void ccore_put(object obj, Py_ssize_t i, object value)
    int ccore_put_int(object obj, Py_ssize_t i, long long value) except -1
    Py_ssize_t ccore_member_offset(object descr)
    int ccore_is_gc_type(PyTypeObject* type)
    long long ccore_clamp(object value, int* ok)
    void ccore_band(long long ref, long long num, long long den, long long* low, long long* high)


# -- the layout of the Structs read and built here (checked at import) ---------------------------
cdef tuple _LAYOUTS = (
    (NewOrder, ("symbol", "ts", "order_id", "account_id", "client_order_id", "side", "order_type",
                "tif", "qty", "price", "stop_price", "post_only", "stp", "protection_price")),
    (CancelOrder, ("symbol", "ts", "command_id", "order_id", "account_id")),
    (AmendOrder, ("symbol", "ts", "command_id", "order_id", "account_id", "price", "qty")),
    (OrderAccepted, ("symbol", "ts", "seq", "order_id", "account_id", "client_order_id", "side",
                     "order_type", "tif", "qty", "price", "stop_price", "post_only", "stp",
                     "protection_price")),
    (OrderRejected, ("symbol", "ts", "seq", "order_id", "account_id", "reason", "command_id",
                     "detail")),
    (Trade, ("symbol", "ts", "seq", "maker_order_id", "taker_order_id", "maker_account_id",
             "taker_account_id", "price", "qty", "aggressor_side")),
    (OrderCancelled, ("symbol", "ts", "seq", "order_id", "account_id", "cancelled_qty", "reason",
                      "command_id")),
    (OrderAmended, ("symbol", "ts", "seq", "order_id", "account_id", "command_id", "price", "qty",
                    "open_qty")),
    (OrderExpired, ("symbol", "ts", "seq", "order_id", "account_id", "expired_qty", "reason")),
    (OrderTriggered, ("symbol", "ts", "seq", "order_id", "account_id", "last_price")),
    (BookDelta, ("symbol", "ts", "seq", "side", "price", "qty", "orders")),
)


def _descriptor(cls, name):
    for klass in cls.__mro__:
        if name in klass.__dict__:
            return klass.__dict__[name]
    return None


# Byte offsets of each class's fields (OFF[class][field index]), from msgspec's descriptors.
cdef Py_ssize_t OFF[11][16]
cdef enum:
    C_NEW = 0
    C_CANCEL = 1
    C_AMEND = 2
    C_ACCEPTED = 3
    C_REJECTED = 4
    C_TRADE = 5
    C_CANCELLED = 6
    C_AMENDED = 7
    C_EXPIRED = 8
    C_TRIGGERED = 9
    C_DELTA = 10


def layout_problems():
    """Why a Struct's layout is not what this module reads and builds ([] when it is); fills
    ``OFF`` as it checks."""
    problems = []
    cdef Py_ssize_t i, offset, k
    cdef set seen
    for k, (cls, fields) in enumerate(_LAYOUTS):
        if tuple(cls.__struct_fields__) != fields:
            problems.append(f"{cls.__name__} fields are {cls.__struct_fields__}, not {fields}")
            continue
        if ccore_is_gc_type(<PyTypeObject*>cls):
            problems.append(f"{cls.__name__} is garbage-collected (gc=True)")
        if cls.__basicsize__ != sizeof(PyObject) + len(fields) * sizeof(PyObject*):
            problems.append(f"{cls.__name__} has {cls.__basicsize__} bytes, not only its fields")
            continue
        seen = set()
        for i, name in enumerate(fields):
            offset = ccore_member_offset(_descriptor(cls, name))
            if (
                offset < <Py_ssize_t>sizeof(PyObject)
                or offset >= cls.__basicsize__
                or offset % sizeof(PyObject*)
                or offset in seen
            ):
                problems.append(f"{cls.__name__}.{name} has no slot of its own ({offset})")
            seen.add(offset)
            OFF[k][i] = offset
    return problems


_problems = layout_problems()
if _problems:
    raise ImportError("msgspec Struct layout changed: " + "; ".join(_problems))


cdef PyTypeObject* T_NEW = <PyTypeObject*>NewOrder
cdef PyTypeObject* T_CANCEL = <PyTypeObject*>CancelOrder
cdef PyTypeObject* T_AMEND = <PyTypeObject*>AmendOrder
cdef PyTypeObject* T_ACCEPTED = <PyTypeObject*>OrderAccepted
cdef PyTypeObject* T_REJECTED = <PyTypeObject*>OrderRejected
cdef PyTypeObject* T_TRADE = <PyTypeObject*>Trade
cdef PyTypeObject* T_CANCELLED = <PyTypeObject*>OrderCancelled
cdef PyTypeObject* T_AMENDED = <PyTypeObject*>OrderAmended
cdef PyTypeObject* T_EXPIRED = <PyTypeObject*>OrderExpired
cdef PyTypeObject* T_TRIGGERED = <PyTypeObject*>OrderTriggered
cdef PyTypeObject* T_DELTA = <PyTypeObject*>BookDelta

cdef object _BUY = Side.BUY
cdef object _SELL = Side.SELL
cdef object _LIMIT = OrderType.LIMIT
cdef object _MARKET = OrderType.MARKET
cdef object _STOP = OrderType.STOP
cdef object _STOP_LIMIT = OrderType.STOP_LIMIT
cdef object _GTC = TimeInForce.GTC
cdef object _FOK = TimeInForce.FOK
cdef object _NO_STP = StpMode.NONE
cdef object _CANCEL_NEWEST = StpMode.CANCEL_NEWEST
cdef object _DEFAULT_STP = StpMode.CANCEL_NEWEST
cdef object _CANCEL_OLDEST = StpMode.CANCEL_OLDEST
cdef object _STP = CancelReason.SELF_TRADE_PREVENTION
cdef object _USER = CancelReason.USER_REQUESTED
cdef object _AMENDED_TO_FILLED = CancelReason.AMENDED_TO_FILLED
cdef object _NO_LIQUIDITY = ExpireReason.MARKET_NO_LIQUIDITY
cdef object _PROTECTION = ExpireReason.PRICE_PROTECTION
cdef object _FOK_NOT_FILLABLE = ExpireReason.FOK_NOT_FILLABLE
cdef object _IOC_REMAINDER = ExpireReason.IOC_REMAINDER
cdef object _TRADING = InstrumentStatus.TRADING
cdef object _POST_ONLY = InstrumentStatus.POST_ONLY
cdef object _CANCEL_ONLY = InstrumentStatus.CANCEL_ONLY
cdef object _HALTED = InstrumentStatus.HALTED

cdef object R_DUPLICATE_ORDER_ID = RejectReason.DUPLICATE_ORDER_ID
cdef object R_SYMBOL_HALTED = RejectReason.SYMBOL_HALTED
cdef object R_SYMBOL_CANCEL_ONLY = RejectReason.SYMBOL_CANCEL_ONLY
cdef object R_SYMBOL_POST_ONLY = RejectReason.SYMBOL_POST_ONLY
cdef object R_INSTRUMENT_NOT_TRADING = RejectReason.INSTRUMENT_NOT_TRADING
cdef object R_ACCOUNT_FROZEN = RejectReason.ACCOUNT_FROZEN
cdef object R_POST_ONLY_WOULD_TAKE = RejectReason.POST_ONLY_WOULD_TAKE
cdef object R_PRICE_OUT_OF_BAND = RejectReason.PRICE_OUT_OF_BAND
cdef object R_INVALID_ORDER = RejectReason.INVALID_ORDER
cdef object R_INVALID_PRICE = RejectReason.INVALID_PRICE
cdef object R_INVALID_QUANTITY = RejectReason.INVALID_QUANTITY
cdef object R_QUANTITY_BELOW_MIN = RejectReason.QUANTITY_BELOW_MIN
cdef object R_QUANTITY_ABOVE_MAX = RejectReason.QUANTITY_ABOVE_MAX
cdef object R_NOT_ORDER_OWNER = RejectReason.NOT_ORDER_OWNER
cdef object R_UNKNOWN_ORDER = RejectReason.UNKNOWN_ORDER

# A market-like taker crosses every level: no key is below this.
cdef long long _NO_LIMIT = -(1LL << 62)
# rules.NO_MAX_PRICE
cdef long long NO_MAX_PRICE = (1LL << 62) - 1
# book.COMPACT_MIN
cdef Py_ssize_t COMPACT_MIN = 16


cdef inline object _get(object obj, int cls, Py_ssize_t i):
    return <object>ccore_get(obj, OFF[cls][i])


cdef inline void _put(object obj, int cls, Py_ssize_t i, object value) noexcept:
    ccore_put(obj, OFF[cls][i], value)


cdef inline int _put_int(object obj, int cls, Py_ssize_t i, long long value) except -1:
    return ccore_put_int(obj, OFF[cls][i], value)


cdef inline long long _num(object value) except? -1:
    """A command's int (clamped, see the module docstring); TypeError for anything else."""
    cdef int ok = 1
    cdef long long result = ccore_clamp(value, &ok)
    if not ok:
        raise TypeError(f"expected an int, got {type(value).__name__}: {value!r}")
    return result


# -- events ----------------------------------------------------------------------------------------
cdef inline object _delta_event(object symbol, object ts, long long seq, object side,
                                object price, long long qty, long long orders):
    cdef object e = ccore_alloc(T_DELTA)
    _put(e, C_DELTA, 0, symbol)
    _put(e, C_DELTA, 1, ts)
    _put_int(e, C_DELTA, 2, seq)
    _put(e, C_DELTA, 3, side)
    _put(e, C_DELTA, 4, price)
    _put_int(e, C_DELTA, 5, qty)
    _put_int(e, C_DELTA, 6, orders)
    return e


cdef inline object _cancelled_event(object symbol, object ts, long long seq, object order_id,
                                    object account_id, long long qty, object reason,
                                    object command_id):
    cdef object e = ccore_alloc(T_CANCELLED)
    _put(e, C_CANCELLED, 0, symbol)
    _put(e, C_CANCELLED, 1, ts)
    _put_int(e, C_CANCELLED, 2, seq)
    _put(e, C_CANCELLED, 3, order_id)
    _put(e, C_CANCELLED, 4, account_id)
    _put_int(e, C_CANCELLED, 5, qty)
    _put(e, C_CANCELLED, 6, reason)
    _put(e, C_CANCELLED, 7, command_id)
    return e


cdef inline object _rejected_event(object symbol, object ts, long long seq, object order_id,
                                   object account_id, object reason, object command_id,
                                   object detail):
    cdef object e = ccore_alloc(T_REJECTED)
    _put(e, C_REJECTED, 0, symbol)
    _put(e, C_REJECTED, 1, ts)
    _put_int(e, C_REJECTED, 2, seq)
    _put(e, C_REJECTED, 3, order_id)
    _put(e, C_REJECTED, 4, account_id)
    _put(e, C_REJECTED, 5, reason)
    _put(e, C_REJECTED, 6, command_id)
    _put(e, C_REJECTED, 7, detail)
    return e


# -- book: orders, levels, sides -------------------------------------------------------------------
@cython.final
@cython.freelist(256)
@cython.no_gc
cdef class Order:
    """``book.Order``."""

    cdef public object order_id
    cdef public object account_id
    cdef public object order_type
    cdef public object tif
    cdef public object stp
    cdef public long long price
    cdef public long long stop_price
    cdef public long long qty
    cdef public long long filled
    cdef public long long open_qty
    cdef public long long arrival
    cdef public long long protection
    cdef public bint is_buy
    cdef public bint post_only
    cdef public bint live
    cdef public bint held

    def __init__(self, order_id, account_id, bint is_buy, order_type, tif, long long price,
                 long long stop_price, long long qty, long long filled, stp, bint post_only,
                 long long arrival, long long protection):
        self.order_id = order_id
        self.account_id = account_id
        self.is_buy = is_buy
        self.order_type = order_type
        self.tif = tif
        self.price = price
        self.stop_price = stop_price
        self.qty = qty
        self.filled = filled
        self.open_qty = qty - filled
        self.stp = stp
        self.post_only = post_only
        self.arrival = arrival
        self.protection = protection
        self.live = True
        self.held = False


cdef inline Order _new_order(object order_id, object account_id, bint is_buy, object order_type,
                             object tif, long long price, long long stop_price, long long qty,
                             long long filled, object stp, bint post_only, long long arrival,
                             long long protection):
    cdef Order order = Order.__new__(Order)
    order.order_id = order_id
    order.account_id = account_id
    order.is_buy = is_buy
    order.order_type = order_type
    order.tif = tif
    order.price = price
    order.stop_price = stop_price
    order.qty = qty
    order.filled = filled
    order.open_qty = qty - filled
    order.stp = stp
    order.post_only = post_only
    order.arrival = arrival
    order.protection = protection
    order.live = True
    order.held = False
    return order


@cython.final
@cython.no_gc
cdef class Level:
    """``book.Level``."""

    cdef readonly long long price
    cdef public long long qty
    cdef public long long count
    cdef public list orders
    cdef public Py_ssize_t head
    cdef object pobj  # ``price`` as an int object, made once: every delta and trade here uses it

    def __init__(self, long long price):
        self.price = price
        self.pobj = price
        self.orders = []
        self.head = 0
        self.qty = 0
        self.count = 0

    cpdef append(self, Order order):
        self.orders.append(order)
        _add_to_level(self, order.open_qty)
        self.count += 1

    cpdef Order first(self):
        cdef list orders = self.orders
        cdef Py_ssize_t i = self.head
        while not (<Order>PyList_GET_ITEM(orders, i)).live:
            i += 1
        self.head = i
        return <Order>PyList_GET_ITEM(orders, i)

    cpdef remove(self, Order order):
        order.live = False
        self.qty -= order.open_qty
        self.count -= 1
        cdef Py_ssize_t dead = PyList_GET_SIZE(self.orders) - self.count
        if dead > self.count and dead >= COMPACT_MIN:
            self.orders = self.live_orders()
            self.head = 0

    cpdef list live_orders(self):
        cdef list out = []
        cdef list orders = self.orders
        cdef Py_ssize_t i
        cdef Order o
        for i in range(self.head, PyList_GET_SIZE(orders)):
            o = <Order>PyList_GET_ITEM(orders, i)
            if o.live:
                out.append(o)
        return out


cdef inline Level _new_level(long long price):
    cdef Level level = Level.__new__(Level)
    level.price = price
    level.pobj = price
    level.orders = []
    level.head = 0
    level.qty = 0
    level.count = 0
    return level


cdef inline int _add_to_level(Level level, long long qty) except -1:
    """Add ``qty`` to a level's total. Instruments cap an order at ``MAX_LOTS`` (2**53 - 1), so a
    total overflows only past 1,024 orders of that size at one price: raise rather than wrap."""
    if level.qty > LLONG_MAX - qty:
        raise OverflowError(f"the level at {level.price} would hold more than {LLONG_MAX} lots")
    level.qty += qty
    return 0


@cython.final
cdef class BookSide:
    """``book.BookSide``, its levels in C arrays (keys ascending, the best last)."""

    cdef public bint is_buy
    cdef long long* ckeys
    cdef PyObject** clevels  # owned references, parallel to ckeys
    cdef Py_ssize_t n
    cdef Py_ssize_t cap

    def __cinit__(self, bint is_buy):
        self.is_buy = is_buy
        self.n = 0
        self.cap = 64
        self.ckeys = <long long*>malloc(self.cap * sizeof(long long))
        self.clevels = <PyObject**>malloc(self.cap * sizeof(PyObject*))
        if self.ckeys == NULL or self.clevels == NULL:
            raise MemoryError()

    def __dealloc__(self):
        cdef Py_ssize_t i
        if self.clevels != NULL:
            for i in range(self.n):
                Py_XDECREF(self.clevels[i])
            free(self.clevels)
        if self.ckeys != NULL:
            free(self.ckeys)

    @property
    def keys(self):
        """The keys, ascending (the best last), as the pure side's list."""
        return [self.ckeys[i] for i in range(self.n)]

    @property
    def levels(self):
        """The levels by key, as the pure side's dict (a copy)."""
        return {self.ckeys[i]: <Level>self.clevels[i] for i in range(self.n)}

    cpdef long long key(self, long long price):
        return price if self.is_buy else -price

    cdef inline Py_ssize_t _find(self, long long key) noexcept:
        """The index of ``key``, or ``-(insertion point) - 1`` when absent. Most lookups are near
        the touch, at the end: a few steps from there, then a binary search."""
        cdef Py_ssize_t i = self.n - 1
        cdef Py_ssize_t stop = self.n - 8
        cdef Py_ssize_t lo, hi, mid
        cdef long long* keys = self.ckeys
        if stop < 0:
            stop = 0
        while i >= stop:
            if keys[i] == key:
                return i
            if keys[i] < key:
                return -(i + 1) - 1
            i -= 1
        if i < 0:
            return -1
        lo = 0
        hi = i + 1  # keys[hi:] > key
        while lo < hi:
            mid = (lo + hi) >> 1
            if keys[mid] < key:
                lo = mid + 1
            else:
                hi = mid
        if lo <= i and keys[lo] == key:
            return lo
        return -lo - 1

    cpdef Level level(self, long long key):
        """The level at ``key``, or None."""
        cdef Py_ssize_t i = self._find(key)
        if i < 0:
            return None
        return <Level>self.clevels[i]

    cpdef Level best(self):
        if self.n == 0:
            return None
        return <Level>self.clevels[self.n - 1]

    def best_price(self):
        if self.n == 0:
            return None
        return (<Level>self.clevels[self.n - 1]).price

    cdef inline bint has_levels(self) noexcept:
        return self.n > 0

    cdef inline long long best_key(self) noexcept:
        return self.ckeys[self.n - 1]

    cdef int _grow(self) except -1:
        cdef Py_ssize_t cap = self.cap * 2
        cdef long long* keys = <long long*>realloc(self.ckeys, cap * sizeof(long long))
        if keys == NULL:
            raise MemoryError()
        self.ckeys = keys
        cdef PyObject** levels = <PyObject**>realloc(self.clevels, cap * sizeof(PyObject*))
        if levels == NULL:
            raise MemoryError()
        self.clevels = levels
        self.cap = cap
        return 0

    cpdef Level add(self, Order order):
        cdef long long key = order.price if self.is_buy else -order.price
        cdef Py_ssize_t i = self._find(key)
        cdef Level level
        if i >= 0:
            level = <Level>self.clevels[i]
        else:
            i = -i - 1
            if self.n == self.cap:
                self._grow()
            level = _new_level(order.price)
            if i < self.n:
                memmove(&self.ckeys[i + 1], &self.ckeys[i], (self.n - i) * sizeof(long long))
                memmove(&self.clevels[i + 1], &self.clevels[i], (self.n - i) * sizeof(PyObject*))
            self.ckeys[i] = key
            Py_INCREF(level)
            self.clevels[i] = <PyObject*>level
            self.n += 1
        level.orders.append(order)
        _add_to_level(level, order.open_qty)
        level.count += 1
        return level

    cpdef Level remove(self, Order order):
        cdef long long key = order.price if self.is_buy else -order.price
        cdef Py_ssize_t i = self._find(key)
        if i < 0:
            raise KeyError(key)
        cdef Level level = <Level>self.clevels[i]
        level.remove(order)
        if level.count == 0:
            self._drop_at(i)
        return level

    cdef inline void _drop_at(self, Py_ssize_t i) noexcept:
        cdef PyObject* level = self.clevels[i]
        if i < self.n - 1:
            memmove(&self.ckeys[i], &self.ckeys[i + 1], (self.n - i - 1) * sizeof(long long))
            memmove(&self.clevels[i], &self.clevels[i + 1], (self.n - i - 1) * sizeof(PyObject*))
        self.n -= 1
        Py_DECREF(<object>level)

    cpdef drop(self, long long key):
        cdef Py_ssize_t i = self._find(key)
        if i < 0:
            raise KeyError(key)
        self._drop_at(i)

    cpdef list top(self, Py_ssize_t depth):
        cdef list out = []
        cdef Py_ssize_t i = self.n - 1
        cdef Py_ssize_t stop = self.n - depth
        if stop < 0:
            stop = 0
        while i >= stop:
            out.append(<Level>self.clevels[i])
            i -= 1
        return out


# -- dedupe windows ----------------------------------------------------------------------------------
@cython.final
@cython.no_gc
cdef class RecentIds:
    """``recent.RecentIds``, its first-in-first-out order in a C ring buffer."""

    cdef public Py_ssize_t capacity
    cdef public set members
    cdef public set flagged
    cdef public bint evicted
    cdef PyObject** ring  # owned references; ring[(start + i) % cap], i < size
    cdef Py_ssize_t start
    cdef Py_ssize_t size
    cdef Py_ssize_t cap

    def __cinit__(self, *args, **kwargs):
        self.ring = NULL
        self.start = 0
        self.size = 0
        self.cap = 0

    def __init__(self, Py_ssize_t capacity, ids=None, flagged=None):
        if capacity < 1:
            raise ValueError(f"dedupe capacity must be positive, was {capacity}")
        self.capacity = capacity
        self.members = set()
        self.flagged = set()
        self.evicted = False
        for value in ids or []:
            self.add(value)
        self.flagged.update(value for value in flagged or [] if value in self.members)
        self.evicted = self.size >= capacity

    def __dealloc__(self):
        cdef Py_ssize_t i
        if self.ring != NULL:
            for i in range(self.size):
                Py_XDECREF(self.ring[(self.start + i) % self.cap])
            free(self.ring)

    cdef int _grow(self) except -1:
        cdef Py_ssize_t cap = 1024 if self.cap == 0 else self.cap * 2
        cdef Py_ssize_t i
        cdef PyObject** ring
        if cap > self.capacity:
            cap = self.capacity
        ring = <PyObject**>malloc(cap * sizeof(PyObject*))
        if ring == NULL:
            raise MemoryError()
        for i in range(self.size):
            ring[i] = self.ring[(self.start + i) % self.cap]
        free(self.ring)
        self.ring = ring
        self.start = 0
        self.cap = cap
        return 0

    cpdef bint has(self, value):
        return PySet_Contains(self.members, value) == 1

    cpdef bint add(self, value) except -1:
        cdef set members = self.members
        cdef Py_ssize_t size = PySet_GET_SIZE(members)
        cdef PyObject* oldest
        PySet_Add(members, value)
        if PySet_GET_SIZE(members) == size:
            return False
        if self.size == self.capacity:
            oldest = self.ring[self.start]
            self.ring[self.start] = NULL
            self.start = (self.start + 1) % self.cap
            self.size -= 1
            PySet_Discard(members, <object>oldest)
            if PySet_GET_SIZE(self.flagged):
                PySet_Discard(self.flagged, <object>oldest)
            Py_DECREF(<object>oldest)
            self.evicted = True
        elif self.size == self.cap:
            self._grow()
        Py_INCREF(value)
        self.ring[(self.start + self.size) % self.cap] = <PyObject*>value
        self.size += 1
        return True

    cpdef flag(self, value):
        self.add(value)
        self.flagged.add(value)

    cpdef bint is_flagged(self, value):
        return PySet_Contains(self.flagged, value) == 1

    cpdef list as_list(self):
        return [<object>self.ring[(self.start + i) % self.cap] for i in range(self.size)]

    cpdef list flagged_list(self):
        if not self.flagged:
            return []
        flagged = self.flagged
        return [value for value in self.as_list() if value in flagged]


# -- held stops --------------------------------------------------------------------------------------
@cython.final
cdef class StopBook:
    """``stops.StopBook``: two heaps of (stop key, arrival, order) with lazy deletion."""

    cdef public list buys
    cdef public list sells
    cdef public Py_ssize_t count
    cdef public Py_ssize_t dead

    def __init__(self):
        self.buys = []
        self.sells = []
        self.count = 0
        self.dead = 0

    cpdef add(self, Order order):
        order.held = True
        if order.is_buy:
            heappush(self.buys, (order.stop_price, order.arrival, order))
        else:
            heappush(self.sells, (-order.stop_price, order.arrival, order))
        self.count += 1

    cpdef remove(self, Order order):
        order.held = False
        order.live = False
        self.count -= 1
        self.dead += 1
        if self.dead > self.count and self.dead >= COMPACT_MIN:
            self.buys = [entry for entry in self.buys if (<Order>entry[2]).live]
            self.sells = [entry for entry in self.sells if (<Order>entry[2]).live]
            heapify(self.buys)
            heapify(self.sells)
            self.dead = 0

    cpdef Order pop_due(self, long long last_price):
        if self.count == 0:
            return None
        cdef list heap = self.buys
        while heap and not (<Order>(<tuple>heap[0])[2]).live:
            heappop(heap)
            self.dead -= 1
        if not (heap and (<long long>(<tuple>heap[0])[0]) <= last_price):
            heap = self.sells
            while heap and not (<Order>(<tuple>heap[0])[2]).live:
                heappop(heap)
                self.dead -= 1
            if not (heap and -(<long long>(<tuple>heap[0])[0]) >= last_price):
                return None
        cdef Order order = <Order>(<tuple>heappop(heap))[2]
        order.held = False
        self.count -= 1
        return order

    cpdef list held(self):
        live = [entry[2] for entry in self.buys + self.sells if (<Order>entry[2]).live]
        return sorted(live, key=_arrival)


def _arrival(Order order):
    return order.arrival


# -- one symbol: state, checks, commands, matching ---------------------------------------------------
@cython.final
cdef class SymbolBook:
    """``symbol.BookCore`` and ``matcher.SymbolBook`` in one class."""

    cdef public object symbol
    cdef public BookSide bids
    cdef public BookSide asks
    cdef public dict orders
    cdef public StopBook stops
    cdef public long long seq
    cdef public long long last_price
    cdef public long long band_price
    cdef public long long arrival
    cdef public RecentIds seen_orders
    cdef public RecentIds seen_commands
    cdef public object status
    cdef public set frozen
    cdef public bint restricted
    cdef public object instrument
    cdef public object listing
    cdef public long long version
    cdef public long long min_lots
    cdef public long long max_lots
    cdef public long long max_price
    cdef public long long band_min
    cdef public long long opening
    cdef dict _bands
    # The band around the last reference looked up. ``Instrument.band`` is exact rational
    # arithmetic: ceil(ref * (1 - pct)), floor(ref * (1 + pct)) with pct = price_band_pct / 100
    # = _pct_num / _pct_den, which is computed here in 128-bit integers (_pct_den 0: the
    # fraction does not fit, so ``Instrument.band`` is called, cached in ``_bands``).
    cdef long long _band_ref
    cdef long long _band_low
    cdef long long _band_high
    cdef long long _pct_num
    cdef long long _pct_den

    def __init__(self, instrument, dedupe_window, listing=None, version=0):
        self.symbol = instrument.symbol
        self.bids = BookSide(True)
        self.asks = BookSide(False)
        self.orders = {}
        self.stops = StopBook()
        self.seq = 0
        self.last_price = 0
        self.band_price = 0
        self.arrival = 0
        self.seen_orders = RecentIds(dedupe_window)
        self.seen_commands = RecentIds(dedupe_window)
        self.status = instrument.status
        self.frozen = set()
        self.restricted = self.status is not _TRADING
        self.instrument = instrument
        self.listing = instrument.model_dump_json() if listing is None else listing
        self.version = version
        self._rules(instrument)

    cdef _rules(self, instrument):
        self.min_lots = instrument.min_lots
        self.max_lots = instrument.max_lots
        self.max_price = instrument.max_price_ticks or NO_MAX_PRICE
        self.band_min = instrument.band_min_lots or 0
        self.opening = instrument.reference_ticks or 0
        self._bands = {}
        self._band_ref = 0
        pct = Fraction(instrument.price_band_pct) / 100
        if 0 < pct.numerator < (1 << 62) and 0 < pct.denominator < (1 << 62) and pct <= 1:
            self._pct_num = pct.numerator
            self._pct_den = pct.denominator
        else:
            self._pct_num = 0
            self._pct_den = 0

    # -- operators' state --------------------------------------------------------------------------
    cpdef set_status(self, status):
        self.status = status
        self.restricted = status is not _TRADING or bool(self.frozen)

    cpdef set_frozen(self, account_id, bint frozen):
        if frozen:
            self.frozen.add(account_id)
        else:
            self.frozen.discard(account_id)
        self.restricted = self.status is not _TRADING or bool(self.frozen)

    cpdef relist(self, instrument, listing, long long version):
        self.instrument = instrument
        self.listing = listing
        self.version = version
        self._rules(instrument)

    cdef tuple _restriction(self, account_id, kind, tif):
        status = self.status
        if status is _HALTED:
            return R_SYMBOL_HALTED, self._status()
        if status is _CANCEL_ONLY:
            return R_SYMBOL_CANCEL_ONLY, self._status()
        if status is _POST_ONLY:
            if kind is not _LIMIT or tif is not _GTC:
                return (
                    R_SYMBOL_POST_ONLY,
                    f"{self._status()}: only GTC limit orders that rest, not {kind} {tif}",
                )
        elif status is not _TRADING:
            return R_INSTRUMENT_NOT_TRADING, self._status()
        if account_id in self.frozen:
            return R_ACCOUNT_FROZEN, f"account {account_id} is frozen"
        return None

    cdef tuple _amend_restriction(self, cmd_price, cmd_qty, Order order):
        status = self.status
        if status is _HALTED:
            return R_SYMBOL_HALTED, self._status()
        if status is _CANCEL_ONLY:
            reduces = cmd_qty is not None and cmd_qty < order.qty
            if not reduces or (cmd_price is not None and cmd_price != order.price):
                return (
                    R_SYMBOL_CANCEL_ONLY,
                    f"{self._status()}: an amend may only reduce the quantity, at the same price",
                )
        elif status is not _TRADING and status is not _POST_ONLY:
            return R_INSTRUMENT_NOT_TRADING, self._status()
        if order.account_id in self.frozen:
            return R_ACCOUNT_FROZEN, f"account {order.account_id} is frozen"
        return None

    cdef tuple _resting_only(self, bint post_only, bint is_buy, long long price):
        if post_only:
            if self._would_take(is_buy, price):
                return R_POST_ONLY_WOULD_TAKE, "post-only order would take"
        elif self.status is _POST_ONLY and self._would_take(is_buy, price):
            return R_SYMBOL_POST_ONLY, f"{self._status()}: the order would take"
        return None

    # -- events: built as Structs, appended to ``events`` --
    cdef int _ev_accepted(self, list events, ts, order_id, account_id, client_order_id, side,
                          kind, tif, qty, price, stop_price, post_only, stp,
                          protection) except -1:
        cdef object e
        e = ccore_alloc(T_ACCEPTED)
        _put(e, C_ACCEPTED, 0, self.symbol)
        _put(e, C_ACCEPTED, 1, ts)
        _put_int(e, C_ACCEPTED, 2, self.seq)
        _put(e, C_ACCEPTED, 3, order_id)
        _put(e, C_ACCEPTED, 4, account_id)
        _put(e, C_ACCEPTED, 5, client_order_id)
        _put(e, C_ACCEPTED, 6, side)
        _put(e, C_ACCEPTED, 7, kind)
        _put(e, C_ACCEPTED, 8, tif)
        _put(e, C_ACCEPTED, 9, qty)
        _put(e, C_ACCEPTED, 10, price)
        _put(e, C_ACCEPTED, 11, stop_price)
        _put(e, C_ACCEPTED, 12, post_only)
        _put(e, C_ACCEPTED, 13, stp)
        _put(e, C_ACCEPTED, 14, protection)
        events.append(e)
        return 0

    cdef int _ev_rejected(self, list events, ts, order_id, account_id, reason, command_id,
                          detail) except -1:
        events.append(_rejected_event(self.symbol, ts, self.seq, order_id, account_id, reason,
                                      command_id, detail))
        return 0

    cdef int _ev_trade(self, list events, ts, maker_order_id, taker_order_id, maker_account_id,
                       taker_account_id, price, long long qty, aggressor) except -1:
        cdef object e
        e = ccore_alloc(T_TRADE)
        _put(e, C_TRADE, 0, self.symbol)
        _put(e, C_TRADE, 1, ts)
        _put_int(e, C_TRADE, 2, self.seq)
        _put(e, C_TRADE, 3, maker_order_id)
        _put(e, C_TRADE, 4, taker_order_id)
        _put(e, C_TRADE, 5, maker_account_id)
        _put(e, C_TRADE, 6, taker_account_id)
        _put(e, C_TRADE, 7, price)
        _put_int(e, C_TRADE, 8, qty)
        _put(e, C_TRADE, 9, aggressor)
        events.append(e)
        return 0

    cdef int _ev_cancelled(self, list events, ts, order_id, account_id, long long qty, reason,
                           command_id) except -1:
        events.append(_cancelled_event(self.symbol, ts, self.seq, order_id, account_id, qty,
                                       reason, command_id))
        return 0

    cdef int _ev_amended(self, list events, ts, order_id, account_id, command_id,
                         long long price, long long qty, long long open_qty) except -1:
        cdef object e
        e = ccore_alloc(T_AMENDED)
        _put(e, C_AMENDED, 0, self.symbol)
        _put(e, C_AMENDED, 1, ts)
        _put_int(e, C_AMENDED, 2, self.seq)
        _put(e, C_AMENDED, 3, order_id)
        _put(e, C_AMENDED, 4, account_id)
        _put(e, C_AMENDED, 5, command_id)
        _put_int(e, C_AMENDED, 6, price)
        _put_int(e, C_AMENDED, 7, qty)
        _put_int(e, C_AMENDED, 8, open_qty)
        events.append(e)
        return 0

    cdef int _ev_expired(self, list events, ts, order_id, account_id, long long qty,
                         reason) except -1:
        cdef object e
        e = ccore_alloc(T_EXPIRED)
        _put(e, C_EXPIRED, 0, self.symbol)
        _put(e, C_EXPIRED, 1, ts)
        _put_int(e, C_EXPIRED, 2, self.seq)
        _put(e, C_EXPIRED, 3, order_id)
        _put(e, C_EXPIRED, 4, account_id)
        _put_int(e, C_EXPIRED, 5, qty)
        _put(e, C_EXPIRED, 6, reason)
        events.append(e)
        return 0

    cdef int _ev_triggered(self, list events, ts, order_id, account_id,
                           long long last_price) except -1:
        cdef object e
        e = ccore_alloc(T_TRIGGERED)
        _put(e, C_TRIGGERED, 0, self.symbol)
        _put(e, C_TRIGGERED, 1, ts)
        _put_int(e, C_TRIGGERED, 2, self.seq)
        _put(e, C_TRIGGERED, 3, order_id)
        _put(e, C_TRIGGERED, 4, account_id)
        _put_int(e, C_TRIGGERED, 5, last_price)
        events.append(e)
        return 0

    cdef int _ev_delta(self, list events, ts, side, Level level) except -1:
        events.append(_delta_event(self.symbol, ts, self.seq, side, level.pobj, level.qty,
                                   level.count))
        return 0

    cpdef _delta(self, list events, ts, bint is_buy, Level level):
        self.seq += 1
        self._ev_delta(events, ts, _BUY if is_buy else _SELL, level)

    cdef _expire(self, Order taker, list events, ts, reason):
        self.seq += 1
        self._ev_expired(events, ts, taker.order_id, taker.account_id, taker.open_qty, reason)
        taker.open_qty = 0

    cdef bint _would_take(self, bint is_buy, long long price) noexcept:
        cdef BookSide side = self.asks if is_buy else self.bids
        if side.n == 0:
            return False
        cdef long long best = (<Level>side.clevels[side.n - 1]).price
        return best <= price if is_buy else best >= price

    cdef int _load_band(self, long long reference) except -1:
        """Make ``_band_low`` / ``_band_high`` the band around ``reference``."""
        if reference == self._band_ref:
            return 0
        if self._pct_den and reference > 0:
            ccore_band(reference, self._pct_num, self._pct_den, &self._band_low, &self._band_high)
            self._band_ref = reference
            return 0
        band = self._bands.get(reference)
        if band is None:
            if len(self._bands) >= 4096:
                self._bands.clear()
            band = self.instrument.band(reference)
            self._bands[reference] = band
        self._band_low = (<tuple>band)[0]
        self._band_high = (<tuple>band)[1]
        self._band_ref = reference
        return 0

    cdef tuple _check_band(self, long long price):
        cdef long long reference = self.band_price or self.opening
        if not reference:
            return None
        self._load_band(reference)
        if self._band_low <= price <= self._band_high:
            return None
        return (
            R_PRICE_OUT_OF_BAND,
            f"price {price} is outside the band {self._band_low}..{self._band_high} "
            f"around {reference}",
        )

    cdef tuple _check_amend(self, cmd_price, cmd_qty, Order order):
        cdef tuple rejection
        if self.restricted:
            rejection = self._amend_restriction(cmd_price, cmd_qty, order)
            if rejection is not None:
                return rejection
        if order.held:
            return R_INVALID_ORDER, "held stops cannot be amended; cancel and replace"
        if cmd_price is None and cmd_qty is None:
            return R_INVALID_ORDER, "amend changes neither price nor quantity"
        if cmd_price is not None:
            rejection = _check_price("price", cmd_price, _num(cmd_price), self.max_price)
            if rejection is not None:
                return rejection
        cdef long long qty
        if cmd_qty is not None:
            qty = _num(cmd_qty)
            if qty <= 0:
                return R_INVALID_QUANTITY, f"quantity must be positive, was {cmd_qty}"
            if qty <= order.filled:
                return None  # cancels the order, whatever the price
            rejection = _check_quantity(cmd_qty, qty, self.min_lots, self.max_lots)
            if rejection is not None:
                return rejection
        cdef long long price
        if cmd_price is not None:
            price = _num(cmd_price)
            if price != order.price:
                rejection = self._check_band(price)
                if rejection is not None:
                    return rejection
                if order.post_only or self.restricted:
                    return self._resting_only(order.post_only, order.is_buy, price)
        return None

    cdef Order _open_order(self, list events, ts, command_id, order_id, account_id):
        """The open order a cancel or amend names, or None after emitting its refusal."""
        cdef PyObject* found = PyDict_GetItem(self.orders, order_id)
        if found == NULL or (<Order>found).account_id != account_id:
            self._refuse(events, ts, order_id, account_id, command_id,
                         self._not_open(order_id, None if found == NULL else <Order>found))
            return None
        return <Order>found

    cdef tuple _not_open(self, order_id, order):
        if order is not None:
            return R_NOT_ORDER_OWNER, "order of another account"
        if not order_id or self.seen_orders.has(order_id):
            return R_UNKNOWN_ORDER, f"no open order {order_id}"
        self.seen_orders.flag(order_id)
        return (
            R_UNKNOWN_ORDER,
            f"no order {order_id} has arrived; its id is cancelled, so it can never arrive",
        )

    cdef str _duplicate(self, order_id):
        if self.seen_orders.is_flagged(order_id):
            return f"order id {order_id} was cancelled before the order arrived"
        return f"order id {order_id} already used"

    cdef str _status(self):
        return f"{self.symbol} is {self.status}"

    cdef int _reject(self, list events, ts, order_id, account_id, tuple rejection) except -1:
        self.seq += 1
        return self._ev_rejected(events, ts, order_id, account_id, rejection[0], None,
                                 rejection[1])

    cdef int _refuse(self, list events, ts, order_id, account_id, command_id,
                     tuple rejection) except -1:
        self.seq += 1
        return self._ev_rejected(events, ts, order_id, account_id, rejection[0], command_id,
                                 rejection[1])

    cpdef rejection(self, ts, order_id, account_id, reason, detail, command_id):
        self.seq += 1
        return _rejected_event(self.symbol, ts, self.seq, order_id, account_id, reason,
                               command_id, detail)

    # -- commands ----------------------------------------------------------------------------------
    cpdef list new_order(self, cmd):
        cdef list events = []
        self._new_order(cmd, events)
        return events

    cpdef list cancel(self, cmd):
        cdef list events = []
        self._cancel(cmd, events)
        return events

    cpdef list amend(self, cmd):
        cdef list events = []
        self._amend(cmd, events)
        return events

    cdef int _new_order(self, cmd, list events) except -1:
        if Py_TYPE_IS(cmd, T_NEW) == 0:
            raise TypeError(f"expected a NewOrder, got {type(cmd).__name__}")
        ts = _get(cmd, C_NEW, 1)
        order_id = _get(cmd, C_NEW, 2)
        account_id = _get(cmd, C_NEW, 3)
        kind = _get(cmd, C_NEW, 6)
        tif = _get(cmd, C_NEW, 7)
        qty_o = _get(cmd, C_NEW, 8)
        price_o = _get(cmd, C_NEW, 9)
        stop_o = _get(cmd, C_NEW, 10)
        post_only_o = _get(cmd, C_NEW, 11)
        stp = _get(cmd, C_NEW, 12)
        protection_o = _get(cmd, C_NEW, 13)
        cdef RecentIds seen = self.seen_orders
        if not seen.add(order_id) or (
            seen.evicted and PyDict_Contains(self.orders, order_id) == 1
        ):
            return self._reject(events, ts, order_id, account_id,
                                (R_DUPLICATE_ORDER_ID, self._duplicate(order_id)))
        cdef tuple rejection
        if self.restricted:
            rejection = self._restriction(account_id, kind, tif)
            if rejection is not None:
                return self._reject(events, ts, order_id, account_id, rejection)
        cdef bint post_only = post_only_o is True or (
            post_only_o is not False and bool(post_only_o)
        )
        cdef long long qty = _num(qty_o)
        cdef long long price = 0 if price_o is None else _num(price_o)
        cdef long long stop_price = 0 if stop_o is None else _num(stop_o)
        cdef long long protection = 0 if protection_o is None else _num(protection_o)
        rejection = _check_new_order(
            qty_o, qty, kind, tif, price_o, price, stop_o, stop_price, protection_o, protection,
            post_only, self.min_lots, self.max_lots, self.max_price,
        )
        if rejection is not None:
            return self._reject(events, ts, order_id, account_id, rejection)
        side = _get(cmd, C_NEW, 5)
        cdef bint is_buy = side is _BUY
        if price_o is not None:
            rejection = self._check_band(price)
            if rejection is not None:
                return self._reject(events, ts, order_id, account_id, rejection)
            if post_only or self.restricted:
                rejection = self._resting_only(post_only, is_buy, price)
                if rejection is not None:
                    return self._reject(events, ts, order_id, account_id, rejection)
        self.seq += 1
        if stop_o is None and protection_o is None and not post_only and stp is _DEFAULT_STP:
            # The pure core builds this case with the fields at their defaults.
            self._ev_accepted(events, ts, order_id, account_id, _get(cmd, C_NEW, 4), side, kind,
                              tif, qty_o, price_o, None, False, _DEFAULT_STP, None)
        else:
            self._ev_accepted(events, ts, order_id, account_id, _get(cmd, C_NEW, 4), side, kind,
                              tif, qty_o, price_o, stop_o, post_only_o, stp, protection_o)
        self.arrival += 1
        cdef Order order = _new_order(order_id, account_id, is_buy, kind, tif, price, stop_price,
                                      qty, 0, stp, post_only, self.arrival, protection)
        if stop_o is not None:
            self.orders[order_id] = order
            self.stops.add(order)
        else:
            self._take(order, events, ts)
        if self.stops.count and self.last_price:
            self._release_stops(events, ts)
        return 0

    cdef int _cancel(self, cmd, list events) except -1:
        if Py_TYPE_IS(cmd, T_CANCEL) == 0:
            raise TypeError(f"expected a CancelOrder, got {type(cmd).__name__}")
        ts = _get(cmd, C_CANCEL, 1)
        command_id = _get(cmd, C_CANCEL, 2)
        order_id = _get(cmd, C_CANCEL, 3)
        account_id = _get(cmd, C_CANCEL, 4)
        if not self.seen_commands.add(command_id):
            return 0
        cdef PyObject* found = PyDict_GetItem(self.orders, order_id)
        if found == NULL or (<Order>found).account_id != account_id:
            return self._refuse(events, ts, order_id, account_id, command_id,
                                self._not_open(order_id, None if found == NULL else <Order>found))
        cdef Order order = <Order>found
        PyDict_DelItem(self.orders, order_id)
        self.seq += 1
        self._ev_cancelled(events, ts, order_id, account_id, order.open_qty, _USER, command_id)
        self._unlink(order, events, ts)
        return 0

    cdef int _amend(self, cmd, list events) except -1:
        if Py_TYPE_IS(cmd, T_AMEND) == 0:
            raise TypeError(f"expected an AmendOrder, got {type(cmd).__name__}")
        ts = _get(cmd, C_AMEND, 1)
        command_id = _get(cmd, C_AMEND, 2)
        order_id = _get(cmd, C_AMEND, 3)
        account_id = _get(cmd, C_AMEND, 4)
        cmd_price = _get(cmd, C_AMEND, 5)
        cmd_qty = _get(cmd, C_AMEND, 6)
        if not self.seen_commands.add(command_id):
            return 0
        cdef Order order = self._open_order(events, ts, command_id, order_id, account_id)
        if order is None:
            return 0
        cdef tuple rejection = self._check_amend(cmd_price, cmd_qty, order)
        if rejection is not None:
            return self._refuse(events, ts, order_id, account_id, command_id, rejection)
        cdef long long price = order.price if cmd_price is None else _num(cmd_price)
        cdef long long qty = order.qty if cmd_qty is None else _num(cmd_qty)
        self.seq += 1
        if qty <= order.filled:
            self._ev_cancelled(events, ts, order.order_id, order.account_id, order.open_qty,
                               _AMENDED_TO_FILLED, command_id)
            self._unbook(order, events, ts)
            return 0
        self._ev_amended(events, ts, order.order_id, order.account_id, command_id, price, qty,
                         qty - order.filled)
        cdef BookSide side
        cdef Level level
        cdef long long reduce
        if price == order.price and qty <= order.qty:
            side = self.bids if order.is_buy else self.asks
            level = side.level(side.key(price))
            reduce = order.qty - qty
            order.qty = qty
            order.open_qty -= reduce
            level.qty -= reduce
            if reduce:
                self._delta(events, ts, order.is_buy, level)
            return 0
        self._unbook(order, events, ts)
        self.arrival += 1
        cdef Order replacement = _new_order(
            order.order_id, order.account_id, order.is_buy, order.order_type, order.tif, price,
            order.stop_price, qty, order.filled, order.stp, order.post_only, self.arrival,
            order.protection,
        )
        self._take(replacement, events, ts)
        if self.stops.count and self.last_price:
            self._release_stops(events, ts)
        return 0

    # -- matching ----------------------------------------------------------------------------------
    cdef int _take(self, Order taker, list events, ts) except -1:
        cdef bint is_buy = taker.is_buy
        cdef BookSide opposite = self.asks if is_buy else self.bids
        cdef long long price = taker.price
        cdef long long threshold
        if price:
            threshold = -price if is_buy else price
        else:
            threshold = self._market_threshold(is_buy, taker.protection)
        if taker.tif is _FOK and not self._fillable(taker, opposite, threshold):
            self._expire(taker, events, ts, _FOK_NOT_FILLABLE)
            return 0
        if (
            opposite.n
            and opposite.ckeys[opposite.n - 1] >= threshold
            and self._match(taker, opposite, threshold, events, ts)
        ):
            return 0
        if taker.open_qty == 0:
            return 0
        cdef BookSide own
        cdef Level level
        if price and taker.tif is _GTC:
            self.orders[taker.order_id] = taker
            own = self.bids if is_buy else self.asks
            level = own.add(taker)
            self.seq += 1
            self._ev_delta(events, ts, _BUY if is_buy else _SELL, level)
        elif price:
            self._expire(taker, events, ts, _IOC_REMAINDER)
        else:
            self._expire(taker, events, ts, _PROTECTION if opposite.n else _NO_LIQUIDITY)
        return 0

    cdef long long _market_threshold(self, bint is_buy, long long protection) except? -1:
        cdef long long limit = protection
        cdef long long reference = self.band_price or self.opening
        if reference:
            self._load_band(reference)
            if is_buy:
                if not limit or limit > self._band_high:
                    limit = self._band_high
            elif limit < self._band_low:
                limit = self._band_low
        if not limit:
            return _NO_LIMIT
        return -limit if is_buy else limit

    cdef bint _match(self, Order taker, BookSide opposite, long long threshold, list events,
                     ts) except -1:
        cdef dict orders = self.orders
        cdef bint maker_is_buy = not taker.is_buy
        aggressor = _BUY if taker.is_buy else _SELL
        maker_side = _BUY if maker_is_buy else _SELL
        taker_id = taker.order_id
        account = taker.account_id
        stp = taker.stp
        cdef long long remaining = taker.open_qty
        cdef long long key, fill, price
        cdef Level level
        cdef Order maker
        while remaining and opposite.n:
            key = opposite.ckeys[opposite.n - 1]
            if key < threshold:
                break
            level = <Level>opposite.clevels[opposite.n - 1]
            maker = level.first()
            if stp is not _NO_STP and maker.account_id == account:
                if stp is not _CANCEL_NEWEST:
                    self._cancel_maker(maker, opposite, level, events, ts)
                    if stp is _CANCEL_OLDEST:
                        continue
                taker.filled += taker.open_qty - remaining
                taker.open_qty = remaining
                self.seq += 1
                self._ev_cancelled(events, ts, taker_id, account, remaining, _STP, None)
                taker.open_qty = 0
                return True
            fill = maker.open_qty if maker.open_qty < remaining else remaining
            remaining -= fill
            maker.open_qty -= fill
            maker.filled += fill
            level.qty -= fill
            price = level.price
            self.last_price = price
            if fill >= self.band_min:
                self.band_price = price
            self.seq += 1
            self._ev_trade(events, ts, maker.order_id, taker_id, maker.account_id, account,
                           level.pobj, fill, aggressor)
            if maker.open_qty == 0:
                PyDict_DelItem(orders, maker.order_id)
                level.remove(maker)
                if level.count == 0:
                    opposite._drop_at(opposite.n - 1)
            self.seq += 1
            self._ev_delta(events, ts, maker_side, level)
        taker.filled += taker.open_qty - remaining
        taker.open_qty = remaining
        return False

    cdef bint _fillable(self, Order taker, BookSide opposite, long long threshold):
        cdef long long needed = taker.open_qty
        stp = taker.stp
        account = taker.account_id
        cdef Py_ssize_t i
        cdef Level level
        cdef Order maker
        for i in range(opposite.n - 1, -1, -1):
            if opposite.ckeys[i] < threshold:
                return False
            level = <Level>opposite.clevels[i]
            if stp is _NO_STP:
                needed -= level.qty
            else:
                for maker in level.live_orders():
                    if maker.account_id != account:
                        needed -= maker.open_qty
                    elif stp is not _CANCEL_OLDEST:
                        return False
                    if needed <= 0:
                        return True
            if needed <= 0:
                return True
        return False

    cdef int _release_stops(self, list events, ts) except -1:
        cdef StopBook stops = self.stops
        cdef Order order
        while True:
            order = stops.pop_due(self.last_price)
            if order is None:
                return 0
            del self.orders[order.order_id]
            self.seq += 1
            self._ev_triggered(events, ts, order.order_id, order.account_id, self.last_price)
            self._take(order, events, ts)

    # -- helpers -----------------------------------------------------------------------------------
    cdef int _cancel_maker(self, Order maker, BookSide side, Level level, list events,
                           ts) except -1:
        self.seq += 1
        self._ev_cancelled(events, ts, maker.order_id, maker.account_id, maker.open_qty, _STP,
                           None)
        del self.orders[maker.order_id]
        side.remove(maker)
        maker.open_qty = 0
        self._delta(events, ts, side.is_buy, level)
        return 0

    cpdef _unbook(self, Order order, list events, ts):
        del self.orders[order.order_id]
        self._unlink(order, events, ts)

    cpdef _unlink(self, Order order, list events, ts):
        cdef BookSide side
        cdef Level level
        if order.held:
            self.stops.remove(order)
        else:
            side = self.bids if order.is_buy else self.asks
            level = side.remove(order)
            self._delta(events, ts, order.is_buy, level)
        order.open_qty = 0


# -- rules (``rules``) -----------------------------------------------------------------------------
cdef inline tuple _check_quantity(qty_o, long long qty, long long min_lots, long long max_lots):
    if qty <= 0:
        return R_INVALID_QUANTITY, f"quantity must be positive, was {qty_o}"
    if qty < min_lots:
        return R_QUANTITY_BELOW_MIN, f"quantity {qty_o} is below the minimum {min_lots}"
    if qty > max_lots:
        return R_QUANTITY_ABOVE_MAX, f"quantity {qty_o} is above the maximum {max_lots}"
    return None


cdef inline tuple _check_price(str name, price_o, long long price, long long max_price):
    if price <= 0:
        return R_INVALID_PRICE, f"{name} must be positive, was {price_o}"
    if price > max_price:
        return R_INVALID_PRICE, f"{name} {price_o} is above the maximum {max_price}"
    return None


cdef tuple _check_new_order(qty_o, long long qty, kind, tif, price_o, long long price, stop_o,
                            long long stop_price, protection_o, long long protection,
                            bint post_only, long long min_lots, long long max_lots,
                            long long max_price):
    cdef tuple rejection = _check_quantity(qty_o, qty, min_lots, max_lots)
    if rejection is not None:
        return rejection
    if kind is _LIMIT or kind is _STOP_LIMIT:
        if price_o is None:
            return R_INVALID_PRICE, f"{kind} order needs a price"
        if price <= 0 or price > max_price:
            return _check_price("price", price_o, price, max_price)
    elif price_o is not None:
        return R_INVALID_PRICE, f"{kind} order must not have a price, was {price_o}"
    if kind is _STOP or kind is _STOP_LIMIT:
        if stop_o is None:
            return R_INVALID_ORDER, f"{kind} order needs a stop_price"
        rejection = _check_price("stop_price", stop_o, stop_price, max_price)
        if rejection is not None:
            return rejection
    elif stop_o is not None:
        return R_INVALID_ORDER, f"{kind} order must not have a stop_price"
    if protection_o is not None:
        if kind is _LIMIT or kind is _STOP_LIMIT:
            return (
                R_INVALID_PRICE,
                f"{kind} order must not have a protection_price: its price is its limit",
            )
        rejection = _check_price("protection_price", protection_o, protection, max_price)
        if rejection is not None:
            return rejection
    if post_only and (kind is not _LIMIT or tif is not _GTC):
        return R_INVALID_ORDER, f"post-only needs GTC LIMIT, was {kind} {tif}"
    return None


cdef inline int Py_TYPE_IS(object obj, PyTypeObject* t) noexcept:
    return (<PyObject*>obj).ob_type == t


# -- routing (``Engine.apply``) --------------------------------------------------------------------
@cython.final
cdef class Router:
    """``Engine.apply`` for the compiled core: new orders, cancels and amends of a listed symbol
    go straight to its book; everything else to ``fallback`` (``Engine._operate``)."""

    cdef dict books
    cdef object fallback
    # The last symbol routed and its book: most commands are for the symbol before them, and a
    # string compare is cheaper than hashing a freshly decoded symbol. ``Engine`` calls
    # ``forget`` whenever it puts a book in ``books``, so a replaced book is never used.
    cdef object _last_symbol
    cdef object _last_book

    def __init__(self, dict books, fallback):
        self.books = books  # the engine's own dict: a symbol listed later is seen here too
        self.fallback = fallback
        self._last_symbol = None
        self._last_book = None

    def forget(self):
        """Drop the cached last book (``books`` changed)."""
        self._last_symbol = None
        self._last_book = None

    cdef SymbolBook _book(self, PyTypeObject* t, command):
        """The book that handles ``command`` here, or None (the fallback's)."""
        if t != T_NEW and t != T_CANCEL and t != T_AMEND:
            return None
        symbol = <object>ccore_get(command, OFF[C_NEW][0])
        if self._last_book is not None and (
            symbol is self._last_symbol
            or (PyUnicode_CheckExact(symbol) and symbol == self._last_symbol)
        ):
            return <SymbolBook>self._last_book
        cdef PyObject* found = PyDict_GetItem(self.books, symbol)
        if found == NULL or found.ob_type != <PyTypeObject*>SymbolBook:
            return None
        self._last_symbol = symbol
        self._last_book = <object>found
        return <SymbolBook>found

    cpdef list apply(self, command):
        cdef PyTypeObject* t = (<PyObject*>command).ob_type
        cdef SymbolBook book = self._book(t, command)
        if book is None:
            return self.fallback(command)
        cdef list events = []
        if t == T_NEW:
            book._new_order(command, events)
        elif t == T_CANCEL:
            book._cancel(command, events)
        else:
            book._amend(command, events)
        return events

    def apply_batch(self, commands):
        """``[apply(c) for c in commands]`` in one call."""
        cdef list items = commands if type(commands) is list else list(commands)
        cdef Py_ssize_t n = PyList_GET_SIZE(items)
        cdef list out = PyList_New(n)
        cdef Py_ssize_t i
        cdef object events
        for i in range(n):
            events = self.apply(<object>PyList_GET_ITEM(items, i))
            Py_INCREF(events)
            PyList_SET_ITEM(out, i, events)
        return out
