"""A static site served privately through CloudFront: a private bucket that only the distribution can read
(origin access control), a WAF web ACL that lets in the networks you name and nobody else, HTTPS only, and
access and WAF logs in encrypted log groups.

CloudFront is global, but what attaches to it is not: a web ACL for CloudFront and the delivery of its
standard logs (v2) must be created in us-east-1, so the stack holding this construct deploys there
(:data:`SITE_REGION`; refused elsewhere at synth and, for an agnostic stack, at deploy).
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Sequence
from pathlib import Path

from aws_cdk import (
    Acknowledgment,
    ArnFormat,
    Aws,
    CfnRule,
    Duration,
    Fn,
    RemovalPolicy,
    Stack,
    Token,
    Validations,
)
from aws_cdk import aws_certificatemanager as acm
from aws_cdk import aws_cloudfront as cloudfront
from aws_cdk import aws_cloudfront_origins as origins
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from aws_cdk import aws_wafv2 as wafv2

from constructs import Construct
from mlblueprints.constructs._private.names import unique_name_with_stack_suffix
from mlblueprints.constructs.compliance.acknowledge import Pack, acknowledge, skip_checkov
from mlblueprints.constructs.compliance.functions import encrypted_log_group
from mlblueprints.constructs.errors import MlBlueprintsError, Problem
from mlblueprints.constructs.security.folder_deployment import deploy_folder
from mlblueprints.constructs.security.secure_bucket import SecureBucket

__all__ = ["SITE_REGION", "PrivateSite", "site_problems"]

# "To use AWS WAF to protect a CloudFront distribution, create the web ACL in US East (N. Virginia)"
# (AWS WAF Developer Guide, "Using AWS WAF with Amazon CloudFront"), and CloudFront's standard logging (v2)
# delivery source is created in us-east-1 (CloudFront Developer Guide, "Configure standard logging (v2)").
SITE_REGION = "us-east-1"
# ACM certificates CloudFront uses must be in us-east-1 (CloudFront Developer Guide, "Requirements for using
# SSL/TLS certificates with CloudFront").
_CERTIFICATE_ARN = re.compile(r"^arn:aws:acm:us-east-1:\d{12}:certificate/[0-9a-f-]{36}$")
# A lower-case DNS name, each label 1-63 letters, digits or inner hyphens (punycode top-level domains too), or a
# wildcard name (*.example.com) as CloudFront takes for alternate domain names.
_LABEL = r"(?!-)[a-z0-9-]{1,63}(?<!-)"
_DOMAIN = re.compile(rf"^(?=.{{1,253}}$)(\*\.)?({_LABEL}\.)+{_LABEL}$")
# Ranges no request reaching CloudFront comes from: private (RFC 1918), shared address space (RFC 6598), loopback,
# link-local, unique local IPv6 (RFC 4193).
_NOT_SEEN_BY_CLOUDFRONT = tuple(
    ipaddress.ip_network(n)
    for n in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10", "127.0.0.0/8", "169.254.0.0/16",
              "fc00::/7", "fe80::/10", "::1/128")
)  # fmt: skip
# A WAF IP set holds at most 10,000 addresses (AWS WAF Developer Guide, "Quotas"); one set per IP version.
MAX_CIDRS = 10_000


def site_problems(
    *,
    folder: Path,
    allowed_cidrs: Sequence[str],
    domain_name: str | None = None,
    certificate_arn: str | None = None,
    setting_prefix: str = "",
) -> list[Problem]:
    """Every reason the site could not deploy or serve as asked, named by setting."""
    problems = []
    if not folder.is_dir():
        problems.append(
            Problem(f"{folder} is not a folder (from {Path.cwd()}): build the site first (make docs builds the "
                    "catalog's into site/), or give the path of yours.", setting=f"{setting_prefix}site_folder",
                    value=str(folder))
        )  # fmt: skip
    elif not (folder / "index.html").is_file():
        problems.append(
            Problem(f"{folder} has no index.html: build the site first (make docs builds the catalog's into site/).",
                    setting=f"{setting_prefix}site_folder", value=str(folder))
        )  # fmt: skip
    if not allowed_cidrs:
        problems.append(
            Problem("name at least one network that may open the site; WAF turns everyone else away.",
                    setting=f"{setting_prefix}allowed_cidrs")
        )  # fmt: skip
    versions = [_version(cidr) for cidr in allowed_cidrs]
    if max(versions.count(4), versions.count(6)) > MAX_CIDRS:
        problems.append(
            Problem(
                f"a WAF IP set holds at most {MAX_CIDRS} ranges of each IP version.",
                setting=f"{setting_prefix}allowed_cidrs",
            )
        )
    for cidr in allowed_cidrs:
        try:
            network = ipaddress.ip_network(cidr, strict=True)
        except ValueError as error:
            problems.append(
                Problem(f"{cidr!r} is not a CIDR block ({error}); write 198.51.100.0/24 or 2001:db8::/32.",
                        setting=f"{setting_prefix}allowed_cidrs", value=cidr)
            )  # fmt: skip
            continue
        if any(
            network.version == inner.version and network.subnet_of(inner) for inner in _NOT_SEEN_BY_CLOUDFRONT
        ):
            problems.append(
                Problem(f"{cidr} is a private or local range, which CloudFront never sees: it sees your network's "
                        "public (egress) addresses; name those.", setting=f"{setting_prefix}allowed_cidrs", value=cidr)
            )  # fmt: skip
        if network.prefixlen == 0:
            problems.append(
                Problem(f"{cidr} lets in the whole internet, which is not a private site; name your networks.",
                        setting=f"{setting_prefix}allowed_cidrs", value=cidr)
            )  # fmt: skip
    if (domain_name is None) != (certificate_arn is None):
        problems.append(
            Problem("give domain_name and certificate_arn together: CloudFront serves a custom name only with its "
                    "certificate.", setting=f"{setting_prefix}domain_name")
        )  # fmt: skip
    if domain_name is not None and not _DOMAIN.match(domain_name):
        problems.append(
            Problem(f"{domain_name!r} is not a lower-case DNS name such as docs.example.com.",
                    setting=f"{setting_prefix}domain_name", value=domain_name)
        )  # fmt: skip
    if certificate_arn is not None and not _CERTIFICATE_ARN.match(certificate_arn):
        problems.append(
            Problem(f"{certificate_arn!r} is not an ACM certificate ARN in us-east-1, where CloudFront reads "
                    "certificates (arn:aws:acm:us-east-1:<account>:certificate/<id>).",
                    setting=f"{setting_prefix}certificate_arn", value=certificate_arn)
        )  # fmt: skip
    return problems


class PrivateSite(Construct):
    """Serve ``folder`` from a private, encrypted bucket through CloudFront, to ``allowed_cidrs`` only.

    - The bucket is a :class:`SecureBucket` under ``encryption_key``; CloudFront reads it with origin access
      control (SigV4, the distribution's ARN in the bucket and key policies), so the bucket stays private.
    - A WAF web ACL blocks every request except from ``allowed_cidrs`` (IPv4 and IPv6 sets); WAF logs to an
      encrypted ``aws-waf-logs-`` log group.
    - HTTPS only (HTTP redirects), security headers, HTTP/2 and HTTP/3; with ``domain_name`` and
      ``certificate_arn``, the name, SNI and TLS 1.2 (2021 policy) at least.
    - Access logs through CloudFront's standard logging (v2) into an encrypted log group.
    - The folder is copied on each deploy and the cache invalidated, so a new build shows at once.

    :param folder: the built site, with an ``index.html`` (and a ``404.html`` for missing pages).
    :param allowed_cidrs: the public IPv4 and IPv6 networks that may open the site.
    :param encryption_key: encrypts the bucket and the log groups.
    :param removal_policy: default: RETAIN (the bucket and the log groups are kept after the stack).
    :param domain_name: the site's own name, with ``certificate_arn`` (an ACM certificate in us-east-1).
    :param price_class: default: PriceClass_100 (edge locations in North America and Europe).
    :param certificate_arn: the ACM certificate (in us-east-1) for ``domain_name``.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        folder: Path,
        allowed_cidrs: Sequence[str],
        encryption_key: kms.IKey,
        removal_policy: RemovalPolicy = RemovalPolicy.RETAIN,
        domain_name: str | None = None,
        certificate_arn: str | None = None,
        price_class: cloudfront.PriceClass = cloudfront.PriceClass.PRICE_CLASS_100,
    ) -> None:
        super().__init__(scope, id)
        problems = site_problems(
            folder=folder,
            allowed_cidrs=allowed_cidrs,
            domain_name=domain_name,
            certificate_arn=certificate_arn,
        )
        stack = Stack.of(self)
        if not Token.is_unresolved(stack.region) and stack.region != SITE_REGION:
            problems.append(
                Problem(f"region {stack.region}: CloudFront's web ACLs and log delivery are created in {SITE_REGION}; "
                        f'deploy this stack there ("env": {{"region": "{SITE_REGION}"}} in its config entry).',
                        setting="env", value=stack.region)
            )  # fmt: skip
        if problems:
            raise MlBlueprintsError(problems)
        if Token.is_unresolved(stack.region) and stack.node.try_find_child("SiteRegion") is None:
            CfnRule(stack, "SiteRegion").add_assertion(
                Fn.condition_equals(Aws.REGION, SITE_REGION),
                f"CloudFront's web ACLs and log delivery are created in {SITE_REGION}; deploy this stack there.",
            )

        self.content = SecureBucket(
            self, "Content", encryption_key=encryption_key, removal_policy=removal_policy
        )
        self.web_acl = self._web_acl(allowed_cidrs, encryption_key, removal_policy)
        certificate = (
            acm.Certificate.from_certificate_arn(self, "Certificate", certificate_arn)
            if certificate_arn
            else None
        )
        self.distribution = cloudfront.Distribution(
            self,
            "Distribution",
            comment=f"mlblueprints private site {unique_name_with_stack_suffix(self, max_length=60)}",
            default_behavior=cloudfront.BehaviorOptions(
                # LIST too: S3 then answers 404, not 403, for a missing file, so the site's 404 page answers a
                # missing file and a 403 stays what it is (WAF turning a visitor away).
                origin=origins.S3BucketOrigin.with_origin_access_control(
                    self.content.bucket,
                    origin_access_levels=[cloudfront.AccessLevel.READ, cloudfront.AccessLevel.LIST],
                ),
                viewer_protocol_policy=cloudfront.ViewerProtocolPolicy.REDIRECT_TO_HTTPS,
                cache_policy=cloudfront.CachePolicy.CACHING_OPTIMIZED,
                response_headers_policy=cloudfront.ResponseHeadersPolicy.SECURITY_HEADERS,
                compress=True,
            ),
            default_root_object="index.html",
            error_responses=[
                cloudfront.ErrorResponse(
                    http_status=404,
                    response_http_status=404,
                    response_page_path="/404.html",
                    ttl=Duration.minutes(5),
                )
            ],
            web_acl_id=self.web_acl.attr_arn,
            domain_names=[domain_name] if domain_name else None,
            certificate=certificate,
            minimum_protocol_version=cloudfront.SecurityPolicyProtocol.TLS_V1_2_2021 if certificate else None,
            ssl_support_method=cloudfront.SSLMethod.SNI if certificate else None,
            http_version=cloudfront.HttpVersion.HTTP2_AND_3,
            price_class=price_class,
            enable_ipv6=True,
        )
        self.access_logs = self._access_logs(encryption_key, removal_policy)
        self.deployment = deploy_folder(
            self,
            "Files",
            folder=folder,
            bucket=self.content.bucket,
            prefix="",
            encryption_key=encryption_key,
            removal_policy=removal_policy,
            purpose="site",
            what="the site's files",
            distribution=self.distribution,
        )
        self._justify(certificate is not None, encryption_key)

    @property
    def url(self) -> str:
        return f"https://{self.distribution.distribution_domain_name}/"

    def _web_acl(self, cidrs: Sequence[str], key: kms.IKey, removal_policy: RemovalPolicy) -> wafv2.CfnWebACL:
        name = unique_name_with_stack_suffix(self, max_length=100)
        # AWS's known-bad-inputs rules first (Log4j lookups among them), then the allowed networks; the rest is
        # blocked by the default action.
        rules = [
            wafv2.CfnWebACL.RuleProperty(
                name="aws-known-bad-inputs",
                priority=0,
                override_action=wafv2.CfnWebACL.OverrideActionProperty(none={}),
                statement=wafv2.CfnWebACL.StatementProperty(
                    managed_rule_group_statement=wafv2.CfnWebACL.ManagedRuleGroupStatementProperty(
                        vendor_name="AWS", name="AWSManagedRulesKnownBadInputsRuleSet"
                    )
                ),
                visibility_config=_visibility("aws-known-bad-inputs"),
            )
        ]
        for version in (4, 6):
            # WAF takes CIDR notation only: a bare address becomes its /32 or /128.
            addresses = sorted({str(ipaddress.ip_network(c)) for c in cidrs if _version(c) == version})
            if not addresses:
                continue
            ip_set = wafv2.CfnIPSet(self, f"AllowedIPv{version}", scope="CLOUDFRONT",
                                    ip_address_version=f"IPV{version}", addresses=addresses,
                                    description="Networks that may open the site")  # fmt: skip
            rules.append(
                wafv2.CfnWebACL.RuleProperty(
                    name=f"allow-ipv{version}",
                    priority=len(rules),
                    action=wafv2.CfnWebACL.RuleActionProperty(allow={}),
                    statement=wafv2.CfnWebACL.StatementProperty(
                        ip_set_reference_statement=wafv2.CfnWebACL.IPSetReferenceStatementProperty(
                            arn=ip_set.attr_arn
                        )
                    ),
                    visibility_config=_visibility(f"allow-ipv{version}"),
                )
            )
        web_acl = wafv2.CfnWebACL(
            self,
            "WebAcl",
            scope="CLOUDFRONT",
            # A plain 403 of WAF's own: CloudFront's error pages would otherwise show the site's 404 page to a
            # visitor it turns away.
            default_action=wafv2.CfnWebACL.DefaultActionProperty(
                block=wafv2.CfnWebACL.BlockActionProperty(
                    custom_response=wafv2.CfnWebACL.CustomResponseProperty(
                        response_code=403, custom_response_body_key="not-allowed"
                    )
                )
            ),
            custom_response_bodies={
                "not-allowed": wafv2.CfnWebACL.CustomResponseBodyProperty(
                    content_type="TEXT_PLAIN",
                    content="This site is open to its organisation's networks only.\n",
                )
            },
            rules=rules,
            visibility_config=_visibility("blocked"),
            description="Allows the networks of the site and blocks everyone else",
        )
        # WAF writes only to log groups whose name starts with aws-waf-logs- (AWS WAF Developer Guide,
        # "Sending web ACL traffic logs to an Amazon CloudWatch Logs log group"); the ARN is given without ":*".
        log_name = f"aws-waf-logs-{name}"
        self.waf_logs = encrypted_log_group(
            self,
            "WafLogs",
            encryption_key=key,
            removal_policy=removal_policy,
            purpose="site",
            log_group_name=log_name,
        )
        wafv2.CfnLoggingConfiguration(
            self,
            "WafLogging",
            resource_arn=web_acl.attr_arn,
            # From the log group's Ref, so CloudFormation creates the group first.
            log_destination_configs=[_log_group_arn(self, self.waf_logs.log_group_name)],
        )
        return web_acl

    def _access_logs(self, key: kms.IKey, removal_policy: RemovalPolicy) -> logs.LogGroup:
        """CloudFront's standard logging (v2): a delivery source for the distribution, a destination log group."""
        # Delivery source and destination names take 60 characters at most, "-access" included.
        name = unique_name_with_stack_suffix(self, max_length=53)
        # Under /aws/vendedlogs/: CloudWatch Logs then covers the group with its account's existing resource-policy
        # wildcard for vended logs, instead of adding it to a policy capped at 5,120 characters.
        log_group = encrypted_log_group(
            self, "AccessLogs", encryption_key=key, removal_policy=removal_policy, purpose="site",
            log_group_name=f"/aws/vendedlogs/mlblueprints/site/{name}/access",
        )  # fmt: skip
        source = logs.CfnDeliverySource(
            self, "AccessLogSource", name=f"{name}-access", log_type="ACCESS_LOGS",
            resource_arn=Stack.of(self).format_arn(service="cloudfront", region="", resource="distribution",
                                                   resource_name=self.distribution.distribution_id),
        )  # fmt: skip
        destination = logs.CfnDeliveryDestination(
            self, "AccessLogDestination", name=f"{name}-access",
            destination_resource_arn=_log_group_arn(self, log_group.log_group_name),
        )  # fmt: skip
        delivery = logs.CfnDelivery(
            self, "AccessLogDelivery", delivery_source_name=source.name,
            delivery_destination_arn=destination.attr_arn,
        )  # fmt: skip
        delivery.node.add_dependency(source)  # the delivery names the source by name, not by reference
        return log_group

    def _justify(self, custom_certificate: bool, key: kms.IKey) -> None:
        distribution = self.distribution
        # aws-cdk-lib reports it on the key's scope (an EncryptionKey wraps the kms.Key).
        Validations.of(key.node.scope or key).acknowledge(
            Acknowledgment(
                id="Annotation::@aws-cdk/aws-cloudfront-origins:wildcardKeyPolicyForOac",
                reason="origin access control on an SSE-KMS bucket: the key, the bucket it encrypts and the "
                "distribution that reads the bucket cannot name each other in one template without a cycle, so "
                "the key lets the CloudFront service principal decrypt for this account's distributions "
                "(aws:SourceArn); the bucket policy names this distribution alone.",
            )
        )
        Validations.of(distribution).acknowledge(
            Acknowledgment(
                id="Annotation::@aws-cdk/aws-cloudfront-origins:listBucketSecurityRisk",
                reason="s3:ListBucket for the distribution, so that S3 answers 404 for a missing file: the default "
                "root object (index.html) answers the site's root, and the cache policy forwards no query string, so "
                "no request of a visitor can list the bucket.",
            )
        )
        acknowledge(
            self.deployment.handler_role.node.find_child("DefaultPolicy"),
            "IAM5[Resource::*]",
            topic="cache invalidation after each deploy",
            reason="aws-cdk-lib's bucket deployment grants cloudfront:CreateInvalidation and GetInvalidation on "
            "all resources to invalidate the site's cache once the files are copied; it calls them for this "
            "distribution only.",
            packs=(Pack.AWS_SOLUTIONS,),
        )
        logging_reason = (
            "CloudFront's standard logging (v2) delivers every request to the encrypted log group "
            f"{self.access_logs.node.path}; the rule looks for the legacy S3 logging, which needs a bucket with "
            "ACLs enabled, which the catalog's buckets refuse (object ownership is enforced)."
        )
        cfn_distribution = distribution.node.default_child
        skip_checkov(cfn_distribution, CKV_AWS_86=logging_reason)
        skip_checkov(
            self.deployment.handler_role.node.find_child("DefaultPolicy").node.default_child,
            CKV_AWS_111="aws-cdk-lib's bucket deployment invalidates the site's cache after each copy "
            "(cloudfront:CreateInvalidation, which it grants on all resources and calls for this distribution only).",
        )
        acknowledge(
            distribution, "CFR3", topic="access logging", reason=logging_reason, packs=(Pack.AWS_SOLUTIONS,)
        )
        acknowledge(distribution, "cloudfront_access_logs_enabled_check", topic="CT.CLOUDFRONT.PR.5: access logging",
                    reason=logging_reason, packs=(Pack.CONTROL_TOWER,))  # fmt: skip
        acknowledge(
            distribution,
            "CFR1",
            topic="geo restriction",
            reason="The web ACL already admits only the networks the site is for; a country list would add nothing.",
            packs=(Pack.AWS_SOLUTIONS,),
        )
        acknowledge(
            distribution,
            "cloudfront_origin_failover_enabled_check",
            topic="CT.CLOUDFRONT.PR.4: origin failover",
            reason="The only origin is a bucket of files rebuilt from the repository on each deploy; a second "
            "origin would need a replica bucket and key in another region for a site a redeploy restores.",
            packs=(Pack.CONTROL_TOWER,),
        )
        if not custom_certificate:
            default_certificate = (
                "Without domain_name and certificate_arn the site answers on its *.cloudfront.net name with "
                "CloudFront's default certificate, whose security policy (TLSv1) CloudFront fixes; browsers negotiate "
                "TLS 1.2 or 1.3, and the web ACL admits only your networks. Give both to serve your name with TLS 1.2 at least and SNI."
            )
            acknowledge(distribution, "CFR4", topic="default CloudFront certificate", reason=default_certificate,
                        packs=(Pack.AWS_SOLUTIONS,))  # fmt: skip
            skip_checkov(cfn_distribution, CKV_AWS_174=default_certificate)
            for rule, control in (("cloudfront_custom_ssl_certificate_check", "PR.6"),
                                  ("cloudfront_sni_enabled_check", "PR.7"),
                                  ("cloudfront_security_policy_check", "PR.9")):  # fmt: skip
                acknowledge(distribution, rule, topic=f"CT.CLOUDFRONT.{control}: default certificate",
                            reason=default_certificate, packs=(Pack.CONTROL_TOWER,))  # fmt: skip


def _version(cidr: str) -> int:
    """4 or 6; 0 for a value that is not an address or a network (reported by site_problems)."""
    try:
        return ipaddress.ip_network(cidr, strict=False).version
    except ValueError:
        return 0


def _log_group_arn(scope: Construct, name: str) -> str:
    """A log group's ARN as WAF and log delivery take it: without the ``:*`` CloudFormation's Arn attribute ends in."""
    return Stack.of(scope).format_arn(
        service="logs", resource="log-group", resource_name=name, arn_format=ArnFormat.COLON_RESOURCE_NAME
    )


def _visibility(metric: str) -> wafv2.CfnWebACL.VisibilityConfigProperty:
    return wafv2.CfnWebACL.VisibilityConfigProperty(
        cloud_watch_metrics_enabled=True, metric_name=metric, sampled_requests_enabled=True
    )
