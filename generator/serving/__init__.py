"""Serving a generated site: the rules both servers share.

Owns PEP 691 content negotiation between ``index.json`` and ``index.html``
(``negotiate``: pure, used by ``timeshelf serve``) and the nginx configuration that
applies the same rules (``nginx``: rendered from ``site/nginx.conf.j2``). May import
``generator.errors`` and ``generator.resources`` only.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from generator.faces import lazy_face

if TYPE_CHECKING:
    from generator.serving.negotiate import Variant, format_variant, negotiate, parse_accept
    from generator.serving.nginx import check_address, reachable_host, render_nginx_conf

__all__ = [
    "Variant",
    "check_address",
    "format_variant",
    "negotiate",
    "parse_accept",
    "reachable_host",
    "render_nginx_conf",
]

__getattr__ = lazy_face(__name__, __file__)
