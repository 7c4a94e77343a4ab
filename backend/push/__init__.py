"""Push notifications: devices and the APNs worker."""
