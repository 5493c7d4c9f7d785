"""Every DynamoDB table of ``exchange.tables.TABLE_SPECS`` as a global table.

The primary region owns each ``TableV2``, with its replica in the DR region, PITR and each region's
customer-managed key. Names are the same in both regions, so the DR functions need no reference.
"""

from collections.abc import Mapping
from types import MappingProxyType

from aws_cdk import RemovalPolicy
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_kms as kms
from constructs import Construct

from exchange.tables import TABLE_SPECS, KeySpec, TableSpec

_TYPES = {
    "S": dynamodb.AttributeType.STRING,
    "N": dynamodb.AttributeType.NUMBER,
    "B": dynamodb.AttributeType.BINARY,
}
_PROJECTIONS = {"ALL": dynamodb.ProjectionType.ALL, "KEYS_ONLY": dynamodb.ProjectionType.KEYS_ONLY}


def _attribute(key: KeySpec) -> dynamodb.Attribute:
    return dynamodb.Attribute(name=key.name, type=_TYPES[key.type])


def _optional(key: KeySpec | None) -> dynamodb.Attribute | None:
    return _attribute(key) if key else None


def _construct_id(spec: TableSpec) -> str:
    return spec.logical_name.title().replace("_", "")


class GlobalTables(Construct):
    """``tables[logical_name]`` is the table as this region's code should use it."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        names: Mapping[str, str],
        key: kms.IKey,
        replica_region: str,
        replica_key: kms.IKey,
        retain: bool,
    ) -> None:
        super().__init__(scope, construct_id)
        tables: dict[str, dynamodb.TableV2] = {}
        for spec in TABLE_SPECS:
            tables[spec.logical_name] = dynamodb.TableV2(
                self,
                _construct_id(spec),
                table_name=names[spec.logical_name],
                partition_key=_attribute(spec.partition_key),
                sort_key=_optional(spec.sort_key),
                global_secondary_indexes=[
                    dynamodb.GlobalSecondaryIndexPropsV2(
                        index_name=index.name,
                        partition_key=_attribute(index.partition_key),
                        sort_key=_optional(index.sort_key),
                        projection_type=_PROJECTIONS[index.projection],
                    )
                    for index in spec.indexes
                ],
                time_to_live_attribute=spec.ttl_attribute,
                billing=dynamodb.Billing.on_demand(),
                encryption=dynamodb.TableEncryptionV2.customer_managed_key(
                    key, {replica_region: replica_key.key_arn}
                ),
                # Global tables replicate through the stream; NEW_AND_OLD_IMAGES is what they need.
                dynamo_stream=dynamodb.StreamViewType.NEW_AND_OLD_IMAGES,
                point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
                    point_in_time_recovery_enabled=True
                ),
                replicas=[
                    dynamodb.ReplicaTableProps(
                        region=replica_region,
                        point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
                            point_in_time_recovery_enabled=True
                        ),
                        deletion_protection=retain,
                    )
                ],
                deletion_protection=retain,
                removal_policy=RemovalPolicy.RETAIN if retain else RemovalPolicy.DESTROY,
            )
        self.tables: Mapping[str, dynamodb.TableV2] = MappingProxyType(tables)
