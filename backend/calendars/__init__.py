"""Calendar feeds: a person's bookings and childcare reservations as RFC 5545 calendars."""
