"""One module per `cxrviewer` sub-command; each has `register(subparsers)` and imports its work lazily."""
