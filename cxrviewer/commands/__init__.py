"""One module per `cxrviewer` sub-command, each with `register(subparsers)` and importing its work
only when it runs (so `cxrviewer --help` needs neither Qt nor torch); `common` holds the options
several spell the same way, and `sending` the sending of results that `analyze` and `listen` share."""
