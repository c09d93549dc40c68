"""Microsoft Teams: the Bot Framework adapter, its cards, tokens, connector and app package."""
