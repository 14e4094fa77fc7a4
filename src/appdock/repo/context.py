"""A repository together with the rows its representations need (workspace, owner, project,
parent), loaded with a handful of queries. Routes turn it into schemas; templates never see it."""

from __future__ import annotations

from dataclasses import dataclass

from appdock.models import Project, Repository, User, Workspace
from appdock.repo.store import RepoStore


@dataclass(frozen=True)
class RepoContext:
    repo: Repository
    workspace: Workspace
    owner: User | None  # the user of a personal workspace
    project: Project | None
    parent: RepoContext | None = None

    @property
    def full_name(self) -> str:
        return f"{self.workspace.slug}/{self.repo.slug}"


def load_context(
    store: RepoStore,
    repo: Repository,
    *,
    workspace: Workspace | None = None,
    with_parent: bool = True,
) -> RepoContext:
    ws = workspace if workspace is not None and workspace.id == repo.workspace_id else None
    ws = ws or store.workspace_by_id(repo.workspace_id)
    assert ws is not None, "a repository always has a workspace"
    owner = store.user_by_id(ws.owner_user_id) if ws.owner_user_id else None
    project = store.project_by_id(repo.project_id) if repo.project_id else None
    parent = None
    if with_parent and repo.fork_of_id is not None:
        source = store.by_id(repo.fork_of_id)
        if source is not None:
            parent = load_context(store, source, with_parent=False)
    return RepoContext(repo=repo, workspace=ws, owner=owner, project=project, parent=parent)


def load_contexts(store: RepoStore, repos: list[Repository]) -> list[RepoContext]:
    """Contexts for a page of repositories with one query per related table."""
    workspaces = store.workspaces_by_ids(r.workspace_id for r in repos)
    owners = store.users_by_ids(
        w.owner_user_id for w in workspaces.values() if w.owner_user_id is not None
    )
    projects = store.projects_by_ids(r.project_id for r in repos)
    parents_rows = store.repos_by_ids(r.fork_of_id for r in repos)
    parent_ws = store.workspaces_by_ids(p.workspace_id for p in parents_rows.values())
    parent_owners = store.users_by_ids(
        w.owner_user_id for w in parent_ws.values() if w.owner_user_id is not None
    )
    parent_projects = store.projects_by_ids(p.project_id for p in parents_rows.values())

    def ctx_of(
        r: Repository,
        wss: dict[int, Workspace],
        users: dict[int, User],
        projs: dict[int, Project],
        parent: RepoContext | None,
    ) -> RepoContext:
        ws = wss[r.workspace_id]
        return RepoContext(
            repo=r,
            workspace=ws,
            owner=users.get(ws.owner_user_id) if ws.owner_user_id else None,
            project=projs.get(r.project_id) if r.project_id else None,
            parent=parent,
        )

    out = []
    for r in repos:
        parent = None
        if r.fork_of_id is not None and r.fork_of_id in parents_rows:
            p = parents_rows[r.fork_of_id]
            parent = ctx_of(p, parent_ws, parent_owners, parent_projects, None)
        out.append(ctx_of(r, workspaces, owners, projects, parent))
    return out
