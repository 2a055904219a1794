"""``aiinfra.train``: distributed training over Ray Train with the fabric's NCCL environment.

Example:
    >>> from aiinfra import train
    >>> result = train.fit(lambda cfg: None, gpus=16, cluster_def="clusters/a800-ib.yaml")  # doctest: +SKIP
"""

from aiinfra.train.in_worker import WorldInfo, rank_map, report, world_info
from aiinfra.train.trainer import FitResult, fit

__all__ = ["FitResult", "WorldInfo", "fit", "rank_map", "report", "world_info"]
