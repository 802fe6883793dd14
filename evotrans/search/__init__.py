"""Architecture search: algorithms, search spaces and the driver loop.

Modules (each imported on its own; none imports torch or fairseq):

- :mod:`~evotrans.search.types`    ``TrialRequest``, ``TrialResult``, ``TrialStatus``, steps rule
- :mod:`~evotrans.search.config`   ``SearchConfig`` (the ``[search]`` table)
- :mod:`~evotrans.search.registry` the algorithm names and their classes
- :mod:`~evotrans.search.params`   ``AlgorithmParams`` (each algorithm's own keys)
- :mod:`~evotrans.search.spaces`   ``SearchSpace`` protocol, ``OrderSpace``, ``space_from_config``
- :mod:`~evotrans.search.spaces.genome`  ``GenomeSpace`` (Evolved Transformer genomes)
- :mod:`~evotrans.search.base`     ``SearchAlgorithm`` (ask/tell over the store)
- :mod:`~evotrans.search.pdh`, :mod:`~evotrans.search.evolution`,
  :mod:`~evotrans.search.random_search`, :mod:`~evotrans.search.asha`,
  :mod:`~evotrans.search.sweep`    the algorithms
- :mod:`~evotrans.search.hurdles`  the PDH hurdle rules
- :mod:`~evotrans.search.driver`   the loop that runs trials on a launcher
- :mod:`~evotrans.search.standin`  a fast deterministic stand-in trial runner
"""

from evotrans.search.types import TrialRequest, TrialResult

__all__ = ["TrialRequest", "TrialResult"]
