"""Data apps keep on the host: app properties on repositories, commits, pull requests and users
(connect-spec §7.5), and the values registered for their linkers (§7.4)."""
