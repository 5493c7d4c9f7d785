"""What runs around the requests, wired by the function factory in the primary region only: the
user pool's post-confirmation trigger, and a function run on every deploy that changes it (a CDK
trigger, for the ledger's migrations)."""

from aws_cdk import Duration, triggers
from aws_cdk import aws_cognito as cognito
from aws_cdk import aws_lambda as lambda_
from constructs import Construct

from stacks.constructs.data import LedgerDatabase


def confirm_sign_ups(pool: cognito.IUserPool, function: lambda_.Function) -> None:
    """``function`` as the pool's post-confirmation trigger, with Cognito's permission to invoke
    it for this pool only (the resource policy's source ARN). The function must read nothing of the
    pool (its id, its client), or the pool and the function would depend on each other."""
    if not isinstance(pool, cognito.UserPool):
        raise TypeError("the post-confirmation trigger needs the pool this stack creates")
    pool.add_trigger(cognito.UserPoolOperation.POST_CONFIRMATION, function)


def run_on_deploy(
    scope: Construct, function: lambda_.Function, *, timeout_seconds: int, ledger: LedgerDatabase
) -> triggers.Trigger:
    """Invoke ``function`` on the first deploy and on every deploy that changes it (a new version:
    its code, layer or configuration), after the cluster, its instances and the proxy exist. The
    call waits for the answer, so a failed run fails the deploy, which CloudFormation rolls back.
    The caller orders the functions that need the run after it (``Trigger.execute_before``)."""
    return triggers.Trigger(
        scope,
        "OnDeploy",
        handler=function,
        invocation_type=triggers.InvocationType.REQUEST_RESPONSE,
        timeout=Duration.seconds(timeout_seconds),
        execute_after=[ledger.cluster, ledger.proxy],
        execute_on_handler_change=True,
    )
