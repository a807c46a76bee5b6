"""``python -m triagebot`` runs the command line."""

from triagebot.cli import main

raise SystemExit(main())
