"""Hosting: deploy a model with its cost stated first, follow the deployment, delete it, and the
15-day inactivity rule."""
