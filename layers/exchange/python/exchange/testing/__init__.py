"""Test doubles, not shipped logic: in-memory fakes of every port (``fakes``: the REST functions'
ports; ``stores``: the consumers' and WebSocket functions' stores) and builders of the events AWS
sends a Lambda (``lambda_events``). Used by the tests, the benchmarks and local tools; nothing
else in the package imports it."""
