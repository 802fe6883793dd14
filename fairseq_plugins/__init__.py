"""fairseq plugins of evotrans: models whose sublayer order or genome is data.

Load with ``fairseq-train --user-dir $(evotrans plugin-dir) --arch sublayer_lm ...``
or import the installed package. Importing it registers the architectures and
allow-lists the few globals fairseq checkpoints pickle, so checkpoints load
with torch's ``weights_only`` protection left on (see :mod:`.safe_globals`);
a checkpoint naming any other global is refused with one line, in fairseq's
tools too (:mod:`.checkpoints`).
"""

from fairseq_plugins import checkpoints as _checkpoints
from fairseq_plugins import cli_help as _cli_help
from fairseq_plugins import safe_globals as _safe_globals

_safe_globals.register()
_checkpoints.install()
_cli_help.install()

from fairseq_plugins import models  # noqa: E402,F401  (registers the architectures)
