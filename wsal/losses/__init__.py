"""wsal.losses"""
