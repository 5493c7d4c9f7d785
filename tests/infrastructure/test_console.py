"""The trading console: a private bucket behind CloudFront in each region, strict headers, and a
config.json that points the page at its own region's APIs and the one user pool.

The checks on the content security policy and the bucket policy are functions that return what
is wrong (``csp_problems``, ``policy_problems``), so a test can plant each mistake and see it
reported: every check of the deployed templates is shown to be able to fail.
"""

import json
from pathlib import Path
from typing import Any, Final

import pytest
from aws_cdk import App, NestedStack, Stack
from aws_cdk.assertions import Template

from stacks.constructs.console import CONFIG_FILE, content_security_policy
from tests.infrastructure.conftest import (
    CONSOLE,
    DR,
    MAIN_STACKS,
    PRIMARY,
    REST,
    Resources,
    flatten,
    nested,
    of_type,
)

REGION: Final = {PRIMARY: "us-east-1", DR: "us-west-2"}
USER_POOL_REGION: Final = "us-east-1"  # the primary's: both regions trust its one pool
# Directives the console's policy may have, and the sources that would undo it.
DIRECTIVES: Final = frozenset(
    {
        "default-src",
        "script-src",
        "style-src",
        "img-src",
        "font-src",
        "connect-src",
        "frame-ancestors",
        "base-uri",
        "form-action",
    }
)
UNSAFE: Final = ("'unsafe-inline'", "'unsafe-eval'", "'unsafe-hashes'", "'wasm-unsafe-eval'")
LOOSE_SCHEMES: Final = ("http:", "https:", "ws:", "wss:", "data:", "blob:")
CLOUDFRONT: Final = "cloudfront.amazonaws.com"


def directives(csp: str) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for part in filter(None, (p.strip() for p in csp.split(";"))):
        name, *sources = part.split()
        found[name] = sources
    return found


def csp_problems(csp: str, *, connect: list[str]) -> list[str]:
    """What makes ``csp`` less strict than the console's policy, which must allow connections to
    each of ``connect``."""
    problems = []
    found = directives(csp)
    if found.get("default-src") != ["'none'"]:
        problems.append(f"default-src is {found.get('default-src')}, not 'none'")
    for name in ("script-src", "style-src", "font-src"):
        if found.get(name) != ["'self'"]:
            problems.append(f"{name} is {found.get(name)}, not 'self' alone")
    for name in ("frame-ancestors", "base-uri", "form-action"):
        if found.get(name) != ["'none'"]:
            problems.append(f"{name} is {found.get(name)}, not 'none'")
    if extra := set(found) - DIRECTIVES:
        problems.append(f"unexpected directives {sorted(extra)}")
    problems += _loose_sources(found)
    connect_src = found.get("connect-src", [])
    for origin in connect:
        if origin not in connect_src:
            problems.append(f"connect-src lacks {origin}")
    if unexpected := set(connect_src) - {"'self'", *connect}:
        problems.append(f"connect-src also allows {sorted(unexpected)}")
    return problems


def _loose_sources(found: dict[str, list[str]]) -> list[str]:
    """Unsafe keywords, wildcards and bare schemes (``data:`` for images only)."""
    problems = []
    for name, sources in found.items():
        for source in sources:
            if source in UNSAFE or "*" in source:
                problems.append(f"{name} allows {source}")
            if source in LOOSE_SCHEMES and not (name == "img-src" and source == "data:"):
                problems.append(f"{name} allows any {source} source")
    return problems


