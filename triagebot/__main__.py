"""``python -m triagebot`` runs the command line."""

from triagebot.cli.main import main

raise SystemExit(main())
