"""The ``wsal`` command line (``wsal --help``; also ``python -m wsal``)."""
