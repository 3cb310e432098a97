"""Learning-rate schedules as pure functions of the step, composed into a plan.

One family per module, registered by ``kind``; ``Plan`` turns a family into the LR of each
update. Importing this package registers every family.
"""

from unified_prior.schedules import constant, cosine, inverse_sqrt, linear, wsd
from unified_prior.schedules.base import DecayingSpec, ScheduleSpec
from unified_prior.schedules.constant import ConstantSpec
from unified_prior.schedules.cosine import CosineSpec
from unified_prior.schedules.inverse_sqrt import InverseSqrtSpec
from unified_prior.schedules.linear import LinearSpec
from unified_prior.schedules.plan import LR_SCALE_KEY, Plan, Segment
from unified_prior.schedules.registry import FAMILIES, register, spec_from_dict
from unified_prior.schedules.wsd import WSDSpec

AnySpec = ConstantSpec | CosineSpec | LinearSpec | WSDSpec | InverseSqrtSpec

__all__ = [
    "FAMILIES",
    "LR_SCALE_KEY",
    "AnySpec",
    "ConstantSpec",
    "CosineSpec",
    "DecayingSpec",
    "InverseSqrtSpec",
    "LinearSpec",
    "Plan",
    "ScheduleSpec",
    "Segment",
    "WSDSpec",
    "constant",
    "cosine",
    "inverse_sqrt",
    "linear",
    "register",
    "spec_from_dict",
    "wsd",
]
