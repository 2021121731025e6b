"""The link to a sensor: transport (pyserial ports and URLs) and what is spoken over it."""
