"""Data in: the Nova RFT row rule (records), training and held-out prompts (loaders, sources), what rlaif
ships (packaged prompt and labelled sets, the packaged model). The lowest layer above ``rlaif.errors``."""
