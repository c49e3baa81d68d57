"""A Rekognition face collection: the face vectors that image and video face search compare against.

A collection holds biometric data (one vector per indexed face), so it is retained when the stack is
deleted unless the caller asks otherwise, like the buckets and keys of this catalog. Rekognition encrypts the
vectors at rest with its own keys; a collection takes no customer managed key ("Data encryption", Amazon
Rekognition Developer Guide).
"""

from __future__ import annotations

from aws_cdk import Arn, ArnComponents, ArnFormat, RemovalPolicy, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_rekognition as rekognition

from constructs import Construct
from mlblueprints.constructs._private.names import unique_name_with_stack_suffix

__all__ = ["FaceCollection"]

# CollectionId: [a-zA-Z0-9_.\-]+, at most 255 characters (botocore's rekognition model, CollectionId).
MAX_COLLECTION_ID = 255


class FaceCollection(Construct):
    """An ``AWS::Rekognition::Collection`` with the grants its readers and writers need."""

    def __init__(
        self, scope: Construct, id: str, *, removal_policy: RemovalPolicy = RemovalPolicy.RETAIN
    ) -> None:
        super().__init__(scope, id)
        # The stack ID's first block keeps a retained collection from blocking the next deploy of the same stack.
        self.collection_id = unique_name_with_stack_suffix(self, max_length=MAX_COLLECTION_ID)
        self.resource = rekognition.CfnCollection(self, "Resource", collection_id=self.collection_id)
        self.resource.apply_removal_policy(removal_policy)
        self.collection_arn = self.resource.attr_arn
        # The ARN as the IAM policies of callers name it, known at synth from the ID.
        self.policy_arn = Arn.format(
            ArnComponents(
                service="rekognition",
                resource="collection",
                resource_name=self.collection_id,
                arn_format=ArnFormat.SLASH_RESOURCE_NAME,
            ),
            Stack.of(self),
        )

    def grant_search(self, grantee: iam.IGrantable) -> iam.Grant:
        """Search the collection by image (SearchFacesByImage) and by face ID (SearchFaces)."""
        return iam.Grant.add_to_principal(
            grantee=grantee,
            actions=["rekognition:SearchFacesByImage", "rekognition:SearchFaces"],
            resource_arns=[self.policy_arn],
        )

    def grant_index(self, grantee: iam.IGrantable) -> iam.Grant:
        """Add faces (IndexFaces), list them, and delete them (people may ask to be removed)."""
        return iam.Grant.add_to_principal(
            grantee=grantee,
            actions=["rekognition:IndexFaces", "rekognition:ListFaces", "rekognition:DeleteFaces"],
            resource_arns=[self.policy_arn],
        )
