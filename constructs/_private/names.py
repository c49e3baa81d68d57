"""Physical names that are unique per construct and new for each re-creation of a stack.

Retained resources (log groups above all) outlive a deleted stack. A name that ends with a block of
the stack's own ID (``arn:...:stack/<name>/<uuid>``: the uuid's first 8 hex digits) is different for
the re-created stack, so it never collides with what the deleted one left behind.
"""

from __future__ import annotations

import re

from aws_cdk import Aws, Fn, Names

from constructs import Construct

# The stack-ID block is 8 hex characters, joined with "-".
STACK_SUFFIX_LENGTH = 9


def stack_id_suffix() -> str:
    """First block of the stack's UUID, as a CloudFormation expression."""
    return Fn.select(0, Fn.split("-", Fn.select(2, Fn.split("/", Aws.STACK_ID))))


def unique_base_name(scope: Construct, max_length: int) -> str:
    """The construct path as a name of letters, digits and hyphens, at most ``max_length`` long."""
    name = Names.unique_resource_name(scope, max_length=max_length, separator="-")
    name = re.sub(r"[^a-zA-Z0-9-]", "-", name).strip("-")
    return re.sub(r"-{2,}", "-", name)


def unique_name_with_stack_suffix(scope: Construct, max_length: int = 63) -> str:
    """``<construct path>-<stack-ID block>``, at most ``max_length`` characters once resolved."""
    return f"{unique_base_name(scope, max_length - STACK_SUFFIX_LENGTH)}-{stack_id_suffix()}"
