"""The timeshelf sidecar: uploads, tokens, bundles and fallback routes (Flask).

    uploader
    ├── app           create_app: the factory (only serve.py and tests import it)
    ├── context       the app-scoped services views read (installation, builder, ...)
    ├── errors        the sidecar's errors, and the one handler of every TimeshelfError
    ├── auth          API tokens from the Authorization header
    ├── logs          logging with secrets redacted
    ├── api/          uploads, bundles and environments, status (one blueprint each)
    ├── serving/      the static site, snapshot pages on demand, lazily mirrored files
    ├── deploy/       bundles, requirements, Pythons, environments, builds, the client
    ├── serve         ``timeshelf serve`` under waitress
    └── cli           the ``timeshelf`` command: generator's, with serve and deploy added

Arrows point down the tree: app imports api and serving, which import auth, context
and errors; everything may import ``generator``, which never imports ``uploader``. The
face re-exports nothing: the command line imports ``uploader.cli`` without Flask, and
the app is had from ``uploader.app.create_app``.
"""

__all__: list[str] = []
