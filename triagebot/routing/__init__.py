"""Which department owns a post, how urgent it is, and whether it is spam.

The rules language (``rules``: spec, YAML reading with line numbers, parsing, ``rules check``,
hot reload), text normalisation shared by rules and posts, the Aho-Corasick matcher, the
``Router`` that scores rules and asks the classifier when no rule claims a post, and the
backtest of rule edits against stored cases.
"""

from triagebot.routing.router import Router

__all__ = ["Router"]
