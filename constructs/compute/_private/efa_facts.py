"""EFA interfaces per EC2 instance type, where AWS documents the number (checked 2026-11).

botocore's EC2 model carries no instance-type data (``EfaInfo.MaximumEfaInterfaces`` is only a shape
of the DescribeInstanceTypes response), so the counts are written down here from:

- Amazon EC2 User Guide, "Elastic Fabric Adapter", supported instance types (accelerated computing:
  g5.8xlarge to g5.48xlarge, p4d.24xlarge, p4de.24xlarge, trn1.32xlarge, trn1n.32xlarge), and
  "Network cards": "You can assign up to one EFA per network card"; p4d.24xlarge and p4de.24xlarge
  have 4 network cards, trn1.32xlarge 8, trn1n.32xlarge 16, every other type one.
- Amazon EC2 User Guide, "Maximize network bandwidth on Amazon EC2 instances with multiple network
  cards" (efa-acc-inst-types): the p5.48xlarge example requests "32 EFA devices and one ENA device".
- AWS Neuron documentation, "How to prepare trn1.32xlarge for multi-node execution":
  "trn1.32xlarge has 8 EFA devices, trn1n.32xlarge has 16 EFA devices", and EFA "is currently not
  available on the smaller instances sizes".

A type missing here is not known to this catalog (p5e, p5en, g6, g6e, trn2 among them, which AWS
documents only through DescribeInstanceTypes): a fleet refuses EFA on it unless the user states the
count (``aws ec2 describe-instance-types --query 'InstanceTypes[].NetworkInfo.EfaInfo'``).
"""

from __future__ import annotations

EFA_INTERFACES: dict[str, int] = {
    "g5.8xlarge": 1,
    "g5.12xlarge": 1,
    "g5.16xlarge": 1,
    "g5.24xlarge": 1,
    "g5.48xlarge": 1,
    "p4d.24xlarge": 4,
    "p4de.24xlarge": 4,
    "p5.48xlarge": 32,
    "trn1.32xlarge": 8,
    "trn1n.32xlarge": 16,
}
