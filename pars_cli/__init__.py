"""The `pars` command-line tool."""
