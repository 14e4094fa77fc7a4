"""ORM classes, one file per table. Importing this package registers every table."""

from appdock.models.app_access_token import AppAccessToken
from appdock.models.app_client_key import AppClientKey
from appdock.models.app_grant import AppGrant
from appdock.models.app_linker_value import AppLinkerValue
from appdock.models.app_password import AppPassword
from appdock.models.app_property import AppProperty
from appdock.models.base import Base
from appdock.models.commit_status import CommitStatus
from appdock.models.event import Event
from appdock.models.installation import Installation
from appdock.models.issue import Issue
from appdock.models.issue_change import IssueChange
from appdock.models.issue_comment import IssueComment
from appdock.models.marketplace_listing import MarketplaceListing
from appdock.models.membership import Membership
from appdock.models.project import Project
from appdock.models.pullrequest import PullRequest
from appdock.models.pullrequest_comment import PullRequestComment
from appdock.models.pullrequest_participant import PullRequestParticipant
from appdock.models.pullrequest_task import PullRequestTask
from appdock.models.repository import Repository
from appdock.models.user import User
from appdock.models.web_session import WebSession
from appdock.models.webhook_attempt import WebhookAttempt
from appdock.models.webhook_delivery import WebhookDelivery
from appdock.models.webhook_route import WebhookRoute
from appdock.models.webhook_subscription import WebhookSubscription
from appdock.models.workspace import Workspace

__all__ = [
    "AppAccessToken",
    "AppClientKey",
    "AppGrant",
    "AppLinkerValue",
    "AppPassword",
    "AppProperty",
    "Base",
    "CommitStatus",
    "Event",
    "Installation",
    "Issue",
    "IssueChange",
    "IssueComment",
    "MarketplaceListing",
    "Membership",
    "Project",
    "PullRequest",
    "PullRequestComment",
    "PullRequestParticipant",
    "PullRequestTask",
    "Repository",
    "User",
    "WebSession",
    "WebhookAttempt",
    "WebhookDelivery",
    "WebhookRoute",
    "WebhookSubscription",
    "Workspace",
]
