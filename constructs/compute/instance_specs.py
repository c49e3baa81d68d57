"""vCPUs and memory (GiB) of the instance types SageMaker hosts on: what a copy of an inference
component can ask for.

SageMaker's ``ml.<family>.<size>`` types are the EC2 types of the same name. botocore carries no
sizes, so they are written down here, each family from AWS-published sources, cross-checked where
two cover the same size (no conflicts):

- [awsdocs] the EC2 User Guide's "Hardware specifications" tables, AWS's Markdown source
  (github.com/awsdocs/amazon-ec2-user-guide, doc_source/accelerated-computing-instances.md and the
  general purpose, compute and memory optimized pages; archived June 2023);
- [karpenter] AWS's Karpenter instance-types reference, generated from EC2 DescribeInstanceTypes
  (github.com/aws/karpenter-provider-aws, website/content/en/docs/reference/instance-types.md):
  the only source for families launched after June 2023 (g6, g6e, p5, p5e, p5en, trn2, c7i, m7i, r7i);
- [hyperpod] AWS's sagemaker-hyperpod-cli ``INSTANCE_RESOURCES`` table (a cross-check);
- [neuron] the AWS Neuron architecture docs (Inferentia and Trainium hosts).

SageMaker keeps part of each instance for itself when it places copies (its Python SDK: inference
component limits "are lower than raw EC2 memory"); it does not publish how much, so these are upper
bounds: a copy that asks for more than the instance has is refused, one that asks for nearly all of
it may still not be placed.
"""

from __future__ import annotations

from mlblueprints.constructs.compute.instance_types import InstanceType

__all__ = ["instance_specs"]

