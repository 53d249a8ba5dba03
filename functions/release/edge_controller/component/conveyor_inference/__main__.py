"""``python3 -m conveyor_inference``: the component's lifecycle commands."""

from .cli import main

raise SystemExit(main())
