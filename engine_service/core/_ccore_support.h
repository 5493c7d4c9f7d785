/* C helpers for _ccore.pyx: msgspec Struct slots by byte offset, and exact integer arithmetic.
 *
 * Struct slots: a msgspec Struct keeps each field in a PyObject* slot at a fixed byte offset,
 * which _ccore.pyx reads from msgspec's own member descriptors at import (ccore_member_offset)
 * and checks; the events it builds are allocated as msgspec's Struct_alloc does (PyObject_New,
 * the slots zeroed) for types with gc=False, so they are ordinary msgspec Structs.
 */
#ifndef CCORE_SUPPORT_H
#define CCORE_SUPPORT_H

#include <Python.h>
#include <structmember.h>
#include <string.h>

/* -- Struct slots ------------------------------------------------------------------------------- */

/* The object in the slot at byte offset ``i`` (borrowed; never NULL in a built Struct). */
static inline PyObject *ccore_get(PyObject *obj, Py_ssize_t i) {
    return *(PyObject **)((char *)obj + i);
}

/* Put ``value`` (a new reference is taken) in the slot at byte offset ``i``. */
static inline void ccore_put(PyObject *obj, Py_ssize_t i, PyObject *value) {
    PyObject **slot = (PyObject **)((char *)obj + i);
    PyObject *old = *slot;
    Py_INCREF(value);
    *slot = value;
    Py_XDECREF(old);
}

/* Put the int ``value`` in the slot at byte offset ``i``; -1 with an exception set on failure. */
static inline int ccore_put_int(PyObject *obj, Py_ssize_t i, long long value) {
    PyObject *number = PyLong_FromLongLong(value);
    if (number == NULL) return -1;
    PyObject **slot = (PyObject **)((char *)obj + i);
    PyObject *old = *slot;
    *slot = number;
    Py_XDECREF(old);
    return 0;
}

/* A new instance of a msgspec Struct type with gc=False, every slot NULL (as Struct_alloc). */
static inline PyObject *ccore_alloc(PyTypeObject *type) {
    PyObject *obj = _PyObject_New(type);
    if (obj == NULL) return NULL;
    /* A few slots: plain stores, cheaper than a call to memset. */
    PyObject **slots = (PyObject **)((char *)obj + sizeof(PyObject));
    Py_ssize_t n = (type->tp_basicsize - (Py_ssize_t)sizeof(PyObject)) / (Py_ssize_t)sizeof(PyObject *);
    for (Py_ssize_t i = 0; i < n; i++) slots[i] = NULL;
    return obj;
}

/* The byte offset a member descriptor reads (-1 when ``descr`` is not one). */
static inline Py_ssize_t ccore_member_offset(PyObject *descr) {
    if (descr == NULL || !Py_IS_TYPE(descr, &PyMemberDescr_Type)) return -1;
    PyMemberDef *member = ((PyMemberDescrObject *)descr)->d_member;
    if (member->type != T_OBJECT_EX && member->type != T_OBJECT) return -1;
    return member->offset;
}

static inline int ccore_is_gc_type(PyTypeObject *type) { return PyType_IS_GC(type) ? 1 : 0; }

/* -- integers ----------------------------------------------------------------------------------- */

#define CCORE_LIMIT (1LL << 62)

/* An int as a C integer, clamped to +-2**62 (which every rule refuses exactly as the pure core
 * does with the unbounded int). ``*ok`` is 0, with no exception set, when ``value`` is no int. */
static inline long long ccore_clamp(PyObject *value, int *ok) {
    if (!PyLong_Check(value)) {
        *ok = 0;
        return 0;
    }
    int overflow = 0;
    long long result = PyLong_AsLongLongAndOverflow(value, &overflow);
    if (overflow > 0) return CCORE_LIMIT;
    if (overflow < 0) return -CCORE_LIMIT;
    if (result == -1 && PyErr_Occurred()) { /* cannot happen for an int; be safe */
        PyErr_Clear();
        return CCORE_LIMIT;
    }
    if (result > CCORE_LIMIT) return CCORE_LIMIT;
    if (result < -CCORE_LIMIT) return -CCORE_LIMIT;
    return result;
}

/* Instrument.band, exactly: ceil(ref * (1 - num/den)) and floor(ref * (1 + num/den)), for
 * 0 < ref < 2**62 and 0 < num <= den < 2**62, in 128-bit integers. */
static inline void ccore_band(long long ref, long long num, long long den, long long *low,
                              long long *high) {
    __int128 r = ref, n = num, d = den;
    __int128 below = r * (d - n); /* >= 0 */
    __int128 above = r * (d + n); /* > 0 */
    __int128 lo = below / d + ((below % d) != 0); /* ceil of a non-negative quotient */
    __int128 hi = above / d;                      /* floor of a positive quotient */
    *low = (long long)lo;
    *high = hi > (__int128)LLONG_MAX ? LLONG_MAX : (long long)hi;
}

#endif /* CCORE_SUPPORT_H */
