"""The hyperpod-cluster example as the contract synthesized it: the snapshot (targeted assertions are in
tests/constructs/hyperpod/test_cluster.py)."""

from __future__ import annotations

from conftest import mask_template


def test_template_snapshot(contract_templates, snapshot_json):
    assert mask_template(contract_templates["TrainiumCluster-agnostic"]) == snapshot_json
