"""The trading console (``client/console/``): static files in a private S3 bucket behind CloudFront,
one per region. Each region's console talks to that region's REST and WebSocket APIs only, and to
the primary region's Cognito user pool (the one pool both regions trust). A nested stack of the main
stack, like the archive: its bucket deployment brings its own Lambda layer and handler, and the
main stack stays clear of CloudFormation's 500 resources per stack.

- The bucket is private (Block Public Access, TLS only, SSE-S3, versioned). CloudFront reads it
  through an origin access control, and the bucket policy trusts the CloudFront service principal
  for this distribution only (``AWS:SourceArn``; "Restrict access to an Amazon S3 origin").
- Every response carries strict security headers, overriding whatever S3 returns: a content
  security policy that allows scripts, styles, images and fonts from the console itself only, and
  connections to itself (``config.json``), the region's two APIs (and the API's custom domain when
  one is configured) and Cognito; HSTS, ``nosniff``, ``DENY`` framing, no referrer.
- Viewers are redirected to HTTPS. The distribution answers on its ``*.cloudfront.net`` name with
  CloudFront's default certificate, whose security policy CloudFront fixes at TLSv1 whatever the
  template asks; TLSv1.2_2021 needs an alternate domain name with an ACM certificate in us-east-1,
  which the deployment configuration does not have.
- ``BucketDeployment`` uploads the files with ``config.json`` (the endpoints, generated here), sets
  ``Cache-Control: no-cache`` (browsers revalidate, so a deploy shows at once) and invalidates the
  distribution's cache.
- The bucket's S3 access logs and CloudFront's standard logs go to the console's own log bucket:
  CloudFront's standard logging writes its files with ACLs, which the region's access-log bucket
  (``stacks.constructs.snapshots``) disables.
"""

from collections.abc import Mapping
from typing import Final

from aws_cdk import (
    Aws,
    CfnOutput,
    CfnResource,
    DefaultStackSynthesizer,
    Duration,
    NestedStack,
    RemovalPolicy,
    Stack,
)
from aws_cdk import aws_cloudfront as cloudfront
from aws_cdk import aws_cloudfront_origins as origins
from aws_cdk import aws_cognito as cognito
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_s3_deployment as s3_deployment
from constructs import Construct, IConstruct

from stacks import constants
from stacks.config import DeploymentConfig
from stacks.constructs.api import Api
from stacks.constructs.nag import acknowledge, render

CONSOLE_DIR: Final = constants.REPO_ROOT / "client" / "console"
CONFIG_FILE: Final = "config.json"
BOOTSTRAP_QUALIFIER: Final = "@aws-cdk/core:bootstrapQualifier"
# Not uploaded from the directory: the generated config.json wins, and dotfiles and notes are not
# part of the page.
CONSOLE_EXCLUDE: Final = (CONFIG_FILE, "**/.*", "**/*.md")
LOG_EXPIRY: Final = Duration.days(400)
NONCURRENT_EXPIRY: Final = Duration.days(30)
HSTS_MAX_AGE: Final = Duration.days(730)
# Features the console never uses, denied to it and to anything it might load.
PERMISSIONS_POLICY: Final = "camera=(), microphone=(), geolocation=(), payment=(), usb=()"


def content_security_policy(connect: list[str]) -> str:
    """Nothing by default; the console's own scripts, styles, images and fonts; connections to
    itself and to ``connect`` (origins: scheme and host); never framed, no <base>, no forms."""
    return "; ".join(
        (
            "default-src 'none'",
            "script-src 'self'",
            "style-src 'self'",
            "img-src 'self' data:",
            "font-src 'self'",
            f"connect-src {' '.join(("'self'", *connect))}",
            "frame-ancestors 'none'",
            "base-uri 'none'",
            "form-action 'none'",
        )
    )


