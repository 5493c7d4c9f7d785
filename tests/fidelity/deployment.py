"""The IAM side of one region's synthesized templates: each principal's role and policies, each
resource's own policy and KMS key, each key's key policy, and each deployable's environment.

Principals are named as ``local.recording`` names them: a catalog function by its name (its
``AWS::Lambda::Function`` is the one whose ``POWERTOOLS_SERVICE_NAME`` is that name, as
``lambdas.environment`` sets it), ``esm:<function>`` for a Lambda event source mapping reading
for that function (it reads with the function's execution role), and ``engine`` for every ECS task
definition whose container's ``POWERTOOLS_SERVICE_NAME`` is ``engine`` (its task role).

A role's identity policies are every ``AWS::IAM::Policy`` and ``AWS::IAM::ManagedPolicy`` of the
stack attached to it, its inline ``Policies``, and its ``ManagedPolicyArns``: a managed policy of
the stack by its ARN, an AWS managed policy only if ``AWS_MANAGED`` knows its document (an unknown
one grants nothing here, so what only it would allow is reported denied).
"""

import copy
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any, Final

from tests.fidelity.actions import queue_arn
from tests.fidelity.cfn import Resolver, Stacks
from tests.fidelity.policy import Statement, statements

# AWS managed policies this check knows (their published documents, trimmed to what matters).
AWS_MANAGED: Final[Mapping[str, Mapping[str, Any]]] = {
    "service-role/AWSLambdaBasicExecutionRole": {
        "Statement": [
            {
                "Effect": "Allow",
                "Action": ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"],
                "Resource": "*",
            }
        ]
    },
}
SERVICE_NAME: Final = "POWERTOOLS_SERVICE_NAME"
ENGINE: Final = "engine"
ESM_PREFIX: Final = "esm:"


@dataclass(frozen=True, slots=True)
class Role:
    logical: str
    arn: str
    identity: tuple[Statement, ...]
    boundary: tuple[Statement, ...] | None
    unknown_managed: tuple[str, ...] = ()


