"""Slack: slack-bolt (async) between Slack and the platform-neutral handlers."""
