"""The provider portal: the PARS screens a provider's staff use in a browser, rendered by intake on the same
service functions as the API (no rule is written twice)."""
