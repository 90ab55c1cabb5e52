"""The Flask entrypoint: thin views that turn HTTP into service calls and domain errors into 4xx."""
