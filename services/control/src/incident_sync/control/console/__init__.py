"""The web console (`/console`): server-rendered pages over the control API's own handlers."""
