"""Flows that the end-to-end tests register from their files and run through an agent."""
