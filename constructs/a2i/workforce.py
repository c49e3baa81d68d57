"""A private workforce of reviewers on an Amazon Cognito user pool, and a work team in it.

SageMaker allows one private workforce per account and region, and one user pool per workforce
("You can only create one workforce in each Amazon Web Services Region per Amazon Web Services
account", CreateWorkforce, SageMaker API). ``PrivateWorkforce.create`` makes the workforce and a user
pool secure by default; ``PrivateWorkforce.existing`` uses the account's workforce (the console makes
one with the first private team) by its user pool and app client. A ``Workteam`` is a user group of
that pool.

The pool: no self sign-up (administrators invite reviewers), MFA required (TOTP), a strong password
policy, threat protection in full-function mode (the Plus feature plan, which Cognito requires for it),
email-only account recovery, deletion protection while it is retained. The app client has a secret
and no OAuth settings of its own: SageMaker configures the client for its worker portal when it
creates the workforce (the resource's handler updates the pool and client, cognito-idp:UpdateUserPool
and UpdateUserPoolClient); a later CloudFormation change to the client would undo that, so the client
is otherwise left alone. Cognito requires a domain for the portal's sign-in.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from dataclasses import dataclass

from aws_cdk import Aws, Duration, Fn, Names, RemovalPolicy
from aws_cdk import aws_cognito as cognito
from aws_cdk import aws_sagemaker as sagemaker
from aws_cdk import aws_sns as sns

from constructs import Construct
from mlblueprints.constructs.errors import MlBlueprintsError, Problem

__all__ = ["PrivateWorkforce", "WorkforceError", "Workteam", "workforce_problems"]


class WorkforceError(MlBlueprintsError):
    """Workforce settings SageMaker or Cognito would refuse."""


def workforce_problems(allowed_source_cidrs: Sequence[str] = ()) -> list[Problem]:
    """What CreateWorkforce would refuse about the worker portal's source-IP restriction."""
    problems = []
    if len(allowed_source_cidrs) > 10:
        problems.append(
            Problem(
                f"allowed_source_cidrs has {len(allowed_source_cidrs)} blocks; SageMaker takes at most 10.",
                setting="allowed_source_cidrs",
            )
        )
    for cidr in allowed_source_cidrs:
        try:
            ipaddress.ip_network(cidr)
            if "/" not in cidr:  # SageMaker's Cidr shape requires the prefix length
                raise ValueError("no prefix length, e.g. /32 for one address")
        except ValueError as error:
            problems.append(
                Problem(
                    f"allowed_source_cidrs: {cidr!r} is not a network ({error}); use a block such as "
                    "'203.0.113.0/24'.",
                    setting="allowed_source_cidrs",
                    value=cidr,
                )
            )
    return problems


