"""Pull requests: open, review, comment, merge with git, decline; REST 2.0 and pages."""
