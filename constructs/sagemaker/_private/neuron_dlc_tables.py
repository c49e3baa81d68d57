"""Neuron (Inferentia/Trainium) Deep Learning Containers that the SageMaker SDK's tables do not cover.

Hand-written from AWS's published lists (checked 2026-11-25); keep the citations current when editing:

* Regions and accounts: the "Neuron Container" column of the region table in
  https://github.com/aws/deep-learning-containers/blob/d2846d66a6c9651c9dc13818fe7369f90dd58485/available_images.md
  (commit of 2026-02-09, the file's last revision before it moved to the generated documentation
  site, whose "Region Availability" page, docs/reference/region_availability.md, no longer has a
  Neuron column). Neuron images are published in those 12 regions only: not in eu-west-2, af-south-1,
  the China or GovCloud regions, among others (see also aws/deep-learning-containers issue #3981,
  "For Neuron Container to be released in eu-west-2").
* Tags: the same available_images.md "Neuron Containers" table, plus the per-image data files of the
  DLC documentation site, docs/src/data/pytorch-inference-neuronx/*.yml and
  docs/src/data/pytorch-training-neuronx/*.yml at aws/deep-learning-containers commit
  e0ecedea6a1c56d6b5914f9cfb2fec5c548e67e0 (2026-08-21), cross-checked against the ECR Public list in
  https://github.com/aws-neuron/deep-learning-containers README.md at commit
  2be9ed1d5da9d7c8e15d7abac1eb7f550ed3a723 (2026-08-17, Neuron SDK 2.32.0 release: no new PyTorch
  image; the newest PyTorch inference tag is ``2.9.0-neuronx-py312-sdk2.31.1-ubuntu24.04``, the newest
  training tag ``2.9.0-neuronx-py312-sdk2.30.0-ubuntu24.04``).

Only exact tags are listed (newest first); these repositories publish no floating aliases.
"""

SOURCE = (
    "aws/deep-learning-containers available_images.md@d2846d66a6c9 (2026-02-09) "
    "+ docs/src/data@e0ecedea6a1c (2026-08-21), checked 2026-11-25"
)

# Region -> DLC registry account, for the regions whose "Neuron Container" column says "Available".
NEURON_REGISTRIES: dict[str, str] = {
    "ap-east-2": "975050140332",
    "ap-northeast-1": "763104351884",
    "ap-south-1": "763104351884",
    "ap-southeast-1": "763104351884",
    "ap-southeast-2": "763104351884",
    "eu-central-1": "763104351884",
    "eu-west-1": "763104351884",
    "eu-west-3": "763104351884",
    "sa-east-1": "763104351884",
    "us-east-1": "763104351884",
    "us-east-2": "763104351884",
    "us-west-2": "763104351884",
}

REPOSITORIES: dict[str, dict] = {
    "pytorch-inference-neuronx": {
        "scopes": ("inference",),
        "processors": ("neuronx",),  # trn1, trn2, trn3, inf2
        "arch": "x86_64",
        "tags": (
            "2.9.0-neuronx-py312-sdk2.31.1-ubuntu24.04",
            "2.9.0-neuronx-py312-sdk2.31.0-ubuntu24.04",
            "2.9.0-neuronx-py312-sdk2.30.0-ubuntu24.04",
            "2.9.0-neuronx-py312-sdk2.29.1-ubuntu24.04",
            "2.9.0-neuronx-py312-sdk2.29.0-ubuntu24.04",
            "2.9.0-neuronx-py312-sdk2.28.0-ubuntu24.04",
            "2.9.0-neuronx-py312-sdk2.27.1-ubuntu24.04",
            "2.8.0-neuronx-py311-sdk2.26.1-ubuntu22.04",
            "2.7.0-neuronx-py310-sdk2.25.0-ubuntu22.04",
            "2.7.0-neuronx-py310-sdk2.24.1-ubuntu22.04",
            "2.6.0-neuronx-py310-sdk2.23.0-ubuntu22.04",
            "2.5.1-neuronx-py310-sdk2.22.0-ubuntu22.04",
            "2.1.2-neuronx-py310-sdk2.20.2-ubuntu20.04",
            "1.13.1-neuronx-py310-sdk2.20.2-ubuntu20.04",
        ),
    },
    "pytorch-training-neuronx": {
        "scopes": ("training",),
        "processors": ("neuronx",),  # trn1, trn2, trn3 (inf2 listed too)
        "arch": "x86_64",
        "tags": (
            "2.9.0-neuronx-py312-sdk2.30.0-ubuntu24.04",
            "2.9.0-neuronx-py312-sdk2.29.1-ubuntu24.04",
            "2.9.0-neuronx-py312-sdk2.29.0-ubuntu24.04",
            "2.9.0-neuronx-py312-sdk2.28.0-ubuntu24.04",
            "2.9.0-neuronx-py312-sdk2.27.1-ubuntu24.04",
            "2.8.0-neuronx-py311-sdk2.26.1-ubuntu22.04",
            "2.7.0-neuronx-py310-sdk2.25.0-ubuntu22.04",
            "2.7.0-neuronx-py310-sdk2.24.1-ubuntu22.04",
            "2.6.0-neuronx-py310-sdk2.23.0-ubuntu22.04",
            "2.5.1-neuronx-py310-sdk2.22.0-ubuntu22.04",
            "2.1.2-neuronx-py310-sdk2.20.2-ubuntu20.04",
            "1.13.1-neuronx-py310-sdk2.20.2-ubuntu20.04",
        ),
    },
    "pytorch-inference-neuron": {
        "scopes": ("inference",),
        "processors": ("neuron",),  # inf1
        "arch": "x86_64",
        "tags": ("1.13.1-neuron-py310-sdk2.20.2-ubuntu20.04",),
    },
}
