"""Multi-domain tile data: domains, the ``.pt`` tile dataset, labels, balanced resumable
sampling and the micro-batch stream; ``sample`` builds the bundled sample dataset."""

from unified_prior.data.batch import Batch, BatchStream, build_batch
from unified_prior.data.domains import SENSOR_KEYS, Domain, DomainRegistry
from unified_prior.data.labels import LabelStats
from unified_prior.data.sampler import BalancedSampler
from unified_prior.data.seeds import derive_seed, seeded_generator
from unified_prior.data.tiles import TileDataset

__all__ = [
    "SENSOR_KEYS",
    "BalancedSampler",
    "Batch",
    "BatchStream",
    "Domain",
    "DomainRegistry",
    "LabelStats",
    "TileDataset",
    "build_batch",
    "derive_seed",
    "seeded_generator",
]
