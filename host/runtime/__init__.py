"""Model runtime on the gateway: the routing forest and the leaf experts, in numpy."""
