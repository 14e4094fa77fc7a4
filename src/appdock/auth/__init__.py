"""Who is calling: request credentials to an AuthSubject, and the declared scope checks."""
