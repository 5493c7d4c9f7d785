"""What the region's monitoring watches: what the main stack built that pages or is graphed."""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_rds as rds
from aws_cdk import aws_sqs as sqs
from aws_cdk import aws_stepfunctions as sfn

from stacks.constructs.engine import Engine


@dataclass(frozen=True, slots=True, kw_only=True)
class MonitoringProps:
    name: str  # the topic's display name, e.g. exchange-prod-primary
    dashboard_name: str
    rest_stage: apigw.Stage
    functions: Mapping[str, lambda_.Function]
    consumers: Sequence[str]  # the journal consumers (Kinesis)
    dead_letter_consumer: str  # reads the shards' dead-letter queues (orders' and operators')
    reconciler: str  # cancels orders left pending
    reconciliation: str  # compares the engine, the order store and the ledger
    dividends: str  # pays dividends that are due
    schedules: Mapping[str, int]  # each scheduled function -> minutes between its runs
    failure_queues: Mapping[str, sqs.IQueue]  # each journal consumer's on-failure queue
    timer_queue: sqs.IQueue
    timer_dead_letters: sqs.IQueue
    # The other SQS functions' dead-letter queues, by queue (``FunctionSpec.queue``: payouts,
    # notifications), and the functions whose errors page on their own.
    dead_letters: Mapping[str, sqs.IQueue]
    payout_sweeper: str  # emits PayoutsStuck
    paging_errors: Sequence[str]  # the payout worker and the emailer: any error in 5 minutes
    delivery_stream: str  # the archive's Firehose delivery stream's name
    shards: Sequence[str]
    broker_name: str
    tables: Mapping[str, str]  # logical name -> table name
    ledger: rds.DatabaseCluster
    engine: Engine
    # The DR region's failover and failback state machines (none in the primary), by name.
    state_machines: Mapping[str, sfn.IStateMachine] = field(default_factory=dict)
