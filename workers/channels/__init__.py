"""Delivery channels: one module each behind `base.Channel`."""
