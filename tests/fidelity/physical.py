"""What CloudFormation gives a resource once it creates it (``Ref`` and ``Fn::GetAtt``), made up
deterministically from the logical id where only the deployment would know it (a generated name,
a key id, an API id, a secret's random suffix), in each service's documented ARN format."""

import hashlib
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final

if TYPE_CHECKING:
    from tests.fidelity.cfn import Resolver

PARTITION: Final = "aws"
URL_SUFFIX: Final = "amazonaws.com"

# The property that names each type's resource, where the template may set it.
NAME_PROPERTY: Final[Mapping[str, str]] = {
    "AWS::DynamoDB::Table": "TableName",
    "AWS::DynamoDB::GlobalTable": "TableName",
    "AWS::Kinesis::Stream": "Name",
    "AWS::Kinesis::StreamConsumer": "ConsumerName",
    "AWS::S3::Bucket": "BucketName",
    "AWS::Lambda::Function": "FunctionName",
    "AWS::Lambda::LayerVersion": "LayerName",
    "AWS::IAM::Role": "RoleName",
    "AWS::IAM::ManagedPolicy": "ManagedPolicyName",
    "AWS::IAM::Policy": "PolicyName",
    "AWS::SecretsManager::Secret": "Name",
    "AWS::Logs::LogGroup": "LogGroupName",
    "AWS::SQS::Queue": "QueueName",
    "AWS::SNS::Topic": "TopicName",
    "AWS::ECS::Cluster": "ClusterName",
    "AWS::ECS::TaskDefinition": "Family",
    "AWS::ApiGatewayV2::Api": "Name",
    "AWS::RDS::DBProxy": "DBProxyName",
    "AWS::RDS::DBCluster": "DBClusterIdentifier",
}


@dataclass(frozen=True, slots=True)
class Physical:
    """What a resource resolves to: its ``Ref`` value and its ``Fn::GetAtt`` attributes."""

    ref: Any
    attributes: Mapping[str, Any] = field(default_factory=dict)


def token(seed: str, length: int, alphabet: str = "abcdefghijklmnopqrstuvwxyz0123456789") -> str:
    digest = hashlib.sha256(seed.encode()).digest()
    return "".join(alphabet[byte % len(alphabet)] for byte in digest[:length])


