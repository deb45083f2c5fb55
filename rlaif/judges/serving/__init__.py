"""Serving a judge: launching and stopping a local vLLM server for the judge."""
