"""PrivateSite's checks of what it is asked to serve, without a synth."""

from __future__ import annotations

import pytest
from conftest import STAND_IN_SITE

from mlblueprints.constructs.hosting.private_site import MAX_CIDRS, site_problems

CERTIFICATE = "arn:aws:acm:us-east-1:123456789012:certificate/0a1b2c3d-0a1b-0a1b-0a1b-0a1b2c3d4e5f"


def _messages(**kwargs) -> list[str]:
    return [
        p.message
        for p in site_problems(**{"folder": STAND_IN_SITE, "allowed_cidrs": ["192.0.2.0/24"], **kwargs})
    ]


@pytest.mark.parametrize(
    "name", ["docs.example.com", "*.docs.example.com", "docs.example.xn--p1ai", "a-b.example.io"]
)
def test_a_dns_name_cloudfront_takes_is_accepted(name):
    assert _messages(domain_name=name, certificate_arn=CERTIFICATE) == []


@pytest.mark.parametrize(
    "name", ["Docs.example.com", "a.-b.com", "example", "docs..example.com", "-a.example.com"]
)
def test_a_name_that_is_not_a_dns_name_is_refused(name):
    assert any(
        "is not a lower-case DNS name" in m for m in _messages(domain_name=name, certificate_arn=CERTIFICATE)
    )


def test_a_certificate_outside_us_east_1_is_refused():
    wrong = CERTIFICATE.replace("us-east-1", "eu-west-1")
    assert any("not an ACM certificate ARN in us-east-1" in m for m in _messages(domain_name="d.example.com",
                                                                                  certificate_arn=wrong))  # fmt: skip


def test_the_ip_set_limit_counts_each_ip_version_on_its_own():
    ipv4 = [f"20.{i // 256}.{i % 256}.0/24" for i in range(6000)]
    ipv6 = [f"2001:db8:{i:x}::/48" for i in range(6000)]
    assert _messages(allowed_cidrs=ipv4 + ipv6) == []
    too_many = [f"20.{i // 65536}.{i // 256 % 256}.{i % 256}/32" for i in range(MAX_CIDRS + 1)]
    assert any("at most 10000 ranges of each IP version" in m for m in _messages(allowed_cidrs=too_many))


def test_a_network_with_host_bits_set_is_refused_with_the_form_to_write():
    (message,) = _messages(allowed_cidrs=["20.0.0.1/8"])
    assert "is not a CIDR block" in message and "198.51.100.0/24" in message


@pytest.mark.parametrize("cidr", ["10.20.0.0/16", "192.168.1.0/24", "100.64.0.0/16", "fd00::/8", "127.0.0.1"])
def test_a_range_cloudfront_never_sees_is_refused(cidr):
    (message,) = _messages(allowed_cidrs=[cidr])
    assert "private or local range, which CloudFront never sees" in message and "public (egress)" in message


def test_a_missing_folder_is_named_as_missing_not_as_lacking_an_index(tmp_path):
    (message,) = _messages(folder=tmp_path / "nowhere")
    assert "is not a folder" in message and "make docs" in message
