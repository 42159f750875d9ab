"""wsal.engine"""