def policy_problems(
    statements: list[dict[str, Any]], *, bucket: str, distribution: str
) -> list[str]:
    """What in a bucket policy lets anyone but CloudFront, for ``distribution``, read ``bucket``
    (logical ids), or lets anyone write. The TLS-only Deny is the only other statement allowed."""
    problems = []
    objects = {"Fn::Join": ["", [{"Fn::GetAtt": [bucket, "Arn"]}, "/*"]]}
    source_arn = f"arn:<AWS::Partition>:cloudfront::<AWS::AccountId>:distribution/<{distribution}>"
    allows = [s for s in statements if s["Effect"] == "Allow"]
    denies = [s for s in statements if s["Effect"] != "Allow"]
    if len(allows) != 1:
        problems.append(f"{len(allows)} Allow statements, not one")
    for allow in allows:
        if allow.get("Principal") != {"Service": CLOUDFRONT}:
            problems.append(f"allows {allow.get('Principal')}")
        if allow.get("Action") != "s3:GetObject":
            problems.append(f"allows {allow.get('Action')}")
        if allow.get("Resource") != objects:
            problems.append(f"allows on {allow.get('Resource')}")
        condition = allow.get("Condition", {})
        if list(condition) != ["StringEquals"] or list(condition["StringEquals"]) != [
            "AWS:SourceArn"
        ]:
            problems.append(f"condition is {condition}, not StringEquals on AWS:SourceArn only")
        elif flatten(condition["StringEquals"]["AWS:SourceArn"]) != source_arn:
            problems.append(f"source is {flatten(condition['StringEquals']['AWS:SourceArn'])}")
    tls_only = {"Bool": {"aws:SecureTransport": "false"}}
    if [d.get("Condition") for d in denies] != [tls_only]:
        problems.append(f"denies {[d.get('Condition') for d in denies]}, not plain HTTP alone")
    return problems


# --- the synthesized console, resolved ----------------------------------------------------------


def console(resources: dict[str, Resources], stack: str) -> Resources:
    return nested(resources, CONSOLE[stack])


def the(found: Resources, kind: str) -> tuple[str, dict[str, Any]]:
    ((logical, resource),) = of_type(found, kind).items()
    return logical, resource["Properties"]


def outputs(stacks: dict[str, Stack], templates: dict[str, Template], stack: str) -> Any:
    """A resolver of ``stack``'s values: one of its nested stacks' output (``Fn::GetAtt`` of
    ``Outputs.<name>``) and another region's (``Fn::GetStackOutput``) become what they output."""
    nested_paths = {
        s.nested_stack_parent.get_logical_id(s.nested_stack_resource): path  # type: ignore[arg-type]
        for path, s in stacks.items()
        if isinstance(s, NestedStack) and s.nested_stack_parent is stacks[stack]
    }

    def resolve(value: Any) -> Any:
        match value:
            case {"Fn::GetAtt": [str(logical), str(attribute)]} if (
                attribute.startswith("Outputs.") and logical in nested_paths
            ):
                body = templates[nested_paths[logical]].to_json()
                return resolve(body["Outputs"][attribute.removeprefix("Outputs.")]["Value"])
            case {"Fn::GetStackOutput": {"StackName": str(name), "OutputName": str(output)}}:
                return resolve(templates[name].to_json()["Outputs"][output]["Value"])
            case {"Fn::Join": [str(separator), list(parts)]}:
                return {"Fn::Join": [separator, [resolve(part) for part in parts]]}
        return value

    return resolve


def rest_api_id(resources: dict[str, Resources], stack: str) -> str:
    (logical,) = of_type(resources[REST[stack]], "AWS::ApiGateway::RestApi")
    return logical


def websocket_api_id(resources: dict[str, Resources], stack: str) -> str:
    (logical,) = [
        name
        for name, r in of_type(resources[stack], "AWS::ApiGatewayV2::Api").items()
        if r["Properties"]["ProtocolType"] == "WEBSOCKET"
    ]
    return logical


def client_id(resources: dict[str, Resources]) -> str:
    (logical,) = of_type(resources[PRIMARY], "AWS::Cognito::UserPoolClient")
    return logical


def expected_origins(resources: dict[str, Resources], stack: str) -> list[str]:
    region = REGION[stack]
    return [
        f"https://<{rest_api_id(resources, stack)}>.execute-api.{region}.<AWS::URLSuffix>",
        f"wss://<{websocket_api_id(resources, stack)}>.execute-api.{region}.<AWS::URLSuffix>",
        f"https://cognito-idp.{USER_POOL_REGION}.<AWS::URLSuffix>",
    ]


# --- the policy checks fail on planted mistakes --------------------------------------------------

ORIGINS: Final = ["https://a.example", "wss://b.example"]
GOOD_CSP: Final = content_security_policy(ORIGINS)


def test_the_console_policy_passes_its_own_check() -> None:
    assert csp_problems(GOOD_CSP, connect=ORIGINS) == []


