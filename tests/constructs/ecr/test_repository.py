"""ImageRepository: hardened defaults, explicit pull access, and every refusal."""

from __future__ import annotations

import json

import pytest
from aws_cdk import App, Duration, RemovalPolicy, Stack
from aws_cdk.assertions import Template

from mlblueprints.constructs.ecr.repository import ImageRepository, RepositoryError
from mlblueprints.constructs.sagemaker.execution_role import ExecutionRole


def _template(**props) -> tuple[ImageRepository, Template]:
    stack = Stack(App(), "Test")
    repository = ImageRepository(stack, "Images", **props)
    return repository, Template.from_stack(stack)


def _repository(template: Template) -> dict:
    (resource,) = template.find_resources("AWS::ECR::Repository").values()
    return resource


def test_hardened_defaults():
    _, template = _template()
    resource = _repository(template)
    properties = resource["Properties"]
    assert properties["ImageScanningConfiguration"] == {"ScanOnPush": True}
    assert properties["ImageTagMutability"] == "IMMUTABLE"
    assert properties["EncryptionConfiguration"]["EncryptionType"] == "KMS"
    assert resource["DeletionPolicy"] == "Retain"
    rules = json.loads(properties["LifecyclePolicy"]["LifecyclePolicyText"])["rules"]
    assert rules[0]["selection"] == {
        "tagStatus": "untagged",
        "countType": "sinceImagePushed",
        "countNumber": 7,
        "countUnit": "days",
    }
    assert (
        rules[1]["selection"]["countType"] == "imageCountMoreThan"
        and rules[1]["selection"]["countNumber"] == 30
    )
    assert "RepositoryPolicyText" not in properties


def test_moving_tags_are_named_exclusions():
    _, template = _template(mutable_tag_patterns=["dev-*", "latest"])
    properties = _repository(template)["Properties"]
    assert properties["ImageTagMutability"] == "IMMUTABLE_WITH_EXCLUSION"
    assert [
        f["ImageTagMutabilityExclusionFilterValue"] for f in properties["ImageTagMutabilityExclusionFilters"]
    ] == [
        "dev-*",
        "latest",
    ]


def test_pull_is_granted_to_named_roles_and_accounts_only():
    stack = Stack(App(), "Test")
    repository = ImageRepository(stack, "Images", pull_accounts=["111122223333"])
    role = ExecutionRole(stack, "Role", description="serving")
    repository.grant_pull(role.role)
    template = Template.from_stack(stack)
    policy = _repository(template)["Properties"]["RepositoryPolicyText"]
    (statement,) = policy["Statement"]
    assert statement["Principal"] == {
        "AWS": {"Fn::Join": ["", ["arn:", {"Ref": "AWS::Partition"}, ":iam::111122223333:root"]]}
    }
    assert "ecr:PutImage" not in json.dumps(policy)
    role_policy = json.dumps(template.find_resources("AWS::IAM::Policy"))
    assert "ecr:BatchGetImage" in role_policy


def test_destroy_opt_out_empties_the_repository():
    _, template = _template(removal_policy=RemovalPolicy.DESTROY)
    assert _repository(template)["DeletionPolicy"] == "Delete"
    assert _repository(template)["Properties"]["EmptyOnDelete"] is True


@pytest.mark.parametrize(
    ("props", "message"),
    [
        ({"pull_accounts": ["*"]}, r"pull account '\*': name each account by its 12-digit ID"),
        ({"mutable_tag_patterns": ["*"]}, r"makes every tag mutable"),
        (
            {"mutable_tag_patterns": [f"t{i}-*" for i in range(6)]},
            r"6 mutable tag patterns: ECR takes at most 5",
        ),
        ({"mutable_tag_patterns": ["dev/*"]}, r"mutable tag pattern 'dev/\*'"),
        ({"keep_tagged_images": 0}, r"keep_tagged_images=0"),
        ({"expire_untagged_after": Duration.hours(12)}, r"1 day or more"),
        ({"repository_name": "ML/Serving"}, r"repository_name='ML/Serving'"),
    ],
)
def test_refused_with_the_reason(props, message):
    with pytest.raises(RepositoryError, match=message):
        _template(**props)
