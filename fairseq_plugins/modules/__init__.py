"""Building blocks of the plugin models (torch + fairseq)."""