@pytest.mark.parametrize(
    ("planted", "reported"),
    [
        (GOOD_CSP.replace("default-src 'none'", "default-src 'self'"), "default-src"),
        (GOOD_CSP.replace("script-src 'self'", "script-src 'self' 'unsafe-inline'"), "script-src"),
        (GOOD_CSP.replace("script-src 'self'", "script-src 'self' 'unsafe-eval'"), "unsafe-eval"),
        (GOOD_CSP.replace("style-src 'self'", "style-src 'self' 'unsafe-inline'"), "style-src"),
        (GOOD_CSP.replace("img-src 'self' data:", "img-src *"), "allows *"),
        (GOOD_CSP.replace("img-src 'self' data:", "img-src https:"), "any https:"),
        (GOOD_CSP.replace("https://a.example", "https://*.example"), "*.example"),
        (GOOD_CSP.replace(" https://a.example", ""), "lacks https://a.example"),
        (GOOD_CSP.replace("wss://b.example", "wss://b.example https://c.example"), "also allows"),
        (GOOD_CSP.replace("frame-ancestors 'none'", "frame-ancestors 'self'"), "frame-ancestors"),
        (GOOD_CSP.replace("; base-uri 'none'", ""), "base-uri"),
        (GOOD_CSP + "; script-src-elem 'unsafe-inline'", "unexpected directives"),
    ],
)
def test_the_csp_check_reports_each_planted_weakness(planted: str, reported: str) -> None:
    problems = csp_problems(planted, connect=ORIGINS)
    assert any(reported in problem for problem in problems), problems


GOOD_POLICY: Final = [
    {
        "Effect": "Deny",
        "Principal": {"AWS": "*"},
        "Action": "s3:*",
        "Condition": {"Bool": {"aws:SecureTransport": "false"}},
    },
    {
        "Effect": "Allow",
        "Principal": {"Service": CLOUDFRONT},
        "Action": "s3:GetObject",
        "Resource": {"Fn::Join": ["", [{"Fn::GetAtt": ["B", "Arn"]}, "/*"]]},
        "Condition": {
            "StringEquals": {
                "AWS:SourceArn": {
                    "Fn::Join": [
                        "",
                        [
                            "arn:",
                            {"Ref": "AWS::Partition"},
                            ":cloudfront::",
                            {"Ref": "AWS::AccountId"},
                            ":distribution/",
                            {"Ref": "D"},
                        ],
                    ]
                }
            }
        },
    },
]


def _planted(**changes: Any) -> list[dict[str, Any]]:
    deny, allow = json.loads(json.dumps(GOOD_POLICY))
    allow.update(changes)
    return [deny, {k: v for k, v in allow.items() if v is not None}]


@pytest.mark.parametrize(
    ("planted", "reported"),
    [
        (_planted(Principal={"AWS": "*"}), "allows {'AWS': '*'}"),
        (_planted(Principal={"Service": "s3.amazonaws.com"}), "allows {'Service'"),
        (_planted(Action="s3:*"), "allows s3:*"),
        (_planted(Action=["s3:GetObject", "s3:PutObject"]), "allows ['s3:GetObject'"),
        (_planted(Condition=None), "not StringEquals"),
        (
            _planted(Condition={"StringEquals": {"AWS:SourceAccount": {"Ref": "AWS::AccountId"}}}),
            "not StringEquals",
        ),
        (
            _planted(
                Condition={
                    "StringEquals": {"AWS:SourceArn": "arn:aws:cloudfront::1:distribution/X"}
                }
            ),
            "source is",
        ),
        ([*GOOD_POLICY, {**GOOD_POLICY[1], "Principal": {"AWS": "*"}}], "2 Allow statements"),
        ([GOOD_POLICY[1]], "not plain HTTP alone"),
    ],
)
def test_the_bucket_policy_check_reports_each_planted_grant(
    planted: list[dict[str, Any]], reported: str
) -> None:
    assert policy_problems(GOOD_POLICY, bucket="B", distribution="D") == []
    problems = policy_problems(planted, bucket="B", distribution="D")
    assert any(reported in problem for problem in problems), problems


# --- the deployed console -----------------------------------------------------------------------


@pytest.mark.parametrize("stack", MAIN_STACKS)
def test_each_region_has_its_console_and_outputs_its_url(
    resources: dict[str, Resources],
    stacks: dict[str, Stack],
    templates: dict[str, Template],
    stack: str,
) -> None:
    found = console(resources, stack)
    distribution, _ = the(found, "AWS::CloudFront::Distribution")
    the(found, "Custom::CDKBucketDeployment")
    url = templates[stack].to_json()["Outputs"]["ConsoleUrl"]["Value"]
    # The main stack's output, read out of the console's nested stack.
    assert flatten(outputs(stacks, templates, stack)(url)) == f"https://<{distribution}.DomainName>"


