"""Pieces every chat surface shares (Slack, Teams): the typed payload a button carries."""
