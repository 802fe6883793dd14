"""fairseq model registrations (imported by ``--user-dir`` and by the package)."""

from fairseq_plugins.models import (  # noqa: F401
    genome_lm,
    genome_transformer,
    primer_lm,
    sublayer_lm,
    sublayer_transformer,
)
