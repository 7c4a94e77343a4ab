"""Public-facility booking: facilities, resources, vacancies, bookings, waitlist."""
