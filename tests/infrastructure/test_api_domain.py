"""The custom domain's base path mapping survives the REST API's move into its nested stack.

AWS pages pinned here: "Understand update behaviors of stack resources" (a resource under a new
logical id is created before the old one is deleted) and "AWS::ApiGateway::BasePathMapping"
(``RestApiId`` updates with no interruption; a second mapping of the same base path on the domain
is refused). So the mapping must keep the logical id it had when the REST API was in the main
stack: then pointing it at the new API is an in-place update, not a conflicting second mapping.
"""

from aws_cdk import App, NestedStack, Stack
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_certificatemanager as acm
from constructs import Construct

from stacks.constructs.dns import ApiFailoverRecord, unique_id_outside_nested_stacks

STACK = "Exchange-prod-primary"


def rest_api(scope: Construct) -> apigw.RestApi:
    """The REST API at ``<scope>/Rest/Api``, as ``stacks.constructs.api`` builds it."""
    api = apigw.RestApi(Construct(scope, "Rest"), "Api")
    api.root.add_method("GET")
    return api


def former_mapping_id() -> str:
    """The mapping's logical id with the API in the main stack (``Api/Rest/Api``), as CDK's own
    ``add_base_path_mapping`` named it before the move."""
    stack = Stack(App(), STACK)
    api = rest_api(Construct(stack, "Api"))
    certificate = acm.Certificate.from_certificate_arn(
        stack, "Certificate", "arn:aws:acm:us-east-1:111111111111:certificate/x"
    )
    domain = apigw.DomainName(
        Construct(stack, "Dns"), "Domain", domain_name="api.example.com", certificate=certificate
    )
    mapping = domain.add_base_path_mapping(api, stage=api.deployment_stage)
    return stack.get_logical_id(mapping.node.default_child)  # type: ignore[arg-type]


def test_the_mapping_keeps_its_logical_id_when_the_api_is_nested() -> None:
    stack = Stack(App(), STACK, env={"account": "111111111111", "region": "us-east-1"})
    api = rest_api(NestedStack(Construct(stack, "Api"), "RestStack"))
    record = ApiFailoverRecord(
        stack,
        "Dns",
        zone_id="Z123",
        zone_name="example.com",
        domain_name="api.example.com",
        api=api,
        primary=True,
    )
    (mapping,) = [
        child for child in record.node.find_all() if isinstance(child, apigw.CfnBasePathMapping)
    ]
    assert stack.get_logical_id(mapping) == former_mapping_id()
    assert unique_id_outside_nested_stacks(api) == "ExchangeprodprimaryApiRestApi7058364E"
