"""The Cognito user pool (one, in the primary region: a user's ``sub`` is their account id, so both
regions must trust the same pool), the API's app client and the operators group.

Membership of the operators group (``exchange.settings.OPERATORS_GROUP``) is what ``/v1/admin``
requires: Cognito puts a user's groups in the access token's ``cognito:groups`` claim, API
Gateway's user-pool authorizer checks the token and its scope but no group, so the admin handler
checks the claim. An operator is added with ``aws cognito-idp admin-add-user-to-group``; nothing in
the app adds anyone.
"""

from typing import Final

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_cognito as cognito
from constructs import Construct

from exchange.settings import OPERATORS_GROUP
from stacks.constructs.nag import acknowledge

# A user in several groups gets the role of the lowest precedence ("Adding groups to a user
# pool"); the pool maps no IAM role to any group, so it only orders the groups: operators first.
OPERATORS_PRECEDENCE: Final = 0


class Auth(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, retain: bool) -> None:
        super().__init__(scope, construct_id)
        self.user_pool = cognito.UserPool(
            self,
            "UserPool",
            sign_in_aliases=cognito.SignInAliases(email=True),
            auto_verify=cognito.AutoVerifiedAttrs(email=True),
            self_sign_up_enabled=True,
            sign_in_case_sensitive=False,
            password_policy=cognito.PasswordPolicy(
                min_length=14,
                require_lowercase=True,
                require_uppercase=True,
                require_digits=True,
                require_symbols=True,
                temp_password_validity=Duration.days(3),
            ),
            mfa=cognito.Mfa.OPTIONAL,
            mfa_second_factor=cognito.MfaSecondFactor(sms=False, otp=True),
            account_recovery=cognito.AccountRecovery.EMAIL_ONLY,
            feature_plan=cognito.FeaturePlan.PLUS,
            standard_threat_protection_mode=cognito.StandardThreatProtectionMode.FULL_FUNCTION,
            deletion_protection=retain,
            removal_policy=RemovalPolicy.RETAIN if retain else RemovalPolicy.DESTROY,
        )
        acknowledge(
            self.user_pool,
            {
                "AwsSolutions-COG2": "MFA is optional by product decision (the issue asks for"
                " optional TOTP); threat protection in full-function mode adds adaptive"
                " challenges for risky sign-ins.",
            },
        )
        # A public client (no secret): the CLI and browsers sign in with SRP or, for scripts,
        # USER_PASSWORD_AUTH over TLS; the API takes the access token.
        self.client = self.user_pool.add_client(
            "ApiClient",
            auth_flows=cognito.AuthFlow(user_srp=True, user_password=True),
            generate_secret=False,
            access_token_validity=Duration.hours(1),
            id_token_validity=Duration.hours(1),
            refresh_token_validity=Duration.days(30),
            enable_token_revocation=True,
            prevent_user_existence_errors=True,
        )
        self.operators = cognito.CfnUserPoolGroup(
            self,
            "Operators",
            user_pool_id=self.user_pool.user_pool_id,
            group_name=OPERATORS_GROUP,
            description="Exchange operators: may call /v1/admin (halt, cancel, freeze, list)",
            precedence=OPERATORS_PRECEDENCE,
        )
