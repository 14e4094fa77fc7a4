"""The simple issue tracker of a repository: issues, comments, changes; REST 2.0 and pages."""
