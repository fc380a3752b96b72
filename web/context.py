"""The typed application keys through which every handler finds the node and the web settings."""

from __future__ import annotations

from dataclasses import dataclass

from aiohttp import web

from node.service import Node
from web.auth import LoginThrottle


@dataclass(frozen=True)
class WebSettings:
    """What make_app was told; read-only for the handlers."""

    secure_cookies: bool
    trust_forwarded_for: bool
    client_max_size: int
    session_max_age_s: int
    ipv6_prefix: int = 56  # [web] ipv6_prefix (web.source)


NODE: web.AppKey[Node] = web.AppKey("vecinos_node", Node)
SETTINGS: web.AppKey[WebSettings] = web.AppKey("vecinos_web_settings", WebSettings)
THROTTLE: web.AppKey[LoginThrottle] = web.AppKey("vecinos_login_throttle", LoginThrottle)
