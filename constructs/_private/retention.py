"""Removal policies for data the catalog keeps."""

from __future__ import annotations

from aws_cdk import RemovalPolicy


def named_log_group_removal_policy(removal_policy: RemovalPolicy) -> RemovalPolicy:
    """``RETAIN`` for a log group with a fixed name, except when its stack's first creation rolls back.

    Kept on stack deletion and replacement; removed on a failed first create, so that the retry does
    not collide with the group its own rollback left behind.
    """
    return (
        RemovalPolicy.RETAIN_ON_UPDATE_OR_DELETE if removal_policy is RemovalPolicy.RETAIN else removal_policy
    )