class Console(NestedStack):
    """``bucket``, ``distribution`` and ``url`` (the console's HTTPS address, an output of the main
    stack as ``ConsoleUrl``)."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: DeploymentConfig,
        api: Api,
        client: cognito.IUserPoolClient,
        key: kms.IKey,
    ) -> None:
        super().__init__(
            scope,
            construct_id,
            description=f"{config.resource_name('console')}: the trading console",
        )
        region, suffix = self.region, self.url_suffix
        retain = config.retain_data
        removal = RemovalPolicy.RETAIN if retain else RemovalPolicy.DESTROY
        rest_origin = f"https://{api.rest.api.rest_api_id}.execute-api.{region}.{suffix}"
        ws_origin = f"wss://{api.websocket.api.api_id}.execute-api.{region}.{suffix}"
        cognito_origin = f"https://cognito-idp.{config.primary_region}.{suffix}"
        connect = [rest_origin, ws_origin, cognito_origin]
        if config.api_domain:
            connect.insert(1, f"https://{config.api_domain}")

        self.logs = s3.Bucket(
            self,
            "Logs",
            # S3 server access logging delivers only to SSE-S3 buckets; CloudFront's standard
            # logging needs ACLs ("Configure standard logging (legacy)"), so objects are the
            # bucket owner's when written with bucket-owner-full-control.
            encryption=s3.BucketEncryption.S3_MANAGED,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            enforce_ssl=True,
            versioned=True,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_PREFERRED,
            lifecycle_rules=[
                s3.LifecycleRule(
                    expiration=LOG_EXPIRY, noncurrent_version_expiration=NONCURRENT_EXPIRY
                )
            ],
            removal_policy=removal,
        )
        self.bucket = s3.Bucket(
            self,
            "Bucket",
            encryption=s3.BucketEncryption.S3_MANAGED,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            enforce_ssl=True,
            versioned=True,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            server_access_logs_bucket=self.logs,
            server_access_logs_prefix="bucket/",
            lifecycle_rules=[
                s3.LifecycleRule(
                    noncurrent_version_expiration=NONCURRENT_EXPIRY,
                    abort_incomplete_multipart_upload_after=Duration.days(1),
                )
            ],
            removal_policy=removal,
        )
        headers = cloudfront.ResponseHeadersPolicy(
            self,
            "Headers",
            response_headers_policy_name=config.resource_name("console", region),
            comment="The trading console's security headers",
            security_headers_behavior=cloudfront.ResponseSecurityHeadersBehavior(
                content_security_policy=cloudfront.ResponseHeadersContentSecurityPolicy(
                    content_security_policy=content_security_policy(connect), override=True
                ),
                strict_transport_security=cloudfront.ResponseHeadersStrictTransportSecurity(
                    access_control_max_age=HSTS_MAX_AGE, include_subdomains=True, override=True
                ),
                content_type_options=cloudfront.ResponseHeadersContentTypeOptions(override=True),
                frame_options=cloudfront.ResponseHeadersFrameOptions(
                    frame_option=cloudfront.HeadersFrameOption.DENY, override=True
                ),
                referrer_policy=cloudfront.ResponseHeadersReferrerPolicy(
                    referrer_policy=cloudfront.HeadersReferrerPolicy.NO_REFERRER, override=True
                ),
                # The legacy XSS auditor off ("0"), as OWASP advises; the CSP does its work.
                xss_protection=cloudfront.ResponseHeadersXSSProtection(
                    protection=False, override=True
                ),
            ),
            custom_headers_behavior=cloudfront.ResponseCustomHeadersBehavior(
                custom_headers=[
                    cloudfront.ResponseCustomHeader(
                        header="Permissions-Policy", value=PERMISSIONS_POLICY, override=True
                    ),
                    cloudfront.ResponseCustomHeader(
                        header="Cross-Origin-Opener-Policy", value="same-origin", override=True
                    ),
                ]
            ),
        )
        self.distribution = cloudfront.Distribution(
            self,
            "Distribution",
            comment=config.resource_name("console", region),
            default_root_object="index.html",
            default_behavior=cloudfront.BehaviorOptions(
                origin=origins.S3BucketOrigin.with_origin_access_control(self.bucket),
                viewer_protocol_policy=cloudfront.ViewerProtocolPolicy.REDIRECT_TO_HTTPS,
                allowed_methods=cloudfront.AllowedMethods.ALLOW_GET_HEAD,
                cache_policy=cloudfront.CachePolicy.CACHING_OPTIMIZED,
                response_headers_policy=headers,
                compress=True,
            ),
            http_version=cloudfront.HttpVersion.HTTP2_AND_3,
            # North America and Europe: the cheapest class; elsewhere the nearest of those serves.
            price_class=cloudfront.PriceClass.PRICE_CLASS_100,
            enable_logging=True,
            log_bucket=self.logs,
            log_file_prefix="cloudfront/",
        )
        skip_checkov(
            self.distribution,
            {
                "CKV_AWS_68": "Static files only; requests with data go to the REST API, behind"
                " its regional WAF web ACL (cdk-nag's CFR2, acknowledged below).",
                "CKV_AWS_174": "CloudFront's default certificate pins TLSv1; TLSv1.2_2021 needs an"
                " alternate domain with an ACM certificate (cdk-nag's CFR4, acknowledged below).",
            },
        )
        acknowledge(
            self.distribution,
            {
                "AwsSolutions-CFR1": "Static files only, the same for everyone; who may trade is"
                " decided per account (KYC) by the APIs, not by the viewer's country.",
                "AwsSolutions-CFR2": "Static files only; every request with data goes to the"
                " REST API, behind its regional WAF web ACL. A CloudFront web ACL must live in"
                " us-east-1, which the DR region's stack cannot create.",
                "AwsSolutions-CFR4": "The distribution uses its cloudfront.net name, whose default"
                " certificate CloudFront pins to the TLSv1 security policy; TLSv1.2_2021 needs an"
                " alternate domain and an ACM certificate in us-east-1, not configured.",
            },
        )
        user_pool_region = config.primary_region
        self.deployment = s3_deployment.BucketDeployment(
            self,
            "Deployment",
            sources=[
                s3_deployment.Source.asset(str(CONSOLE_DIR), exclude=list(CONSOLE_EXCLUDE)),
                s3_deployment.Source.json_data(
                    CONFIG_FILE,
                    {
                        "api_url": f"{rest_origin}/{api.rest.stage.stage_name}",
                        "ws_url": api.websocket.stage.url,
                        # The user pool's region (ClientConfig.region): the primary's, for both.
                        "region": user_pool_region,
                        "user_pool_client_id": client.user_pool_client_id,
                        "cognito_endpoint": f"{cognito_origin}/",
                    },
                ),
            ],
            destination_bucket=self.bucket,
            cache_control=[s3_deployment.CacheControl.no_cache()],
            distribution=self.distribution,
            distribution_paths=["/*"],
            retain_on_delete=retain,
            log_group=logs.LogGroup(
                self,
                "DeploymentLogs",
                retention=config.retention,
                encryption_key=key,
                removal_policy=removal,
            ),
        )
        self._acknowledge_deployment()
        self.url = f"https://{self.distribution.distribution_domain_name}"
        CfnOutput(Stack.of(scope), "ConsoleUrl", value=self.url)

    def _acknowledge_deployment(self) -> None:
        """The CDK's bucket-deployment handler (one per stack) and its role."""
        role = self.deployment.handler_role
        # The CDK's file-asset bucket (the default synthesizer's), where the console's zip waits.
        asset_bucket = (
            DefaultStackSynthesizer.DEFAULT_FILE_ASSETS_BUCKET_NAME.replace(
                "${Qualifier}",
                self.node.try_get_context(BOOTSTRAP_QUALIFIER)
                or DefaultStackSynthesizer.DEFAULT_QUALIFIER,
            )
            .replace("${AWS::AccountId}", Aws.ACCOUNT_ID)
            .replace("${AWS::Region}", self.region)
        )
        objects = [
            self.bucket.arn_for_objects("*"),
            f"arn:{self.partition}:s3:::{asset_bucket}/*",
        ]
        acknowledge(
            role,
            {
                "AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/"
                "AWSLambdaBasicExecutionRole]": "The CDK's bucket-deployment handler writes its"
                " own logs only; the managed policy is the CDK's, on the CDK's handler.",
                **{
                    f"AwsSolutions-IAM5[Resource::{render(self, arn)}]": "The deployment reads"
                    " the console's asset and copies every file of it into the console's bucket,"
                    " pruning the ones gone."
                    for arn in objects
                },
                "AwsSolutions-IAM5[Action::s3:GetObject*]": "The CDK's grant to read the console's"
                " asset from the CDK's asset bucket and to sync the console's bucket.",
                "AwsSolutions-IAM5[Action::s3:GetBucket*]": "The CDK's grant to read the console's"
                " asset from the CDK's asset bucket and to sync the console's bucket.",
                "AwsSolutions-IAM5[Action::s3:List*]": "The CDK's grant to read the console's"
                " asset from the CDK's asset bucket and to sync the console's bucket.",
                "AwsSolutions-IAM5[Action::s3:DeleteObject*]": "The deployment prunes the files"
                " that are no longer part of the console from its bucket.",
                "AwsSolutions-IAM5[Action::s3:Abort*]": "The deployment's uploads to the console's"
                " bucket may be multipart; the CDK's grant lets it abort them.",
                "AwsSolutions-IAM5[Resource::*]": "CloudFront's CreateInvalidation and"
                " GetInvalidation, which the CDK's handler calls for this distribution.",
            },
        )
        handler = _singleton(self, "Custom::CDKBucketDeployment")
        acknowledge(
            handler,
            {
                "AwsSolutions-L1": "The CDK's own bucket-deployment handler: its runtime is the"
                " one aws-cdk-lib pins, and it moves with aws-cdk-lib upgrades.",
            },
        )
        skip_checkov(
            handler,
            {
                "CKV_AWS_173": "The CDK's bucket-deployment handler: its one variable is"
                " AWS_CA_BUNDLE, a public file path; Lambda encrypts it at rest with its own"
                " key, and no secret is in the function's environment.",
            },
        )


def skip_checkov(construct: IConstruct, reasons: Mapping[str, str]) -> None:
    """Skip each checkov ``check -> reason`` on ``construct``'s CloudFormation resource only
    (checkov reads ``Metadata.checkov.skip``; .checkov.yaml skips a check everywhere)."""
    resource = construct.node.default_child
    if not isinstance(resource, CfnResource):
        raise TypeError(f"{construct.node.path} has no CloudFormation resource to annotate")
    resource.add_metadata(
        "checkov",
        {"skip": [{"id": check, "comment": reason} for check, reason in reasons.items()]},
    )


def _singleton(scope: IConstruct, purpose: str) -> IConstruct:
    """The stack-level singleton Lambda function the CDK creates for ``purpose``."""
    (found,) = [c for c in Stack.of(scope).node.children if c.node.id.startswith(purpose)]
    return found
