"""The app platform: Atlassian Connect descriptors, installations, JWT, and UI modules."""
