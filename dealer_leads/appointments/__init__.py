"""Showroom appointments: booking, the advisor's board, calendars, confirmations, no-shows."""
