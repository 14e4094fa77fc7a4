"""Users, workspaces (teams and personal), memberships, projects, app passwords, logins."""
