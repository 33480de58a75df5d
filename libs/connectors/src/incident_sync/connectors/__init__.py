"""One connector per tool, all with the shape of `connectors.base.Connector`."""
