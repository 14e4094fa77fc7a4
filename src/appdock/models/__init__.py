"""ORM classes, one file per table. Importing this package registers every table."""

from appdock.models.app_password import AppPassword
from appdock.models.base import Base
from appdock.models.membership import Membership
from appdock.models.project import Project
from appdock.models.user import User
from appdock.models.web_session import WebSession
from appdock.models.workspace import Workspace

__all__ = ["AppPassword", "Base", "Membership", "Project", "User", "WebSession", "Workspace"]
