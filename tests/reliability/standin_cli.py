"""The `evotrans` CLI with the stand-in trainer, for driver tests that need no fairseq:
``python -m tests.reliability.standin_cli ARGS...`` (the arguments of ``evotrans``).

``STANDIN_GATE=PATH``: trials wait until ``PATH`` exists (the driver is then surely
running). ``STANDIN_FSIZE=BYTES``: this process writes no file larger than that
(``RLIMIT_FSIZE``: a full disk under the store).
"""

from __future__ import annotations

import os
import resource
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from evotrans.search.standin import StandinRunner
from evotrans.search.types import TrialRequest, TrialResult


@dataclass(frozen=True)
class GatedRunner:
    gate: str | None = None

    def __call__(self, request: TrialRequest) -> TrialResult:
        while self.gate and not Path(self.gate).exists():
            time.sleep(0.02)
        return StandinRunner()(request)


def main(argv: list[str]) -> int:
    from evotrans import launch
    from evotrans.cli import main as cli
    from evotrans.launch import local

    runner = GatedRunner(os.environ.get("STANDIN_GATE"))
    launch.default_runner = local.default_runner = lambda: runner
    limit = os.environ.get("STANDIN_FSIZE")
    if limit:
        resource.setrlimit(resource.RLIMIT_FSIZE, (int(limit), resource.RLIM_INFINITY))
    return cli(argv)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
