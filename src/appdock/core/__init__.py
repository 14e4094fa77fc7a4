"""Framework-free toolkit shared by every domain. Imports no domain package."""
