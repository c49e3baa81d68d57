"""On-demand prices: from the AWS Price List API when AWS credentials are present, else from the
bundled snapshot (``data/prices.json``: us-east-1, each price with its source and the source's date).

The Price List API (``pricing:GetProducts``) answers from us-east-1 for every region. SageMaker's
products carry ``instanceName`` (``ml.g5.xlarge``) and ``component`` (``Hosting``, ``Training``);
EC2's ``instanceType``, ``operatingSystem`` Linux, ``tenancy`` Shared, ``preInstalledSw`` NA and
``capacitystatus`` Used (the on-demand price of a running instance).
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass
from importlib import resources

from mlblueprints.constructs.errors import MlBlueprintsError, Problem

__all__ = ["Price", "PriceBook", "snapshot", "snapshot_date"]

_SECTIONS = {"hosting": "sagemaker_hosting", "training": "sagemaker_training", "ec2": "ec2"}


@dataclass(frozen=True)
class Price:
    """A price (per hour for instances, per its unit for fixed items), its source and that source's date.

    ``confirmed`` is False for a snapshot price whose source could not be traced to AWS or a named
    repository: shown with a mark, so nobody budgets on it unknowingly."""

    hourly: float
    source: str
    as_of: str
    confirmed: bool = True


@functools.cache
def snapshot() -> dict:
    """The bundled price snapshot."""
    return json.loads(resources.files("mlblueprints.apps.cli").joinpath("data/prices.json").read_text())


def snapshot_date() -> str:
    return snapshot()["as_of"]


class PriceBook:
    """Hourly on-demand prices of instance types and the catalog's fixed items, in one region."""

    def __init__(self, region: str = "us-east-1", *, pricing_client=None) -> None:
        self.region = region
        self.client = pricing_client
        self.data = snapshot()

    @classmethod
    def best_available(cls, region: str = "us-east-1") -> PriceBook:
        """The Price List API when credentials are present (and the region is not the snapshot's), else the snapshot."""
        try:
            import boto3

            session = boto3.Session()
            if session.get_credentials() is not None:
                return cls(region, pricing_client=session.client("pricing", region_name="us-east-1"))
        except Exception:
            pass
        return cls(region)

    @property
    def live(self) -> bool:
        return self.client is not None

    def require_prices(self) -> None:
        """Refuse a region the bundled snapshot has no prices for (without credentials for the API)."""
        if self.client is None and self.region != self.data["region"]:
            raise MlBlueprintsError(
                Problem(
                    f"--region {self.region}: the bundled prices are {self.data['region']}'s only; with AWS credentials "
                    "the Price List API answers for any region. Use --region us-east-1, or configure credentials.",
                    setting="region",
                    value=self.region,
                )
            )

    def instance(self, kind: str, name: str) -> Price | None:
        """``kind``: hosting, training or ec2."""
        if self.client is not None:
            found = self._from_api(kind, name)
            if found is not None:
                return found
        if self.region != self.data["region"]:
            return None
        return self._snapshot_price(self.data[_SECTIONS[kind]].get(name), "hourly")

    def fixed(self, item: str) -> Price | None:
        """A fixed item's price in its own unit (``kms_key_month``: per key per month)."""
        return self._snapshot_price(self.data["fixed"].get(item), "usd")

    def _snapshot_price(self, entry: dict | None, field: str) -> Price | None:
        if not entry or entry.get(field) is None:
            return None
        return Price(
            float(entry[field]),
            entry.get("source", ""),
            entry.get("source_date") or self.data["as_of"],
            entry.get("confirmed", True),
        )

    def _from_api(self, kind: str, name: str) -> Price | None:
        if kind == "ec2":
            service, filters = "AmazonEC2", {
                "instanceType": name, "operatingSystem": "Linux", "tenancy": "Shared",
                "preInstalledSw": "NA", "capacitystatus": "Used", "regionCode": self.region,
            }  # fmt: skip
        else:
            service, filters = "AmazonSageMaker", {
                "instanceName": name, "component": "Hosting" if kind == "hosting" else "Training",
                "regionCode": self.region,
            }  # fmt: skip
        response = self.client.get_products(
            ServiceCode=service,
            Filters=[
                {"Type": "TERM_MATCH", "Field": field, "Value": value} for field, value in filters.items()
            ],
            MaxResults=10,
        )
        for item in response.get("PriceList", []):
            product = json.loads(item) if isinstance(item, str) else item
            for term in product.get("terms", {}).get("OnDemand", {}).values():
                for dimension in term.get("priceDimensions", {}).values():
                    usd = dimension.get("pricePerUnit", {}).get("USD")
                    if usd and float(usd) > 0:
                        return Price(
                            float(usd),
                            f"AWS Price List API ({service})",
                            product.get("publicationDate", "live"),
                        )
        return None
