"""Instruments at run time: listings in a store (DynamoDB, global), versioned, with each
symbol's trading status; the static instruments file only seeds it.

- ``model``: ``Listing`` (one version of a symbol) and the rules of a change;
- ``store``: the ``InstrumentStore`` port, its in-memory twin and seeding; ``store_dynamo``
  the DynamoDB store;
- ``live``: ``LiveCatalog``, the catalog every process serves, refreshed from the store;
- ``composition``: ``live_catalog(settings)``, what each composition root calls.
"""