def derive(resolver: "Resolver", logical: str, resource: Mapping[str, Any]) -> Physical:  # noqa: PLR0911, PLR0912 - one case per type
    kind = resource["Type"]
    properties = resource.get("Properties", {})
    region, account, partition = resolver.region, resolver.account, PARTITION

    def arn(service: str, rest: str, *, in_region: bool = True, with_account: bool = True) -> str:
        return (
            f"arn:{partition}:{service}:{region if in_region else ''}:"
            f"{account if with_account else ''}:{rest}"
        )

    name = resolver.name_of(logical, resource)
    match kind:
        case "AWS::DynamoDB::Table" | "AWS::DynamoDB::GlobalTable":
            table = arn("dynamodb", f"table/{name}")
            return Physical(name, {"Arn": table, "StreamArn": f"{table}/stream/STREAM"})
        case "AWS::Kinesis::Stream":
            return Physical(name, {"Arn": arn("kinesis", f"stream/{name}")})
        case "AWS::Kinesis::StreamConsumer":
            stream = resolver._string(resolver.resolve(properties["StreamARN"]))
            consumer = f"{stream}/consumer/{name}:1700000000"
            attributes = {"ConsumerARN": consumer, "ConsumerName": name, "StreamARN": stream}
            return Physical(consumer, attributes)
        case "AWS::S3::Bucket":
            attributes = {
                "Arn": f"arn:{partition}:s3:::{name}",
                "DomainName": f"{name}.s3.{URL_SUFFIX}",
                "RegionalDomainName": f"{name}.s3.{region}.{URL_SUFFIX}",
            }
            return Physical(name, attributes)
        case "AWS::KMS::Key":
            key_id = str(uuid.uuid5(uuid.NAMESPACE_URL, f"{resolver.stack.name}/{logical}"))
            if properties.get("MultiRegion") is True:  # "mrk-" and 32 hex digits
                key_id = f"mrk-{key_id.replace('-', '')}"
            return Physical(key_id, {"Arn": arn("kms", f"key/{key_id}"), "KeyId": key_id})
        case "AWS::KMS::ReplicaKey":
            # A replica has its primary's key id, in its own region ("Multi-Region key ARNs").
            primary = resolver._string(resolver.resolve(properties["PrimaryKeyArn"]))
            key_id = primary.rsplit("/", 1)[-1]
            return Physical(key_id, {"Arn": arn("kms", f"key/{key_id}"), "KeyId": key_id})
        case "AWS::IAM::Role":
            path = resolver._string(resolver.resolve(properties.get("Path", "/")))
            role = arn("iam", f"role{path}{name}", in_region=False)
            return Physical(name, {"Arn": role, "RoleId": f"AROA{token(logical, 16).upper()}"})
        case "AWS::IAM::ManagedPolicy":
            policy = arn("iam", f"policy/{name}", in_region=False)
            return Physical(policy, {"PolicyArn": policy})
        case "AWS::SecretsManager::Secret":
            secret = arn("secretsmanager", f"secret:{name}-{token(logical, 6)}")
            return Physical(secret, {"Id": secret})
        case "AWS::SecretsManager::SecretTargetAttachment":
            return Physical(resolver.resolve(properties["SecretId"]))
        case "AWS::Logs::LogGroup":
            return Physical(name, {"Arn": arn("logs", f"log-group:{name}:*")})
        case "AWS::SQS::Queue":
            url = f"https://sqs.{region}.{URL_SUFFIX}/{account}/{name}"
            return Physical(url, {"Arn": arn("sqs", name), "QueueName": name, "QueueUrl": url})
        case "AWS::SNS::Topic":
            topic = arn("sns", name)
            return Physical(topic, {"TopicArn": topic, "TopicName": name})
        case "AWS::Lambda::Function":
            return Physical(name, {"Arn": arn("lambda", f"function:{name}")})
        case "AWS::Lambda::LayerVersion":
            return Physical(arn("lambda", f"layer:{name}:1"))
        case "AWS::ApiGatewayV2::Api" | "AWS::ApiGateway::RestApi":
            api_id = token(logical, 10)
            scheme = "wss" if properties.get("ProtocolType") == "WEBSOCKET" else "https"
            endpoint = f"{scheme}://{api_id}.execute-api.{region}.{URL_SUFFIX}"
            attributes = {"ApiId": api_id, "ApiEndpoint": endpoint, "RestApiId": api_id}
            return Physical(api_id, {**attributes, "RootResourceId": token(logical + "/", 10)})
        case "AWS::ECS::Cluster":
            return Physical(name, {"Arn": arn("ecs", f"cluster/{name}")})
        case "AWS::ECS::TaskDefinition":
            definition = arn("ecs", f"task-definition/{name}:1")
            return Physical(definition, {"TaskDefinitionArn": definition})
        case "AWS::RDS::DBProxy":
            # "arn:aws:rds:<region>:<account>:db-proxy:prx-<id>": IAM authentication names
            # the proxy by that "prx-" id ("IAM authentication for RDS Proxy").
            proxy = arn("rds", f"db-proxy:prx-{token(logical, 17)}")
            host = f"{name.lower()}.proxy-{token(logical + '/', 12)}.{region}.rds.{URL_SUFFIX}"
            attributes = {
                "DBProxyArn": proxy,
                "Endpoint": host,
                "VpcId": f"vpc-{token(logical, 8)}",
            }
            return Physical(name, attributes)
        case "AWS::RDS::DBCluster":
            cluster = name.lower()
            host = f"{cluster}.cluster-{token(logical, 12)}.{region}.rds.{URL_SUFFIX}"
            attributes = {
                "DBClusterArn": arn("rds", f"cluster:{cluster}"),
                "DBClusterResourceId": f"cluster-{token(logical, 26).upper()}",
                "Endpoint.Address": host,
                "Endpoint.Port": "5432",
                "ReadEndpoint.Address": host.replace(".cluster-", ".cluster-ro-"),
            }
            return Physical(cluster, attributes)
        case "AWS::Cognito::UserPool":
            pool_id = f"{region}_{token(logical, 9)}"
            attributes = {
                "Arn": arn("cognito-idp", f"userpool/{pool_id}"),
                "UserPoolId": pool_id,
                "ProviderName": f"cognito-idp.{region}.{URL_SUFFIX}/{pool_id}",
                "ProviderURL": f"https://cognito-idp.{region}.{URL_SUFFIX}/{pool_id}",
            }
            return Physical(pool_id, attributes)
        case "AWS::Cognito::UserPoolClient":
            client_id = token(logical, 26)
            return Physical(client_id, {"ClientId": client_id})
    return Physical(resolver._placeholder(logical))
