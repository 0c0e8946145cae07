"""Settings, database, models, schedules and secrets: what every other capability stands on."""
