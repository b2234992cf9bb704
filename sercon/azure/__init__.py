"""Talking to Azure: sign-in, Resource Manager, target resolution, prerequisite checks, boot logs."""
