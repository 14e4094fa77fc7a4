"""Repositories as a product: model rules, git smart HTTP, REST, pages, push events."""
