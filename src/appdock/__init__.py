"""appdock: a self-hosted code host whose app platform speaks Atlassian Connect."""

__version__ = "0.1.0"
