"""Record every AWS API call a local process makes, for the IAM fidelity check (``tests.fidelity``).

``install(log_path)`` hooks botocore itself, so every client is covered whoever makes it and in
whichever thread: ``boto3.client(...)``, ``boto3.Session().client(...)``, the default session,
``botocore.session.get_session().create_client(...)`` (PynamoDB's way). The hooks go into
``botocore.handlers.BUILTIN_HANDLERS``, which every botocore session registers when it is created,
and onto boto3's default session if it already exists. A client made before ``install`` keeps the
handlers it was made with, so install first, before anything makes a client.

Each API call appends one JSON line (one ``write`` on an ``O_APPEND`` descriptor under an exclusive
lock, so threads and processes sharing the file never interleave):

    {"principal": "orders", "service": "dynamodb", "signing_name": "dynamodb",
     "operation": "PutItem", "region": "us-east-1", "endpoint": "http://127.0.0.1:5000",
     "params": {"TableName": "exchange-orders"}, "thread": "fn-orders_0", "pid": 4242, ...}

``params`` holds only what names a resource (``IDENTIFIERS``, the tables of a batch or a
transaction) and a KMS call's encryption context (plain text by design: CloudTrail logs it too);
never an item, a record's data, an object's body or a secret's value.

The principal is ``current_principal`` (the local function host sets it to the function's name
around each invocation), else the ``default_principal`` given to ``install`` (``engine`` in an
engine process), else null (the local stack itself: provisioning, seeding, the event source
mappings). ``ThreadPoolExecutor.submit`` runs each callable in the submitter's context while
recording is installed (as ``asyncio.to_thread`` does), so a handler's own worker threads keep
its principal.

A Kinesis ``GetRecords`` names only a shard iterator; the stream it reads is the one the iterator
came from (``GetShardIterator``, or the previous ``GetRecords``), recorded as ``StreamName``.

    python -m local.recording --log calls.jsonl --principal engine -- -m engine_service run

runs a module with recording installed (how a local engine process records its calls).
"""

import contextvars
import fcntl
import json
import os
import runpy
import sys
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any, Final
from urllib.parse import unquote, urlsplit

CALL_LOG_ENV: Final = "EXCHANGE_LOCAL_AWS_CALL_LOG"

current_principal: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "aws_call_principal", default=None
)

# Request parameters that name a resource; recorded when they are strings, nothing else is.
IDENTIFIERS: Final = frozenset(
    {
        "TableName",
        "IndexName",
        "StreamName",
        "StreamARN",
        "ConsumerARN",
        "ConsumerName",
        "ShardId",
        "SecretId",
        "Name",
        "Bucket",
        "Key",
        "Prefix",
        "VersionId",
        "ConnectionId",
        "UserPoolId",
        "Namespace",
        "QueueUrl",
        "TopicArn",
        "FunctionName",
        "KeyId",
        "LogGroupName",
        "ResourceArn",
        "ResourceARN",
        # SES v2 SendEmail: the sending identity and the configuration set (both IAM resources).
        "FromEmailAddress",
        "ConfigurationSetName",
    }
)
_TRANSACT_KINDS: Final = ("Put", "Update", "Delete", "ConditionCheck", "Get")
_MARK: Final = "local.recording"
_ITERATORS_KEPT: Final = 10_000


