"""fairseq model registrations (imported by ``--user-dir`` and by the package)."""

from fairseq_plugins.models import sublayer_lm, sublayer_transformer  # noqa: F401
