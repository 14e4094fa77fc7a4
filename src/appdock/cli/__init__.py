"""The ``appdock`` command line."""
