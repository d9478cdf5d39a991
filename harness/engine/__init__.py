"""The Docker engine and the host: the adapter, provisioning, the offline base image, wheels, the egress guard."""
