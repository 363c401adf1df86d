"""The sidecar's HTTP API: the legacy upload API (``uploads``), the deployment API of
bundles, build tasks and environments (``bundles``), and ``/__api__/status`` with the
fast answers to probes of paths we do not serve (``status``). One blueprint each; views
parse, call the library and respond, and raise ``uploader.errors`` for every refusal.
May import ``generator``, ``uploader.auth``, ``uploader.context``, ``uploader.errors``
and ``uploader.deploy``; never ``uploader.app`` or ``uploader.serving``.
"""

from typing import TYPE_CHECKING

from generator.faces import lazy_face

if TYPE_CHECKING:
    from uploader.api.bundles import bp as bundle_bp
    from uploader.api.status import bp as status_bp
    from uploader.api.uploads import bp as upload_bp

__all__ = ["bundle_bp", "status_bp", "upload_bp"]

__getattr__ = lazy_face(__name__, __file__)
