"""wsal.models"""
