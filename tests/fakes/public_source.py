"""The loopback forum of replies and threads (``integrations.demo.forum``) under the names the
tests use: ``FakeForum`` checks what a real write API checks and fails on request;
``ForumSource`` is the ``PublicThreads`` source that talks to it."""

from integrations.demo.forum import BRAND, LIMIT, TOKEN, ForumSource, Published
from integrations.demo.forum import DemoForum as FakeForum

__all__ = ["BRAND", "LIMIT", "TOKEN", "FakeForum", "ForumSource", "Published"]