class Deployment:
    """One region's stacks (the main stack and every other stack of its region)."""

    def __init__(self, stacks: Stacks, main: str) -> None:
        self.stacks = stacks
        self.main = stacks.stack(main)
        self.region = self.main.region
        self.account = stacks.account
        self.regional = [s for s in stacks.stacks.values() if s.region == self.region]

    def _resolver(self, stack: str | None = None) -> Resolver:
        return self.stacks.resolver(stack or self.main.name)

    def _of_type(self, kind: str) -> list[tuple[str, str, Mapping[str, Any]]]:
        """(stack, logical id, resource) of every resource of ``kind`` in the region."""
        return [
            (stack.name, logical, resource)
            for stack in self.regional
            for logical, resource in stack.resources.items()
            if resource["Type"] == kind
        ]

    # -- principals --------------------------------------------------------------------------
    @cached_property
    def functions(self) -> dict[str, tuple[str, Mapping[str, Any]]]:
        """Function name -> (logical id, resource), for the main stack's functions."""
        found: dict[str, tuple[str, Mapping[str, Any]]] = {}
        for stack, logical, resource in self._of_type("AWS::Lambda::Function"):
            if stack != self.main.name:
                continue
            variables = resource["Properties"].get("Environment", {}).get("Variables", {})
            name = variables.get(SERVICE_NAME)
            if isinstance(name, str):
                found[name] = (logical, resource)
        return found

    @cached_property
    def engine_tasks(self) -> list[tuple[str, Mapping[str, Any]]]:
        """(logical id, container definition) of each engine task definition."""
        found = []
        for stack, logical, resource in self._of_type("AWS::ECS::TaskDefinition"):
            if stack != self.main.name:
                continue
            for container in resource["Properties"].get("ContainerDefinitions", []):
                env = {e["Name"]: e.get("Value") for e in container.get("Environment", [])}
                if env.get(SERVICE_NAME) == ENGINE:
                    found.append((logical, container))
        return found

    @cached_property
    def _roles_by_arn(self) -> dict[str, str]:
        resolver = self._resolver()
        return {
            resolver.get_att(logical, "Arn"): logical
            for stack, logical, _ in self._of_type("AWS::IAM::Role")
            if stack == self.main.name
        }

    def roles_of(self, principal: str) -> list[Role]:
        """The roles ``principal`` acts as; empty when the templates have no such principal."""
        resolver = self._resolver()
        resources = self.main.resources
        name = principal.removeprefix(ESM_PREFIX)
        if principal == ENGINE:
            arns = [
                resolver.resolve(resources[logical]["Properties"]["TaskRoleArn"])
                for logical, _ in self.engine_tasks
            ]
        elif name in self.functions:
            arns = [resolver.resolve(self.functions[name][1]["Properties"]["Role"])]
        else:
            return []
        return [self.role(self._roles_by_arn[arn]) for arn in arns if arn in self._roles_by_arn]

    def role(self, logical: str) -> Role:
        resolver = self._resolver()
        resources = self.main.resources
        properties = resources[logical]["Properties"]
        documents: list[tuple[str, Mapping[str, Any]]] = []
        for name, resource in resources.items():
            if resource["Type"] not in {"AWS::IAM::Policy", "AWS::IAM::ManagedPolicy"}:
                continue
            attached = resource["Properties"].get("Roles", [])
            if {"Ref": logical} in attached:
                documents.append((name, resource["Properties"]["PolicyDocument"]))
        for inline in properties.get("Policies", []):
            documents.append((f"{logical}/{inline.get('PolicyName')}", inline["PolicyDocument"]))
        unknown: list[str] = []
        for arn in resolver.resolve(properties.get("ManagedPolicyArns", [])):
            document = self._managed(str(arn))
            if document is None:
                unknown.append(str(arn))
            else:
                documents.append((str(arn), document))
        identity = tuple(
            statement
            for name, document in documents
            for statement in statements(resolver.resolve(document), name=name)
        )
        boundary = None
        if "PermissionsBoundary" in properties:
            document = self._managed(str(resolver.resolve(properties["PermissionsBoundary"])))
            boundary = tuple(statements(resolver.resolve(document or {}), name="boundary"))
        return Role(logical, resolver.get_att(logical, "Arn"), identity, boundary, tuple(unknown))

    def _managed(self, arn: str) -> Mapping[str, Any] | None:
        aws_prefix = "arn:aws:iam::aws:policy/"
        if arn.startswith(aws_prefix):
            return AWS_MANAGED.get(arn.removeprefix(aws_prefix))
        for stack, logical, resource in self._of_type("AWS::IAM::ManagedPolicy"):
            if self._resolver(stack).ref(logical) == arn:
                document: Mapping[str, Any] = resource["Properties"]["PolicyDocument"]
                return document
        return None

    # -- resources -----------------------------------------------------------------------------
    @cached_property
    def _encrypted(self) -> list[tuple[str, str | None, list[Statement]]]:
        """(resource ARN, its KMS key or None, its resource policy) of every table, stream,
        bucket, secret, queue and topic in the region."""
        found = []
        for stack, logical, resource in self._of_type("AWS::DynamoDB::GlobalTable"):
            resolver = self._resolver(stack)
            replica: Mapping[str, Any] = next(
                (
                    r
                    for r in resource["Properties"].get("Replicas", [])
                    if r["Region"] == self.region
                ),
                {},
            )
            key = replica.get("SSESpecification", {}).get("KMSMasterKeyId")
            policy = replica.get("ResourcePolicy", {}).get("PolicyDocument")
            found.append(self._entry(resolver, resolver.get_att(logical, "Arn"), key, policy))
        for stack, logical, resource in self._of_type("AWS::DynamoDB::Table"):
            resolver = self._resolver(stack)
            properties = resource["Properties"]
            key = properties.get("SSESpecification", {}).get("KMSMasterKeyId")
            policy = properties.get("ResourcePolicy", {}).get("PolicyDocument")
            found.append(self._entry(resolver, resolver.get_att(logical, "Arn"), key, policy))
        for stack, logical, resource in self._of_type("AWS::Kinesis::Stream"):
            resolver = self._resolver(stack)
            key = resource["Properties"].get("StreamEncryption", {}).get("KeyId")
            found.append(self._entry(resolver, resolver.get_att(logical, "Arn"), key, None))
        for stack, logical, resource in self._of_type("AWS::S3::Bucket"):
            resolver = self._resolver(stack)
            rules = (
                resource["Properties"]
                .get("BucketEncryption", {})
                .get("ServerSideEncryptionConfiguration", [])
            )
            default = rules[0].get("ServerSideEncryptionByDefault", {}) if rules else {}
            key = (
                default.get("KMSMasterKeyID") if default.get("SSEAlgorithm") == "aws:kms" else None
            )
            found.append(self._entry(resolver, resolver.get_att(logical, "Arn"), key, None))
        for stack, logical, resource in self._of_type("AWS::SecretsManager::Secret"):
            resolver = self._resolver(stack)
            key = resource["Properties"].get("KmsKeyId")
            found.append(self._entry(resolver, resolver.ref(logical), key, None))
        for stack, logical, resource in self._of_type("AWS::SQS::Queue"):
            resolver = self._resolver(stack)
            key = resource["Properties"].get("KmsMasterKeyId")
            found.append(self._entry(resolver, resolver.get_att(logical, "Arn"), key, None))
        for stack, logical, resource in self._of_type("AWS::SNS::Topic"):
            resolver = self._resolver(stack)
            key = resource["Properties"].get("KmsMasterKeyId")
            found.append(self._entry(resolver, resolver.ref(logical), key, None))
        return found

    def _entry(
        self, resolver: Resolver, arn: str, key: Any, policy: Any
    ) -> tuple[str, str | None, list[Statement]]:
        key_arn = resolver.resolve(key) if key is not None else None
        if isinstance(key_arn, str) and key_arn.startswith("alias/aws/"):
            key_arn = None  # the AWS managed key: its key policy lets the service use it
        document = statements(resolver.resolve(policy), name=arn) if policy else []
        return arn, key_arn, document

    def _owner(self, resource: str) -> tuple[str, str | None, list[Statement]] | None:
        for arn, key, policy in self._encrypted:
            if resource == arn or resource.startswith(f"{arn}/"):
                return arn, key, policy
        return None

    def encryption(self, resource: str) -> tuple[str, str] | None:
        """(the encrypted resource's ARN, its customer managed key) for ``resource`` (a table,
        an index, a stream, a bucket, an object or a secret); None when not under such a key."""
        owner = self._owner(resource)
        if owner is None or owner[1] is None:
            return None
        return owner[0], owner[1]

    def resource_policy(self, resource: str) -> list[Statement]:
        owner = self._owner(resource)
        found = list(owner[2]) if owner else []
        for stack, _, policy in self._of_type("AWS::S3::BucketPolicy"):
            resolver = self._resolver(stack)
            bucket = f"arn:aws:s3:::{resolver.resolve(policy['Properties']['Bucket'])}"
            if resource == bucket or resource.startswith(f"{bucket}/"):
                found += statements(resolver.resolve(policy["Properties"]["PolicyDocument"]))
        for stack, _, policy in self._of_type("AWS::SecretsManager::ResourcePolicy"):
            resolver = self._resolver(stack)
            if resolver.resolve(policy["Properties"]["SecretId"]) == resource:
                found += statements(resolver.resolve(policy["Properties"]["ResourcePolicy"]))
        for stack, _, policy in self._of_type("AWS::SQS::QueuePolicy"):
            resolver = self._resolver(stack)
            queues = resolver.resolve(policy["Properties"]["Queues"])  # their URLs
            if any(queue_arn(url) == resource for url in queues):
                found += statements(resolver.resolve(policy["Properties"]["PolicyDocument"]))
        return found

    def key_policy(self, key_arn: str) -> list[Statement] | None:
        """The key policy of a key (or multi-Region replica) the region's stacks create; None for
        any other key."""
        keys = self._of_type("AWS::KMS::Key") + self._of_type("AWS::KMS::ReplicaKey")
        for stack, logical, resource in keys:
            resolver = self._resolver(stack)
            if resolver.get_att(logical, "Arn") == key_arn:
                return statements(resolver.resolve(resource["Properties"]["KeyPolicy"]))
        return None

    # -- environments --------------------------------------------------------------------------
    def function_environment(self, name: str) -> dict[str, Any]:
        """The function's ``Environment.Variables``, resolved."""
        _, resource = self.functions[name]
        variables = resource["Properties"].get("Environment", {}).get("Variables", {})
        resolved: dict[str, Any] = self._resolver().resolve(variables)
        return resolved

    def engine_environments(self) -> list[dict[str, Any]]:
        resolver = self._resolver()
        return [
            {e["Name"]: resolver.resolve(e.get("Value")) for e in container.get("Environment", [])}
            for _, container in self.engine_tasks
        ]


