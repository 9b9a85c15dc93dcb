"""Revision files of the store schema."""
