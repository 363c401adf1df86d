"""What the sidecar serves from the site: the static output with the nginx rules
(``static_site``, whose ``send_site_file`` answers with every file here), dated snapshot
pages rendered on demand (``snapshot_pages``) and mirrored files fetched on their first
request (``mirror_files``). One blueprint each. May import ``generator``,
``uploader.context`` and ``uploader.errors``; never ``uploader.app`` or ``uploader.api``.
"""

from typing import TYPE_CHECKING

from generator.faces import lazy_face

if TYPE_CHECKING:
    from uploader.serving.mirror_files import bp as mirror_files_bp
    from uploader.serving.snapshot_pages import bp as snapshot_bp
    from uploader.serving.static_site import (
        bp as site_bp,
    )
    from uploader.serving.static_site import (
        cache_control_for,
        content_type_for,
        is_hidden,
        send_site_file,
    )

__all__ = [
    "cache_control_for",
    "content_type_for",
    "is_hidden",
    "mirror_files_bp",
    "send_site_file",
    "site_bp",
    "snapshot_bp",
]

__getattr__ = lazy_face(__name__, __file__)
