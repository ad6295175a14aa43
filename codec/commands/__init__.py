"""Subcommands of the `codec` CLI, one module each (`add_parser(subparsers)` + `run(args)`)."""
