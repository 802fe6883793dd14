"""Sub-commands of the `evotrans` CLI (see :mod:`evotrans.cli`)."""
