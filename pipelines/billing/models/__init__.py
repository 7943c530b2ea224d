"""Pricing models, one module each, behind ``ChargeModel``."""

from pipelines.billing.models.base import ChargeModel, ChargeUsage, PricedAmount
from pipelines.billing.models.flat_fee import FlatFee
from pipelines.billing.models.graduated import Graduated
from pipelines.billing.models.package import Package
from pipelines.billing.models.per_unit import PerUnit
from pipelines.billing.models.percentage import Percentage
from pipelines.billing.models.volume import Volume
from pipelines.billing.vocabulary import PricingModel

MODEL_CLASSES: dict[PricingModel, type[ChargeModel]] = {
    cls.model: cls for cls in (FlatFee, PerUnit, Graduated, Volume, Package, Percentage)
}

__all__ = ["MODEL_CLASSES", "ChargeModel", "ChargeUsage", "PricedAmount", "FlatFee", "PerUnit",
           "Graduated", "Volume", "Package", "Percentage"]
