"""Accounting sync with e-conomic: booked invoice numbers back onto drafts, customers in."""
