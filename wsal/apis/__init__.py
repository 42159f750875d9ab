"""wsal.apis"""