def principal_names(deployment: Deployment) -> Sequence[str]:
    return [*sorted(deployment.functions), ENGINE]


def _flat(value: Any) -> str:
    """An ARN as written in a template, as one string (references as ``<...>``)."""
    match value:
        case str():
            return value
        case {"Fn::Join": [str(separator), list(parts)]}:
            return separator.join(_flat(part) for part in parts)
        case {"Fn::Sub": str(pattern)} | {"Fn::Sub": [str(pattern), _]}:
            return pattern
    return f"<{value!r}>"


def without_action(
    bodies: Mapping[str, Any], stack: str, function: str, action: str, table: str
) -> dict[str, Any]:
    """A copy of the templates (stack name -> JSON) where the role of ``function`` no longer has
    ``action`` on the table named ``table``, and keeps everything else: each statement granting
    it there is split into the same statement without that table, and one with the table and
    every other action. What a permission lost on purpose looks like."""
    changed = copy.deepcopy(dict(bodies))
    resources = changed[stack]["Resources"]
    (role,) = [
        resource["Properties"]["Role"]["Fn::GetAtt"][0]
        for resource in resources.values()
        if resource["Type"] == "AWS::Lambda::Function"
        and resource["Properties"].get("Environment", {}).get("Variables", {}).get(SERVICE_NAME)
        == function
    ]
    removed = 0
    for resource in resources.values():
        if resource["Type"] != "AWS::IAM::Policy":
            continue
        if {"Ref": role} not in resource["Properties"].get("Roles", []):
            continue
        document = resource["Properties"]["PolicyDocument"]
        split = []
        for statement in document["Statement"]:
            actions = (
                statement["Action"]
                if isinstance(statement["Action"], list)
                else [statement["Action"]]
            )
            granted = (
                statement["Resource"]
                if isinstance(statement["Resource"], list)
                else [statement["Resource"]]
            )
            named = [r for r in granted if _flat(r).endswith(f":table/{table}")]
            if action not in actions or not named:
                continue
            statement["Resource"] = [r for r in granted if r not in named]
            split.append(
                {**statement, "Action": [a for a in actions if a != action], "Resource": named}
            )
            removed += 1
        document["Statement"] = [s for s in document["Statement"] if s["Resource"]] + split
    if not removed:
        raise LookupError(f"{function}'s role has no {action} on {table}")
    return changed
