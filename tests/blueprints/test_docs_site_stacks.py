"""The docs-site example as the contract synthesized it (serving the stand-in site): snapshot, targeted
assertions and refusals."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from aws_cdk import App
from conftest import STAND_IN_SITE, mask_template, one_resource

from mlblueprints.apps.catalog import build_app
from mlblueprints.apps.config import CatalogConfigError

AGNOSTIC = "CatalogDocs-agnostic"
PINNED = "CatalogDocs-us-east-1"


def _all(template: dict, type_: str) -> dict[str, dict]:
    return {k: r for k, r in template["Resources"].items() if r["Type"] == type_}


def test_template_snapshot(contract_templates, snapshot_json):
    assert mask_template(contract_templates[AGNOSTIC]) == snapshot_json


def test_only_the_distribution_reads_the_private_bucket_through_origin_access_control(contract_templates):
    template = contract_templates[AGNOSTIC]
    distribution_id, distribution = one_resource(template, "AWS::CloudFront::Distribution")
    config = distribution["Properties"]["DistributionConfig"]
    (origin,) = config["Origins"]
    oac_id, oac = one_resource(template, "AWS::CloudFront::OriginAccessControl")
    assert origin["OriginAccessControlId"] == {"Fn::GetAtt": [oac_id, "Id"]}
    assert oac["Properties"]["OriginAccessControlConfig"]["SigningBehavior"] == "always"
    assert origin["S3OriginConfig"] == {"OriginAccessIdentity": ""}
    buckets = _all(template, "AWS::S3::Bucket")
    content_id = next(k for k in buckets if k.startswith("SiteContent") and "AccessLogs" not in k)
    content = buckets[content_id]["Properties"]
    assert content["PublicAccessBlockConfiguration"] == {
        "BlockPublicAcls": True, "BlockPublicPolicy": True, "IgnorePublicAcls": True, "RestrictPublicBuckets": True,
    }  # fmt: skip
    encryption = content["BucketEncryption"]["ServerSideEncryptionConfiguration"][0][
        "ServerSideEncryptionByDefault"
    ]
    assert encryption["SSEAlgorithm"] == "aws:kms"
    assert buckets[content_id]["DeletionPolicy"] == "Retain"
    policy = next(
        p["Properties"]["PolicyDocument"]["Statement"]
        for p in _all(template, "AWS::S3::BucketPolicy").values()
        if p["Properties"]["Bucket"] == {"Ref": content_id}
    )
    (reader,) = [s for s in policy if s["Effect"] == "Allow"]
    assert reader["Principal"] == {"Service": "cloudfront.amazonaws.com"}
    # ListBucket makes S3 answer 404 (not 403) for a missing file, so a 403 is only ever WAF's.
    assert reader["Action"] == ["s3:GetObject", "s3:ListBucket"]
    assert {"Ref": distribution_id} in reader["Condition"]["StringEquals"]["AWS:SourceArn"]["Fn::Join"][1]


def test_the_web_acl_admits_the_allowed_networks_and_blocks_everyone_else(contract_templates):
    template = contract_templates[AGNOSTIC]
    acl_id, acl = one_resource(template, "AWS::WAFv2::WebACL")
    properties = acl["Properties"]
    assert properties["Scope"] == "CLOUDFRONT"
    assert properties["DefaultAction"] == {
        "Block": {"CustomResponse": {"ResponseCode": 403, "CustomResponseBodyKey": "not-allowed"}}
    }
    assert "networks only" in properties["CustomResponseBodies"]["not-allowed"]["Content"]
    rules = sorted(properties["Rules"], key=lambda r: r["Priority"])
    assert (
        rules[0]["Statement"]["ManagedRuleGroupStatement"]["Name"] == "AWSManagedRulesKnownBadInputsRuleSet"
    )
    sets = _all(template, "AWS::WAFv2::IPSet")
    addresses = {s["Properties"]["IPAddressVersion"]: s["Properties"]["Addresses"] for s in sets.values()}
    assert addresses == {"IPV4": ["198.51.100.0/24"], "IPV6": ["2001:db8::/32"]}
    assert all(rule["Action"] == {"Allow": {}} for rule in rules[1:]) and len(rules) == 3
    _, distribution = one_resource(template, "AWS::CloudFront::Distribution")
    assert distribution["Properties"]["DistributionConfig"]["WebACLId"] == {"Fn::GetAtt": [acl_id, "Arn"]}


def test_https_only_with_security_headers_and_a_404_page(contract_templates):
    config = one_resource(contract_templates[AGNOSTIC], "AWS::CloudFront::Distribution")[1]["Properties"][
        "DistributionConfig"
    ]
    behavior = config["DefaultCacheBehavior"]
    assert behavior["ViewerProtocolPolicy"] == "redirect-to-https"
    security_headers_policy = (
        "67f7725c-6f97-4210-82d7-5512b31e9d03"  # CloudFront's managed SecurityHeadersPolicy
    )
    assert behavior["ResponseHeadersPolicyId"] == security_headers_policy
    assert config["DefaultRootObject"] == "index.html" and config["HttpVersion"] == "http2and3"
    # Only a missing file gets the site's 404 page: a visitor WAF turns away keeps WAF's 403.
    responses = [
        (r["ErrorCode"], r["ResponseCode"], r["ResponsePagePath"]) for r in config["CustomErrorResponses"]
    ]
    assert responses == [(404, 404, "/404.html")]
    assert config["PriceClass"] == "PriceClass_100"


def test_access_and_waf_logs_go_to_encrypted_log_groups_kept_after_the_stack(contract_templates):
    template = contract_templates[AGNOSTIC]
    distribution_id, _ = one_resource(template, "AWS::CloudFront::Distribution")
    _, source = one_resource(template, "AWS::Logs::DeliverySource")
    assert source["Properties"]["LogType"] == "ACCESS_LOGS"
    assert {"Ref": distribution_id} in source["Properties"]["ResourceArn"]["Fn::Join"][1]
    destination_id, destination = one_resource(template, "AWS::Logs::DeliveryDestination")
    _, delivery = one_resource(template, "AWS::Logs::Delivery")
    assert delivery["Properties"]["DeliveryDestinationArn"] == {"Fn::GetAtt": [destination_id, "Arn"]}
    groups = _all(template, "AWS::Logs::LogGroup")
    for group in groups.values():
        # A named log group is kept, except when its creation fails (so a retry can create it again).
        assert "KmsKeyId" in group["Properties"] and group["DeletionPolicy"] == "RetainExceptOnCreate"
    names = [json.dumps(g["Properties"]["LogGroupName"]) for g in groups.values()]
    assert any("aws-waf-logs-" in name for name in names)
    _, logging = one_resource(template, "AWS::WAFv2::LoggingConfiguration")
    (arn,) = logging["Properties"]["LogDestinationConfigs"]
    # WAF and log delivery take the log group's ARN without the ":*" of CloudFormation's Arn attribute; the Ref
    # makes CloudFormation create the group first.
    waf_group = next(
        k for k, g in groups.items() if "aws-waf-logs-" in json.dumps(g["Properties"]["LogGroupName"])
    )
    assert arn["Fn::Join"][1][-2:] == [":log-group:", {"Ref": waf_group}]
    access = next(g for g in groups.values() if "access" in json.dumps(g["Properties"]["LogGroupName"]))
    assert json.dumps(access["Properties"]["LogGroupName"]).startswith('{"Fn::Join": ["", ["/aws/vendedlogs/')
    assert "Fn::GetAtt" not in json.dumps(destination["Properties"]["DestinationResourceArn"])


def test_the_key_serves_each_log_group_and_cloudfront_reads_for_this_accounts_distributions(
    contract_templates,
):
    (key,) = _all(contract_templates[AGNOSTIC], "AWS::KMS::Key").values()
    statements = key["Properties"]["KeyPolicy"]["Statement"]
    # CloudWatch Logs may use the key for the two named groups: WAF's and the vended access logs.
    contexts = [json.dumps(s["Condition"]) for s in statements if "logs." in json.dumps(s.get("Principal"))]
    assert any("log-group:aws-waf-logs-CatalogDocs" in c for c in contexts)
    assert any("log-group:/aws/vendedlogs/mlblueprints/site/CatalogDocs" in c for c in contexts)
    (reader,) = [s for s in statements if s.get("Principal") == {"Service": "cloudfront.amazonaws.com"}]
    assert reader["Action"] == "kms:Decrypt" and ":distribution/*" in json.dumps(
        reader["Condition"]["ArnLike"]
    )


def test_each_deploy_copies_the_site_and_invalidates_the_cache(contract_templates):
    template = contract_templates[AGNOSTIC]
    distribution_id, _ = one_resource(template, "AWS::CloudFront::Distribution")
    (deployment,) = [r for r in template["Resources"].values() if r["Type"] == "Custom::CDKBucketDeployment"]
    assert deployment["Properties"]["DistributionId"] == {"Ref": distribution_id}
    assert deployment["Properties"]["DistributionPaths"] == ["/*"]


def test_an_agnostic_stack_is_held_to_us_east_1_at_deploy_and_a_pinned_one_is_not(contract_templates):
    assertion = contract_templates[AGNOSTIC]["Rules"]["SiteRegion"]["Assertions"][0]["Assert"]
    assert assertion == {"Fn::Equals": [{"Ref": "AWS::Region"}, "us-east-1"]}
    assert "SiteRegion" not in contract_templates[PINNED].get("Rules", {})


def test_the_web_acl_and_its_rules_are_priced_by_the_month(contract_templates):
    from mlblueprints.apps.cli.cost import HOURS_PER_MONTH, cost_lines
    from mlblueprints.apps.cli.prices import PriceBook

    lines = {
        line.item: line for line in cost_lines("Docs", contract_templates[AGNOSTIC], PriceBook("us-east-1"))
    }
    assert lines["WAF web ACL"].count_default == 1
    assert lines["WAF web ACL"].hourly_default * HOURS_PER_MONTH == pytest.approx(5.0)
    assert lines["WAF rules"].count_default == 3  # known bad inputs, IPv4, IPv6
    assert lines["WAF rules"].hourly_default * HOURS_PER_MONTH == pytest.approx(3.0)


def test_a_custom_domain_gets_its_certificate_sni_and_tls_1_2(tmp_path):
    certificate = "arn:aws:acm:us-east-1:123456789012:certificate/0a1b2c3d-0a1b-0a1b-0a1b-0a1b2c3d4e5f"
    stacks = {"Docs": {"blueprint": "docs-site", "site_folder": str(STAND_IN_SITE), "allowed_cidrs": ["192.0.2.0/24"],
                       "domain_name": "docs.example.com", "certificate_arn": certificate}}  # fmt: skip
    assembly = build_app(App(context={"stacks": json.dumps(stacks)}, outdir=str(tmp_path))).synth()
    template = assembly.get_stack_by_name("Docs").template
    config = one_resource(template, "AWS::CloudFront::Distribution")[1]["Properties"]["DistributionConfig"]
    assert config["Aliases"] == ["docs.example.com"]
    assert config["ViewerCertificate"] == {
        "AcmCertificateArn": certificate, "MinimumProtocolVersion": "TLSv1.2_2021", "SslSupportMethod": "sni-only",
    }  # fmt: skip
    # With its own certificate, nothing about the certificate is acknowledged: the gates passed on their own.
    metadata = json.dumps(assembly.get_stack_by_name("Docs").manifest.metadata)
    assert "CFR4" not in metadata and "cloudfront_sni_enabled_check" not in metadata


def test_bare_addresses_become_cidr_blocks_and_each_ip_version_has_its_own_set(tmp_path):
    stacks = {"Docs": {"blueprint": "docs-site", "site_folder": str(STAND_IN_SITE),
                       "allowed_cidrs": ["203.0.113.7", "2001:db8::1", "203.0.113.7/32"]}}  # fmt: skip
    assembly = build_app(App(context={"stacks": json.dumps(stacks)}, outdir=str(tmp_path))).synth()
    sets = _all(assembly.get_stack_by_name("Docs").template, "AWS::WAFv2::IPSet")
    addresses = {s["Properties"]["IPAddressVersion"]: s["Properties"]["Addresses"] for s in sets.values()}
    assert addresses == {"IPV4": ["203.0.113.7/32"], "IPV6": ["2001:db8::1/128"]}


def test_bad_settings_are_refused_together(tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    stacks = {
        "Docs": {"blueprint": "docs-site", "site_folder": str(empty), "env": {"region": "eu-west-1"},
                 "allowed_cidrs": ["0.0.0.0/0", "10.0.0.300/8"], "domain_name": "Docs.Example.com"},
    }  # fmt: skip
    with pytest.raises(CatalogConfigError) as caught:
        build_app(App(context={"stacks": json.dumps(stacks)}))
    message = str(caught.value)
    for expected in (
        "region eu-west-1: CloudFront's web ACLs and log delivery are created in us-east-1",
        "has no index.html: build the site first",
        "0.0.0.0/0 lets in the whole internet",
        "'10.0.0.300/8' is not a CIDR block",
        "give domain_name and certificate_arn together",
        "'Docs.Example.com' is not a lower-case DNS name",
    ):
        assert expected in message, expected


def test_the_site_folder_is_required_to_hold_the_built_site(tmp_path):
    stacks = {
        "Docs": {"blueprint": "docs-site", "site_folder": str(tmp_path / "missing"), "allowed_cidrs": []}
    }
    with pytest.raises(CatalogConfigError) as caught:
        build_app(App(context={"stacks": json.dumps(stacks)}))
    message = str(caught.value)
    assert "make docs builds the catalog's into site/" in message
    assert "name at least one network" in message
    assert Path(STAND_IN_SITE / "index.html").is_file()
