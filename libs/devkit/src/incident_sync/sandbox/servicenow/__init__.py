"""A local stand-in for the ServiceNow Table API and an incident business-rule webhook."""
