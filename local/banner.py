"""What ``make run`` prints once the stack is up: where things are and how to start trading."""

from typing import TYPE_CHECKING

from exchange.domain import InstrumentCatalog
from lambdas.catalog import Trigger

if TYPE_CHECKING:
    from local.stack import Stack


def banner(stack: "Stack") -> str:
    state = stack.state()
    host = stack.functions
    missing = (
        sorted(name for name in host.specs if not host.available(name)) if host is not None else []
    )
    lines = [
        "",
        "The exchange is running locally.",
        "",
        f"  Console      {state['console_url']}   (the trading console: open it in a browser)",
        f"  REST API     {state['api_url']}/v1        (e.g. GET {state['api_url']}/v1/markets)",
        f"  WebSocket    {state['ws_url']}?token=<access token>",
        f"  AWS (moto)   {state['aws_endpoint_url']}   region {state['region']}",
        f"  Cognito      pool {state['user_pool_id']}, app client {state['app_client_id']}",
        "  API keys     POST /v1/api-keys with an access token; requests signed with a key go"
        " through the REST Lambda authorizer (secrets under a moto KMS key)",
        "  Timers       POST /v1/orders/cancel-after arms the dead man's switch (an SQS timer;"
        " the cancel_after function gets it when it falls due)",
        f"  Payouts      a fake payment provider at {state['payout_provider_url']} pays each"
        " withdrawal, then posts its signed webhook (an address with 'fail' fails);"
        f" a new destination is usable after {state['destination_delay_s']} s (a day as deployed)",
        f"  Mailbox      GET {state['api_url']}/_local/mailbox/emails?to=<address>: the emails SES"
        " (moto) sent, as each user's notification preferences allow",
        f"  Archive      the journal as Parquet under {state['archive_dir']}/events"
        " (Firehose's layout); `make backtest` replays it",
        "",
        "  Services:",
        *(f"    {name:<11} {kind}" for name, kind in state["services"].items()),
        "    Engine      "
        + ", ".join(
            f"{shard} ({s['mode']}, {s['core']} core)" for shard, s in state["engines"].items()
        ),
        "",
        "  Instruments:",
        *(
            f"    {i.symbol:<8} tick {i.tick_size}, lot {i.lot_size}, "
            f"fees maker {i.maker_fee_bps} / taker {i.taker_fee_bps} bps"
            for i in InstrumentCatalog.demo()
        ),
    ]
    if state["demo_users"]:
        lines += [
            "",
            "  Demo users (each funded with 1,000,000 USD, 10 BTC, 100 ETH, 5,000 SOL):",
            *(f"    {u['email']:<20} password {u['password']}" for u in state["demo_users"]),
            "",
            "  Get a token and trade (another terminal):",
            f"    .venv/bin/exchange login {state['demo_users'][0]['email']}"
            f" --password {state['demo_users'][0]['password']}",
            "    .venv/bin/exchange place BTC-USD buy 0.01 65000",
            "    .venv/bin/exchange book BTC-USD",
            "    .venv/bin/exchange mm BTC-USD --mid 65000      # a market maker for a live book",
            "",
            "  Operate (the admin API; docs/operations.md):",
            f"    .venv/bin/python -m local operator {state['demo_users'][0]['email']}"
            "   # then `exchange login` again",
            "    .venv/bin/exchange admin markets",
            f"    curl -X POST {state['api_url']}/_local/reconcile     # the reconciliation, now",
        ]
    if missing:
        lines += [
            "",
            f"  Not built yet (their routes answer 502): {', '.join(missing)}",
        ]
    specs = list(host.specs.items()) if host else []
    stream = [n for n, s in specs if s.trigger is Trigger.KINESIS and n not in missing]
    queue = [n for n, s in specs if s.trigger is Trigger.SQS and n not in missing]
    lines += [
        "",
        "  Stream consumers polling the journal: " + (", ".join(stream) or "none"),
        "  Queue consumers polling SQS: " + (", ".join(queue) or "none"),
        f"  State file: {stack.options.state_file}   Logs: {state['workdir']}",
        "",
        "Ctrl-C stops everything.",
    ]
    return "\n".join(lines)