_SPECS: dict[str, dict[str, tuple[int, int]]] = {
    # --- g4dn --- confirmed from: awsdocs, karpenter
    "g4dn": {
        "xlarge": (4, 16),
        "2xlarge": (8, 32),
        "4xlarge": (16, 64),
        "8xlarge": (32, 128),
        "12xlarge": (48, 192),
        "16xlarge": (64, 256),
    },
    # --- g5 --- confirmed from: awsdocs, hyperpod, karpenter
    "g5": {
        "xlarge": (4, 16),
        "2xlarge": (8, 32),
        "4xlarge": (16, 64),
        "8xlarge": (32, 128),
        "12xlarge": (48, 192),
        "16xlarge": (64, 256),
        "24xlarge": (96, 384),
        "48xlarge": (192, 768),
    },
    # --- g6 --- confirmed from: hyperpod, karpenter
    "g6": {
        "xlarge": (4, 16),
        "2xlarge": (8, 32),
        "4xlarge": (16, 64),
        "8xlarge": (32, 128),
        "12xlarge": (48, 192),
        "16xlarge": (64, 256),
        "24xlarge": (96, 384),
        "48xlarge": (192, 768),
    },
    # --- g6e --- confirmed from: hyperpod, karpenter
    "g6e": {
        "xlarge": (4, 32),
        "2xlarge": (8, 64),
        "4xlarge": (16, 128),
        "8xlarge": (32, 256),
        "12xlarge": (48, 384),
        "16xlarge": (64, 512),
        "24xlarge": (96, 768),
        "48xlarge": (192, 1536),
    },
    # --- p3 --- confirmed from: awsdocs
    "p3": {
        "2xlarge": (8, 61),
        "8xlarge": (32, 244),
        "16xlarge": (64, 488),
    },
    # --- p3dn --- confirmed from: awsdocs, karpenter
    #   NOTE: ml.p3dn.* is not a SageMaker hosting instance type (EC2 only).
    "p3dn": {
        "24xlarge": (96, 768),
    },
    # --- p4d --- confirmed from: awsdocs, hyperpod, karpenter
    "p4d": {
        "24xlarge": (96, 1152),
    },
    # --- p4de --- confirmed from: awsdocs, hyperpod, karpenter
    "p4de": {
        "24xlarge": (96, 1152),
    },
    # --- p5 --- confirmed from: hyperpod, karpenter
    "p5": {
        "48xlarge": (192, 2048),
        "4xlarge": (16, 256),
    },
    # --- p5e --- confirmed from: hyperpod, karpenter
    "p5e": {
        "48xlarge": (192, 2048),
    },
    # --- p5en --- confirmed from: hyperpod, karpenter
    "p5en": {
        "48xlarge": (192, 2048),
    },
    # --- inf1 --- confirmed from: awsdocs, karpenter, neuron
    "inf1": {
        "xlarge": (4, 8),
        "2xlarge": (8, 16),
        "6xlarge": (24, 48),
        "24xlarge": (96, 192),
    },
    # --- inf2 --- confirmed from: awsdocs, karpenter, neuron
    "inf2": {
        "xlarge": (4, 16),
        "8xlarge": (32, 128),
        "24xlarge": (96, 384),
        "48xlarge": (192, 768),
    },
    # --- trn1 --- confirmed from: awsdocs, hyperpod, karpenter, neuron
    "trn1": {
        "2xlarge": (8, 32),
        "32xlarge": (128, 512),
    },
    # --- trn1n --- confirmed from: awsdocs, hyperpod, karpenter, neuron
    "trn1n": {
        "32xlarge": (128, 512),
    },
    # --- trn2 --- confirmed from: hyperpod, karpenter, neuron
    "trn2": {
        "48xlarge": (192, 2048),
    },
    # --- c5 --- confirmed from: awsdocs, hyperpod, karpenter
    "c5": {
        "large": (2, 4),
        "xlarge": (4, 8),
        "2xlarge": (8, 16),
        "4xlarge": (16, 32),
        "9xlarge": (36, 72),
        "18xlarge": (72, 144),
    },
    # --- c6i --- confirmed from: awsdocs, hyperpod, karpenter
    "c6i": {
        "large": (2, 4),
        "xlarge": (4, 8),
        "2xlarge": (8, 16),
        "4xlarge": (16, 32),
        "8xlarge": (32, 64),
        "12xlarge": (48, 96),
        "16xlarge": (64, 128),
        "24xlarge": (96, 192),
        "32xlarge": (128, 256),
    },
    # --- c7i --- confirmed from: karpenter
    "c7i": {
        "large": (2, 4),
        "xlarge": (4, 8),
        "2xlarge": (8, 16),
        "4xlarge": (16, 32),
        "8xlarge": (32, 64),
        "12xlarge": (48, 96),
        "16xlarge": (64, 128),
        "24xlarge": (96, 192),
        "48xlarge": (192, 384),
    },
    # --- m5 --- confirmed from: awsdocs, hyperpod, karpenter
    "m5": {
        "large": (2, 8),
        "xlarge": (4, 16),
        "2xlarge": (8, 32),
        "4xlarge": (16, 64),
        "12xlarge": (48, 192),
        "24xlarge": (96, 384),
    },
    # --- m6i --- confirmed from: awsdocs, hyperpod, karpenter
    "m6i": {
        "large": (2, 8),
        "xlarge": (4, 16),
        "2xlarge": (8, 32),
        "4xlarge": (16, 64),
        "8xlarge": (32, 128),
        "12xlarge": (48, 192),
        "16xlarge": (64, 256),
        "24xlarge": (96, 384),
        "32xlarge": (128, 512),
    },
    # --- m7i --- confirmed from: hyperpod, karpenter
    "m7i": {
        "large": (2, 8),
        "xlarge": (4, 16),
        "2xlarge": (8, 32),
        "4xlarge": (16, 64),
        "8xlarge": (32, 128),
        "12xlarge": (48, 192),
        "16xlarge": (64, 256),
        "24xlarge": (96, 384),
        "48xlarge": (192, 768),
    },
    # --- r5 --- confirmed from: awsdocs, karpenter
    "r5": {
        "large": (2, 16),
        "xlarge": (4, 32),
        "2xlarge": (8, 64),
        "4xlarge": (16, 128),
        "12xlarge": (48, 384),
        "24xlarge": (96, 768),
    },
    # --- r6i --- confirmed from: awsdocs, hyperpod, karpenter
    "r6i": {
        "large": (2, 16),
        "xlarge": (4, 32),
        "2xlarge": (8, 64),
        "4xlarge": (16, 128),
        "8xlarge": (32, 256),
        "12xlarge": (48, 384),
        "16xlarge": (64, 512),
        "24xlarge": (96, 768),
        "32xlarge": (128, 1024),
    },
    # --- r7i --- confirmed from: hyperpod, karpenter
    "r7i": {
        "large": (2, 16),
        "xlarge": (4, 32),
        "2xlarge": (8, 64),
        "4xlarge": (16, 128),
        "8xlarge": (32, 256),
        "12xlarge": (48, 384),
        "16xlarge": (64, 512),
        "24xlarge": (96, 768),
        "48xlarge": (192, 1536),
    },
}


def instance_specs(instance: InstanceType) -> tuple[int, int] | None:
    """``(vCPUs, memory GiB)`` of ``instance``, or ``None`` where not written down here."""
    return _SPECS.get(instance.family, {}).get(instance.size)
