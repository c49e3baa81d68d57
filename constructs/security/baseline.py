"""The security baseline every blueprint starts from, in one call: a data key and a private network."""

from __future__ import annotations

from dataclasses import dataclass

from aws_cdk import RemovalPolicy, Stack

from constructs import Construct
from mlblueprints.constructs.security.encryption_key import EncryptionKey
from mlblueprints.constructs.security.private_network import PrivateNetwork

__all__ = ["SecurityBaseline"]


@dataclass(frozen=True)
class SecurityBaseline:
    """The stack's rotating KMS key (``Key``) and, unless opted out, its isolated VPC (``Network``).

    Created directly in ``scope`` with the IDs ``Key`` and ``Network``: the construct IDs every
    blueprint has deployed with, so that moving a blueprint onto the baseline replaces nothing.
    """

    key: EncryptionKey
    network: PrivateNetwork | None

    @classmethod
    def create(
        cls,
        scope: Construct,
        *,
        create_vpc: bool = True,
        vpc_cidr: str = "10.80.0.0/16",
        removal_policy: RemovalPolicy = RemovalPolicy.RETAIN,
        single_zone: bool = False,
        max_azs: int = 2,
        sagemaker_endpoints: bool = True,
    ) -> SecurityBaseline:
        key = EncryptionKey(
            scope,
            "Key",
            description=f"Encrypts the data of stack {Stack.of(scope).stack_name}: volumes, logs, alarm topic",
            removal_policy=removal_policy,
        )
        network = (
            PrivateNetwork(
                scope,
                "Network",
                encryption_key=key.key,
                cidr=vpc_cidr,
                removal_policy=removal_policy,
                single_zone=single_zone,
                max_azs=max_azs,
                sagemaker_endpoints=sagemaker_endpoints,
            )
            if create_vpc
            else None
        )
        return cls(key=key, network=network)
