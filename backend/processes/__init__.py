"""Process entry points: the `musubi` command, embedded services, backups, periodic jobs."""
