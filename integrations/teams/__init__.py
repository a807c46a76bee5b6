"""Microsoft Teams: case cards in department channels with Claim/Resolve, and ``sla``.

``render`` turns a case into an Adaptive Card (pure), ``handlers`` turns card actions and
@mentions into core commands, ``places`` remembers where the bot was added, ``surface`` shows
cases through the Bot Connector, ``app`` mounts the bot on triagebot's aiohttp server at
``POST /api/messages``. Only ``gateway``, ``bot``, ``surface`` and ``app`` import botbuilder;
the core never imports this package.
"""
