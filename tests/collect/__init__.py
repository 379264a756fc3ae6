"""Collector tests: real bodies, scripted faults, crashes, against local aiohttp servers."""
