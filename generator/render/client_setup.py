"""How to point each client at a repository, and how to upload to a source: pure text.

The repository page of the web UI shows these snippets. Every snippet that names the
index contains ``index_url`` verbatim, so the page can swap in the URL of a dated
snapshot (its script replaces each occurrence) without knowing the clients' syntax.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

TOKEN_PLACEHOLDER = "<your API token>"  # noqa: S105 (shown in instructions, not a secret)


@dataclass(frozen=True, slots=True, kw_only=True)
class Snippet:
    """One thing to type or paste: a title, where it goes, and the text itself."""

    id: str
    title: str
    where: str
    text: str


def trusted_host(url: str) -> str | None:
    """The host pip must be told to trust for a plain-HTTP ``url`` (None for HTTPS)."""
    parts = urlsplit(url)
    if parts.scheme != "http":
        return None
    return parts.hostname


def index_url(base_url: str, repo: str, view: str = "latest") -> str:
    """``<base>/<repo>/<view>/simple/``: ``view`` is ``latest`` or a ``YYYY-MM-DD`` day."""
    return f"{base_url}{repo}/{view}/simple/"


def upload_url(base_url: str, source: str) -> str:
    """The legacy upload endpoint of a ``local-python`` source (twine, uv publish, ...)."""
    return f"{base_url}upload/pypi/{source}/"


def index_snippets(url: str, repo: str) -> tuple[Snippet, ...]:
    """Install-side setup for the index at ``url`` (pip, requirements.txt, uv, poetry, pdm)."""
    host = trusted_host(url)
    trust = f" --trusted-host {host}" if host else ""
    pip_config = f"pip config set global.index-url {url}"
    if host:
        pip_config += f"\npip config set global.trusted-host {host}"
    requirements = f"-i {url}"
    if host:
        requirements += f"\n--trusted-host {host}"
    requirements += "\n# your requirements follow, e.g.\n# requests==2.32.3"
    return (
        Snippet(
            id="pip-once", title="pip, once", where="shell",
            text=f"pip install --index-url {url}{trust} PACKAGE",
        ),
        Snippet(
            id="pip-config", title="pip, for every install", where="shell", text=pip_config,
        ),
        Snippet(
            id="requirements", title="requirements.txt", where="first lines of requirements.txt",
            text=requirements,
        ),
        Snippet(
            id="uv-project", title="uv, in a project", where="pyproject.toml",
            text=f'[[tool.uv.index]]\nname = "{repo}"\nurl = "{url}"\ndefault = true',
        ),
        Snippet(
            id="uv-env", title="uv, from the environment", where="shell",
            text=f"export UV_INDEX_URL={url}\nuv pip install PACKAGE",
        ),
        Snippet(
            id="poetry", title="poetry", where="shell, in the project",
            text=f"poetry source add --priority=primary {repo} {url}",
        ),
        Snippet(
            id="pdm", title="pdm", where="shell",
            text=f"pdm config pypi.url {url}",
        ),
    )


def upload_snippets(base_url: str, source: str) -> tuple[Snippet, ...]:
    """Upload-side setup for a ``local-python`` source (twine and uv publish)."""
    url = upload_url(base_url, source)
    return (
        Snippet(
            id=f"twine-env-{source}", title="twine, from the environment", where="shell",
            text=(
                f"export TWINE_REPOSITORY_URL={url}\n"
                "export TWINE_USERNAME=__token__\n"
                f"export TWINE_PASSWORD='{TOKEN_PLACEHOLDER}'\n"
                "twine upload dist/*"
            ),
        ),
        Snippet(
            id=f"pypirc-{source}", title="twine, with ~/.pypirc", where="~/.pypirc",
            text=(
                "[distutils]\n"
                f"index-servers =\n    {source}\n\n"
                f"[{source}]\n"
                f"repository = {url}\n"
                "username = __token__\n"
                f"password = {TOKEN_PLACEHOLDER}\n"
                "# (or leave password out and keep the token with keyring)\n"
                f"# then: twine upload -r {source} dist/*"
            ),
        ),
        Snippet(
            id=f"keyring-{source}", title="twine, token kept by keyring", where="shell",
            text=(
                f"keyring set {url} __token__\n"
                "# paste the token when asked, then:\n"
                f"twine upload --repository-url {url} -u __token__ dist/*"
            ),
        ),
        Snippet(
            id=f"uv-publish-{source}", title="uv publish", where="shell",
            text=f"uv publish --publish-url {url} --token '{TOKEN_PLACEHOLDER}' dist/*",
        ),
    )
