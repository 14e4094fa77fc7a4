"""The REST API 2.0 toolkit: pagination envelope, error envelope, and the router that mounts
every domain's ``routes.py`` under ``/api/2.0``."""
