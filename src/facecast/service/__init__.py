"""The Facecast server: settings, database, media storage, durable jobs (Huey) and API keys,
serving the Miraflow (``/api``) and Mirage (``/v1``) dialects over one domain layer."""
