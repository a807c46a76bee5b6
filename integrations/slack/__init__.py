"""Slack: case messages with Claim/Resolve buttons in department channels, and ``/sla``.

``render`` turns a case into Block Kit (pure), ``handlers`` and ``sla_command`` turn clicks and
commands into core commands, ``surface`` shows cases through the Web API, ``app`` wires the Bolt
app onto triagebot's aiohttp server. The core never imports this package.
"""
