"""The ``gnnpt`` command line: a thin layer over the library."""
