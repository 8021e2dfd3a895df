"""Lambda handlers of the airline services: one package per service plus `shared`."""
