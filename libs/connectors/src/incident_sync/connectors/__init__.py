"""One connector per tool (`connectors.base.Connector` and the roles its tool has,
`connectors.capabilities`), each declared by a `ConnectorSpec` and registered through the
`incident_sync.connectors` entry points (`connectors.registry`)."""