@pytest.mark.parametrize("stack", MAIN_STACKS)
def test_the_console_bucket_is_private_tls_only_and_logged(
    resources: dict[str, Resources], stack: str
) -> None:
    found = console(resources, stack)
    _, distribution = the(found, "AWS::CloudFront::Distribution")
    (origin,) = distribution["DistributionConfig"]["Origins"]
    bucket_id = origin["DomainName"]["Fn::GetAtt"][0]
    bucket = found[bucket_id]["Properties"]
    assert bucket["PublicAccessBlockConfiguration"] == {
        "BlockPublicAcls": True,
        "BlockPublicPolicy": True,
        "IgnorePublicAcls": True,
        "RestrictPublicBuckets": True,
    }
    (rule,) = bucket["BucketEncryption"]["ServerSideEncryptionConfiguration"]
    assert rule["ServerSideEncryptionByDefault"] == {"SSEAlgorithm": "AES256"}
    assert bucket["OwnershipControls"] == {"Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]}
    assert "WebsiteConfiguration" not in bucket  # OAC reads the REST endpoint, not a website
    # Its access logs, and CloudFront's, go to the console's log bucket (private too).
    logs_id = bucket["LoggingConfiguration"]["DestinationBucketName"]["Ref"]
    assert distribution["DistributionConfig"]["Logging"]["Bucket"] == {
        "Fn::GetAtt": [logs_id, "RegionalDomainName"]
    }
    assert (
        found[logs_id]["Properties"]["PublicAccessBlockConfiguration"]
        == (bucket["PublicAccessBlockConfiguration"])
    )


@pytest.mark.parametrize("stack", MAIN_STACKS)
def test_only_this_distribution_may_read_the_bucket(
    resources: dict[str, Resources], stack: str
) -> None:
    """OAC: CloudFront signs its requests as the service principal, and the bucket policy lets
    that principal read objects only for requests of this distribution (``AWS:SourceArn``); see
    https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/private-content-restricting-access-to-s3.html
    """
    found = console(resources, stack)
    distribution_id, distribution = the(found, "AWS::CloudFront::Distribution")
    (origin,) = distribution["DistributionConfig"]["Origins"]
    bucket_id = origin["DomainName"]["Fn::GetAtt"][0]
    (policy,) = [
        p["Properties"]["PolicyDocument"]["Statement"]
        for p in of_type(found, "AWS::S3::BucketPolicy").values()
        if p["Properties"]["Bucket"] == {"Ref": bucket_id}
    ]
    assert policy_problems(policy, bucket=bucket_id, distribution=distribution_id) == []


@pytest.mark.parametrize("stack", MAIN_STACKS)
def test_the_distribution_uses_oac_and_redirects_to_https(
    resources: dict[str, Resources], stack: str
) -> None:
    found = console(resources, stack)
    _, distribution = the(found, "AWS::CloudFront::Distribution")
    config = distribution["DistributionConfig"]
    (origin,) = config["Origins"]
    oac_id, oac = the(found, "AWS::CloudFront::OriginAccessControl")
    assert origin["OriginAccessControlId"] == {"Fn::GetAtt": [oac_id, "Id"]}
    # With OAC the legacy origin access identity is empty ("S3OriginConfig", CloudFormation).
    assert origin["S3OriginConfig"] == {"OriginAccessIdentity": ""}
    assert oac["OriginAccessControlConfig"] | {"Name": None} == {
        "Name": None,
        "OriginAccessControlOriginType": "s3",
        "SigningBehavior": "always",
        "SigningProtocol": "sigv4",
    }
    behavior = config["DefaultCacheBehavior"]
    assert behavior["ViewerProtocolPolicy"] == "redirect-to-https"
    assert behavior["AllowedMethods"] == ["GET", "HEAD"]
    assert "CacheBehaviors" not in config  # one behavior: every path gets the headers below
    assert config["DefaultRootObject"] == "index.html"
    # CloudFront's default certificate (no alternate domain): CloudFront fixes its security policy
    # at TLSv1 whatever MinimumProtocolVersion says ("If the distribution uses the CloudFront
    # domain name such as d111111abcdef8.cloudfront.net ... CloudFront automatically sets the
    # security policy to TLSv1 regardless of the value that you set here"):
    # https://docs.aws.amazon.com/sdk-for-kotlin/api/latest/cloudfront/aws.sdk.kotlin.services.cloudfront.model/-viewer-certificate/minimum-protocol-version.html
    # so the template sets none (cdk-nag's CFR4 is acknowledged with that reason).
    assert "ViewerCertificate" not in config
    assert "Aliases" not in config


@pytest.mark.parametrize("stack", MAIN_STACKS)
def test_every_response_carries_the_strict_headers(
    resources: dict[str, Resources],
    stacks: dict[str, Stack],
    templates: dict[str, Template],
    stack: str,
) -> None:
    """Each security header overrides whatever the origin sent ("Override: A Boolean that
    determines whether CloudFront overrides the Content-Security-Policy HTTP response header
    received from the origin with the one specified in this response headers policy"):
    https://docs.aws.amazon.com/cloudfront/latest/APIReference/API_ResponseHeadersPolicyContentSecurityPolicy.html
    """
    found = console(resources, stack)
    resolve = outputs(stacks, templates, stack)
    _, distribution = the(found, "AWS::CloudFront::Distribution")
    policy_id, policy = the(found, "AWS::CloudFront::ResponseHeadersPolicy")
    behavior = distribution["DistributionConfig"]["DefaultCacheBehavior"]
    assert behavior["ResponseHeadersPolicyId"] == {"Ref": policy_id}
    headers = policy["ResponseHeadersPolicyConfig"]["SecurityHeadersConfig"]
    assert all(header["Override"] is True for header in headers.values()), headers
    csp = flatten(resolve(headers["ContentSecurityPolicy"]["ContentSecurityPolicy"]))
    assert csp_problems(csp, connect=expected_origins(resources, stack)) == []
    assert headers["StrictTransportSecurity"]["AccessControlMaxAgeSec"] >= 365 * 24 * 3600
    assert headers["FrameOptions"]["FrameOption"] == "DENY"
    assert headers["ReferrerPolicy"]["ReferrerPolicy"] == "no-referrer"
    assert headers["ContentTypeOptions"] == {"Override": True}  # X-Content-Type-Options: nosniff


@pytest.mark.parametrize("stack", MAIN_STACKS)
def test_config_json_points_at_the_regions_apis_and_the_one_user_pool(
    app: App,
    resources: dict[str, Resources],
    stacks: dict[str, Stack],
    templates: dict[str, Template],
    stack: str,
) -> None:
    found = console(resources, stack)
    resolve = outputs(stacks, templates, stack)
    _, deployment = the(found, "Custom::CDKBucketDeployment")
    distribution_id, _ = the(found, "AWS::CloudFront::Distribution")
    assert deployment["DistributionId"] == {"Ref": distribution_id}
    assert deployment["DistributionPaths"] == ["/*"]
    # config.json is the deployment's source with deploy-time values (its markers).
    ((index, markers),) = [(i, m) for i, m in enumerate(deployment["SourceMarkers"]) if m]
    asset = Path(app.outdir) / f"asset.{deployment['SourceObjectKeys'][index].removesuffix('.zip')}"
    text = (asset / CONFIG_FILE).read_text()
    for marker, value in markers.items():
        text = text.replace(marker, json.dumps(flatten(resolve(value)).strip('"')))
    config = json.loads(text)
    rest, ws, cognito = expected_origins(resources, stack)
    assert set(config) == {"api_url", "ws_url", "region", "user_pool_client_id", "cognito_endpoint"}
    stage = of_type(resources[REST[stack]], "AWS::ApiGateway::Stage")
    assert [config["api_url"]] == [f"{rest}/<{name}>" for name in stage]
    assert config["ws_url"] == f"{ws}/live"
    assert config["user_pool_client_id"] == f"<{client_id(resources)}>"
    assert config["region"] == USER_POOL_REGION
    assert config["cognito_endpoint"] == f"{cognito}/"


def test_the_regions_headers_policies_have_their_own_names(resources: dict[str, Resources]) -> None:
    # A response headers policy's name is unique in the account (CloudFront is global).
    names = [
        the(console(resources, stack), "AWS::CloudFront::ResponseHeadersPolicy")[1][
            "ResponseHeadersPolicyConfig"
        ]["Name"]
        for stack in MAIN_STACKS
    ]
    assert names == [f"exchange-prod-console-{REGION[stack]}" for stack in MAIN_STACKS]
