"""UI modules: the module resolver (conditions, context parameters, signed URLs), the page
helpers (bridge config, CSP) and the AP bridge scripts. See docs/connect-ui.md for the wiring."""
