"""The project's common library: event models, topic registry, settings, logging, Kafka and PostgreSQL helpers.

It holds no service logic; every service imports from here and from nowhere else in the project.
"""
