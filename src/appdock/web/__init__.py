"""Server-rendered pages: the Jinja environment, layout, flash messages and static files."""