class _Recorder:
    def __init__(self, log_path: Path, default_principal: str | None) -> None:
        self.log_path = log_path
        self.default_principal = default_principal
        self._fd = os.open(log_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        self._lock = threading.Lock()
        self._iterators: OrderedDict[str, str] = OrderedDict()  # shard iterator -> stream

    def close(self) -> None:
        os.close(self._fd)

    def write(self, record: Mapping[str, Any]) -> None:
        data = (json.dumps(record, sort_keys=True, default=str) + "\n").encode()
        with self._lock:
            fcntl.flock(self._fd, fcntl.LOCK_EX)
            try:
                os.write(self._fd, data)
            finally:
                fcntl.flock(self._fd, fcntl.LOCK_UN)

    def remember_iterator(self, iterator: object, stream: object) -> None:
        if not isinstance(iterator, str) or not isinstance(stream, str):
            return
        with self._lock:
            self._iterators[iterator] = stream
            while len(self._iterators) > _ITERATORS_KEPT:
                self._iterators.popitem(last=False)

    def stream_of(self, iterator: object) -> str | None:
        if not isinstance(iterator, str):
            return None
        with self._lock:
            return self._iterators.get(iterator)


_recorder: _Recorder | None = None
_original_submit: Callable[..., Future[Any]] | None = None


def resource_params(params: Mapping[str, Any]) -> dict[str, Any]:
    """What of a call's parameters names a resource (``IDENTIFIERS``; batch and transaction
    tables); nothing else, so no value a call carries ever reaches the log."""
    kept: dict[str, Any] = {
        key: value for key, value in params.items() if key in IDENTIFIERS and isinstance(value, str)
    }
    items = params.get("RequestItems")
    if isinstance(items, Mapping):
        kept["RequestItems"] = {
            str(table): _batch_kinds(requests) for table, requests in items.items()
        }
    transact = params.get("TransactItems")
    if isinstance(transact, Sequence) and not isinstance(transact, str):
        kept["TransactItems"] = [_transact_item(item) for item in transact]
    context = params.get("EncryptionContext")
    if isinstance(context, Mapping):
        # KMS: what kms:EncryptionContext* conditions see. Our contexts name a key and an
        # account, never a secret ("Encryption context", AWS KMS: it is logged in CloudTrail).
        kept["EncryptionContext"] = {str(name): str(value) for name, value in context.items()}
    return kept


def _batch_kinds(requests: object) -> list[str]:
    if isinstance(requests, Mapping):  # BatchGetItem: {"Keys": [...], ...}
        return ["Get"]
    if isinstance(requests, Sequence):  # BatchWriteItem: [{"PutRequest": ...}, ...]
        return sorted(
            {key for request in requests if isinstance(request, Mapping) for key in request}
        )
    return []


def _transact_item(item: object) -> dict[str, str]:
    if not isinstance(item, Mapping):
        return {"kind": "?"}
    for kind in _TRANSACT_KINDS:
        body = item.get(kind)
        if isinstance(body, Mapping):
            table = body.get("TableName")
            return {"kind": kind, "TableName": table} if isinstance(table, str) else {"kind": kind}
    return {"kind": "?"}


def _endpoint(request_dict: Mapping[str, Any]) -> str | None:
    """The client's endpoint: the request URL without the operation's own path."""
    url = request_dict.get("url")
    if not isinstance(url, str):
        return None
    parts = urlsplit(url)
    path = unquote(parts.path)
    operation_path = unquote(str(request_dict.get("url_path") or "")).split("?")[0]
    if operation_path and operation_path != "/" and path.endswith(operation_path):
        path = path[: -len(operation_path)]
    return f"{parts.scheme}://{parts.netloc}{path.rstrip('/')}"


def _stash_params(params: Mapping[str, Any], context: dict[str, Any], **_: Any) -> None:
    if _recorder is not None and isinstance(params, Mapping):
        context[f"{_MARK}.params"] = resource_params(params)


def _record(model: Any, params: Mapping[str, Any], context: dict[str, Any], **_: Any) -> None:
    recorder = _recorder
    if recorder is None or context.get(_MARK):
        return
    context[_MARK] = True  # once per call, however many sessions registered the hook
    resource = dict(context.get(f"{_MARK}.params") or {})
    service = model.service_model.service_name
    if service == "kinesis" and model.name == "GetRecords" and "StreamARN" not in resource:
        stream = recorder.stream_of(context.get(f"{_MARK}.iterator"))
        if stream is not None:
            resource["StreamName"] = stream
    recorder.write(
        {
            "time": time.time(),
            "pid": os.getpid(),
            "thread": threading.current_thread().name,
            "principal": current_principal.get() or recorder.default_principal,
            "service": service,
            "signing_name": model.service_model.signing_name,
            "operation": model.name,
            "region": context.get("client_region"),
            "endpoint": _endpoint(params),
            "params": resource,
        }
    )


def _stash_iterator(params: Mapping[str, Any], context: dict[str, Any], **_: Any) -> None:
    # GetRecords' iterator, kept before ``resource_params`` drops it (it names no resource).
    if isinstance(params, Mapping):
        context[f"{_MARK}.iterator"] = params.get("ShardIterator")


def _follow_iterator(
    parsed: Mapping[str, Any], model: Any, context: dict[str, Any], **_: Any
) -> None:
    recorder = _recorder
    if recorder is None or not isinstance(parsed, Mapping):
        return
    resource = context.get(f"{_MARK}.params") or {}
    stream = resource.get("StreamName") or resource.get("StreamARN")
    if model.name == "GetRecords":
        stream = stream or recorder.stream_of(context.get(f"{_MARK}.iterator"))
        recorder.remember_iterator(parsed.get("NextShardIterator"), stream)
    else:
        recorder.remember_iterator(parsed.get("ShardIterator"), stream)


def _handlers() -> list[tuple[str, Callable[..., None]]]:
    return [
        ("before-parameter-build", _stash_params),
        ("before-parameter-build.kinesis.GetRecords", _stash_iterator),
        ("before-call", _record),
        ("after-call.kinesis.GetShardIterator", _follow_iterator),
        ("after-call.kinesis.GetRecords", _follow_iterator),
    ]


def _submit_in_context(
    self: ThreadPoolExecutor, fn: Callable[..., Any], /, *args: Any, **kwargs: Any
) -> Future[Any]:
    assert _original_submit is not None  # noqa: S101 - installed together
    return _original_submit(self, contextvars.copy_context().run, fn, *args, **kwargs)


def install(log_path: Path, default_principal: str | None = None) -> None:
    """Append one line per AWS API call this process makes to ``log_path`` (see the module)."""
    global _recorder, _original_submit  # noqa: PLW0603 - process-wide by nature
    from botocore import handlers  # noqa: PLC0415 - only a recording process needs botocore

    if _recorder is not None:
        _recorder.close()
    _recorder = _Recorder(log_path, default_principal)
    if _original_submit is None:
        _original_submit = ThreadPoolExecutor.submit
        ThreadPoolExecutor.submit = _submit_in_context  # type: ignore[method-assign,assignment]
    builtin = {(event, handler) for event, handler, *_ in handlers.BUILTIN_HANDLERS}
    boto3 = sys.modules.get("boto3")
    default_session = getattr(boto3, "DEFAULT_SESSION", None)
    for event, handler in _handlers():
        if (event, handler) in builtin:
            continue
        if default_session is not None:  # made before now: it never reads BUILTIN_HANDLERS again
            default_session._session.register(event, handler, unique_id=f"{_MARK}.{event}")
        handlers.BUILTIN_HANDLERS.append((event, handler, handlers.REGISTER_FIRST))


def uninstall() -> None:
    """Stop recording (sessions made meanwhile keep inert hooks). For tests."""
    global _recorder, _original_submit  # noqa: PLW0603 - process-wide by nature
    from botocore import handlers  # noqa: PLC0415

    ours = {handler for _, handler in _handlers()}
    handlers.BUILTIN_HANDLERS[:] = [
        spec for spec in handlers.BUILTIN_HANDLERS if spec[1] not in ours
    ]
    if _original_submit is not None:
        ThreadPoolExecutor.submit = _original_submit  # type: ignore[method-assign]
        _original_submit = None
    if _recorder is not None:
        _recorder.close()
        _recorder = None


def installed() -> Path | None:
    """The log this process records to, if any."""
    return _recorder.log_path if _recorder is not None else None


def install_from_environment(
    default_principal: str | None = None, environ: Mapping[str, str] = os.environ
) -> Path | None:
    """``install`` when ``EXCHANGE_LOCAL_AWS_CALL_LOG`` names a file; the path, or None."""
    value = environ.get(CALL_LOG_ENV)
    if not value:
        return None
    path = Path(value)
    install(path, default_principal)
    return path


def command(args: Sequence[str], *, principal: str) -> list[str]:
    """``[python, *args]``, run under recording as ``principal`` when this process records
    (same log): how the local stack starts a child process whose calls count too."""
    log = installed()
    if log is None:
        return [sys.executable, *args]
    return [
        sys.executable,
        "-m",
        "local.recording",
        "--log",
        str(log),
        "--principal",
        principal,
        "--",
        *args,
    ]


def main(argv: Sequence[str]) -> None:
    """``--log PATH [--principal NAME] -- -m MODULE [ARG ...]``: run MODULE as ``__main__``."""
    head, separator, tail = _split(list(argv))
    options = dict(zip(head[::2], head[1::2], strict=False))
    well_formed = separator and len(head) % 2 == 0 and "--log" in options
    if not well_formed or len(tail) < 2 or tail[0] != "-m":
        raise SystemExit(f"usage: python -m local.recording {main.__doc__}")
    install(Path(options["--log"]), options.get("--principal"))
    sys.argv = [tail[1], *tail[2:]]
    runpy.run_module(tail[1], run_name="__main__", alter_sys=True)


def _split(argv: list[str]) -> tuple[list[str], bool, list[str]]:
    if "--" not in argv:
        return argv, False, []
    at = argv.index("--")
    return argv[:at], True, argv[at + 1 :]


if __name__ == "__main__":
    main(sys.argv[1:])
