"""A local stand-in for the Slack Web API methods a notifier bot uses."""
