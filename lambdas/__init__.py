"""Lambda handlers, one folder per function, each described once in ``catalog``.

A handler module is its function's composition root: ``compose(settings, **adapters)`` builds the
object graph from the function's settings model, ``ROOT`` builds it once per container, and the
handler parses the event and calls one piece of logic from the shared layer (``exchange``).
"""