@dataclass(frozen=True)
class PrivateWorkforce:
    """The workforce a work team joins: its name (None: the account's default) and its Cognito pool."""

    user_pool_id: str
    client_id: str
    workforce_name: str | None = None
    user_pool: cognito.UserPool | None = None
    resource: sagemaker.CfnWorkforce | None = None

    @classmethod
    def existing(cls, *, user_pool_id: str, client_id: str) -> PrivateWorkforce:
        """The account's private workforce in this region, by the user pool and app client it uses."""
        return cls(user_pool_id=user_pool_id, client_id=client_id)

    @classmethod
    def create(
        cls,
        scope: Construct,
        id: str,
        *,
        allowed_source_cidrs: Sequence[str] = (),
        removal_policy: RemovalPolicy = RemovalPolicy.RETAIN,
    ) -> PrivateWorkforce:
        """A new workforce and its user pool (the account must have none in this region yet).

        :param allowed_source_cidrs: only these networks reach the worker portal (at most 10).
        """
        problems = workforce_problems(allowed_source_cidrs)
        if problems:
            raise WorkforceError(problems)
        construct = Construct(scope, id)
        pool = cognito.UserPool(
            construct,
            "UserPool",
            self_sign_up_enabled=False,
            sign_in_aliases=cognito.SignInAliases(email=True),
            auto_verify=cognito.AutoVerifiedAttrs(email=True),
            mfa=cognito.Mfa.REQUIRED,
            mfa_second_factor=cognito.MfaSecondFactor(otp=True, sms=False),
            password_policy=cognito.PasswordPolicy(
                min_length=14,
                require_lowercase=True,
                require_uppercase=True,
                require_digits=True,
                require_symbols=True,
                temp_password_validity=Duration.days(3),
            ),
            account_recovery=cognito.AccountRecovery.EMAIL_ONLY,
            feature_plan=cognito.FeaturePlan.PLUS,
            standard_threat_protection_mode=cognito.StandardThreatProtectionMode.FULL_FUNCTION,
            deletion_protection=removal_policy is RemovalPolicy.RETAIN,
            removal_policy=removal_policy,
        )
        client = pool.add_client(
            "PortalClient",
            generate_secret=True,
            disable_o_auth=True,
            prevent_user_existence_errors=True,
        )
        # Cognito's own domain for the portal's sign-in: lowercase, unique in the region.
        pool.add_domain(
            "Domain",
            cognito_domain=cognito.CognitoDomainOptions(
                domain_prefix=Fn.join("-", ["reviewers", Aws.ACCOUNT_ID, _suffix(construct)])
            ),
        )
        name = Names.unique_resource_name(construct, max_length=63, separator="-")
        workforce = sagemaker.CfnWorkforce(
            construct,
            "Resource",
            workforce_name=_workforce_name(name),
            cognito_config=sagemaker.CfnWorkforce.CognitoConfigProperty(
                user_pool=pool.user_pool_id, client_id=client.user_pool_client_id
            ),
            source_ip_config=sagemaker.CfnWorkforce.SourceIpConfigProperty(cidrs=list(allowed_source_cidrs))
            if allowed_source_cidrs
            else None,
        )
        workforce.apply_removal_policy(removal_policy)
        return cls(
            user_pool_id=pool.user_pool_id,
            client_id=client.user_pool_client_id,
            workforce_name=workforce.workforce_name,
            user_pool=pool,
            resource=workforce,
        )


class Workteam(Construct):
    """A team of reviewers: a user group of the workforce's pool, and the SageMaker work team on it.

    :param notification_topic: SageMaker tells the team's subscribed workers about new Ground Truth
        tasks; A2I does not notify workers through it ("Amazon SNS notifications are supported by
        Ground Truth and are not supported by Augmented AI", SageMaker Developer Guide), so none by default.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        workforce: PrivateWorkforce,
        description: str,
        group_name: str = "reviewers",
        notification_topic: sns.ITopic | None = None,
    ) -> None:
        super().__init__(scope, id)
        self.group = cognito.CfnUserPoolGroup(
            self,
            "Group",
            user_pool_id=workforce.user_pool_id,
            group_name=group_name,
            description=f"Reviewers of work team {description}"[:2048],
        )
        self.resource = sagemaker.CfnWorkteam(
            self,
            "Resource",
            workteam_name=_workforce_name(Names.unique_resource_name(self, max_length=63, separator="-")),
            description=description,
            workforce_name=workforce.workforce_name,
            member_definitions=[
                sagemaker.CfnWorkteam.MemberDefinitionProperty(
                    cognito_member_definition=sagemaker.CfnWorkteam.CognitoMemberDefinitionProperty(
                        cognito_user_pool=workforce.user_pool_id,
                        cognito_user_group=self.group.ref,
                        cognito_client_id=workforce.client_id,
                    )
                )
            ],
            notification_configuration=sagemaker.CfnWorkteam.NotificationConfigurationProperty(
                notification_topic_arn=notification_topic.topic_arn
            )
            if notification_topic
            else None,
        )
        if workforce.resource is not None:
            self.resource.node.add_dependency(workforce.resource)
        self.workteam_arn = self.resource.attr_workteam_arn


def _workforce_name(text: str) -> str:
    """SageMaker's workforce and work team name rule: letters, digits, hyphens; alphanumeric first."""
    cleaned = "".join(c if c.isalnum() or c == "-" else "-" for c in text)
    while "--" in cleaned:
        cleaned = cleaned.replace("--", "-")
    return cleaned.strip("-")[:63]


def _suffix(scope: Construct) -> str:
    return Names.unique_id(scope)[-8:].lower()
